"""Boundary files: one attribute direction in one model's latent space.

A boundary is stored as two files in a folder (by default ``MODEL/boundaries``):

* ``<attribute>.json`` — versioned metadata (attribute, model_id, latent_dim, method,
  conditioned_on, validation scores, counts, std along the normal, intercept, creator version);
* ``<attribute>.safetensors`` — the unit normal (tensor ``"normal"``, float32 ``(D,)``).

A boundary belongs to the model whose codes it was fitted on: loading it for another model
(different ``model_id``) is refused.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file
from safetensors.torch import save_file

from .. import __version__
from .._io import atomic_path, atomic_write_json
from ..errors import LatentEditError, ModelFormatError
from ..formats import FileFormat
from ..manifest import manifest_owners, record_written, verify_manifest
from .projection import project_orthogonal

#: Version of the boundary JSON written by this code; newer files are refused.
FORMAT_VERSION = 1
#: ``<attribute>.json`` (``latent_dim`` and the ids are checked against the model when it loads).
BOUNDARY_FORMAT = FileFormat("latentedit.boundary", FORMAT_VERSION, what="boundary", required={
    "attribute": (str,), "model_id": (str,), "latent_dim": (int,)})
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")


class BoundaryMismatchError(ModelFormatError):
    """A boundary file belongs to another model (different model id or latent size)."""


def check_attribute_name(name: str) -> str:
    """Return ``name`` if it can be used as a boundary file name.

    Raises:
        LatentEditError: for empty names, path separators or other unsafe characters.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name) or name.endswith((".json", ".safetensors")):
        raise LatentEditError(f"invalid attribute name {name!r}: use letters, digits and _ . + - "
                              "(it becomes a file name)")
    return name


@dataclass
class Boundary:
    """A linear attribute boundary ``z·normal + intercept = 0`` in one model's latent space.

    Attributes:
        attribute: the attribute name (also the file stem).
        normal: float32 unit vector ``(D,)``, pointing towards more of the attribute.
        intercept: offset so that ``z·normal + intercept > 0`` predicts the attribute.
        model_id: id of the model whose codes were fitted.
        method: fitting method (``svm``, ``ridge``, ``logistic``).
        conditioned_on: attributes the normal was made orthogonal to.
        val_accuracy, val_auc: held-out balanced accuracy and ROC AUC.
        n_train, n_val, n_positive, n_negative: counts used in the fit.
        std: std of the codes along ``normal`` (the unit of an edit strength ``alpha``).
        binary: whether the labels were binary; threshold: the score threshold or positive label.
        meta: free-form JSON metadata (e.g. the FaceSet the codes came from).
    """

    attribute: str
    normal: np.ndarray
    intercept: float = 0.0
    model_id: str = ""
    method: str = "unknown"
    conditioned_on: list[str] = field(default_factory=list)
    val_accuracy: float = float("nan")
    val_auc: float = float("nan")
    n_train: int = 0
    n_val: int = 0
    n_positive: int = 0
    n_negative: int = 0
    std: float = 1.0
    binary: bool = False
    threshold: float = 0.0
    meta: dict = field(default_factory=dict)
    created_by: str = ""

    def __post_init__(self) -> None:
        check_attribute_name(self.attribute)
        n = self.normal.detach().cpu().numpy() if hasattr(self.normal, "detach") else np.asarray(self.normal)
        n = np.asarray(n, dtype=np.float64).reshape(-1)
        norm = float(np.linalg.norm(n))
        if not np.all(np.isfinite(n)) or norm == 0.0:
            raise LatentEditError(f"boundary {self.attribute!r}: normal must be finite and non-zero")
        self.normal = (n / norm).astype(np.float32)
        if not math.isfinite(self.std) or self.std <= 0:
            raise LatentEditError(f"boundary {self.attribute!r}: std along the normal must be > 0, got {self.std}")
        if not self.created_by:
            self.created_by = f"latentedit {__version__}"

    @property
    def latent_dim(self) -> int:
        """Dimension of the latent space."""
        return int(self.normal.shape[0])

    def distance(self, z) -> np.ndarray:
        """Signed distance of codes ``z`` (``N×D`` or ``D``) to the boundary, in latent units."""
        arr = z.detach().cpu().numpy() if hasattr(z, "detach") else np.asarray(z)
        return np.asarray(arr, dtype=np.float64) @ self.normal.astype(np.float64) + self.intercept

    def conditioned(self, others: "list[Boundary]") -> "Boundary":
        """A copy whose normal is orthogonal to every boundary in ``others``.

        Raises:
            LatentEditError: if this normal lies in the span of the others.
        """
        if not others:
            return self
        normal = project_orthogonal(self.normal, [o.normal for o in others])
        names = list(dict.fromkeys(list(self.conditioned_on) + [o.attribute for o in others]))
        return replace(self, normal=normal, conditioned_on=names)

    # -- files ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The metadata written to ``<attribute>.json``."""
        def num(x):
            return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x

        return BOUNDARY_FORMAT.stamp({
            "attribute": self.attribute,
            "model_id": self.model_id,
            "latent_dim": self.latent_dim,
            "method": self.method,
            "conditioned_on": list(self.conditioned_on),
            "val_accuracy": num(float(self.val_accuracy)),
            "val_auc": num(float(self.val_auc)),
            "n_train": int(self.n_train),
            "n_val": int(self.n_val),
            "n_positive": int(self.n_positive),
            "n_negative": int(self.n_negative),
            "std": float(self.std),
            "intercept": float(self.intercept),
            "binary": bool(self.binary),
            "threshold": float(self.threshold),
            "meta": self.meta,
            "created_by": self.created_by,
        })

    def save(self, directory: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write ``<attribute>.json`` and ``<attribute>.safetensors`` into ``directory`` atomically.

        Args:
            directory: target folder (created if needed).
            overwrite: replace an existing boundary of the same attribute.

        Returns:
            the path of the JSON file.

        Into a model folder with a ``MANIFEST.sha256`` (``directory`` or its parent holds one), the
        folder is verified first and the manifest re-written afterwards with the new files' hashes,
        so the model stays loadable; a folder that does not verify is never written into.

        Raises:
            LatentEditError: if the files exist and ``overwrite`` is False.
            ModelFormatError: if ``directory`` belongs to a manifested folder that does not verify.
        """
        directory = Path(directory)
        jpath, spath = directory / f"{self.attribute}.json", directory / f"{self.attribute}.safetensors"
        if not overwrite and (jpath.exists() or spath.exists()):
            raise LatentEditError(f"{jpath}: a boundary for {self.attribute!r} already exists; refusing to "
                                  "overwrite it (pass overwrite=True / --overwrite, or choose another folder)")
        owners = manifest_owners(directory)
        for owner in owners:  # only a folder that verifies gets its manifest re-written: never bless tampering
            verify_manifest(owner)
        meta = {"attribute": self.attribute, "model_id": self.model_id, "format_version": str(FORMAT_VERSION)}
        written: list[Path] = []
        try:
            with atomic_path(spath) as tmp:
                save_file({"normal": torch.from_numpy(self.normal.copy())}, str(tmp), metadata=meta)
            written.append(spath)
            atomic_write_json(jpath, self.to_json())
            written.append(jpath)
        finally:
            if owners and written:  # even after a failed second write: list what was replaced
                record_written(directory, written)
        return jpath

    @classmethod
    def load(cls, path: str | os.PathLike, model_id: str | None = None,
             latent_dim: int | None = None, *, verify: bool = True) -> "Boundary":
        """Load a boundary from ``<attribute>.json`` (or its ``.safetensors`` or the common stem).

        Args:
            path: either file of the pair, or the path without suffix.
            model_id: if given, refuse a boundary fitted on another model.
            latent_dim: if given, refuse a boundary of another dimension.
            verify: in a folder with a ``MANIFEST.sha256`` (the boundary's folder or its parent),
                refuse the pair unless both files are listed and match (False: the caller checked).

        Raises:
            ModelFormatError: missing/malformed files, a newer format version, or files not listed
                in / not matching the folder's manifest.
            BoundaryMismatchError: a different model id or latent size (naming both and the file).
        """
        path = Path(path)
        stem = path.with_suffix("") if path.suffix in (".json", ".safetensors") else path
        jpath, spath = stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".safetensors")
        if verify:
            _verify_in_manifest(jpath.parent, [jpath, spath])
        if not jpath.is_file():
            raise ModelFormatError(f"{jpath}: boundary metadata file not found")
        if not spath.is_file():
            raise ModelFormatError(f"{spath}: boundary normal file not found (it belongs beside {jpath.name})")
        meta = BOUNDARY_FORMAT.read(jpath)  # the common fields are present and typed
        attribute, file_model, dim = meta["attribute"], meta["model_id"], meta["latent_dim"]
        if model_id is not None and file_model != model_id:
            raise BoundaryMismatchError(
                f"{jpath}: boundary {attribute!r} was fitted on model {file_model!r}, but the loaded model is "
                f"{model_id!r}; refit it with `latentedit fit` for this model")
        if latent_dim is not None and dim != latent_dim:
            raise BoundaryMismatchError(f"{jpath}: boundary has latent_dim {dim} but the model has {latent_dim}")
        try:
            tensors = load_file(str(spath))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelFormatError(f"{spath}: cannot read safetensors ({exc})") from None
        if "normal" not in tensors:
            raise ModelFormatError(f"{spath}: tensor 'normal' is missing (has {sorted(tensors)})")
        normal = tensors["normal"]
        if normal.shape != (dim,):
            raise ModelFormatError(f"{spath}: normal has shape {normal.shape}, but {jpath.name} says latent_dim {dim}")
        if not np.all(np.isfinite(normal)) or abs(float(np.linalg.norm(normal)) - 1.0) > 1e-3:
            raise ModelFormatError(f"{spath}: normal must be a finite unit vector")

        def num(key, default=float("nan")):
            v = meta.get(key, default)
            return default if v is None else float(v)

        cond = meta.get("conditioned_on", [])
        if not isinstance(cond, list) or not all(isinstance(c, str) for c in cond):
            raise ModelFormatError(f"{jpath}: field 'conditioned_on' must be a list of attribute names")
        try:
            return cls(attribute=attribute, normal=normal, intercept=num("intercept", 0.0), model_id=file_model,
                       method=str(meta.get("method", "unknown")), conditioned_on=cond,
                       val_accuracy=num("val_accuracy"), val_auc=num("val_auc"),
                       n_train=int(meta.get("n_train", 0)), n_val=int(meta.get("n_val", 0)),
                       n_positive=int(meta.get("n_positive", 0)), n_negative=int(meta.get("n_negative", 0)),
                       std=num("std", 1.0), binary=bool(meta.get("binary", False)),
                       threshold=num("threshold", 0.0), meta=dict(meta.get("meta") or {}),
                       created_by=str(meta.get("created_by", "")))
        except (LatentEditError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"{jpath}: {exc}") from None


def _model_identity(model) -> tuple[str | None, int | None]:
    if model is None:
        return None, None
    if isinstance(model, str):
        return model, None
    dim = getattr(getattr(model, "config", None), "latent_dim", None)
    return str(model.model_id), (int(dim) if dim is not None else None)


def _verify_in_manifest(directory: Path, paths: list[Path]) -> None:
    """Refuse ``paths`` (files or folders) unless listed in and matching the manifest of the
    model folder ``directory`` belongs to; nothing to check without a manifest."""
    for owner in manifest_owners(directory):
        verify_manifest(owner, only=paths)


def load_boundaries(directory: str | os.PathLike, model=None, *, verify: bool = True) -> dict[str, Boundary]:
    """Load every ``*.json`` boundary in ``directory``.

    Args:
        directory: a boundaries folder.
        model: a model (its ``model_id`` and ``config.latent_dim`` are checked), a model id string,
            or None to skip the check.
        verify: check the files against the model folder's ``MANIFEST.sha256`` (False: the caller
            has just verified the whole model folder, boundaries included).

    Returns:
        attribute name → :class:`Boundary`, sorted by name.

    Raises:
        ModelFormatError: if the folder is missing, a file is malformed, or (in a model folder with
            a ``MANIFEST.sha256``) a file in ``directory`` is not listed or does not match.
        BoundaryMismatchError: if a boundary belongs to another model.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFormatError(f"{directory}: boundaries folder not found")
    if verify:  # a boundary dropped into a manifested model is refused
        _verify_in_manifest(directory, [directory])
    model_id, dim = _model_identity(model)
    out: dict[str, Boundary] = {}
    for jpath in sorted(directory.glob("*.json")):
        if jpath.name.startswith("."):
            continue
        b = Boundary.load(jpath, model_id=model_id, latent_dim=dim, verify=False)
        if b.attribute in out:
            raise ModelFormatError(f"{jpath}: attribute {b.attribute!r} is defined twice in {directory}")
        out[b.attribute] = b
    return out
