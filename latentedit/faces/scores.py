"""Attribute scores measured from 68 landmarks (pure numpy).

Every score is computed after mapping the landmarks onto the canonical mean face with a least-squares
2-D affine fitted on rigid points (eye corners, nose, upper jaw). The affine removes position, size and
roll exactly, and approximates yaw and pitch as horizontal and vertical foreshortening, so the
ratios below compare faces seen at different angles. Units are the mean face's (face width = 1).

Scores and their meaning (larger = more):

* ``eye_open_score``: eye aspect ratio (lid gap / eye width), both eyes averaged.
* ``mouth_open_score``: gap between the inner lips.
* ``smile_score``: mouth width plus the lift of the mouth corners above the lip centre.
* ``nose_length_score``: nose bridge top to nose base.
* ``nose_width_score``: width of the nostrils.
* ``nose_size_score``: nose length and width combined.
* ``brow_raise_score``: height of the brows above the upper eyelids.

The names end in ``_score`` so they never collide with SynthFaces ground-truth names (``smile``).
The weights of the combined scores were chosen on one half of the CelebA validation set and are
reported on the other half (``docs/faces_validation.json``; ``python -m latentedit.faces.validate``).
"""
from __future__ import annotations

import numpy as np

from .meanface import MEAN_FACE

#: Names of the measured attributes, in a fixed order.
MEASURED_ATTRIBUTES = ("eye_open_score", "mouth_open_score", "smile_score", "nose_length_score",
                       "nose_width_score", "nose_size_score", "brow_raise_score")

#: Rigid points used for the normalising affine: eye corners, nose, upper jaw.
RIGID_INDICES = np.array([0, 1, 2, 14, 15, 16, 27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45], dtype=np.int64)

# Combination weights (see the module docstring). Each combined score is w · features.
SMILE_WEIGHTS = {"mouth_width": 1.0, "corner_lift": 1.0}
NOSE_SIZE_WEIGHTS = {"nose_length": 1.0, "nose_width": 1.0}
EYE_WEIGHTS = {"ear": 1.0}


def normalise_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Map ``N×68×2`` (or ``68×2``) landmarks onto the mean face with a per-face least-squares affine.

    Returns:
        float64 array of the same shape, in mean-face units.

    Raises:
        ValueError: if the shape is not ``(..., 68, 2)`` or values are not finite.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    single = lm.ndim == 2
    if single:
        lm = lm[None]
    if lm.ndim != 3 or lm.shape[1:] != (68, 2):
        raise ValueError(f"expected landmarks of shape (68, 2) or (N, 68, 2), got {np.shape(landmarks)}")
    if not np.all(np.isfinite(lm)):
        raise ValueError("landmarks contain NaN or infinity")
    src = lm[:, RIGID_INDICES]  # (N, K, 2)
    mu = src.mean(axis=1, keepdims=True)
    scale = np.sqrt(((src - mu) ** 2).sum(axis=(1, 2), keepdims=True) / len(RIGID_INDICES))
    scale = np.where(scale > 0, scale, 1.0)
    x = (src - mu) / scale  # conditioned source points
    xh = np.concatenate([x, np.ones(x.shape[:2] + (1,))], axis=2)  # (N, K, 3)
    dst = np.broadcast_to(MEAN_FACE[RIGID_INDICES].astype(np.float64), src.shape)
    # batched least squares: (X^T X)^-1 X^T Y for each face
    xtx = np.einsum("nki,nkj->nij", xh, xh)
    xty = np.einsum("nki,nkj->nij", xh, dst)
    coef = np.linalg.solve(xtx + 1e-9 * np.eye(3), xty)  # (N, 3, 2)
    all_h = np.concatenate([(lm - mu) / scale, np.ones(lm.shape[:2] + (1,))], axis=2)
    out = np.einsum("nki,nij->nkj", all_h, coef)
    return out[0] if single else out


def _dist(p: np.ndarray, i: int, j: int) -> np.ndarray:
    return np.linalg.norm(p[:, i] - p[:, j], axis=-1)


def landmark_features(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """The raw normalised ratios the scores are built from (batched).

    Args:
        landmarks: ``N×68×2`` landmarks in any pixel frame.

    Returns:
        name → ``(N,)`` float64 array: ``ear``, ``ear_right``, ``ear_left``, ``mouth_gap``, ``mouth_width``,
        ``corner_lift``, ``nose_length``, ``nose_width``, ``brow_height``.
    """
    p = normalise_landmarks(np.asarray(landmarks, dtype=np.float64).reshape(-1, 68, 2))

    def ear(a: int) -> np.ndarray:  # eye a..a+5: corners a, a+3; upper a+1, a+2; lower a+5, a+4
        return (_dist(p, a + 1, a + 5) + _dist(p, a + 2, a + 4)) / (2.0 * _dist(p, a, a + 3) + 1e-9)

    ear_r, ear_l = ear(36), ear(42)
    mouth_gap = (_dist(p, 61, 67) + _dist(p, 62, 66) + _dist(p, 63, 65)) / 3.0
    mouth_width = _dist(p, 48, 54)
    # relative to the upper-lip centre, which (unlike the lower lip) does not drop when the mouth opens
    centre_y = (p[:, 51, 1] + p[:, 62, 1]) / 2.0
    corner_lift = centre_y - (p[:, 48, 1] + p[:, 54, 1]) / 2.0  # y points down: positive = corners up
    nose_length = _dist(p, 27, 33)
    nose_width = _dist(p, 31, 35)
    upper_lids = (p[:, [37, 38, 43, 44], 1]).mean(axis=1)
    brows = (p[:, [18, 19, 20, 23, 24, 25], 1]).mean(axis=1)
    return {"ear": (ear_r + ear_l) / 2.0, "ear_right": ear_r, "ear_left": ear_l, "mouth_gap": mouth_gap,
            "mouth_width": mouth_width, "corner_lift": corner_lift, "nose_length": nose_length,
            "nose_width": nose_width, "brow_height": upper_lids - brows}


def _combine(feats: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    return sum(w * feats[k] for k, w in weights.items())


def landmark_scores_batch(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Measured attribute scores for many faces.

    Args:
        landmarks: ``N×68×2`` landmarks (any pixel frame: source, crop, …).

    Returns:
        name (from :data:`MEASURED_ATTRIBUTES`) → ``(N,)`` float64 scores.

    Raises:
        ValueError: for a bad shape or non-finite values.
    """
    f = landmark_features(landmarks)
    return {
        "eye_open_score": _combine(f, EYE_WEIGHTS),
        "mouth_open_score": f["mouth_gap"],
        "smile_score": _combine(f, SMILE_WEIGHTS),
        "nose_length_score": f["nose_length"],
        "nose_width_score": f["nose_width"],
        "nose_size_score": _combine(f, NOSE_SIZE_WEIGHTS),
        "brow_raise_score": f["brow_height"],
    }


def landmark_scores(landmarks68: np.ndarray) -> dict[str, float]:
    """Measured attribute scores for one face.

    Args:
        landmarks68: ``68×2`` landmarks.

    Returns:
        name (from :data:`MEASURED_ATTRIBUTES`) → float.

    Raises:
        ValueError: if the landmarks are not ``68×2`` finite values.
    """
    lm = np.asarray(landmarks68, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"expected 68×2 landmarks, got shape {lm.shape}")
    return {k: float(v[0]) for k, v in landmark_scores_batch(lm[None]).items()}
