"""Facial features drawn on top of the shaded skin: nose, mouth, eyes, brows, hair, glasses.

Each shape passes through the landmarks that describe it (see :mod:`latentedit.synth.geometry`).
"""
from __future__ import annotations

import math
import zlib

import numpy as np

from .geometry import FaceGeometry, hairline_y, skull_ellipsoid
from .params import ExpressionParams, IdentityParams
from .raster import _EYE, Canvas, box_of, ellipse_pts, ramp, raycast, spline

_SCLERA = np.array([0.93, 0.91, 0.88], np.float32)
_MOUTH = np.array([0.28, 0.08, 0.08], np.float32)
_TEETH = np.array([0.92, 0.9, 0.84], np.float32)


def draw_nose(cv: Canvas, geo: FaceGeometry, skin: np.ndarray, px: float) -> None:
    """Nostrils and the alar creases around landmarks 31–35."""
    lm, ew = geo.landmarks, geo.eye_w
    nostrils, creases = [], []
    for a, b, sgn in ((31, 32, 1), (35, 34, -1)):
        c = 0.55 * lm[b] + 0.45 * lm[a] + [0, -0.1 * ew]
        dx, dy = lm[b] - lm[a]
        nostrils.append(ellipse_pts(c, 0.24 * ew, 0.11 * ew, math.degrees(math.atan2(dy, dx))))
        creases.append(spline(np.array([lm[a] + [sgn * 0.05 * ew, 0.05 * ew], lm[a] + [-sgn * 0.05 * ew, -0.35 * ew],
                                         lm[a] + [sgn * 0.25 * ew, -0.6 * ew]]), closed=False, k=4))
    cv.over(cv.blur(cv.poly(*nostrils), 0.7 * px) * 0.75, skin * 0.3)
    cv.over(cv.blur(cv.line(creases, 1.1 * px), 0.6 * px) * 0.35, skin * 0.45)
    base = spline(lm[31:36], closed=False, k=4)
    cv.over(cv.blur(cv.line([base], 0.9 * px), 0.5 * px) * 0.25, skin * 0.5)


def draw_mouth(cv: Canvas, geo: FaceGeometry, skin: np.ndarray, expr: ExpressionParams, px: float) -> None:
    """Lips (outer contour 48–59), the mouth interior and teeth (inner contour 60–67)."""
    lm = geo.landmarks
    lip_col = skin * np.array([0.8, 0.58, 0.6], np.float32) + np.array([0.08, 0.01, 0.03], np.float32)
    outer = spline(lm[48:60], closed=True, k=5)
    lips = cv.blur(cv.poly(outer), 0.4 * px)
    # the upper lip is in shadow when lit from above; a sheen on the lower lip
    upper = spline(np.concatenate([lm[48:55], lm[[64, 63, 62, 61, 60]]]), closed=True, k=5)
    up_m = cv.poly(upper)
    cv.over(lips * 0.75, lip_col)
    cv.over(up_m * 0.3, lip_col * 0.6)
    sheen_c = 0.5 * (lm[57] + lm[66])
    sheen = cv.blur(cv.poly(ellipse_pts(sheen_c, 0.25 * np.linalg.norm(lm[54] - lm[48]) * 0.5,
                                         0.3 * max(1.0, abs(lm[57][1] - lm[66][1])))), 1.2 * px)
    cv.over(sheen * 0.25 * lips, np.array([1.0, 0.9, 0.9], np.float32))
    inner = spline(lm[[60, 61, 62, 63, 64, 65, 66, 67]], closed=True, k=5)
    gap = float(np.mean(lm[[65, 66, 67], 1] - lm[[61, 62, 63], 1]))
    if gap > 0.15 * px:
        mouth = cv.poly(inner)
        cv.over(mouth, _MOUTH)
        # the tongue fills the bottom of a wide-open mouth; the throat behind is darker
        low_c = lm[66] + [0, -0.15 * gap]
        tongue = cv.blur(cv.poly(ellipse_pts(low_c, 0.45 * np.linalg.norm(lm[64] - lm[60]) * 0.5, 0.4 * gap)), 0.8 * px)
        cv.over(tongue * mouth * 0.8, np.array([0.62, 0.27, 0.27], np.float32))
        throat = cv.blur(cv.poly(ellipse_pts(0.5 * (lm[62] + lm[66]), 0.18 * np.linalg.norm(lm[64] - lm[60]),
                                             0.22 * gap)), 1.2 * px)
        cv.over(throat * mouth * 0.6, np.array([0.08, 0.02, 0.02], np.float32))
        # upper teeth hang from the upper inner lip, lower teeth show a little above the lower lip
        # (the teeth stop short of the mouth corners, where the dark cheeks show)
        up = spline(lm[60:65], closed=False, k=8)
        n = len(up)
        up = up[n // 6: n - n // 6]
        teeth_h = min(0.3 * gap, 0.022 * geo.size)
        taper = np.sin(np.linspace(0.15, np.pi - 0.15, len(up)))[:, None] ** 0.5
        teeth = cv.blur(cv.poly(np.concatenate([up, (up + [0, 1.0] * taper * teeth_h)[::-1]])), 0.4 * px)
        cv.over(teeth * mouth * 0.95, _TEETH)
        # a faint gap between the two front teeth
        mid = 0.5 * (lm[62] + lm[62] + [0, teeth_h])
        cv.over(cv.line(np.array([lm[62], mid + [0, 0.5 * teeth_h]]), 0.6 * px) * mouth * 0.25, _MOUTH)
        low = spline(lm[[64, 65, 66, 67, 60]], closed=False, k=8)
        low = low[len(low) // 5: len(low) - len(low) // 5]
        lt = cv.poly(np.concatenate([low, low[::-1] - [0, min(0.12 * gap, 0.01 * geo.size)]]))
        cv.over(cv.blur(lt, 0.4 * px) * mouth * 0.6, _TEETH * 0.8)
    line = cv.blur(cv.line(spline(lm[60:65], closed=False, k=5), 1.0 * px), 0.4 * px)
    cv.over(line * 0.6, lip_col * 0.35)
    # mouth corners: small shadows
    # smile lines: nasolabial folds from the nose wings down past the mouth corners
    if expr.smile > 0.1:
        ew = geo.eye_w
        folds = []
        for a, c, sgn in ((31, 48, -1), (35, 54, 1)):
            start = lm[a] + [sgn * 0.3 * ew, -0.15 * ew]
            end = lm[c] + [sgn * 0.3 * ew, 0.45 * ew]
            folds.append(spline(np.array([start, 0.5 * (start + end) + [sgn * 0.35 * ew, 0], end]), False, k=5))
        cv.over(cv.blur(cv.line(folds, 1.2 * px), 1.0 * px) * (0.35 * min(1.0, expr.smile)), skin * 0.55)
    corners = cv.poly(*[ellipse_pts(lm[i], 1.2 * px, 1.0 * px) for i in (48, 54)])
    cv.over(cv.blur(corners, 0.8 * px) * 0.4, skin * 0.4)


def draw_eyes(cv: Canvas, ident: IdentityParams, expr: ExpressionParams, geo: FaceGeometry, skin: np.ndarray,
              L: np.ndarray, px: float) -> None:
    """Sclera, iris, pupil, catch-light, lash line and lid crease for eyes 36–41 and 42–47 (both at once)."""
    lm, ew = geo.landmarks, geo.eye_w
    iris_col = ramp(_EYE, ident.eye_hue)
    eyes = [lm[36:42], lm[42:48]]
    ups = [spline(p[[0, 1, 2, 3]], closed=False, k=6) for p in eyes]
    lows = [spline(p[[3, 4, 5, 0]], closed=False, k=6) for p in eyes]
    # lid crease (visible even when the eye is closed)
    bulge = 0.08 * ew * np.sin(np.linspace(0, math.pi, len(ups[0])))[:, None] * np.array([0.0, 1.0])
    creases = [u + [0, -0.32 * ew] - bulge for u in ups]
    cv.over(cv.blur(cv.line(creases, 1.0 * px), 0.8 * px) * 0.35, skin * 0.55)
    eye = cv.poly(*[np.concatenate([u[:-1], lo[:-1]]) for u, lo in zip(ups, lows)])
    if eye.max() > 0:
        cv.over(eye, _SCLERA * (0.85 + 0.1 * L[2]))
        circles = lambda f: [ellipse_pts(ic, ir * f, ir * f) for ic, ir in geo.irises]  # noqa: E731
        cv.over(cv.poly(*circles(1.0)) * eye, iris_col * 0.6)
        cv.over(cv.poly(*circles(0.78)) * eye, iris_col)  # darker limbal ring outside 0.78 r
        cv.over(cv.poly(*circles(0.4)) * eye, np.array([0.03, 0.03, 0.04], np.float32))
        off = np.array([0.45 * np.sign(L[0]) if abs(L[0]) > 0.1 else 0.2, -0.45])
        hl = cv.poly(*[ellipse_pts(ic + off * ir, ir * 0.16, ir * 0.16) for ic, ir in geo.irises])
        cv.over(cv.blur(hl, 0.3 * px) * eye * 0.9, np.array([1.0, 1.0, 1.0], np.float32))
        # the upper lid shades the top of the eyeball; the corners are a little darker
        lid_sh = np.clip(eye - cv.shift(eye, 0, 0.14 * ew), 0, 1)
        cv.over(cv.blur(lid_sh, 0.6 * px) * 0.3, skin * 0.35)
        corner = cv.poly(*[ellipse_pts(p[i], r * ew, 0.25 * ew) for p in eyes for i, r in ((0, 0.3), (3, 0.25))])
        cv.over(cv.blur(corner, 0.8 * px) * eye * 0.35, skin * 0.5)
    # lash line along the upper lid; thin lower lid line
    cv.over(cv.blur(cv.line(ups, 1.25 * px), 0.35 * px) * 0.9, np.array([0.08, 0.06, 0.06], np.float32))
    cv.over(cv.blur(cv.line(lows, 0.8 * px), 0.35 * px) * 0.4, skin * 0.45)


def draw_brows(cv: Canvas, ident: IdentityParams, geo: FaceGeometry, hair_col: np.ndarray, px: float,
               hair_tex: np.ndarray) -> None:
    """Eyebrows as tapered bands hanging below landmarks 17–21 and 22–26."""
    lm = geo.landmarks
    thick = (0.014 + 0.016 * ident.brow_thickness) * geo.size
    col = hair_col * 0.7 + np.array([0.02, 0.015, 0.01], np.float32)
    polys = []
    for idx in ((17, 18, 19, 20, 21), (26, 25, 24, 23, 22)):
        c = spline(lm[list(idx)], closed=False, k=5)  # outer → inner
        d = np.gradient(c, axis=0)
        nrm = np.stack([-d[:, 1], d[:, 0]], 1)
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True) + 1e-9
        nrm *= np.sign(nrm[:, 1:2] + 1e-9)  # point down
        s = np.linspace(0, 1, len(c))[:, None]
        w = thick * (0.35 + 0.65 * np.sqrt(s))
        polys.append(np.concatenate([c - nrm * 0.3 * w, (c + nrm * 0.85 * w)[::-1]]))
    m = cv.blur(cv.poly(*polys), 0.45 * px)
    cv.over(m * np.clip(0.8 + 0.25 * hair_tex, 0, 1), col)


def draw_hair_cap(cv: Canvas, ident: IdentityParams, geo: FaceGeometry, hair_col: np.ndarray,
                  hair_tex: np.ndarray, L: np.ndarray, px: float, face_m: np.ndarray) -> None:
    """Hair over the top of the head, bounded below by the hairline (never over brows or eyes)."""
    style = int(ident.hair_style)
    outer = geo.skull
    box = box_of(outer, cv.size)  # the per-pixel maths runs only over the head
    qx, qy, qz, nx, ny, nz = raycast(*skull_ellipsoid(ident), geo, box)
    edge_px = 1.1 if style != 3 else 1.4  # hairlines are soft
    above = np.clip((hairline_y(ident, qx, qz) - qy) * (cv.size / edge_px) + 0.5, 0.0, 1.0)
    m = np.zeros((cv.size, cv.size), np.float32)
    m[box] = cv.poly(outer)[box] * above
    lam = np.maximum(nx * L[0] + ny * L[1] + nz * L[2], 0.0)
    c_sk, r_sk = skull_ellipsoid(ident)
    band = c_sk[1] - 0.62 * r_sk[1]  # a sheen band across the crown, brightest facing the light
    sheen = np.exp(-((qy - band) / 0.035) ** 2) * lam * (0.45 if style != 4 else 0.1)
    edge = cv.blur(m, 2.5 * px)[box]
    # strands follow meridians from the crown: brightness is a function of the angle around the head
    ang = np.arctan2(qx, qz - c_sk[2] + 1e-6)
    strands = strand_profile(ident)[((ang + np.pi) * (512 / (2 * np.pi))).astype(np.int32) % 512]
    tex = 0.22 * strands + 0.12 * np.clip(hair_tex[box], -1, 1)
    shade = (0.35 + 0.6 * lam) * (0.7 + 0.3 * edge) * (1 + sheen * (1 + strands * 0.5)) * (0.9 + tex)
    if style == 4:  # buzz cut: mostly skin showing through
        m = m * 0.6
    colour = np.zeros((cv.size, cv.size, 3), np.float32)
    colour[box] = hair_col[None, None, :] * shade[..., None]
    cv.over(m, colour)
    # the hair casts a soft shadow onto the forehead
    sh = np.clip(cv.shift(cv.blur(m, 2.0 * px), 0, 0.02 * cv.size) - m, 0, 1) * face_m
    cv.img *= (1 - 0.35 * sh)[..., None]


def strand_profile(ident: IdentityParams) -> np.ndarray:
    """A person's 1-D strand pattern (float32, 512 samples around the head, about [-1, 1]): hair
    brightness as a function of the angle around the head, so strands run from the crown down."""
    values = np.array([*ident.to_attributes().values(), 7.0], np.float64)
    rng = np.random.default_rng(zlib.crc32(values.tobytes()))
    n = rng.standard_normal(512).astype(np.float32)
    k = np.array([0.25, 0.5, 0.25], np.float32)
    n = np.convolve(np.concatenate([n[-1:], n, n[:1]]), k, mode="valid")  # circular smoothing
    clumps = np.repeat(rng.standard_normal(32).astype(np.float32), 16)
    return np.clip(0.6 * n + 0.5 * clumps, -2.0, 2.0) / 1.3


def draw_glasses(cv: Canvas, ident: IdentityParams, geo: FaceGeometry, px: float) -> None:
    """Frames around both eyes, a bridge, temple arms and a faint lens reflection."""
    lm, ew = geo.landmarks, geo.eye_w
    thick = int(ident.glasses) == 2
    width = (2.6 if thick else 1.1) * px
    colour = np.array([0.06, 0.05, 0.05] if thick else [0.55, 0.5, 0.42], np.float32)
    rings, lenses = [], []
    ang = math.degrees(math.atan2(*(lm[45] - lm[36])[::-1]))
    centres = []
    for base in (36, 42):
        c = lm[base:base + 6].mean(0) + [0, 0.12 * ew]
        centres.append(c)
        ring = ellipse_pts(c, 1.5 * ew, 1.08 * ew, ang, n=36)
        rings.append(ring)
        lenses.append(ring)
    m = cv.line(rings[0], width, closed=True) + cv.line(rings[1], width, closed=True)
    a, b = rings[0][np.argmax(rings[0][:, 0])], rings[1][np.argmin(rings[1][:, 0])]
    bridge = np.array([a, 0.5 * (a + b) + [0, -0.3 * ew], b])
    m += cv.line(spline(bridge, closed=False, k=4), width)
    for ring, (centre, _, _, facing) in zip(rings, geo.ears):
        if facing > 0.3:
            end = ring[np.argmin(ring[:, 0])] if centre[0] < cv.size / 2 else ring[np.argmax(ring[:, 0])]
            m += cv.line(np.array([end, centre + [0, -0.6 * ew]]), width * 0.8)
    lens = cv.poly(*lenses)
    cv.over(lens * 0.08, np.array([0.85, 0.9, 1.0], np.float32))
    cv.over(np.clip(m, 0, 1), colour)
