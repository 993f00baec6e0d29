"""The SynthFaces renderer: a shaded, textured face image with exact landmarks and masks.

Everything is drawn from :func:`latentedit.synth.geometry.build_geometry`'s projected points:
shapes are anti-aliased cv2 polygons through those points (Catmull-Rom splines), skin is shaded
per pixel with a rotated head ellipsoid plus a height field (nose, brow ridge, cheeks, lips, chin)
lit by a directional light (Lambert + specular, soft height-field shadows, ambient occlusion),
and skin, hair and background carry procedural noise. The same parameters always give the same
bytes: all noise is seeded from the parameter values.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..masks import region_masks
from .geometry import FaceGeometry, build_geometry, head_ellipsoid, PIVOT
from .params import ExpressionParams, IdentityParams

MIN_SIZE, MAX_SIZE = 32, 512
_SHIFT = 4

_SKIN = np.array([[0.97, 0.82, 0.72], [0.91, 0.71, 0.57], [0.78, 0.56, 0.41], [0.58, 0.39, 0.27],
                  [0.36, 0.23, 0.16]], np.float32)
_HAIR = np.array([[0.06, 0.05, 0.05], [0.2, 0.12, 0.07], [0.4, 0.26, 0.14], [0.58, 0.26, 0.11],
                  [0.86, 0.72, 0.45], [0.74, 0.73, 0.71]], np.float32)
_HAIR_POS = np.array([0.0, 0.25, 0.45, 0.6, 0.8, 1.0])
_EYE = np.array([[0.3, 0.17, 0.08], [0.46, 0.36, 0.17], [0.27, 0.45, 0.25], [0.28, 0.46, 0.72],
                 [0.52, 0.57, 0.62]], np.float32)


@dataclass
class RenderResult:
    """One rendered face with its ground truth.

    Attributes:
        image: ``uint8 S×S×3`` RGB.
        landmarks: ``float32 68×2`` (x, y) pixels, iBUG-68 order, where the features are drawn.
        masks: ``{region: float32 S×S in [0, 1]}`` for :data:`latentedit.landmarks.REGIONS`.
        attributes: every identity and expression parameter, ``{name: float}``.
    """

    image: np.ndarray
    landmarks: np.ndarray
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    attributes: dict[str, float] = field(default_factory=dict)


def _ramp(table: np.ndarray, t: float, pos: np.ndarray | None = None) -> np.ndarray:
    pos = np.linspace(0, 1, len(table)) if pos is None else pos
    return np.array([np.interp(t, pos, table[:, k]) for k in range(3)], np.float32)


def _seed(*values: float) -> int:
    return zlib.crc32(np.asarray(values, np.float64).tobytes())


_BASIS: dict[int, np.ndarray] = {}
_CIRCLE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _spline(pts: np.ndarray, closed: bool, k: int = 6) -> np.ndarray:
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


def _ellipse_pts(center, rx: float, ry: float, angle_deg: float = 0.0, n: int = 28) -> np.ndarray:
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
    import cv2

    x, y, w, h = cv2.boundingRect((a != 0).view(np.uint8))
    if w == 0 or h == 0:
        return None
    H, W = a.shape[:2]
    return slice(max(0, y - pad), min(H, y + h + pad)), slice(max(0, x - pad), min(W, x + w + pad))


class _Canvas:
    """Float RGB image plus drawing helpers (all coordinates in pixels)."""

    def __init__(self, size: int) -> None:
        import cv2

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
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        return self.cv2.warpAffine(a, m, (self.size, self.size), flags=self.cv2.INTER_LINEAR,
                                   borderMode=self.cv2.BORDER_REPLICATE)


_GRID_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    if size not in _GRID_CACHE:
        c = (np.arange(size, dtype=np.float32) + 0.5) / size
        _GRID_CACHE[size] = (np.broadcast_to(c[None, :], (size, size)), np.broadcast_to(c[:, None], (size, size)))
    return _GRID_CACHE[size]


def _raycast(center: np.ndarray, radii: np.ndarray, geo: FaceGeometry) -> tuple[np.ndarray, ...]:
    """Intersect each pixel's camera ray with the front of the rotated ellipsoid (head frame
    ``center``/``radii``). Pixels outside it get the silhouette point. Returns the head-frame
    point (qx, qy, qz) and the camera-frame unit normal (nx, ny, nz), each S×S float32."""
    xs, ys = _grid(geo.size)
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


def render(identity: IdentityParams, expression: ExpressionParams, size: int = 128, masks: bool = True) -> RenderResult:
    """Render one synthetic face.

    Args:
        identity: who (see :class:`IdentityParams`).
        expression: expression, gaze, pose and scene (see :class:`ExpressionParams`).
        size: crop side in pixels, 32–512 (64–256 is the designed range).
        masks: compute the region masks (:func:`latentedit.masks.region_masks` of the landmarks);
            False leaves ``masks`` empty and saves time when only images are needed.

    Returns:
        A :class:`RenderResult`; the ground-truth swap "A's expression on B" is
        ``render(B_identity, A_expression)``.

    Raises:
        ValueError: if ``size`` is outside [32, 512].
    """
    if isinstance(size, bool) or int(size) != size or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be an integer in [{MIN_SIZE}, {MAX_SIZE}], got {size!r}")
    size = int(size)
    geo = build_geometry(identity, expression, size)
    img = _draw(identity, expression, geo)
    lm = geo.landmarks.astype(np.float32)
    attrs = {**identity.to_attributes(), **expression.to_attributes()}
    return RenderResult(image=img, landmarks=lm, masks=region_masks(lm, size) if masks else {}, attributes=attrs)


def _draw(ident: IdentityParams, expr: ExpressionParams, geo: FaceGeometry) -> np.ndarray:
    S = geo.size
    px = S / 128.0  # pixel scale relative to a 128-px crop
    cv = _Canvas(S)
    lm = geo.landmarks
    id_rng = np.random.default_rng(_seed(*identity_values(ident)))
    im_rng = np.random.default_rng(_seed(*identity_values(ident), *expr.to_attributes().values()))
    xs, ys = _grid(S)

    # light: azimuth from the light angle, always somewhat from above
    az, el = math.radians(65.0 * expr.light_angle), math.radians(28.0)
    L = np.array([math.sin(az) * math.cos(el), -math.sin(el), math.cos(az) * math.cos(el)], np.float32)
    ambient = 0.3 + 0.18 * (1 - expr.light_strength)
    diffuse = 0.42 + 0.3 * expr.light_strength

    # --- background: two-tone gradient lit from the light side, with soft blotches
    hue = expr.background
    bg0 = np.array(_hsv(hue, 0.35, 0.78), np.float32)
    bg1 = np.array(_hsv((hue + 0.08) % 1.0, 0.45, 0.45), np.float32)
    t = np.clip(0.5 + 0.6 * (xs - 0.5) * math.sin(az) + 0.5 * (ys - 0.5), 0, 1)[..., None]
    lowres = im_rng.random((5, 5)).astype(np.float32)
    blot = cv.cv2.resize(lowres, (S, S), interpolation=cv.cv2.INTER_CUBIC)[..., None]
    cv.img[:] = bg0 * (1 - t) + bg1 * t
    cv.img *= 0.9 + 0.2 * blot

    skin = _ramp(_SKIN, ident.skin_tone)
    hair_col = _ramp(_HAIR, ident.hair_hue, _HAIR_POS)
    style = int(ident.hair_style)
    hair_tex = _hair_texture(cv, id_rng)

    # --- hair behind the head (long styles): the skull silhouette extended down to the shoulders
    skull_m = cv.poly(geo.skull)
    if style in (1, 2, 3):
        bottom = {1: 1.05, 2: 0.74, 3: 0.64}[style] * S
        widen = {1: 0.05, 2: 0.03, 3: 0.015}[style] * S
        sk = geo.skull
        left, right = sk[np.argmin(sk[:, 0])], sk[np.argmax(sk[:, 0])]
        mid = 0.5 * (left[1] + right[1])
        drape = np.array([[left[0], mid], [right[0], mid], [right[0] + widen, bottom - 0.04 * S],
                          [right[0] + widen * 0.5, bottom], [left[0] - widen * 0.5, bottom],
                          [left[0] - widen, bottom - 0.04 * S]])
        hm = np.maximum(skull_m, cv.poly(drape))
        shade = 0.5 + 0.3 * cv.blur(hm, 3 * px)
        cv.over(hm, hair_col[None, None, :] * (shade * (0.8 + 0.4 * hair_tex))[..., None])

    # --- neck and shoulders (do not rotate with the head except a little roll)
    jaw = lm[0:17]
    neck_w = 0.5 * np.linalg.norm(jaw[4] - jaw[12])
    nc = 0.5 * (jaw[5] + jaw[11])
    neck = np.array([[nc[0] - neck_w * 0.55, nc[1] - 0.05 * S], [nc[0] + neck_w * 0.55, nc[1] - 0.05 * S],
                     [S / 2 + neck_w * 0.6, S * 0.93], [S / 2 + neck_w * 2.6, S * 1.02],
                     [S / 2 - neck_w * 2.6, S * 1.02], [S / 2 - neck_w * 0.6, S * 0.93]])
    neck_m = cv.poly(neck)
    cv.over(neck_m, skin * (0.62 + 0.12 * expr.light_strength * (xs[..., None] - 0.5) * math.sin(az)))
    shirt_col = np.array(_hsv(id_rng.random(), 0.45, 0.25 + 0.5 * id_rng.random()), np.float32)
    shirt = np.array([[0, S * 0.96], [S / 2 - neck_w * 0.7, S * 0.94], [S / 2, S * 0.99],
                      [S / 2 + neck_w * 0.7, S * 0.94], [S, S * 0.96], [S, S], [0, S]])
    cv.over(cv.poly(shirt), shirt_col)

    skin_img = _shade_skin(cv, ident, expr, geo, skin, L, ambient, diffuse, id_rng, im_rng, px)
    # --- the sides/back of the head (where no hair covers it) share the face's shading
    if style not in (1, 2, 3):
        cv.over(skull_m, skin_img * 0.94)
    for centre, (rx, ry), ang, facing in geo.ears:
        if facing <= 0.02:
            continue
        em = cv.poly(_ellipse_pts(centre, rx, ry, ang))
        inner = cv.blur(cv.poly(_ellipse_pts(centre, rx * 0.5, ry * 0.6, ang)), 1.2 * px)
        cv.over(em * facing, skin * (0.55 + 0.4 * ambient))
        cv.over(inner * 0.35 * facing, skin * 0.45)

    # --- face
    face_m = cv.poly(_spline(geo.outline, closed=True, k=4))
    cv.over(face_m, skin_img)
    # neck shadow under the jaw
    under = np.clip(cv.shift(cv.blur(face_m, 3 * px), 0, 0.04 * S) - face_m, 0, 1)
    cv.img *= (1 - 0.45 * under * neck_m)[..., None]

    _draw_features(cv, ident, expr, geo, skin, hair_col, L, px, hair_tex)
    _draw_hair_front(cv, ident, geo, hair_col, hair_tex, L, px, face_m)
    if ident.glasses >= 1:
        _draw_glasses(cv, ident, geo, px)

    # camera: vignette, grain, slight softening
    vig = 1 - 0.18 * ((xs - 0.5) ** 2 + (ys - 0.5) ** 2) * 2
    cv.img *= vig[..., None]
    cv.img = cv.blur(cv.img, 0.35 * px)
    cv.img += im_rng.standard_normal((S, S, 1), dtype=np.float32) * 0.012
    return np.clip(cv.img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _shade_skin(cv: _Canvas, ident: IdentityParams, expr: ExpressionParams, geo: FaceGeometry, skin: np.ndarray,
                L: np.ndarray, ambient: float, diffuse: float, id_rng: np.random.Generator,
                im_rng: np.random.Generator, px: float) -> np.ndarray:
    """Shaded, textured skin over the whole crop (S×S×3): ellipsoid + relief normals, Lambert +
    specular light, soft height-field cast shadows, ambient occlusion, pores and blush."""
    S = geo.size
    lm = geo.landmarks
    _, _, _, nx, ny, nz = _raycast(*head_ellipsoid(ident), geo)
    height = _height_field(cv, geo, expr, px)
    gx = cv.cv2.Sobel(height, cv.cv2.CV_32F, 1, 0, ksize=3) * (S / 8.0)
    gy = cv.cv2.Sobel(height, cv.cv2.CV_32F, 0, 1, ksize=3) * (S / 8.0)
    k = 1.0
    mx, my, mz = nx - k * gx, ny - k * gy, nz
    inv = 1.0 / np.sqrt(mx * mx + my * my + mz * mz)
    mx, my, mz = mx * inv, my * inv, mz * inv
    lam = np.maximum(mx * L[0] + my * L[1] + mz * L[2], 0.0)
    hv = L + np.array([0, 0, 1], np.float32)
    hv /= np.linalg.norm(hv)
    spec = np.maximum(mx * hv[0] + my * hv[1] + mz * hv[2], 0.0) ** 20 * (0.04 + 0.1 * expr.light_strength)
    # soft cast shadows of the nose/brows from the height field, and ambient occlusion
    d = 0.03 * S
    shifted = cv.shift(height, -L[0] * d / max(0.3, math.hypot(L[0], L[1])), -L[1] * d)
    shadow = cv.blur(np.clip((shifted - height - 0.004) * 60.0, 0, 1), 1.5 * px) * expr.light_strength
    ao = np.clip((cv.blur(height, 6 * px) - height) * 18.0, 0, 0.6)
    shade = (ambient + diffuse * lam * (1 - 0.6 * shadow)) * (1 - 0.5 * ao)
    tex = _skin_texture(cv, id_rng, im_rng, px)
    blush = cv.blur(cv.poly(*[_ellipse_pts(lm[i], 0.05 * S, 0.035 * S) for i in (3, 13)]), 5 * px)
    base = skin[None, None, :] * (1 + tex)[..., None]
    base = base + blush[..., None] * np.array([0.05, -0.03, -0.03], np.float32) * (0.5 + max(expr.smile, 0))
    return base * shade[..., None] + spec[..., None] * np.array([1.0, 0.97, 0.92], np.float32)


def identity_values(ident: IdentityParams) -> list[float]:
    return list(ident.to_attributes().values())


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    import colorsys

    return colorsys.hsv_to_rgb(h, s, v)


def _hair_texture(cv: _Canvas, rng: np.random.Generator) -> np.ndarray:
    S = cv.size
    n = rng.standard_normal((S, S), dtype=np.float32)
    streaks = cv.cv2.blur(n, (1, max(3, S // 12)))
    return streaks * (1.6 / math.sqrt(max(3, S // 12)))


def _skin_texture(cv: _Canvas, id_rng: np.random.Generator, im_rng: np.random.Generator, px: float) -> np.ndarray:
    S = cv.size
    pores = cv.blur(id_rng.standard_normal((S, S), dtype=np.float32), 0.6 * px) * (0.035 * min(1.0, px) ** 0.5)
    blotch = cv.cv2.resize(id_rng.random((9, 9)).astype(np.float32) - 0.5, (S, S),
                           interpolation=cv.cv2.INTER_CUBIC) * 0.08
    return pores + blotch


def _height_field(cv: _Canvas, geo: FaceGeometry, expr: ExpressionParams, px: float) -> np.ndarray:
    """Relief of the face (crop units): nose, brow ridge, cheeks, lips, chin, eye sockets."""
    lm = geo.landmarks
    S = geo.size
    ew = geo.eye_w
    # nose ridge and wings
    nose = np.concatenate([[lm[27] + [-0.15 * ew, 0], lm[27] + [0.15 * ew, 0]], [lm[30] + [0.35 * ew, 0]],
                           lm[[35, 34, 33, 32, 31]], [lm[30] + [-0.35 * ew, 0]]])
    nose = nose[[0, 1, 2, 3, 4, 5, 6, 7, 8]]
    h = cv.blur(cv.poly(_spline(nose, closed=True, k=3)), 3.2 * px) * 0.04
    tip = cv.blur(cv.poly(_ellipse_pts(0.6 * lm[30] + 0.4 * lm[33], 0.42 * ew, 0.34 * ew)), 2.5 * px) * 0.03
    wings = cv.blur(cv.poly(_ellipse_pts(lm[31] + [0.15 * ew, -0.1 * ew], 0.28 * ew, 0.25 * ew),
                            _ellipse_pts(lm[35] + [-0.15 * ew, -0.1 * ew], 0.28 * ew, 0.25 * ew)), 1.5 * px) * 0.02
    coarse = np.zeros((S, S), np.float32)
    for i, j in ((17, 21), (22, 26)):
        c = 0.5 * (lm[i] + lm[j]) + [0, 0.35 * ew]
        coarse += cv.poly(_ellipse_pts(c, 1.25 * ew, 0.45 * ew)) * 0.025
    for eye in (lm[36:42], lm[42:48]):
        coarse -= cv.poly(_ellipse_pts(eye.mean(0) + [0, 0.1 * ew], 1.1 * ew, 0.75 * ew)) * 0.035
    cheek_up = 0.04 * S * max(expr.smile, 0)
    for i in (2, 14):
        c = 0.45 * lm[i] + 0.55 * lm[30] + [0, 0.02 * S - cheek_up]
        coarse += cv.poly(_ellipse_pts(c, 1.3 * ew, 1.1 * ew)) * 0.03
    chin = 0.5 * (lm[8] + lm[57]) + [0, 0.2 * (lm[8][1] - lm[57][1])]
    coarse += cv.poly(_ellipse_pts(chin, 1.4 * ew, 0.8 * ew)) * 0.025
    coarse = cv.blur(coarse, 5.0 * px)
    lips = cv.blur(cv.poly(_spline(lm[48:60], closed=True, k=3)), 1.8 * px) * 0.01
    return h + tip + wings + coarse + lips


def _draw_features(cv: _Canvas, ident, expr, geo: FaceGeometry, skin, hair_col, L, px, hair_tex) -> None:
    from .features import draw_brows, draw_eyes, draw_mouth, draw_nose

    draw_nose(cv, geo, skin, px)
    draw_mouth(cv, geo, skin, expr, px)
    draw_eyes(cv, ident, expr, geo, skin, L, px)
    draw_brows(cv, ident, geo, hair_col, px, hair_tex)


def _draw_hair_front(cv: _Canvas, ident, geo: FaceGeometry, hair_col, hair_tex, L, px, face_m) -> None:
    from .features import draw_hair_cap

    draw_hair_cap(cv, ident, geo, hair_col, hair_tex, L, px, face_m)


def _draw_glasses(cv: _Canvas, ident, geo: FaceGeometry, px) -> None:
    from .features import draw_glasses

    draw_glasses(cv, ident, geo, px)
