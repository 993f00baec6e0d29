"""Training data: FaceSets decoded once into uint8 tensors, face/feature masks, seeded batches.

Batch order is a pure function of ``(seed, identity index, step)``: identity ``i`` walks the
concatenation of per-epoch permutations ``rng(seed, i, epoch)``, taking ``batch`` indices per
step. Resuming at step ``t`` therefore reproduces the exact batches of an uninterrupted run,
and each DDP rank takes its shard (``[rank::world]``) of the same global batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import FaceSetError, LatentEditError
from ..faceset import FaceSet
from ..masks import region_mask
from ..models import GENERIC
from ..preprocess import rescale_landmarks, resize
from .config import TrainConfig


def parse_data_spec(spec: str) -> tuple[str, str, str | None]:
    """Split ``NAME=DIR`` or ``NAME=DIR@identity_label``.

    Returns:
        ``(name, dir, label or None)``.

    Raises:
        LatentEditError: if the spec has no ``=`` or an empty part.
    """
    if "=" not in spec:
        raise LatentEditError(f"--data {spec!r}: expected NAME=DIR or NAME=DIR@identity_label")
    name, rest = spec.split("=", 1)
    label = None
    if "@" in rest:
        rest, label = rest.rsplit("@", 1)
        if not label:
            raise LatentEditError(f"--data {spec!r}: empty identity label after '@'")
    if not name or not rest:
        raise LatentEditError(f"--data {spec!r}: expected NAME=DIR or NAME=DIR@identity_label")
    return name, rest, label


def split_dir_label(value: str) -> tuple[str, str | None]:
    """Split ``DIR`` or ``DIR@label`` (a lone trailing ``@`` is an error)."""
    if "@" in value and not Path(value).exists():
        d, label = value.rsplit("@", 1)
        if not label:
            raise LatentEditError(f"{value!r}: empty identity label after '@'")
        return d, label
    return value, None


@dataclass
class IdentityData:
    """One decoder's training images, in memory.

    Attributes:
        name: decoder name.
        images: ``uint8 N×3×S×S`` RGB.
        face_mask: ``uint8 N×1×S×S`` soft face mask (0..255).
        feature_mask: ``uint8 N×1×S×S`` soft eyes+mouth mask (0..255; zeros without landmarks).
        source: description for messages (``DIR@label``).
        landmarks: ``float32 N×68×2`` landmarks at the training size (zeros where missing; None = no
            landmarks at all).
        landmark_valid: ``(N,)`` bool, which crops have landmarks.
    """

    name: str
    images: torch.Tensor
    face_mask: torch.Tensor
    feature_mask: torch.Tensor
    source: str
    landmarks: np.ndarray | None = None
    landmark_valid: np.ndarray | None = None

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def n_landmarks(self) -> int:
        """How many crops have landmarks."""
        return 0 if self.landmark_valid is None else int(self.landmark_valid.sum())

    @property
    def mean_landmarks(self) -> np.ndarray | None:
        """Mean 68×2 landmarks of the crops at the training size (None without landmarks)."""
        if not self.n_landmarks:
            return None
        return self.landmarks[self.landmark_valid].astype(np.float64).mean(axis=0).astype(np.float32)


def ellipse_mask(size: int) -> np.ndarray:
    """Default soft face mask (used when a FaceSet has no landmarks): a centred ellipse covering
    the whole-face crop's face area, feathered by ~size/32 pixels."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2.0
    r = ((xx - c) / (0.40 * size)) ** 2 + ((yy - c * 1.05) / (0.48 * size)) ** 2
    feather = 1.0 / 8.0
    return np.clip((1.0 + feather - r) / (2 * feather), 0.0, 1.0).astype(np.float32)


def _masks_for(landmarks: np.ndarray, valid: np.ndarray, size: int,
               use_features: bool) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(valid)
    face = np.empty((n, 1, size, size), np.uint8)
    feat = np.zeros((n, 1, size, size), np.uint8)
    default = np.round(ellipse_mask(size) * 255).astype(np.uint8)
    for i, lm in enumerate(landmarks):
        if not valid[i]:
            face[i, 0] = default
            continue
        face[i, 0] = np.round(region_mask(lm, size, "face") * 255).astype(np.uint8)
        if use_features:
            m = np.maximum(region_mask(lm, size, "eyes"), region_mask(lm, size, "mouth"))
            feat[i, 0] = np.round(m * 255).astype(np.uint8)
    return torch.from_numpy(face), torch.from_numpy(feat)


def load_identity(name: str, directory: str, label: str | None, size: int, use_features: bool = True,
                  progress: bool = False) -> IdentityData:
    """Load one decoder's FaceSet (optionally one identity label of it) at ``size`` px.

    Raises:
        FaceSetError: if the set is missing, empty, lacks ``label``, or holds crops smaller
            than ``size`` (upscaled crops would train a blurry model).
    """
    where = f"{directory}@{label}" if label else directory
    fs = FaceSet(directory)
    if label is not None:
        if label not in set(fs.identities):
            shown = ", ".join(fs.identities[:10]) + (" ..." if len(fs.identities) > 10 else "")
            raise FaceSetError(f"{directory}: no faces with identity {label!r} (for --data {name}); "
                               f"this FaceSet has: {shown or '(none)'}")
        fs = fs.filter(identity=label)
    if len(fs) == 0:
        raise FaceSetError(f"{where}: FaceSet is empty (for decoder {name!r})")
    small = [r for r in fs.records if r.size < size]
    if small:
        raise FaceSetError(f"{where}: {len(small)} of {len(fs)} crops are smaller than --size {size} "
                           f"(e.g. {small[0].image} is {small[0].size} px); extract at ≥ {size} px or "
                           f"train at a smaller --size")
    images = _load_images(fs, size, progress)
    lms, valid = _scaled_landmarks(fs, size)
    face, feat = _masks_for(lms, valid, size, use_features)
    return IdentityData(name=name, images=images, face_mask=face, feature_mask=feat, source=where,
                        landmarks=lms, landmark_valid=valid)


def _load_images(fs: FaceSet, size: int, progress: bool) -> torch.Tensor:
    """Every crop at ``size`` px as one ``uint8 N×3×S×S`` tensor, resized by the preprocessing contract
    (:func:`latentedit.preprocess.resize`, the resampler the Editor and ``extract`` use)."""
    out = torch.empty((len(fs), 3, size, size), dtype=torch.uint8)
    it = range(len(fs))
    if progress:
        it = tqdm(it, desc=f"loading {fs.root.name}", unit="img")
    for i in it:
        out[i] = torch.from_numpy(resize(fs.read_image(i), size)).permute(2, 0, 1)  # (3, S, S)
    return out


def _scaled_landmarks(fs: FaceSet, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every record's landmarks rescaled to ``size`` px (``N×68×2`` float32, zeros where missing) and a
    ``(N,)`` bool mask of which records have them."""
    out = np.zeros((len(fs), 68, 2), np.float32)
    valid = np.zeros(len(fs), bool)
    for i, rec in enumerate(fs.records):
        if rec.landmarks is not None and np.shape(rec.landmarks) == (68, 2):
            out[i] = rescale_landmarks(rec.landmarks, rec.size, size)
            valid[i] = True
    return out, valid


def batch_indices(n: int, batch: int, step: int, seed: int, stream: int) -> np.ndarray:
    """Indices of the global batch of one identity at ``step`` (see the module docstring).

    Args:
        n: number of images of the identity.
        batch: global batch size.
        step: optimiser step (0-based).
        seed: run seed.
        stream: identity index (separates the permutations of different identities).

    Returns:
        ``int64`` array of ``batch`` indices into ``[0, n)``.
    """
    start = step * batch
    out = np.empty(batch, np.int64)
    filled = 0
    while filled < batch:
        epoch, pos = divmod(start + filled, n)
        perm = np.random.default_rng([seed, stream, epoch]).permutation(n)
        take = min(batch - filled, n - pos)
        out[filled:filled + take] = perm[pos:pos + take]
        filled += take
    return out


def shard(x: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """This rank's slice of a global batch (``x[rank::world]``, equal sizes when divisible)."""
    return x[rank::world] if world > 1 else x


def load_data(cfg: TrainConfig, progress: bool = False) -> dict[str, IdentityData]:
    """Load every ``--data`` set (and ``--generic``) at ``cfg.size``.

    Raises:
        FaceSetError / LatentEditError: for a missing, empty or too-small set or a bad spec.
    """
    use_feat = cfg.eyes_mouth > 0
    out: dict[str, IdentityData] = {}
    for name, spec in cfg.data.items():
        directory, label = split_dir_label(spec)
        out[name] = load_identity(name, directory, label, cfg.size, use_feat, progress)
    if cfg.generic:
        directory, label = split_dir_label(cfg.generic)
        out[GENERIC] = load_identity(GENERIC, directory, label, cfg.size, use_feat, progress)
    return out
