"""Image helpers of the Editor: alignment template, antialiased warp, array checks, conversions."""
from __future__ import annotations

import numpy as np

from ..errors import LatentEditError
from ..media import MIN_IMAGE_SIDE


def alignment_template(faceset, size: int, limit: int = 2000) -> np.ndarray:
    """Mean landmarks of a FaceSet's records, scaled to a ``size×size`` crop (an Editor ``template``).

    Raises:
        LatentEditError: if none of the first ``limit`` records has landmarks.
    """
    pts = [(r.landmarks.astype(np.float64) + 0.5) * (size / r.size) - 0.5
           for r in faceset.records[:limit] if r.landmarks is not None]
    if not pts:
        raise LatentEditError(f"{faceset.root}: no record has landmarks; cannot build an alignment template")
    return np.mean(pts, axis=0).astype(np.float32)


def _warp_antialiased(image: np.ndarray, affine: np.ndarray, size: int) -> np.ndarray:
    """Warp into a ``size×size`` crop; strong downscales are warped at ``k×`` the size then
    area-averaged, so a face from a large photo is not aliased."""
    import cv2

    from ..merge import warp_to_crop

    scale = float(np.sqrt(abs(np.linalg.det(np.asarray(affine, np.float64)[:, :2]))))
    k = int(min(8, max(1, np.floor(1.0 / max(scale, 1e-6)))))
    if k == 1:
        return warp_to_crop(image, affine, size)
    # big-crop pixel = k·(crop pixel + 0.5) − 0.5 (pixel centres at integers)
    big = np.asarray(affine, np.float64) * k
    big[:, 2] += (k - 1) / 2.0
    return cv2.resize(warp_to_crop(image, big.astype(np.float32), size * k), (size, size),
                      interpolation=cv2.INTER_AREA)


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


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape[0] == size and image.shape[1] == size:
        return np.ascontiguousarray(image)
    import cv2

    shrink = min(image.shape[:2]) > size
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _to_uint8(rgb) -> np.ndarray:
    """``3×S×S`` tensor in [-1, 1] → uint8 ``S×S×3``."""
    import torch

    return ((rgb.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
