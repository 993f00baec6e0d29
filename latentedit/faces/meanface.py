"""The canonical 68-point mean face used for alignment.

``MEAN_FACE`` was computed by :func:`build_mean_face` from dlib landmarks on 1,500 CelebA images
(:func:`latentedit.faces.celeba_landmarks.mean_face_source` regenerates it): generalised Procrustes
alignment, averaging, then averaging with its mirror image so it is exactly left/right symmetric.
Units: the landmark bounding box is centred on the origin and is 1 wide; ``y`` points down.
"""
from __future__ import annotations

import numpy as np

from ..preprocess import similarity_transform, transform_points

#: Index ``i`` of a face maps to index ``FLIP_PERMUTATION[i]`` of its mirror image (iBUG-68 order).
FLIP_PERMUTATION = np.array(
    list(range(16, -1, -1))                       # jaw
    + list(range(26, 21, -1)) + list(range(21, 16, -1))  # brows swap
    + [27, 28, 29, 30]                            # nose bridge
    + [35, 34, 33, 32, 31]                        # lower nose
    + [45, 44, 43, 42, 47, 46]                    # right eye <- left eye
    + [39, 38, 37, 36, 41, 40]                    # left eye <- right eye
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lips
    + [64, 63, 62, 61, 60, 67, 66, 65],           # inner lips
    dtype=np.int64)


def mirror_landmarks(points: np.ndarray) -> np.ndarray:
    """Mirror a 68-point set about ``x = 0`` and re-index it so the result is a valid iBUG-68 face."""
    pts = np.asarray(points, dtype=np.float64).copy()
    pts[:, 0] = -pts[:, 0]
    return pts[FLIP_PERMUTATION]


def _normalise(points: np.ndarray) -> np.ndarray:
    lo, hi = points.min(axis=0), points.max(axis=0)
    return (points - (lo + hi) / 2) / (hi[0] - lo[0])


def build_mean_face(landmark_sets: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Generalised Procrustes mean of many 68-point sets, symmetrised and normalised.

    Args:
        landmark_sets: ``N×68×2`` landmarks (any pixel frame each).
        iterations: Procrustes iterations.

    Returns:
        ``68×2`` float64 mean face, bounding box centred on the origin, width 1.
    """
    sets = np.asarray(landmark_sets, dtype=np.float64)
    ref = _normalise(sets[0])
    for _ in range(iterations):
        aligned = np.stack([transform_points(s, similarity_transform(s, ref)) for s in sets]).astype(np.float64)
        mean = aligned.mean(axis=0)
        mean = (mean + mirror_landmarks(mean - [mean[:, 0].mean(), 0])) / 2  # symmetric about its centre
        ref = _normalise(mean)
    return ref


#: The canonical mean face (1,447 CelebA faces found among the first 1,500).
MEAN_FACE = np.array([
    [-0.50000, -0.32078],
    [-0.49609, -0.18877],
    [-0.48140, -0.05655],
    [-0.45568, +0.07337],
    [-0.40688, +0.19471],
    [-0.32877, +0.30101],
    [-0.23216, +0.39130],
    [-0.12292, +0.46490],
    [-0.00000, +0.48616],
    [+0.12292, +0.46490],
    [+0.23216, +0.39130],
    [+0.32877, +0.30101],
    [+0.40688, +0.19471],
    [+0.45568, +0.07337],
    [+0.48140, -0.05655],
    [+0.49609, -0.18877],
    [+0.50000, -0.32078],
    [-0.40232, -0.42426],
    [-0.33895, -0.47373],
    [-0.25423, -0.48616],
    [-0.16762, -0.47243],
    [-0.08566, -0.43754],
    [+0.08566, -0.43754],
    [+0.16762, -0.47243],
    [+0.25423, -0.48616],
    [+0.33895, -0.47373],
    [+0.40232, -0.42426],
    [-0.00000, -0.33899],
    [-0.00000, -0.25233],
    [-0.00000, -0.16538],
    [-0.00000, -0.07702],
    [-0.09506, -0.02226],
    [-0.04953, -0.00412],
    [-0.00000, +0.01200],
    [+0.04953, -0.00412],
    [+0.09506, -0.02226],
    [-0.30271, -0.32771],
    [-0.24919, -0.35903],
    [-0.18431, -0.35751],
    [-0.12966, -0.31550],
    [-0.18990, -0.30442],
    [-0.25294, -0.30530],
    [+0.12966, -0.31550],
    [+0.18431, -0.35751],
    [+0.24919, -0.35903],
    [+0.30271, -0.32771],
    [+0.25294, -0.30530],
    [+0.18990, -0.30442],
    [-0.19815, +0.13023],
    [-0.12671, +0.10004],
    [-0.05350, +0.08692],
    [-0.00000, +0.09876],
    [+0.05350, +0.08692],
    [+0.12671, +0.10004],
    [+0.19815, +0.13023],
    [+0.12988, +0.20577],
    [+0.05777, +0.23910],
    [-0.00000, +0.24529],
    [-0.05777, +0.23910],
    [-0.12988, +0.20577],
    [-0.16735, +0.13544],
    [-0.05399, +0.13032],
    [-0.00000, +0.13555],
    [+0.05399, +0.13032],
    [+0.16735, +0.13544],
    [+0.05504, +0.17272],
    [-0.00000, +0.17909],
    [-0.05504, +0.17272],
], dtype=np.float32)
