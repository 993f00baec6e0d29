"""Image helpers of the Editor: the alignment template of a FaceSet and input array checks.

Alignment, resizing and conversions are the preprocessing contract's (:mod:`latentedit.preprocess`).
"""
from __future__ import annotations

import numpy as np

from ..errors import LatentEditError
from ..media import MIN_IMAGE_SIDE
from ..preprocess import rescale_landmarks


def alignment_template(faceset, size: int, limit: int = 2000) -> np.ndarray:
    """Mean landmarks of a FaceSet's records, scaled to a ``size×size`` crop (an Editor ``template``).

    Raises:
        LatentEditError: if none of the first ``limit`` records has landmarks.
    """
    pts = [rescale_landmarks(r.landmarks, r.size, size).astype(np.float64)
           for r in faceset.records[:limit] if r.landmarks is not None]
    if not pts:
        raise LatentEditError(f"{faceset.root}: no record has landmarks; cannot build an alignment template")
    return np.mean(pts, axis=0).astype(np.float32)


def _as_image(image, label: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise LatentEditError(f"{label}: expected a uint8 RGB image, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise LatentEditError(f"{label}: expected an H×W×3 RGB image, got shape {arr.shape}")
    if min(arr.shape[:2]) < MIN_IMAGE_SIDE:
        raise LatentEditError(f"{label}: image is {arr.shape[1]}×{arr.shape[0]} pixels, too small to hold a face "
                              f"(the minimum is {MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE})")
    return np.ascontiguousarray(arr[..., :3])
