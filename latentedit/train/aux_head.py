"""Self-supervised auxiliary head: make the latent code *linearly* predict the face's landmark geometry.

A plain autoencoder spends its latent on whatever reconstructs pixels best; expression (a smile, an
open mouth) is a few pixels and ends up tangled with pose and lighting, so a linear boundary on the
latent separates it worse than PCA of the raw pixels does. This head is one linear layer from the code
``z`` to targets measured from each training crop's 68 landmarks, with no human labels:

* the 136 roll/size-normalised landmark coordinates (:func:`latentedit.faces.scores.normalise_landmarks`),
* the measured attribute scores (:data:`latentedit.faces.scores.MEASURED_ATTRIBUTES`),

each standardised over the training set. Because the head is linear, minimising its error pushes the
encoder to lay those directions out linearly in ``z`` — exactly what a linear attribute boundary needs.
Horizontally flipped training inputs get the targets of the mirrored landmarks. Crops without landmarks
get zero weight. The loss is the mean squared error of the coordinates plus that of the scores (the two
groups weigh the same), times ``TrainConfig.aux``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..faces.meanface import FLIP_PERMUTATION
from ..faces.scores import MEASURED_ATTRIBUTES, landmark_scores_batch, normalise_landmarks

#: Number of coordinate targets (68 points × 2) before the scores.
N_COORDS = 136
#: Total number of targets per face.
N_TARGETS = N_COORDS + len(MEASURED_ATTRIBUTES)


def _raw_targets(landmarks: np.ndarray) -> np.ndarray:
    """``N×68×2`` landmarks → ``N×N_TARGETS`` unstandardised targets (coordinates, then scores)."""
    pts, _ = normalise_landmarks(landmarks)
    scores = landmark_scores_batch(landmarks)
    return np.concatenate([pts.reshape(len(pts), -1),
                           np.stack([scores[k] for k in MEASURED_ATTRIBUTES], axis=1)], axis=1)


def landmark_targets(landmarks: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Standardised auxiliary targets of a training set and of its mirror images.

    Args:
        landmarks: ``N×68×2`` landmarks in crop pixels (rows where ``valid`` is False are ignored).
        valid: ``(N,)`` bool, which rows have landmarks.

    Returns:
        ``(targets, mirrored, stats)``: float32 ``N×N_TARGETS`` arrays (zeros on invalid rows) and
        ``{"mean", "std"}`` lists used for the standardisation (computed on the unmirrored valid rows).

    Raises:
        ValueError: if no row is valid.
    """
    valid = np.asarray(valid, bool)
    if not valid.any():
        raise ValueError("no training crop has landmarks; the auxiliary head needs them (extract with landmarks)")
    lm = np.asarray(landmarks, np.float64)[valid]
    mirrored_lm = lm.copy()
    mirrored_lm[..., 0] = -mirrored_lm[..., 0]        # any mirror axis works: the targets are position-free
    mirrored_lm = mirrored_lm[:, FLIP_PERMUTATION]
    raw, raw_m = _raw_targets(lm), _raw_targets(mirrored_lm)
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    out = np.zeros((len(valid), N_TARGETS), np.float32)
    out_m = np.zeros_like(out)
    out[valid] = (raw - mean) / std
    out_m[valid] = (raw_m - mean) / std
    return out, out_m, {"mean": mean.tolist(), "std": std.tolist()}


class AuxHead(nn.Module):
    """One linear layer ``z → N_TARGETS`` (training only; not part of the saved model)."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(latent_dim, N_TARGETS)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z)


def aux_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean squared error of coordinates plus that of scores, averaged over rows with ``weight`` 1.

    Args:
        pred: ``N×N_TARGETS`` head output.
        target: ``N×N_TARGETS`` standardised targets.
        weight: ``(N,)`` 1 for rows with landmarks, 0 otherwise.
    """
    err = (pred.float() - target) ** 2
    per_row = err[:, :N_COORDS].mean(dim=1) + err[:, N_COORDS:].mean(dim=1)
    return (per_row * weight).sum() / weight.sum().clamp_min(1.0)


__all__ = ["AuxHead", "aux_loss", "landmark_targets", "N_TARGETS", "N_COORDS"]
