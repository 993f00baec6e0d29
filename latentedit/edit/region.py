"""Region-confined edits: blend the edited decode into the unedited decode with a soft region mask.

Outside the mask (where it is exactly 0) the result *is* the unedited decode, bit for bit, and
after merging with the same mask it is the original image.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import LatentEditError
from ..faces.align import canonical_landmarks
from ..landmarks import REGIONS
from ..masks import region_mask


def crop_landmarks(landmarks: np.ndarray | None, size: int) -> np.ndarray:
    """The landmarks to build a region mask from: the face's own, or the canonical mean face.

    Args:
        landmarks: ``68×2`` landmarks in crop pixels, or None when unknown (an aligned crop
            given without landmarks is assumed to follow the canonical alignment).
        size: crop side in pixels.

    Returns:
        float32 ``68×2`` landmarks in pixels of a ``size×size`` crop.
    """
    if landmarks is not None:
        return np.asarray(landmarks, dtype=np.float32)

    return canonical_landmarks(size)


def region_weights(landmarks: np.ndarray | None, size: int, region: str,
                   feather: float | None = None) -> np.ndarray:
    """Soft mask of ``region`` for a ``size×size`` crop.

    Args:
        landmarks: ``68×2`` crop-pixel landmarks or None (canonical landmarks are used).
        size: crop side.
        region: one of :data:`latentedit.landmarks.REGIONS`.
        feather: Gaussian sigma in pixels (None: scales with ``size``).

    Returns:
        float32 ``size×size`` mask in [0, 1], exactly 0 away from the region.

    Raises:
        LatentEditError: for an unknown region or unusable landmarks.
    """
    if region not in REGIONS:
        raise LatentEditError(f"unknown region {region!r}; expected one of {', '.join(REGIONS)}")
    try:
        return region_mask(crop_landmarks(landmarks, size), size, region, feather)
    except ValueError as exc:
        raise LatentEditError(f"cannot build the {region!r} mask: {exc}") from None


def blend_region(original, edited, mask):
    """``original + mask · (edited − original)`` for image tensors.

    Args:
        original: ``N×3×S×S`` (or ``3×S×S``) decode of the unedited code.
        edited: the decode of the edited code, same shape.
        mask: ``S×S``, ``N×S×S`` or ``N×1×S×S`` weights in [0, 1] (array or tensor).

    Returns:
        a tensor shaped like ``original``; where ``mask == 0`` it equals ``original`` exactly.
    """
    m = torch.as_tensor(mask, dtype=original.dtype, device=original.device)
    if m.ndim == 2:
        m = m[None, None] if original.ndim == 4 else m[None]
    elif m.ndim == 3 and original.ndim == 4:
        m = m[:, None]
    if original.shape != edited.shape:
        raise LatentEditError(f"cannot blend decodes of shapes {tuple(original.shape)} and {tuple(edited.shape)}")
    return original + m * (edited - original)
