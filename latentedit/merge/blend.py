"""Mask shaping (erode/dilate, feather, border fade) and blending (alpha, Poisson/seamless).

Masks are float32 ``H×W`` in [0, 1]; images are uint8 ``H×W×3`` RGB (BGR only inside cv2 calls).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..preprocess import to_unit

#: Pixels of replicated border added around the region handed to cv2.seamlessClone, which
#: fails (or silently shifts the result) when the mask touches the edge of its image.
_CLONE_PAD = 4


def _as_mask(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise ValueError(f"{name}: expected an H×W array, got shape {m.shape}")
    if m.dtype == np.uint8:
        return to_unit(m)
    if m.dtype == bool:
        return m.astype(np.float32)
    m = m.astype(np.float32)
    if not np.isfinite(m).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return np.clip(m, 0.0, 1.0)


def erode_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Shrink (``pixels > 0``) or grow (``pixels < 0``) a mask by ``|pixels|`` pixels.

    Uses a grey-level min/max filter with an elliptical kernel, so soft masks keep their profile.
    Outside the image counts as "not in the mask": a full mask also shrinks away from the edges.

    Args:
        mask: ``H×W`` float in [0, 1] (uint8 0–255 and bool are accepted).
        pixels: signed amount; 0 returns a float32 copy.

    Returns:
        float32 ``H×W`` mask in [0, 1].

    Raises:
        ValueError: if ``mask`` is not 2-D or ``pixels`` is not an integer.
    """
    if int(pixels) != pixels:
        raise ValueError(f"erode: expected a whole number of pixels, got {pixels!r}")
    pixels = int(pixels)
    m = _as_mask(mask)
    if pixels == 0:
        return m.copy()
    k = 2 * abs(pixels) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    op = cv2.erode if pixels > 0 else cv2.dilate
    return op(m, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0.0)


def feather_mask(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Soften a mask's edge with a Gaussian blur so it ramps over about ``2 * pixels`` pixels.

    The Gaussian's standard deviation is ``pixels / 2``, so the 2 %–98 % transition spans
    ``± pixels`` around the original edge.

    Args:
        mask: ``H×W`` float in [0, 1].
        pixels: feather radius in pixels (``<= 0`` returns a copy).

    Returns:
        float32 ``H×W`` mask in [0, 1].

    Raises:
        ValueError: if ``mask`` is not 2-D or ``pixels`` is not finite.
    """
    m = _as_mask(mask)
    pixels = float(pixels)
    if not np.isfinite(pixels):
        raise ValueError(f"feather: expected a finite number of pixels, got {pixels!r}")
    if pixels <= 0:
        return m.copy()
    sigma = pixels / 2.0
    k = 2 * int(np.ceil(3 * sigma)) + 1
    # Replicating the border keeps a mask that fills the image at 1 up to its edges;
    # fading at the edges is border_fade's job.
    out = cv2.GaussianBlur(m, (k, k), sigma, borderType=cv2.BORDER_REPLICATE)
    return np.clip(out, 0.0, 1.0)


def border_fade(shape: tuple[int, int], pixels: float) -> np.ndarray:
    """A mask that is 0 on the outermost pixels and rises smoothly to 1 at ``pixels`` inside.

    Multiplying a crop's mask by this guarantees no hard edge where the crop ends once it is
    warped back into the frame.

    Args:
        shape: ``(H, W)``.
        pixels: width of the ramp (``<= 0`` gives all ones).

    Returns:
        float32 ``H×W`` mask in [0, 1].
    """
    h, w = int(shape[0]), int(shape[1])
    if pixels <= 0:
        return np.ones((h, w), np.float32)
    ys = np.arange(h, dtype=np.float32)
    xs = np.arange(w, dtype=np.float32)
    dy = np.minimum(ys, h - 1 - ys)
    dx = np.minimum(xs, w - 1 - xs)
    d = np.minimum(dy[:, None], dx[None, :])  # distance to the nearest edge, 0 on it
    t = np.clip(d / float(pixels), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)  # smoothstep


def alpha_blend(foreground: np.ndarray, background: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``foreground * mask + background * (1 - mask)``, rounded to uint8.

    Pixels where ``mask == 0`` are copied from ``background`` bit for bit.

    Args:
        foreground: uint8 ``H×W×3`` (or float in [0, 1]).
        background: uint8 ``H×W×3``.
        mask: ``H×W`` float in [0, 1].

    Returns:
        uint8 ``H×W×3``.

    Raises:
        ValueError: on mismatched shapes.
    """
    bg = np.asarray(background)
    if bg.dtype != np.uint8 or bg.ndim != 3 or bg.shape[2] != 3:
        raise ValueError(f"background: expected uint8 H×W×3, got {bg.dtype} {bg.shape}")
    fg = np.asarray(foreground)
    fg = fg.astype(np.float32) if fg.dtype == np.uint8 else np.clip(fg.astype(np.float32), 0, 1) * 255.0
    m = _as_mask(mask)
    if fg.shape != bg.shape or m.shape != bg.shape[:2]:
        raise ValueError(f"alpha_blend: shapes differ (foreground {fg.shape}, background {bg.shape}, "
                         f"mask {m.shape})")
    m3 = m[..., None]
    out = fg * m3 + bg.astype(np.float32) * (1.0 - m3)
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return np.where(m3 > 0, out, bg)


def seamless_clone(face_in_frame: np.ndarray, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson-blend ``face_in_frame`` into ``frame`` inside ``mask`` (cv2.seamlessClone, NORMAL_CLONE).

    The face must already be in frame coordinates (same size as ``frame``). Only the mask's
    bounding box (plus a margin) is processed, with replicated padding so that masks touching the
    image border work, and the result is placed exactly where the mask is (no off-by-one shift).

    Args:
        face_in_frame: uint8 ``H×W×3`` RGB, the face warped into the frame.
        frame: uint8 ``H×W×3`` RGB.
        mask: ``H×W``; pixels with a value > 0.5 (float) / > 127 (uint8) are cloned.

    Returns:
        A new uint8 ``H×W×3`` frame; pixels outside the mask's bounding box are unchanged.
        An empty mask returns a copy of ``frame``.

    Raises:
        ValueError: on wrong dtypes or mismatched shapes.
    """
    face = np.asarray(face_in_frame)
    frame = np.asarray(frame)
    for name, img in (("face_in_frame", face), ("frame", frame)):
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"seamless_clone: {name} must be uint8 H×W×3, got {img.dtype} {img.shape}")
    if face.shape != frame.shape:
        raise ValueError(f"seamless_clone: face_in_frame {face.shape} and frame {frame.shape} differ in size")
    inside = _as_mask(mask) > 0.5
    if inside.shape != frame.shape[:2]:
        raise ValueError(f"seamless_clone: mask {inside.shape} does not match frame {frame.shape[:2]}")
    ys, xs = np.nonzero(inside)
    out = frame.copy()
    if len(ys) == 0:
        return out
    h, w = inside.shape
    y0, y1 = max(ys.min() - 1, 0), min(ys.max() + 2, h)
    x0, x1 = max(xs.min() - 1, 0), min(xs.max() + 2, w)
    p = _CLONE_PAD

    def pad(img: np.ndarray, mode: int) -> np.ndarray:
        return cv2.copyMakeBorder(np.ascontiguousarray(img[y0:y1, x0:x1]), p, p, p, p, mode)

    src = pad(face[..., ::-1], cv2.BORDER_REPLICATE)
    dst = pad(frame[..., ::-1], cv2.BORDER_REPLICATE)
    m = pad(inside.astype(np.uint8) * 255, cv2.BORDER_CONSTANT)
    bx, by, bw, bh = cv2.boundingRect(m)
    # OpenCV puts the mask's bounding box at center - (w // 2, h // 2); choose center so that
    # this lands exactly on the box's own position.
    center = (bx + bw // 2, by + bh // 2)
    cloned = cv2.seamlessClone(src, dst, m, center, cv2.NORMAL_CLONE)
    out[y0:y1, x0:x1] = cloned[p:p + (y1 - y0), p:p + (x1 - x0), ::-1]
    return out
