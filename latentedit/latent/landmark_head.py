"""The landmark head: a small network from a code ``z`` to the 68 landmarks of the face it encodes.

Detail mode (:mod:`latentedit.merge.detail`) warps the real photo the way an edit moves the face. The
move is ``head(z') − head(z)``: no decode, microseconds per slider move, and — because the head is
not linear — a different move for every face (a linear map would give every face the same one).

The head is fitted after training on a FaceSet's codes and its stored landmarks (``latentedit fit
MODEL FACESET --landmark-head``) and saved in the model folder as ``landmark_head.safetensors`` +
``landmark_head.json`` (versioned, tied to the model id, with its held-out error).

Contracts: ``z`` float ``N×D``; landmarks float ``N×68×2`` in pixels of a crop at the model resolution.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .._io import atomic_path
from ..errors import LatentEditError, ModelFormatError
from ..faces.scores import normalise_landmarks
from ..formats import FileFormat
from ..manifest import manifest_owners, record_written, verify_manifest

HEAD_FORMAT = FileFormat("latentedit.landmark_head", 1, what="landmark head", required={
    "model_id": (str,), "latent_dim": (int,), "resolution": (int,), "hidden": (int,)})
HEAD_STEM = "landmark_head"


class _Net(nn.Module):
    """``z → 136``: a linear map plus a one-hidden-layer correction (standardised units)."""

    def __init__(self, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.linear = nn.Linear(latent_dim, 136)
        self.hidden = nn.Sequential(nn.Linear(latent_dim, hidden), nn.SiLU(), nn.Linear(hidden, 136))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z) + self.hidden(z)


@dataclass
class LandmarkHead:
    """A fitted landmark head (see the module docstring).

    Attributes:
        net: the network (standardised inputs and outputs).
        z_mean, z_std: ``(D,)`` code standardisation; lm_mean, lm_std: ``(136,)`` target standardisation.
        model_id, resolution: the model it belongs to and its crop side.
        val_error: held-out mean landmark error in crop pixels (NaN when unknown).
        baseline_error: the same for always predicting the mean face.
    """

    net: _Net
    z_mean: torch.Tensor
    z_std: torch.Tensor
    lm_mean: torch.Tensor
    lm_std: torch.Tensor
    model_id: str
    resolution: int
    val_error: float = float("nan")
    baseline_error: float = float("nan")
    n_train: int = 0

    @property
    def latent_dim(self) -> int:
        """Size of the codes the head takes."""
        return int(self.z_mean.shape[0])

    def predict(self, z) -> np.ndarray:
        """Landmarks of codes ``z`` (``N×D`` or ``D``): float64 ``N×68×2`` (or ``68×2``) crop pixels."""
        t = torch.as_tensor(np.asarray(z.detach().cpu() if hasattr(z, "detach") else z), dtype=torch.float32)
        single = t.ndim == 1
        t = t.reshape(-1, self.latent_dim)
        with torch.inference_mode():
            out = self.net((t - self.z_mean) / self.z_std) * self.lm_std + self.lm_mean
        lm = out.double().numpy().reshape(-1, 68, 2)
        return lm[0] if single else lm

    def shift(self, z, z_edit) -> np.ndarray:
        """How the edit ``z → z_edit`` moves the landmarks: float64 ``68×2`` (or ``N×68×2``) crop pixels."""
        return self.predict(z_edit) - self.predict(z)

    # -- files ----------------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``landmark_head.safetensors`` + ``.json`` into a model folder (manifest kept true).

        Raises:
            ModelFormatError: if the folder's manifest does not verify (it is never re-blessed).
        """
        directory = Path(directory)
        owners = manifest_owners(directory)
        for owner in owners:
            verify_manifest(owner)
        spath, jpath = directory / f"{HEAD_STEM}.safetensors", directory / f"{HEAD_STEM}.json"
        tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        tensors.update(z_mean=self.z_mean, z_std=self.z_std, lm_mean=self.lm_mean, lm_std=self.lm_std)
        written: list[Path] = []
        try:
            with atomic_path(spath) as tmp:
                save_file(tensors, str(tmp), metadata={"model_id": self.model_id})
            written.append(spath)
            HEAD_FORMAT.write(jpath, {
                "model_id": self.model_id, "latent_dim": self.latent_dim, "resolution": self.resolution,
                "hidden": int(self.net.hidden[0].out_features), "val_error_px": self.val_error,
                "baseline_error_px": self.baseline_error, "n_train": self.n_train}, overwrite=True)
            written.append(jpath)
        finally:
            if owners and written:
                record_written(directory, written)
        return jpath

    @classmethod
    def load(cls, directory: str | os.PathLike, model_id: str | None = None) -> "LandmarkHead | None":
        """The head saved in a model folder, or None when it has none.

        Raises:
            ModelFormatError: for a malformed file or a head fitted on another model.
        """
        directory = Path(directory)
        jpath, spath = directory / f"{HEAD_STEM}.json", directory / f"{HEAD_STEM}.safetensors"
        if not jpath.exists() and not spath.exists():
            return None
        meta = HEAD_FORMAT.read(jpath)
        if model_id is not None and meta["model_id"] != model_id:
            raise ModelFormatError(f"{jpath}: the landmark head was fitted on model {meta['model_id']!r}, not "
                                   f"{model_id!r}; refit it with `latentedit fit MODEL FACESET --landmark-head`")
        try:
            tensors = load_file(str(spath))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelFormatError(f"{spath}: cannot read safetensors ({exc})") from None
        net = _Net(meta["latent_dim"], meta["hidden"])
        try:
            net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
            stats = [tensors[k].float() for k in ("z_mean", "z_std", "lm_mean", "lm_std")]
        except (KeyError, RuntimeError) as exc:
            raise ModelFormatError(f"{spath}: not a landmark head of this shape ({str(exc).splitlines()[0]})") from None
        return cls(net.eval(), *stats, model_id=meta["model_id"], resolution=meta["resolution"],
                   val_error=float(meta.get("val_error_px", float("nan"))),
                   baseline_error=float(meta.get("baseline_error_px", float("nan"))),
                   n_train=int(meta.get("n_train", 0)))


def landmark_weights(landmarks, values, floor: float = 0.1) -> list[float] | None:
    """How much an attribute moves each of the 68 landmarks, from faces labelled with it: float ``(68,)``.

    The difference of the mean roll/size-normalised landmarks between faces with much and little of the
    attribute (above / below the median, or label 1 / 0), over each point's own spread across faces
    (a signal-to-noise ratio), scaled so points with at least half the largest ratio get 1, clipped
    to ``floor..1``.
    Detail mode multiplies the landmark head's predicted move by these weights: a smile moves the mouth
    corners and cheeks, not the jaw line, even where the smile direction in the latent also nudges
    face shape (CelebA's smiling faces are more often women's).

    Args:
        landmarks: ``N×68×2`` landmarks; values: ``(N,)`` attribute values (NaN: unlabelled).

    Returns:
        68 floats, or None with fewer than 10 faces on either side.
    """
    lm = np.asarray(landmarks, np.float64)
    v = np.asarray(values, np.float64)
    keep = np.isfinite(v) & np.all(np.isfinite(lm), axis=(1, 2))
    lm, v = lm[keep], v[keep]
    cut = 0.5 if set(np.unique(v)) <= {0.0, 1.0} else float(np.median(v))
    hi, lo = v > cut, v <= cut
    if hi.sum() < 10 or lo.sum() < 10:
        return None
    pts, _ = normalise_landmarks(lm)
    diff = np.linalg.norm(pts[hi].mean(0) - pts[lo].mean(0), axis=-1)
    spread = np.sqrt(((pts - pts.mean(0)) ** 2).sum(-1).mean(0))
    snr = diff / np.maximum(spread, 1e-9)
    top = 0.5 * float(snr.max())
    if top <= 0:
        return None
    return [float(w) for w in np.clip(snr / top, floor, 1.0)]


def fit_landmark_head(z, landmarks, model_id: str, resolution: int, hidden: int = 256, epochs: int = 300,
                      val_fraction: float = 0.1, seed: int = 0, weight_decay: float = 1e-4) -> LandmarkHead:
    """Fit a landmark head on codes and their faces' landmarks (full-batch Adam, a few seconds on CPU).

    Args:
        z: ``N×D`` codes; landmarks: ``N×68×2`` crop pixels at ``resolution``.
        model_id, resolution: the model the codes came from.
        hidden: width of the hidden layer; epochs: full-batch steps.
        val_fraction: share of faces held out to measure :attr:`LandmarkHead.val_error` (the final head
            is then refitted on all of them).

    Raises:
        LatentEditError: with fewer than 20 faces or non-finite inputs.
    """
    zt = torch.as_tensor(np.asarray(z.detach().cpu() if hasattr(z, "detach") else z), dtype=torch.float32)
    lm = torch.as_tensor(np.asarray(landmarks, np.float32)).reshape(len(zt), 136)
    if len(zt) < 20:
        raise LatentEditError(f"a landmark head needs at least 20 faces with landmarks, got {len(zt)}")
    if not (torch.isfinite(zt).all() and torch.isfinite(lm).all()):
        raise LatentEditError("the codes or landmarks for the landmark head are not finite")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(zt), generator=gen)
    n_val = max(1, int(round(val_fraction * len(zt)))) if val_fraction > 0 else 0
    val, train = order[:n_val], order[n_val:]

    def fit(idx):
        torch.manual_seed(seed)
        z_mean, z_std = zt[idx].mean(0), zt[idx].std(0).clamp_min(1e-6)
        lm_mean, lm_std = lm[idx].mean(0), lm[idx].std(0).clamp_min(1e-6)
        net = _Net(zt.shape[1], hidden)
        opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=weight_decay)
        x, y = (zt[idx] - z_mean) / z_std, (lm[idx] - lm_mean) / lm_std
        for _ in range(epochs):
            opt.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
        return LandmarkHead(net.eval(), z_mean, z_std, lm_mean, lm_std, model_id=model_id,
                            resolution=int(resolution), n_train=len(idx))

    def error(head, idx):
        pred = torch.as_tensor(head.predict(zt[idx]).reshape(len(idx), 136), dtype=torch.float32)
        return float((pred - lm[idx]).reshape(-1, 68, 2).norm(dim=-1).mean())

    val_err = base_err = float("nan")
    if n_val:
        head = fit(train)
        val_err = error(head, val)
        base_err = float((lm[train].mean(0) - lm[val]).reshape(-1, 68, 2).norm(dim=-1).mean())
    head = fit(order)
    head.val_error, head.baseline_error = val_err, base_err
    return head


__all__ = ["LandmarkHead", "fit_landmark_head", "landmark_weights", "HEAD_FORMAT", "HEAD_STEM"]
