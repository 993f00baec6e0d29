"""Alignment: a least-squares similarity transform of the 68 landmarks onto a canonical mean face.

The fit and the crop are the preprocessing contract's (:func:`latentedit.preprocess.align`); this module
adds the canonical framing.

The crop uses a "whole face" framing: the jaw spans ~66 % of the width, the chin sits at ~87 % of the height and
the forehead fills the top fifth (see :func:`canonical_landmarks`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..landmarks import NUM_LANDMARKS
# The geometry and the resampler live with the preprocessing contract; re-exported here, where the
# face pipeline has always offered them.
from ..preprocess import ALIGN_INDICES, align, invert_affine, similarity_transform, transform_points  # noqa: F401
from .detect import as_rgb_uint8
from .meanface import MEAN_FACE

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
    """Warp a face onto the canonical whole-face frame (:func:`latentedit.preprocess.align`).

    The crop is anti-aliased (:func:`latentedit.preprocess.warp`): a face from a high-resolution
    photo is area-averaged, not aliased. Pixels outside the image repeat the border.

    Args:
        image: uint8 RGB ``H×W×3`` source image (greyscale and RGBA are accepted).
        landmarks68: ``68×2`` landmarks in source pixels (e.g. ``Detection.landmarks``).
        size: side of the square crop (≥ 8).

    Returns:
        :class:`AlignedFace` with the crop, landmarks in crop pixels and the source → crop affine.

    Raises:
        ValueError: for a bad image, landmarks or size.
    """
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an integer ≥ 8, got {size!r}")
    image = as_rgb_uint8(image)
    lm = np.asarray(landmarks68, dtype=np.float64)
    if lm.shape != (NUM_LANDMARKS, 2) or not np.all(np.isfinite(lm)):
        raise ValueError(f"expected 68×2 finite landmarks, got shape {lm.shape}")
    crop, affine = align(image, lm, canonical_landmarks(size), int(size))
    return AlignedFace(crop=crop, landmarks=transform_points(lm, affine), affine=affine, size=int(size))
