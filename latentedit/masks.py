"""Soft region masks from 68 landmarks, shared by SynthFaces and the real-face pipeline.

Every mask is ``float32 S×S`` in [0, 1]: a filled polygon (anti-aliased), grown by the feather
radius and blurred with a Gaussian whose sigma scales with the crop size. Regions are
:data:`latentedit.landmarks.REGIONS`. Each region is generous on purpose: an edit confined to the ``eyes`` mask must have room for an
eye that opens wider, the ``mouth`` mask for a mouth that opens or smiles.
"""
from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from .landmarks import GROUPS, NUM_LANDMARKS, REGIONS

_SHIFT = 4  # sub-pixel bits for cv2 polygon filling


def default_feather(size: int) -> float:
    """Default Gaussian sigma (pixels) for a crop of side ``size``: ``2 * size / 64``."""
    return 2.0 * size / 64.0


def _check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"landmarks must have shape ({NUM_LANDMARKS}, 2), got {lm.shape}")
    if not np.all(np.isfinite(lm)):
        raise ValueError("landmarks contain NaN or infinity")
    return lm


def _ellipse(center: np.ndarray, axis: np.ndarray, a: float, b: float, n: int = 32) -> np.ndarray:
    """Points of an ellipse with semi-axes ``a`` along the unit vector ``axis`` and ``b`` across it."""
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    perp = np.array([-axis[1], axis[0]])
    return center + np.outer(a * np.cos(t), axis) + np.outer(b * np.sin(t), perp)


def _scaled(points: np.ndarray, factor: float, center: np.ndarray | None = None) -> np.ndarray:
    c = points.mean(axis=0) if center is None else center
    return c + (points - c) * factor


def _region_polygons(lm: np.ndarray, region: str) -> list[np.ndarray]:
    """Convex polygons (pixel coordinates) whose union is the hard region."""
    g = {k: lm[list(v)] for k, v in GROUPS.items()}
    if region == "face":
        up = lm[27] - lm[8]
        height = float(np.linalg.norm(up)) or 1.0
        up /= height
        brows = np.concatenate([g["right_brow"], g["left_brow"]])
        forehead = brows + up * 0.42 * height
        pts = np.concatenate([g["jaw"], brows, forehead])
        return [_scaled(pts, 1.04)]
    if region == "eyes":
        polys = []
        for eye in (g["right_eye"], g["left_eye"]):
            axis = eye[3] - eye[0]
            w = float(np.linalg.norm(axis)) or 1.0
            axis /= w
            height = float(np.ptp((eye - eye.mean(0)) @ np.array([-axis[1], axis[0]])))
            center = eye.mean(axis=0)
            polys.append(_ellipse(center, axis, 0.5 * w * 1.75, max(0.62 * w, 0.5 * height + 0.36 * w)))
        return polys
    if region == "brows":
        polys = []
        for brow in (g["right_brow"], g["left_brow"]):
            axis = brow[-1] - brow[0]
            length = float(np.linalg.norm(axis)) or 1.0
            axis /= length
            normal = np.array([-axis[1], axis[0]])
            if normal @ (lm[30] - brow.mean(0)) < 0:  # make ``normal`` point down, towards the eyes
                normal = -normal
            ends = np.stack([brow[0] - axis * 0.12 * length, brow[-1] + axis * 0.12 * length])
            band = np.concatenate([brow, ends])
            polys.append(np.concatenate([band - normal * 0.16 * length, band + normal * 0.3 * length]))
        return polys
    if region == "nose":
        nose = np.concatenate([g["nose_bridge"], g["nose_lower"]])
        c = lm[33]
        wings = _scaled(g["nose_lower"], 1.45, center=c)
        axis = lm[30] - lm[27]
        axis /= float(np.linalg.norm(axis)) or 1.0
        half = 0.5 * float(np.linalg.norm(lm[35] - lm[31]))
        perp = np.array([-axis[1], axis[0]])
        top = np.stack([lm[27] + perp * 0.5 * half - axis * 0.35 * half,
                        lm[27] - perp * 0.5 * half - axis * 0.35 * half])
        below = wings + axis * 0.12 * half
        return [np.concatenate([nose, wings, top, below])]
    if region == "mouth":
        lips = g["outer_lips"]
        axis = lips[6] - lips[0]
        w = float(np.linalg.norm(axis)) or 1.0
        axis /= w
        center = lips.mean(axis=0)
        height = float(np.ptp((lips - center) @ np.array([-axis[1], axis[0]])))
        ell = _ellipse(center, axis, 0.5 * w * 1.3, max(0.42 * w, 0.5 * height + 0.22 * w))
        return [ell, _scaled(lips, 1.25)]
    raise ValueError(f"unknown region {region!r}; expected one of {', '.join(REGIONS)}")


def region_mask(landmarks: np.ndarray, size: int, region: str, feather: float | None = None) -> np.ndarray:
    """Soft mask of one face region.

    Args:
        landmarks: ``68×2`` (x, y) pixel positions in the ``size×size`` crop (iBUG-68 order).
        size: side of the square mask in pixels.
        region: one of :data:`latentedit.landmarks.REGIONS` (``face``, ``eyes``, ``brows``,
            ``nose``, ``mouth``).
        feather: Gaussian sigma in pixels; None uses :func:`default_feather` (``2 * size / 64``);
            0 gives the hard (anti-aliased) polygon. The polygon is dilated by ``round(feather)``
            pixels before blurring, so the mask is 1 over the whole region and fades outside it.

    Returns:
        ``float32 size×size`` mask in [0, 1].

    Raises:
        ValueError: for an unknown region (naming the valid ones), bad landmarks or a bad size.
    """
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}; expected one of {', '.join(REGIONS)}")
    if int(size) != size or size < 8:
        raise ValueError(f"size must be an integer ≥ 8, got {size!r}")
    size = int(size)
    lm = _check_landmarks(landmarks)
    sigma = default_feather(size) if feather is None else float(feather)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"feather must be a number ≥ 0, got {feather!r}")
    polys = _region_polygons(lm, region)
    r = int(round(sigma))
    # work on the region's neighbourhood only: polygon bounds + dilation + the blur kernel (4 sigma)
    pad = r + int(np.ceil(4 * sigma)) + 2
    pts = np.concatenate(polys)
    x0, y0 = (np.floor(pts.min(0)).astype(int) - pad).clip(0, size)
    x1, y1 = (np.ceil(pts.max(0)).astype(int) + pad + 1).clip(0, size)
    mask = np.zeros((size, size), np.float32)
    if x1 <= x0 or y1 <= y0:
        return mask
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for poly in polys:
        hull = cv2.convexHull(np.round((poly - [x0, y0]) * (1 << _SHIFT)).astype(np.int32))
        cv2.fillPoly(canvas, [hull], 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    sub = canvas.astype(np.float32) * (1.0 / 255.0)
    if sigma > 0:
        # grow the region by ~sigma first, so the feathered edge lies outside the polygon and the
        # inside stays at 1 even for small regions (eyes, brows) at small sizes
        if r >= 1:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
            sub = cv2.dilate(sub, kernel)
        sub = cv2.GaussianBlur(sub, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
    mask[y0:y1, x0:x1] = np.clip(sub, 0.0, 1.0)
    return mask


def region_masks(landmarks: np.ndarray, size: int, regions: Iterable[str] = REGIONS,
                 feather: float | None = None) -> dict[str, np.ndarray]:
    """Soft masks of several regions at once.

    Args:
        landmarks: ``68×2`` pixel landmarks.
        size: mask side in pixels.
        regions: region names (default: all of :data:`REGIONS`).
        feather: Gaussian sigma in pixels (None: scales with ``size``).

    Returns:
        ``{region: float32 size×size mask in [0, 1]}`` in the order given.

    Raises:
        ValueError: for an unknown region or bad landmarks.
    """
    return {r: region_mask(landmarks, size, r, feather) for r in regions}
