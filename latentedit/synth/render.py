"""The SynthFaces renderer: a shaded, textured face image with exact landmarks and masks.

Everything is drawn from :func:`latentedit.synth.geometry.build_geometry`'s projected points:
shapes are anti-aliased cv2 polygons through those points (Catmull-Rom splines), skin is shaded
per pixel with a rotated head ellipsoid plus a height field (nose, brow ridge, cheeks, lips, chin)
lit by a directional light (Lambert + specular, soft height-field shadows, ambient occlusion),
and skin, hair and background carry procedural noise. The same parameters always give the same
bytes: all noise is seeded from the parameter values.
"""
from __future__ import annotations

import colorsys
import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..masks import region_masks
from .features import draw_brows, draw_eyes, draw_glasses, draw_hair_cap, draw_mouth, draw_nose, strand_profile
from .geometry import FaceGeometry, build_geometry, head_ellipsoid
from .params import ExpressionParams, IdentityParams
from .raster import _HAIR, _HAIR_POS, _SKIN, Canvas, box_of, ellipse_pts, grid, ramp, raycast, spline

MIN_SIZE, MAX_SIZE = 32, 512

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


def _seed(*values: float) -> int:
    return zlib.crc32(np.asarray(values, np.float64).tobytes())


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
    cv = Canvas(S)
    lm = geo.landmarks
    id_rng = np.random.default_rng(_seed(*_identity_values(ident)))
    im_rng = np.random.default_rng(_seed(*_identity_values(ident), *expr.to_attributes().values()))
    xs, ys = grid(S)

    # light: azimuth from the light angle, always somewhat from above
    az, el = math.radians(65.0 * expr.light_angle), math.radians(28.0)
    L = np.array([math.sin(az) * math.cos(el), -math.sin(el), math.cos(az) * math.cos(el)], np.float32)
    ambient = 0.3 + 0.18 * (1 - expr.light_strength)
    diffuse = 0.42 + 0.3 * expr.light_strength

    bg0 = _background(cv, expr, im_rng, az)

    skin = ramp(_SKIN, ident.skin_tone)
    hair_col = ramp(_HAIR, ident.hair_hue, _HAIR_POS)
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
        strands = strand_profile(ident)[(xs * 384).astype(np.int32) % 512]  # vertical strands
        cv.over(hm, hair_col[None, None, :] * (shade * (0.85 + 0.18 * strands + 0.15 * hair_tex))[..., None])

    neck_m = _neck_and_shirt(cv, lm, skin, expr, az, id_rng)

    skin_img = _shade_skin(cv, ident, expr, geo, skin, L, ambient, diffuse, id_rng, im_rng, px,
                           env=skin * 0.5 + 0.5 * bg0 * skin.mean())
    # --- the sides/back of the head (where no hair covers it) share the face's shading
    if style not in (1, 2, 3):
        cv.over(skull_m, skin_img * 0.94)
    for centre, (rx, ry), ang, facing in geo.ears:
        if facing <= 0.02:
            continue
        em = cv.poly(ellipse_pts(centre, rx, ry, ang))
        inner = cv.blur(cv.poly(ellipse_pts(centre, rx * 0.5, ry * 0.6, ang)), 1.2 * px)
        cv.over(em * facing, skin * (0.55 + 0.4 * ambient))
        cv.over(inner * 0.35 * facing, skin * 0.45)

    # --- face
    face_m = cv.poly(spline(geo.outline, closed=True, k=4))
    cv.over(face_m, skin_img)
    # neck shadow under the jaw
    under = np.clip(cv.shift(cv.blur(face_m, 3 * px), 0, 0.04 * S) - face_m, 0, 1)
    cv.img *= (1 - 0.45 * under * neck_m)[..., None]

    draw_nose(cv, geo, skin, px)
    draw_mouth(cv, geo, skin, expr, px)
    draw_eyes(cv, ident, expr, geo, skin, L, px)
    draw_brows(cv, ident, geo, hair_col, px, hair_tex)
    draw_hair_cap(cv, ident, geo, hair_col, hair_tex, L, px, face_m)
    if ident.glasses >= 1:
        draw_glasses(cv, ident, geo, px)

    # camera: vignette, grain, slight softening
    vig = 1 - 0.18 * ((xs - 0.5) ** 2 + (ys - 0.5) ** 2) * 2
    cv.img *= vig[..., None]
    cv.img = cv.blur(cv.img, 0.35 * px)
    cv.img += im_rng.standard_normal((S, S, 1), dtype=np.float32) * 0.012
    return np.clip(cv.img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _background(cv: Canvas, expr: ExpressionParams, im_rng: np.random.Generator, az: float) -> np.ndarray:
    """Fill the canvas with the scene behind the person; returns its main colour."""
    S = cv.size
    xs, ys = grid(S)
    # a two-tone gradient lit from the light side, with soft blotches
    hue = expr.background
    bg0 = np.array(_hsv(hue, 0.35, 0.78), np.float32)
    bg1 = np.array(_hsv((hue + 0.08) % 1.0, 0.45, 0.45), np.float32)
    t = np.clip(0.5 + 0.6 * (xs - 0.5) * math.sin(az) + 0.5 * (ys - 0.5), 0, 1)[..., None]
    lowres = im_rng.random((5, 5)).astype(np.float32)
    blot = cv.cv2.resize(lowres, (S, S), interpolation=cv.cv2.INTER_CUBIC)[..., None]
    cv.img[:] = bg0 * (1 - t) + bg1 * t
    cv.img *= 0.9 + 0.2 * blot
    # out-of-focus shapes behind the person (a room, a window, foliage…)
    for _ in range(int(im_rng.integers(1, 4))):
        c = im_rng.random(2) * S
        r = (0.12 + 0.25 * im_rng.random()) * S
        blob = cv.blur(cv.poly(ellipse_pts(c, r, r * (0.5 + im_rng.random()), 180 * im_rng.random(), n=16)),
                       0.06 * S)
        tone = np.array(_hsv((hue + 0.3 * im_rng.standard_normal()) % 1.0, 0.3, 0.3 + 0.6 * im_rng.random()),
                        np.float32)
        cv.over(blob * 0.45, tone)

    return bg0


def _neck_and_shirt(cv: Canvas, lm: np.ndarray, skin: np.ndarray, expr: ExpressionParams, az: float,
                    id_rng: np.random.Generator) -> np.ndarray:
    """Neck and shoulders (they do not turn with the head); returns the neck mask."""
    S = cv.size
    xs, _ = grid(S)
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

    return neck_m


def _shade_skin(cv: Canvas, ident: IdentityParams, expr: ExpressionParams, geo: FaceGeometry, skin: np.ndarray,
                L: np.ndarray, ambient: float, diffuse: float, id_rng: np.random.Generator,
                im_rng: np.random.Generator, px: float, env: np.ndarray) -> np.ndarray:
    """Shaded, textured skin (S×S×3, zero outside the head's box): ellipsoid + relief normals,
    Lambert + specular light, soft height-field cast shadows, ambient occlusion, pores and blush."""
    S = geo.size
    lm = geo.landmarks
    box = box_of(np.concatenate([geo.outline, geo.skull]), S)  # the per-pixel maths runs only here
    _, _, _, nx, ny, nz = raycast(*head_ellipsoid(ident), geo, box)
    height = _height_field(cv, geo, expr, px)
    gx = cv.cv2.Sobel(height, cv.cv2.CV_32F, 1, 0, ksize=3)[box] * (S / 8.0)
    gy = cv.cv2.Sobel(height, cv.cv2.CV_32F, 0, 1, ksize=3)[box] * (S / 8.0)
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
    shadow = cv.blur(np.clip((shifted - height - 0.004) * 60.0, 0, 1), 1.5 * px)[box] * expr.light_strength
    ao = np.clip((cv.blur(height, 6 * px) - height)[box] * 18.0, 0, 0.6)
    shade = (ambient + diffuse * lam * (1 - 0.6 * shadow)) * (1 - 0.5 * ao)
    tex = _skin_texture(cv, id_rng, im_rng, px)[box]
    blush = cv.blur(cv.poly(*[ellipse_pts(lm[i], 0.05 * S, 0.035 * S) for i in (3, 13)]), 5 * px)[box]
    base = skin[None, None, :] * (1 + tex)[..., None]
    base = base + blush[..., None] * np.array([0.05, -0.03, -0.03], np.float32) * (0.5 + max(expr.smile, 0))
    # light bounced from the surroundings tints the grazing parts of the face
    rim = ((1.0 - np.clip(mz, 0.0, 1.0)) ** 2 * 0.35)[..., None]
    out = np.zeros((S, S, 3), np.float32)
    out[box] = base * shade[..., None] * (1 - rim) + rim * env * 0.8 + spec[..., None] * np.array(
        [1.0, 0.97, 0.92], np.float32)
    return out


def _identity_values(ident: IdentityParams) -> list[float]:
    return list(ident.to_attributes().values())


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    return colorsys.hsv_to_rgb(h, s, v)


def _hair_texture(cv: Canvas, rng: np.random.Generator) -> np.ndarray:
    """Per-pixel hair noise: short vertical streaks (strand clumps) in about [-1, 1]."""
    S = cv.size
    n = rng.standard_normal((S, S), dtype=np.float32)
    streaks = cv.cv2.blur(n, (1, max(3, S // 12)))
    return streaks * (1.6 / math.sqrt(max(3, S // 12)))


def _skin_texture(cv: Canvas, id_rng: np.random.Generator, im_rng: np.random.Generator, px: float) -> np.ndarray:
    S = cv.size
    pores = cv.blur(id_rng.standard_normal((S, S), dtype=np.float32), 0.6 * px) * (0.035 * min(1.0, px) ** 0.5)
    blotch = cv.cv2.resize(id_rng.random((9, 9)).astype(np.float32) - 0.5, (S, S),
                           interpolation=cv.cv2.INTER_CUBIC) * 0.08
    return pores + blotch


def _height_field(cv: Canvas, geo: FaceGeometry, expr: ExpressionParams, px: float) -> np.ndarray:
    """Relief of the face (crop units): nose, brow ridge, cheeks, lips, chin, eye sockets."""
    lm = geo.landmarks
    S = geo.size
    ew = geo.eye_w
    # nose ridge and wings
    nose = np.concatenate([[lm[27] + [-0.15 * ew, 0], lm[27] + [0.15 * ew, 0]], [lm[30] + [0.35 * ew, 0]],
                           lm[[35, 34, 33, 32, 31]], [lm[30] + [-0.35 * ew, 0]]])
    nose = nose[[0, 1, 2, 3, 4, 5, 6, 7, 8]]
    h = cv.blur(cv.poly(spline(nose, closed=True, k=3)), 3.2 * px) * 0.04
    tip = cv.blur(cv.poly(ellipse_pts(0.6 * lm[30] + 0.4 * lm[33], 0.42 * ew, 0.34 * ew)), 2.5 * px) * 0.03
    wings = cv.blur(cv.poly(ellipse_pts(lm[31] + [0.15 * ew, -0.1 * ew], 0.28 * ew, 0.25 * ew),
                            ellipse_pts(lm[35] + [-0.15 * ew, -0.1 * ew], 0.28 * ew, 0.25 * ew)), 1.5 * px) * 0.02
    coarse = np.zeros((S, S), np.float32)
    for i, j in ((17, 21), (22, 26)):
        c = 0.5 * (lm[i] + lm[j]) + [0, 0.35 * ew]
        coarse += cv.poly(ellipse_pts(c, 1.25 * ew, 0.45 * ew)) * 0.025
    for eye in (lm[36:42], lm[42:48]):
        coarse -= cv.poly(ellipse_pts(eye.mean(0) + [0, 0.1 * ew], 1.1 * ew, 0.75 * ew)) * 0.035
    cheek_up = 0.04 * S * max(expr.smile, 0)
    for i in (2, 14):
        c = 0.45 * lm[i] + 0.55 * lm[30] + [0, 0.02 * S - cheek_up]
        coarse += cv.poly(ellipse_pts(c, 1.3 * ew, 1.1 * ew)) * 0.03
    chin = 0.5 * (lm[8] + lm[57]) + [0, 0.2 * (lm[8][1] - lm[57][1])]
    coarse += cv.poly(ellipse_pts(chin, 1.4 * ew, 0.8 * ew)) * 0.025
    coarse = cv.blur(coarse, 5.0 * px)
    lips = cv.blur(cv.poly(spline(lm[48:60], closed=True, k=3)), 1.8 * px) * 0.01
    return h + tip + wings + coarse + lips
