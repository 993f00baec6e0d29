"""Detail mode: edit the photo itself instead of pasting a decoded face over it.

An edit moves the face's geometry (the mouth corners lift, the eyes open, the nose lengthens). This
module turns a displacement of the face's 68 landmarks (in aligned-crop pixels) into a smooth dense
warp of the *full-resolution photo*: a thin-plate spline through the moved landmarks and a ring of
fixed anchors around the face, evaluated on a coarse grid over the crop, sampled at every photo pixel
of the face's footprint through the crop affine. The photo keeps its resolution, its skin, its
identity; only what the edit moves, moves. What a warp cannot express (teeth appearing, a shading
change) can be added as a *residual* (the decode's change that the warp did not explain), confined by
a mask and laid over the warped photo, so the photo's own high-frequency detail stays on top of it.

Contracts:

* ``frame``: uint8 ``H×W×3`` RGB; ``affine``: ``2×3`` float, source → crop pixels; ``size``: crop side.
* ``landmarks`` and displacements: ``68×2`` float, crop pixels of a ``size×size`` crop.
* Pixels outside the footprint (the landmark hull, widened by :data:`FOOTPRINT_SCALE`) are returned
  bit for bit; the warp never samples outside the photo (coordinates are clamped).
* A zero displacement and no residual give the input frame, byte-identical.
"""
from __future__ import annotations

import cv2
import numpy as np

#: The footprint: the landmarks' convex hull scaled about its centre by this factor (it must hold the
#: forehead above the brows, where a brow edit moves skin, and a margin for the warp to fade out).
FOOTPRINT_SCALE = 1.3
#: Thin-plate-spline grid: the field is evaluated on ``GRID×GRID`` crop points and interpolated.
GRID = 33
#: Largest landmark displacement followed, as a fraction of the crop side; larger moves are clipped
#: (an edit at the end of a slider can ask for more than a warp of real skin can give gracefully).
MAX_SHIFT = 0.08
#: Photo pixels moved by less than this many pixels are left as they are (see :meth:`DetailPlan.apply`).
STILL = 0.3
#: Unsharp-mask gain applied to resampled pixels: Lanczos interpolation at fractional offsets loses
#: some of a photo's finest detail (pores, JPEG grain); this gain was set so that a warped face keeps
#: its own sharpness (variance of the Laplacian).
#: Set once by hand on 3 london_dev faces (Smiling at alpha 3, an early celeba model): 0 -> sharpness
#: 0.76-0.93, 0.15 -> 0.88-1.08, 0.3 -> 1.04-1.31 (over-sharpened). The reproducible check is the
#: sharpness column of ``latentedit bench realedit`` (canada_dev was not used to set it).
RESAMPLE_SHARPEN = 0.15
#: Fixed-point steps inverting the forward spline (its moves are a few pixels: 3 steps converge).
BACKWARD_ITERATIONS = 3
#: Thin-plate-spline regularisation (crop pixels²): keeps the field smooth when landmarks crowd.
TPS_SMOOTHING = 1e-3


class DetailError(ValueError):
    """The face cannot be edited in detail mode (degenerate landmarks, a non-finite field)."""


def _tps_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 0.5 * d2 * np.log(d2)
    k[d2 == 0] = 0.0
    return k


def tps_map(src: np.ndarray, dst: np.ndarray, points: np.ndarray, smoothing: float = TPS_SMOOTHING) -> np.ndarray:
    """Thin-plate spline through ``src[i] → dst[i]``, evaluated at ``points``.

    Args:
        src, dst: ``K×2`` control points (``K ≥ 3``, not collinear).
        points: ``M×2`` points to map.
        smoothing: regularisation added to the kernel's diagonal.

    Returns:
        float64 ``M×2`` mapped points.

    Raises:
        DetailError: if the system is singular or the result is not finite.
    """
    pts = np.asarray(points, np.float64)
    out = pts + tps_operator(src, pts, smoothing) @ (np.asarray(dst, np.float64) - np.asarray(src, np.float64))
    if not np.all(np.isfinite(out)):
        raise DetailError("the warp is not finite")
    return out


def tps_operator(ctrl: np.ndarray, points: np.ndarray, smoothing: float = TPS_SMOOTHING) -> np.ndarray:
    """The linear map from displacements at ``ctrl`` to the thin-plate spline's displacements at ``points``.

    ``tps_operator(c, p) @ d`` equals ``tps_map(c, c + d, p) - p`` for any ``K×2`` displacement ``d``;
    built once per face, each edit then costs one small matrix product.

    Returns:
        float64 ``M×K``.

    Raises:
        DetailError: if the control points are degenerate.
    """
    c = np.asarray(ctrl, np.float64)
    n = len(c)
    scale = max(float(np.ptp(c, axis=0).max()), 1e-6)
    s, p = c / scale, np.asarray(points, np.float64) / scale
    a = np.zeros((n + 3, n + 3))
    a[:n, :n] = _tps_kernel(s, s) + smoothing * np.eye(n)
    a[:n, n] = 1.0
    a[:n, n + 1:] = s
    a[n, :n] = 1.0
    a[n + 1:, :n] = s.T
    try:
        inv = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise DetailError("the landmarks are degenerate (the warp's system is singular)") from None
    g = np.hstack([_tps_kernel(p, s), np.ones((len(p), 1)), p])
    op = g @ inv[:, :n]
    if not np.all(np.isfinite(op)):
        raise DetailError("the landmarks are degenerate (the warp is not finite)")
    return op


def footprint_polygon(landmarks: np.ndarray, scale: float = FOOTPRINT_SCALE) -> np.ndarray:
    """The face's footprint in crop pixels: the landmark hull scaled about its centre (float32 ``P×2``)."""
    lm = np.asarray(landmarks, np.float32)
    hull = cv2.convexHull(lm).reshape(-1, 2)
    centre = lm.mean(axis=0)
    return (centre + (hull - centre) * scale).astype(np.float32)


def _resample_polygon(poly: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced along a closed polygon."""
    closed = np.vstack([poly, poly[:1]]).astype(np.float64)
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    t = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.linspace(0.0, t[-1], n, endpoint=False)
    return np.stack([np.interp(at, t, closed[:, 0]), np.interp(at, t, closed[:, 1])], axis=1)


def remove_similarity(landmarks: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``shift`` without its best-fitting similarity (translation, rotation, uniform scale).

    An attribute edit changes the face's *shape*; a decoder's code shift also nudges where the whole
    face sits in the crop, which on a real photo would slide the face over its own background. The
    landmarks are moved to ``landmarks + shift``; the similarity that best maps ``landmarks`` onto those
    (least squares) is taken out, so only the non-rigid change remains.
    """
    src = np.asarray(landmarks, np.float64)
    dst = src + np.asarray(shift, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    denom = float((a ** 2).sum())
    if denom <= 0:
        return dst - src
    # complex-number least squares: b ≈ c · a with c = s·e^{iθ}
    ca, cb = a[:, 0] + 1j * a[:, 1], b[:, 0] + 1j * b[:, 1]
    c = complex((np.conj(ca) * cb).sum() / denom)
    fit = c * ca
    rigid = np.stack([fit.real, fit.imag], axis=1) + mu_d
    return dst - rigid


def motion_weight(field: np.ndarray, size: int, full: float = 0.75, spread: float = 2.0) -> np.ndarray:
    """Where the face moves: float32 ``S×S`` in [0, 1] from a ``GRID×GRID×2`` field.

    1 where a point moves by ``full`` crop pixels or more, smoothly 0 where nothing moves; blurred by
    ``spread`` grid cells so a mouth that opens may change a little around its moving lips.
    """
    mag = np.linalg.norm(field, axis=-1).astype(np.float32)
    if spread > 0:
        mag = cv2.GaussianBlur(mag, (0, 0), spread)
    w = np.clip(mag / max(full, 1e-6), 0.0, 1.0)
    return cv2.resize(w, (size, size), interpolation=cv2.INTER_LINEAR)


class DetailPlan:
    """Everything about one face in one photo that does not depend on the edit (build once per face).

    The plan depends on the photo's shape, not its pixels: :meth:`apply` warps whichever frame it is
    given (the source photo, or the photo with its other faces already edited).

    Args:
        frame: uint8 ``H×W×3`` photo (only its shape is kept).
        affine: ``2×3`` source → crop affine.
        size: crop side in pixels.
        landmarks: ``68×2`` landmarks in crop pixels.

    Raises:
        DetailError: for non-finite or degenerate landmarks, or a face that does not overlap the photo.
    """

    def __init__(self, frame: np.ndarray, affine: np.ndarray, size: int, landmarks: np.ndarray) -> None:
        lm = np.asarray(landmarks, np.float64)
        if lm.shape != (68, 2) or not np.all(np.isfinite(lm)):
            raise DetailError("detail mode needs 68 finite landmarks")
        if float(np.ptp(lm, axis=0).min()) < 1e-3 * size:
            raise DetailError("the landmarks are degenerate (the face has no extent)")
        self.shape, self.size = tuple(frame.shape), int(size)
        self.affine = np.asarray(affine, np.float64)
        self.landmarks = lm
        full = np.vstack([self.affine, [0.0, 0.0, 1.0]])
        inv = np.linalg.inv(full)[:2]
        self.inverse = inv
        self.to_photo_linear = inv[:, :2]          # crop displacement → photo displacement
        poly = footprint_polygon(lm)
        ring = _resample_polygon(poly, 32)
        s = float(size)
        border = np.array([[0, 0], [s / 2, 0], [s, 0], [s, s / 2], [s, s], [s / 2, s], [0, s], [0, s / 2]])
        self.anchors = np.vstack([ring, border])
        g = np.linspace(0.0, s, GRID)
        gx, gy = np.meshgrid(g, g)
        self.grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
        # forward spline (landmarks and anchors fixed as control points): grid displacement = op @ shift
        self._forward = tps_operator(np.vstack([lm, self.anchors]), self.grid)[:, :68].astype(np.float32)
        self._grid_coords = (self.grid * ((GRID - 1) / s)).astype(np.float32).reshape(GRID, GRID, 2)
        # the footprint in photo pixels and the region of interest around it
        h, w = frame.shape[:2]
        poly_photo = poly.astype(np.float64) @ inv[:, :2].T + inv[:, 2]
        x0, y0 = np.floor(poly_photo.min(axis=0)).astype(int)
        x1, y1 = np.ceil(poly_photo.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise DetailError("the face lies outside the photo")
        self.roi = (int(x0), int(y0), int(x1), int(y1))
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        self.photo_xy = np.stack([xs, ys], axis=-1)                      # (h, w, 2) photo pixels
        a = self.affine.astype(np.float32)
        self.crop_xy = self.photo_xy @ a[:, :2].T + a[:, 2]            # (h, w, 2) crop pixels
        # where the crop grid is sampled (cv2.remap coordinates into the GRID×GRID field)
        self._grid_map = (self.crop_xy * ((GRID - 1) / s)).astype(np.float32)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round((poly_photo - [x0, y0]) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8,
                     shift=4)
        # a soft edge inside the footprint (exactly 0 outside it): the warp fades to the photo
        dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
        fade = max(2.0, 0.12 * float(np.sqrt(mask.sum())))
        self.weight = np.clip(dist / fade, 0.0, 1.0).astype(np.float32)[..., None]
        cg = np.arange(self.size, dtype=np.float32) + 0.5   # crop pixel centres, for crop-space warps
        cx, cy = np.meshgrid(cg, cg)
        self._crop_centres = np.stack([cx, cy], axis=-1)

    def matches(self, frame: np.ndarray, affine: np.ndarray, size: int, landmarks: np.ndarray) -> bool:
        """Whether this plan was built for exactly these inputs (a cached plan is reused only then)."""
        return (tuple(frame.shape) == self.shape and size == self.size and np.array_equal(np.asarray(affine, np.float64),
                                                                              self.affine)
                and np.array_equal(np.asarray(landmarks, np.float64), self.landmarks))

    # -- the field --------------------------------------------------------------------------------
    def clip_shift(self, shift: np.ndarray) -> np.ndarray:
        """``shift`` (``68×2`` crop pixels) with each point's move limited to :data:`MAX_SHIFT` · size.

        Raises:
            DetailError: if the shift is not finite.
        """
        d = np.asarray(shift, np.float64).reshape(68, 2)
        if not np.all(np.isfinite(d)):
            raise DetailError("the predicted landmark displacement is not finite")
        limit = MAX_SHIFT * self.size
        norm = np.linalg.norm(d, axis=1, keepdims=True)
        return d * np.minimum(1.0, limit / np.maximum(norm, 1e-12))

    def grid_field(self, shift: np.ndarray) -> np.ndarray:
        """Backward displacement on the ``GRID×GRID`` crop grid: where each edited point comes from.

        Returns:
            float32 ``GRID×GRID×2`` crop-pixel offsets (edited position + offset = source position).
        """
        d = self.clip_shift(remove_similarity(self.landmarks, self.clip_shift(shift))).astype(np.float32)
        forward = (self._forward @ d).reshape(GRID, GRID, 2)
        # invert the forward warp x -> x + F(x) by fixed-point iteration: b(q) = -F(q + b(q))
        back = -forward
        for _ in range(BACKWARD_ITERATIONS):
            at = self._grid_coords + back * ((GRID - 1) / self.size)
            back = -cv2.remap(forward, at[..., 0], at[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        if not np.all(np.isfinite(back)):
            raise DetailError("the warp is not finite")
        return back.astype(np.float32)

    def crop_field(self, field: np.ndarray) -> np.ndarray:
        """The grid field sampled at every crop pixel centre (float32 ``S×S×2``)."""
        m = (self._crop_centres * ((GRID - 1) / self.size)).astype(np.float32)
        return cv2.remap(field, m[..., 0], m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

    def warp_crop(self, crop: np.ndarray, field: np.ndarray) -> np.ndarray:
        """Warp a float ``S×S×C`` crop-space image by the field (as the photo is warped)."""
        src = self._crop_centres + self.crop_field(field) - 0.5
        return cv2.remap(np.ascontiguousarray(crop, dtype=np.float32), src[..., 0], src[..., 1],
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def apply(self, field: np.ndarray, residual: np.ndarray | None, frame: np.ndarray) -> np.ndarray:
        """The edited photo: ``frame`` warped by ``field`` inside the footprint, plus ``residual``.

        Args:
            frame: uint8 ``H×W×3`` photo of the plan's shape.
            field: ``GRID×GRID×2`` from :meth:`grid_field`.
            residual: optional float ``S×S×3`` crop-space change in 0..255 units (already masked),
                added to the warped photo.

        Returns:
            uint8 ``H×W×3``: a new array; outside the footprint equal to the frame.

        Raises:
            DetailError: if the field or residual is not finite.
        """
        if not np.all(np.isfinite(field)) or (residual is not None and not np.all(np.isfinite(residual))):
            raise DetailError("the edit's field is not finite")
        if tuple(frame.shape) != self.shape:
            raise DetailError(f"the frame is {frame.shape}, the plan was made for {self.shape}")
        x0, y0, x1, y1 = self.roi
        h, w = self.shape[:2]
        d = cv2.remap(field, self._grid_map[..., 0], self._grid_map[..., 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT)                      # crop-pixel offsets
        src = self.photo_xy + d @ self.to_photo_linear.T.astype(np.float32)
        np.clip(src[..., 0], 0, w - 1, out=src[..., 0])                  # never sample outside the photo
        np.clip(src[..., 1], 0, h - 1, out=src[..., 1])
        # bicubic: a bilinear resample at half-pixel offsets halves the photo's fine detail
        warped = cv2.remap(frame, src[..., 0], src[..., 1], cv2.INTER_LANCZOS4,
                           borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        if RESAMPLE_SHARPEN > 0:  # give back what the interpolation's low-pass took from moved skin
            warped += RESAMPLE_SHARPEN * (warped - cv2.GaussianBlur(warped, (0, 0), 0.8))
        extra = None
        if residual is not None:
            extra = cv2.remap(np.ascontiguousarray(residual, dtype=np.float32), self.crop_xy[..., 0] - 0.5,
                              self.crop_xy[..., 1] - 0.5, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            warped += extra
        before = frame[y0:y1, x0:x1].astype(np.float32)
        # pixels the edit moves by less than STILL photo pixels keep their own values: resampling
        # skin that does not move can only soften it
        moved = np.linalg.norm(src - self.photo_xy, axis=-1)
        gate = np.clip((moved - STILL) / STILL, 0.0, 1.0)[..., None]
        weight = self.weight * gate
        if residual is not None:
            weight = np.maximum(weight, self.weight * (np.abs(extra[..., :1]) > 0.5))
        roi = before + weight * (warped - before)
        out = frame.copy()
        out[y0:y1, x0:x1] = np.clip(np.rint(roi), 0, 255).astype(np.uint8)
        return out


def appearance_residual(edited: np.ndarray, warped_base: np.ndarray, mask: np.ndarray,
                        threshold: float = 6.0, full: float = 24.0, blur: float = 1.0) -> np.ndarray:
    """What the warp did not explain, kept only where it is large and inside ``mask``.

    Args:
        edited: float ``S×S×3`` decode of the edited code (0..255).
        warped_base: float ``S×S×3`` decode of the unedited code, warped by the edit's field.
        mask: float ``S×S`` weights in [0, 1] (the region the edit may change).
        threshold, full: per-pixel change of brightness (0..255) below which nothing is added
            and from which all of it is (a decoder's small changes are its noise, not the edit's).
        blur: Gaussian sigma (crop pixels) of the gate.

    Returns:
        float32 ``S×S×3`` residual in 0..255 units, the same in every channel (a change of brightness).
    """
    r = np.asarray(edited, np.float32) - np.asarray(warped_base, np.float32)
    # brightness only: teeth, a mouth's shadow and eyelids are changes of light; a decoder's colour
    # changes are its reconstruction error (a 64-px decode's tint pasted on a real photo)
    r = np.repeat((r @ np.array([0.299, 0.587, 0.114], np.float32))[..., None], 3, axis=-1)
    mag = np.abs(r[..., 0])
    gate = np.clip((mag - threshold) / max(full - threshold, 1e-6), 0.0, 1.0)
    if blur > 0:
        gate = cv2.GaussianBlur(gate, (0, 0), blur)
    return r * (gate * np.asarray(mask, np.float32))[..., None]


__all__ = ["DetailError", "DetailPlan", "appearance_residual", "footprint_polygon", "motion_weight",
           "remove_similarity", "tps_map", "tps_operator",
           "FOOTPRINT_SCALE", "GRID", "MAX_SHIFT"]
