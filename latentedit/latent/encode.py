"""Encode a FaceSet into latent codes aligned row by row with its attributes (``LatentTable``).

File format (``latents.safetensors``): tensors ``"z"`` (float32 ``N×D``) and ``"attributes"``
(float32 ``N×K``, NaN where a face lacks the attribute); string metadata ``format_version``,
``model_id``, ``attribute_names``, ``attribute_sources``, ``image_paths``, ``identities`` (JSON)
and ``faceset`` (the FaceSet folder).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .._io import atomic_path
from ..errors import LatentEditError, ModelFormatError
from ..faceset import FaceSet
from ..formats import FileFormat

LATENTS_FORMAT_VERSION = 1
#: The latents table (its header lives in safetensors string metadata, hence the string version).
LATENTS_FORMAT = FileFormat("latentedit.latents", LATENTS_FORMAT_VERSION, what="latents")


@dataclass
class LatentTable:
    """Latent codes of a FaceSet with its attributes, one row per face.

    Attributes:
        z: float32 tensor ``N×D``.
        attributes: float32 array ``N×K`` (NaN where missing).
        attribute_names: the ``K`` column names.
        attribute_sources: name → source (``ground_truth``, ``celeba``, ``measured``).
        image_paths: ``N`` image paths relative to the FaceSet.
        identities: ``N`` identity labels.
        model_id: the model that produced the codes.
        faceset: the FaceSet folder (informational).
    """

    z: "object"
    attributes: np.ndarray
    attribute_names: list[str]
    model_id: str
    attribute_sources: dict[str, str] = field(default_factory=dict)
    image_paths: list[str] = field(default_factory=list)
    identities: list[str] = field(default_factory=list)
    faceset: str = ""

    def __post_init__(self) -> None:
        self.z = torch.as_tensor(self.z, dtype=torch.float32)
        self.attributes = np.asarray(self.attributes, dtype=np.float32).reshape(self.z.shape[0], -1)
        if self.z.ndim != 2:
            raise LatentEditError(f"latent codes must be N×D, got shape {tuple(self.z.shape)}")
        if self.attributes.shape[1] != len(self.attribute_names):
            raise LatentEditError(f"{self.attributes.shape[1]} attribute columns but "
                                  f"{len(self.attribute_names)} names")
        for name, lst in (("image_paths", self.image_paths), ("identities", self.identities)):
            if lst and len(lst) != len(self):
                raise LatentEditError(f"{name} has {len(lst)} entries for {len(self)} codes")

    def __len__(self) -> int:
        return int(self.z.shape[0])

    @property
    def latent_dim(self) -> int:
        """Dimension ``D`` of the codes."""
        return int(self.z.shape[1])

    def column(self, name: str) -> np.ndarray:
        """The ``N`` values of attribute ``name`` (NaN where missing).

        Raises:
            LatentEditError: naming the known attributes if ``name`` is unknown.
        """
        if name not in self.attribute_names:
            raise LatentEditError(f"unknown attribute {name!r}; the latents have: "
                                  f"{', '.join(self.attribute_names) or '(none)'}")
        return self.attributes[:, self.attribute_names.index(name)]

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the table atomically as safetensors.

        Raises:
            LatentEditError: if ``path`` exists and ``overwrite`` is False.
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise LatentEditError(f"{path} already exists; refusing to overwrite it (choose another --out)")
        meta = {"kind": LATENTS_FORMAT.kind, "format_version": str(LATENTS_FORMAT_VERSION), "model_id": self.model_id,
                "attribute_names": json.dumps(self.attribute_names),
                "attribute_sources": json.dumps(self.attribute_sources),
                "image_paths": json.dumps(self.image_paths), "identities": json.dumps(self.identities),
                "faceset": str(self.faceset)}
        tensors = {"z": self.z.detach().cpu().contiguous(),
                   "attributes": torch.from_numpy(np.ascontiguousarray(self.attributes))}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LatentTable":
        """Read a table written by :meth:`save`.

        Raises:
            ModelFormatError: naming the file for a missing, unreadable or inconsistent table.
        """
        path = Path(path)
        if not path.is_file():
            raise ModelFormatError(f"{path}: latents file not found")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                keys = set(f.keys())
                if not {"z", "attributes"} <= keys:
                    raise ModelFormatError(f"{path}: expected tensors 'z' and 'attributes', found {sorted(keys)}")
                z, attrs = f.get_tensor("z"), f.get_tensor("attributes")
        except (SafetensorError, OSError) as exc:
            raise ModelFormatError(f"{path}: cannot read latents ({exc})") from None
        kind = meta.get("kind")
        if kind is not None and kind != LATENTS_FORMAT.kind:
            raise ModelFormatError(f"{path}: metadata 'kind' is {kind!r}, expected {LATENTS_FORMAT.kind!r}")
        LATENTS_FORMAT.check_version(meta.get("format_version"), str(path), default=1)
        try:
            names = json.loads(meta.get("attribute_names", "[]"))
            sources = json.loads(meta.get("attribute_sources", "{}"))
            paths = json.loads(meta.get("image_paths", "[]"))
            ids = json.loads(meta.get("identities", "[]"))
        except json.JSONDecodeError as exc:
            raise ModelFormatError(f"{path}: malformed metadata ({exc})") from None
        try:
            return cls(z=z, attributes=attrs.numpy(), attribute_names=list(names), model_id=meta.get("model_id", ""),
                       attribute_sources=dict(sources), image_paths=list(paths), identities=list(ids),
                       faceset=meta.get("faceset", ""))
        except LatentEditError as exc:
            raise ModelFormatError(f"{path}: {exc}") from None


def model_input(images, resolution: int):
    """Turn FaceSet-style float images ``N×3×S×S`` in [0, 1] into model input at ``resolution`` in [-1, 1]."""
    if images.shape[-1] != resolution or images.shape[-2] != resolution:
        shrink = images.shape[-1] > resolution
        images = F.interpolate(images, size=(resolution, resolution), mode="area" if shrink else "bilinear",
                               align_corners=None if shrink else False)
    return images.clamp(0.0, 1.0) * 2.0 - 1.0


def _collate(items):
    return torch.stack([it["image"] for it in items]), [it["index"] for it in items]


def encode_images(model, images, batch_size: int = 64, device=None):
    """Encode float images ``N×3×S×S`` in [0, 1] (any size; resized to the model) in batches.

    Returns:
        float32 CPU tensor ``N×D``.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    res = int(model.config.resolution)
    out = []
    with torch.inference_mode():
        for i in range(0, images.shape[0], batch_size):
            x = model_input(images[i:i + batch_size].to(device, torch.float32), res)
            out.append(model.encode(x).float().cpu())
    return torch.cat(out) if out else torch.zeros((0, int(model.config.latent_dim)))


def encode_faceset(model, faceset, attributes: Sequence[str] | None = None, batch_size: int = 64,
                   device=None, num_workers: int = 0, progress: bool = True) -> LatentTable:
    """Encode every face of ``faceset`` with ``model``.

    Args:
        model: a :class:`~latentedit.models.SwapAutoencoder` (or anything with ``encode``,
            ``config.resolution``, ``config.latent_dim`` and ``model_id``).
        faceset: a :class:`~latentedit.faceset.FaceSet` (or a path to one).
        attributes: attribute columns to keep (default: all of the FaceSet's).
        batch_size: faces per forward pass.
        device: torch device (default: the model's).
        num_workers: DataLoader worker processes decoding images.
        progress: show a tqdm progress bar.

    Returns:
        a :class:`LatentTable` with rows in FaceSet order.

    Raises:
        FaceSetError: for an unreadable FaceSet or an unknown attribute name.
        LatentEditError: for an empty FaceSet.
    """
    if not isinstance(faceset, FaceSet):
        faceset = FaceSet(faceset)
    if len(faceset) == 0:
        raise LatentEditError(f"{faceset.root}: FaceSet is empty; nothing to encode")
    names = list(attributes) if attributes is not None else faceset.attribute_names
    attrs = faceset.attribute_matrix(names)
    sources: dict[str, str] = {}
    for rec in faceset.records:
        for k, v in rec.attribute_sources.items():
            if k in names:
                sources.setdefault(k, v)
    if device is not None:
        model = model.to(device)
    model.eval()
    loader = DataLoader(faceset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=_collate)
    if progress:
        loader = tqdm(loader, desc=f"encoding {faceset.root.name}", unit="batch")
    z = torch.empty((len(faceset), int(model.config.latent_dim)), dtype=torch.float32)
    for images, idx in loader:
        z[idx] = encode_images(model, images, batch_size=batch_size, device=device)
    return LatentTable(z=z, attributes=attrs, attribute_names=names, model_id=str(model.model_id),
                       attribute_sources=sources, image_paths=[r.image for r in faceset.records],
                       identities=[r.identity for r in faceset.records], faceset=str(faceset.root))
