"""Drawing primitives for SynthFaces: an RGB float canvas with anti-aliased cv2 polygons/lines,
region-of-interest blurs and composites, Catmull-Rom splines and a per-pixel ellipsoid ray cast.

cv2 is imported when a :class:`Canvas` is created, never at import time.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .geometry import PIVOT, FaceGeometry

_SHIFT = 4  # sub-pixel bits for cv2 drawing

_SKIN = np.array([[0.97, 0.82, 0.72], [0.91, 0.71, 0.57], [0.78, 0.56, 0.41], [0.58, 0.39, 0.27],
                  [0.36, 0.23, 0.16]], np.float32)
_HAIR = np.array([[0.06, 0.05, 0.05], [0.2, 0.12, 0.07], [0.4, 0.26, 0.14], [0.58, 0.26, 0.11],
                  [0.86, 0.72, 0.45], [0.74, 0.73, 0.71]], np.float32)
_HAIR_POS = np.array([0.0, 0.25, 0.45, 0.6, 0.8, 1.0])
_EYE = np.array([[0.3, 0.17, 0.08], [0.46, 0.36, 0.17], [0.27, 0.45, 0.25], [0.28, 0.46, 0.72],
                 [0.52, 0.57, 0.62]], np.float32)


def ramp(table: np.ndarray, t: float, pos: np.ndarray | None = None) -> np.ndarray:
    """Colour at ``t`` on a piecewise-linear colour ramp (``table`` rows at positions ``pos``)."""
    pos = np.linspace(0, 1, len(table)) if pos is None else pos
    return np.array([np.interp(t, pos, table[:, k]) for k in range(3)], np.float32)


_BASIS: dict[int, np.ndarray] = {}
_CIRCLE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def spline(pts: np.ndarray, closed: bool, k: int = 6) -> np.ndarray:
    """Catmull-Rom spline through ``pts`` with ``k`` samples per segment (passes through every point)."""
    p = np.asarray(pts, np.float64)
    if closed:
        ext = np.concatenate([p[-1:], p, p[:2]])
    else:
        ext = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    n = len(p) if closed else len(p) - 1
    if k not in _BASIS:
        t = np.linspace(0, 1, k, endpoint=False)
        _BASIS[k] = 0.5 * np.stack([-t + 2 * t ** 2 - t ** 3, 2 - 5 * t ** 2 + 3 * t ** 3,
                                    t + 4 * t ** 2 - 3 * t ** 3, -t ** 2 + t ** 3], 1)  # (k, 4)
    seg = ext[np.arange(n)[:, None] + np.arange(4)[None, :]]  # (n, 4, 2)
    out = np.einsum("kj,njd->nkd", _BASIS[k], seg).reshape(-1, 2)
    return out if closed else np.concatenate([out, p[-1:]])


def ellipse_pts(center, rx: float, ry: float, angle_deg: float = 0.0, n: int = 28) -> np.ndarray:
    """``n`` points of an ellipse (semi-axes ``rx``, ``ry``, rotated by ``angle_deg``) around ``center``."""
    if n not in _CIRCLE:
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        _CIRCLE[n] = (np.cos(t), np.sin(t))
    cos_t, sin_t = _CIRCLE[n]
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    x, y = rx * cos_t, ry * sin_t
    return np.stack([center[0] + x * ca - y * sa, center[1] + x * sa + y * ca], 1)


def _bbox(a: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    """Slices of the nonzero part of ``a`` grown by ``pad`` pixels, or None if ``a`` is all zero."""
    x, y, w, h = cv2.boundingRect((a != 0).view(np.uint8))
    if w == 0 or h == 0:
        return None
    H, W = a.shape[:2]
    return slice(max(0, y - pad), min(H, y + h + pad)), slice(max(0, x - pad), min(W, x + w + pad))


class Canvas:
    """Float RGB image plus drawing helpers (all coordinates in pixels)."""

    def __init__(self, size: int) -> None:
        self.cv2 = cv2
        self.size = size
        self.img = np.zeros((size, size, 3), np.float32)

    def poly(self, *polys: np.ndarray, value: float = 1.0) -> np.ndarray:
        """Anti-aliased fill of one or more polygons → float32 mask in [0, 1]."""
        m = np.zeros((self.size, self.size), np.uint8)
        ints = [np.round(np.asarray(p) * (1 << _SHIFT)).astype(np.int32) for p in polys if len(p) >= 3]
        if ints:
            self.cv2.fillPoly(m, ints, int(255 * value), lineType=self.cv2.LINE_AA, shift=_SHIFT)
        return m.astype(np.float32) * (1.0 / 255.0)

    def line(self, pts, width: float, closed: bool = False) -> np.ndarray:
        """Anti-aliased polyline(s) of ``width`` pixels → float32 mask (thin lines fade, not vanish).

        ``pts`` is one N×2 array or a list of them."""
        m = np.zeros((self.size, self.size), np.uint8)
        w = max(1, int(round(width)))
        val = int(255 * min(1.0, width / w))
        lines = [pts] if isinstance(pts, np.ndarray) else list(pts)
        self.cv2.polylines(m, [np.round(np.asarray(p) * (1 << _SHIFT)).astype(np.int32) for p in lines], closed,
                           val, thickness=w, lineType=self.cv2.LINE_AA, shift=_SHIFT)
        return m.astype(np.float32) * (1.0 / 255.0)

    def blur(self, a: np.ndarray, sigma: float) -> np.ndarray:
        """Gaussian blur; for a small shape only its neighbourhood is filtered (same result)."""
        if sigma <= 0.05:
            return a
        cv2 = self.cv2
        if a.ndim == 2:
            box = _bbox(a, int(math.ceil(4 * sigma)) + 1)  # cv2's kernel radius for float32 is 4 sigma
            if box is None:
                return a
            if (box[0].stop - box[0].start) * (box[1].stop - box[1].start) < 0.6 * a.size:
                out = np.zeros_like(a)
                out[box] = cv2.GaussianBlur(np.ascontiguousarray(a[box]), (0, 0), sigmaX=sigma, sigmaY=sigma,
                                            borderType=cv2.BORDER_REPLICATE)
                return out
        return cv2.GaussianBlur(a, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)

    def over(self, alpha: np.ndarray, colour) -> None:
        """Composite ``colour`` (RGB triple or S×S×3) over the image with ``alpha`` (S×S)."""
        box = _bbox(alpha, 0)
        if box is None:
            return
        colour = np.asarray(colour, np.float32)
        if colour.ndim == 3:
            colour = colour[box]
        img = self.img[box]
        img += alpha[box][..., None] * (colour - img)

    def shift(self, a: np.ndarray, dx: float, dy: float) -> np.ndarray:
        """``a`` translated by (dx, dy) pixels (bilinear, edges replicated)."""
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        return self.cv2.warpAffine(a, m, (self.size, self.size), flags=self.cv2.INTER_LINEAR,
                                   borderMode=self.cv2.BORDER_REPLICATE)


_GRID_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) in crop units, each S×S float32 (cached, read-only)."""
    if size not in _GRID_CACHE:
        c = (np.arange(size, dtype=np.float32) + 0.5) / size
        _GRID_CACHE[size] = (np.broadcast_to(c[None, :], (size, size)), np.broadcast_to(c[:, None], (size, size)))
    return _GRID_CACHE[size]


def box_of(points: np.ndarray, size: int, pad: int = 2) -> tuple[slice, slice]:
    """(rows, cols) slices covering ``points`` (N×2 pixels) plus ``pad``, clipped to the crop."""
    lo = np.floor(points.min(0)).astype(int) - pad
    hi = np.ceil(points.max(0)).astype(int) + pad + 1
    lo, hi = lo.clip(0, size), hi.clip(0, size)
    return slice(int(lo[1]), int(max(hi[1], lo[1] + 1))), slice(int(lo[0]), int(max(hi[0], lo[0] + 1)))


def raycast(center: np.ndarray, radii: np.ndarray, geo: FaceGeometry,
            box: tuple[slice, slice] | None = None) -> tuple[np.ndarray, ...]:
    """Intersect each pixel's camera ray with the front of the rotated ellipsoid (head frame
    ``center``/``radii``). Pixels outside it get the silhouette point. Returns the head-frame
    point (qx, qy, qz) and the camera-frame unit normal (nx, ny, nz), each S×S float32 (or the
    ``box`` part of the crop only)."""
    xs, ys = grid(geo.size)
    if box is not None:
        xs, ys = xs[box], ys[box]
    rot = geo.rotation
    pivot = np.array([PIVOT[0], PIVOT[1], 0.0])
    piv_h = np.array([0.0, PIVOT[1], 0.0])
    cc = (rot @ (center - piv_h) + pivot).tolist()
    m = (rot @ np.diag(1.0 / radii ** 2) @ rot.T).tolist()  # python floats keep the maths in float32
    rot = rot.tolist()
    center = np.asarray(center).tolist()
    u = xs - cc[0]
    v = ys - cc[1]
    a = m[2][2]
    b = m[0][2] * u + m[1][2] * v
    q = m[0][0] * u * u + 2 * m[0][1] * u * v + m[1][1] * v * v - 1.0
    w = (-b + np.sqrt(np.maximum(b * b - a * q, 0.0))) / a
    nx = m[0][0] * u + m[0][1] * v + m[0][2] * w
    ny = m[0][1] * u + m[1][1] * v + m[1][2] * w
    nz = m[0][2] * u + m[1][2] * v + m[2][2] * w
    inv = 1.0 / np.sqrt(nx * nx + ny * ny + nz * nz + 1e-12)
    # head-frame coordinates of the surface point: R^T (p - cc) + center
    qx = rot[0][0] * u + rot[1][0] * v + rot[2][0] * w + center[0]
    qy = rot[0][1] * u + rot[1][1] * v + rot[2][1] * w + center[1]
    qz = rot[0][2] * u + rot[1][2] * v + rot[2][2] * w + center[2]
    f = np.float32
    return (qx.astype(f), qy.astype(f), qz.astype(f), (nx * inv).astype(f), (ny * inv).astype(f),
            (nz * inv).astype(f))
