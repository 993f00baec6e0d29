"""Alignment: a least-squares similarity transform of the 68 landmarks onto a canonical mean face.

The crop uses a "whole face" framing: the jaw spans ~66 % of the width, the chin sits at ~87 % of the height and
the forehead fills the top fifth (see :func:`canonical_landmarks`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..landmarks import NUM_LANDMARKS
from .meanface import MEAN_FACE

#: Points that drive the similarity fit: brows, nose, eyes and the mouth corners. The jaw (moves with
#: yaw and an open mouth) and the lips (move with expression) are left out so that expressions do not
#: shift the framing.
ALIGN_INDICES = np.array(list(range(17, 48)) + [48, 54], dtype=np.int64)

# Whole-face framing of the unit mean face (centred on its landmark bounding box, width 1):
# crop coordinate = size * (point * _SCALE + _OFFSET).
_SCALE = 0.66
_OFFSET = np.array([0.5, 0.55], dtype=np.float64)


@dataclass
class AlignedFace:
    """An aligned square face crop.

    Attributes:
        crop: uint8 ``S×S×3`` RGB crop.
        landmarks: ``68×2`` float32 landmarks in crop pixels.
        affine: ``2×3`` float32 matrix mapping source pixels ``(x, y, 1)`` to crop pixels.
        size: the crop side ``S``.
    """

    crop: np.ndarray
    landmarks: np.ndarray
    affine: np.ndarray
    size: int


def canonical_landmarks(size: int) -> np.ndarray:
    """The canonical 68-point mean face in the pixels of an ``size×size`` aligned crop.

    Args:
        size: crop side in pixels.

    Returns:
        ``68×2`` float32 ``(x, y)`` positions (pixel centres at integers).
    """
    pts = MEAN_FACE.astype(np.float64) * _SCALE + _OFFSET
    return (pts * size - 0.5).astype(np.float32)


def similarity_transform(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` onto ``dst``.

    Closed-form solution (Umeyama 1991) without reflection.

    Args:
        src: ``N×2`` points.
        dst: ``N×2`` target points.
        weights: optional ``N`` non-negative weights.

    Returns:
        ``2×3`` float64 matrix ``M`` with ``dst ≈ M @ [x, y, 1]``.

    Raises:
        ValueError: for mismatched shapes or degenerate (coincident) points.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"expected two N×2 arrays with N ≥ 2, got {src.shape} and {dst.shape}")
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s = w @ src
    mu_d = w @ dst
    s = src - mu_s
    d = dst - mu_d
    var_s = float(w @ (s ** 2).sum(axis=1))
    if var_s <= 1e-12:
        raise ValueError("source points are all at one place; cannot fit a similarity transform")
    cov = (d * w[:, None]).T @ s  # (2, 2)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sig) @ sign)) / var_s
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def transform_points(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Apply a ``2×3`` affine to ``N×2`` points (float32 result)."""
    pts = np.asarray(points, dtype=np.float64)
    a = np.asarray(affine, dtype=np.float64)
    return (pts @ a[:, :2].T + a[:, 2]).astype(np.float32)


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """Inverse of a ``2×3`` affine (crop → source when given source → crop)."""
    a = np.asarray(affine, dtype=np.float64)
    inv = np.linalg.inv(a[:, :2])
    return np.concatenate([inv, -(inv @ a[:, 2])[:, None]], axis=1)


def alignment_affine(landmarks68: np.ndarray, size: int) -> np.ndarray:
    """The ``2×3`` source → crop similarity that puts ``landmarks68`` onto :func:`canonical_landmarks`.

    Raises:
        ValueError: if the landmarks are not ``68×2`` finite values.
    """
    lm = np.asarray(landmarks68, dtype=np.float64)
    if lm.shape != (NUM_LANDMARKS, 2) or not np.all(np.isfinite(lm)):
        raise ValueError(f"expected 68×2 finite landmarks, got shape {lm.shape}")
    return similarity_transform(lm[ALIGN_INDICES], canonical_landmarks(size)[ALIGN_INDICES])


def align_face(image: np.ndarray, landmarks68: np.ndarray, size: int = 256) -> AlignedFace:
    """Warp a face onto the canonical whole-face frame.

    Large downscales are done in two steps (area-averaged resize of the face region, then the warp) so
    that crops from high-resolution photos are not aliased. Pixels outside the image repeat the border.

    Args:
        image: uint8 RGB ``H×W×3`` source image.
        landmarks68: ``68×2`` landmarks in source pixels (e.g. ``Detection.landmarks``).
        size: side of the square crop (≥ 8).

    Returns:
        :class:`AlignedFace` with the crop, landmarks in crop pixels and the source → crop affine.

    Raises:
        ValueError: for a bad image, landmarks or size.
    """
    import cv2

    from .detect import as_rgb_uint8

    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an integer ≥ 8, got {size!r}")
    image = as_rgb_uint8(image)
    m = alignment_affine(landmarks68, size)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    src, pre = image, np.eye(3)
    if scale < 0.5:
        src, pre = _area_prescale(image, m, size, scale)
    warp = (np.vstack([m, [0, 0, 1]]) @ np.linalg.inv(pre))[:2]
    crop = cv2.warpAffine(src, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lm_crop = transform_points(landmarks68, m)
    return AlignedFace(crop=np.ascontiguousarray(crop), landmarks=lm_crop, affine=m.astype(np.float32), size=int(size))


def _area_prescale(image: np.ndarray, m: np.ndarray, size: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut the region the crop sees (plus a margin) and area-resize it to ~2× the crop's pixel density.

    Returns the resized region and the 3×3 matrix mapping source pixels to it.
    """
    import cv2

    h, w = image.shape[:2]
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
    src_corners = transform_points(corners, invert_affine(m)).astype(np.float64)
    margin = 4.0 / scale
    x0 = int(np.clip(np.floor(src_corners[:, 0].min() - margin), 0, w - 1))
    y0 = int(np.clip(np.floor(src_corners[:, 1].min() - margin), 0, h - 1))
    x1 = int(np.clip(np.ceil(src_corners[:, 0].max() + margin), x0 + 1, w))
    y1 = int(np.clip(np.ceil(src_corners[:, 1].max() + margin), y0 + 1, h))
    region = image[y0:y1, x0:x1]
    f = min(1.0, 2.0 * scale)
    out_w, out_h = max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f))
    resized = cv2.resize(region, (out_w, out_h), interpolation=cv2.INTER_AREA)
    fx, fy = out_w / (x1 - x0), out_h / (y1 - y0)
    # pixel centres: resized coordinate = (source - x0 + 0.5) * f - 0.5
    pre = np.array([[fx, 0, (0.5 - x0) * fx - 0.5], [0, fy, (0.5 - y0) * fy - 0.5], [0, 0, 1]])
    return resized, pre
