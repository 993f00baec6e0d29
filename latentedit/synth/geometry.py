"""SynthFaces geometry: a small 3-D face model whose projection gives the 68 landmarks.

Coordinates are in units of the crop side. Head frame: x to the image right, y down, z towards
the camera, origin at the head's rotation pivot :data:`PIVOT` (crop coordinates (0.5, 0.48)).
The head is rotated by yaw/pitch/roll and projected orthographically; every shape the renderer
draws (eyes, brows, nose, lips, jaw, ears) is built from these projected points, so the
landmarks are exactly where the features are drawn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .params import ExpressionParams, IdentityParams

#: Crop position (fraction of the side) of the rotation pivot.
PIVOT = (0.5, 0.48)
#: Pose ranges in degrees for yaw/pitch/roll = ±1.
MAX_YAW, MAX_PITCH, MAX_ROLL = 30.0, 15.0, 15.0
#: Extra skull radius (crop units) that each hair style adds.
HAIR_VOLUME = (0.028, 0.04, 0.045, 0.04, 0.006)
EYE_Y = 0.40  # eye line, fraction of the crop from the top (aligned-crop convention)


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """3×3 head rotation for yaw/pitch/roll in [-1, 1] (see :class:`ExpressionParams`)."""
    a, b, c = (math.radians(yaw * MAX_YAW), math.radians(pitch * MAX_PITCH), math.radians(roll * MAX_ROLL))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ rx @ ry


@dataclass
class FaceGeometry:
    """Projected geometry of one face, in crop pixels (x, y) unless noted.

    Attributes:
        landmarks: 68×2 iBUG-68 points.
        depth: 68 z values (crop units, towards the camera) after rotation.
        outline: closed face outline (jaw 0–16 then the forehead arc back to 0).
        skull: convex silhouette of the head including the hair volume.
        ears: two (centre, (rx, ry), angle_deg, visible_weight) tuples.
        irises: two (centre, radius) tuples.
        rotation: the 3×3 head rotation; ``project`` maps head-frame points to pixels.
        size: the crop side in pixels.
        eye_w: half eye width in pixels (before rotation foreshortening).
    """

    landmarks: np.ndarray
    depth: np.ndarray
    outline: np.ndarray
    skull: np.ndarray
    ears: list
    irises: list
    rotation: np.ndarray
    size: int
    eye_w: float

    def project(self, pts3: np.ndarray) -> np.ndarray:
        """Project head-frame points (N×3, crop units, y from the top of the crop) to pixels."""
        return _project(pts3, self.rotation, self.size)[0]


def _project(pts3: np.ndarray, rot: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pts3, dtype=np.float64) - np.array([0.0, PIVOT[1], 0.0])
    q = p @ rot.T
    xy = (q[:, :2] + np.array([PIVOT[0], PIVOT[1]])) * size - 0.5
    return xy.astype(np.float32), q[:, 2].astype(np.float32)


def _hull(points: np.ndarray) -> np.ndarray:
    return cv2.convexHull(points.astype(np.float32))[:, 0, :]


_CONTOUR_ZC, _CONTOUR_B = -0.05, 0.35


def _turned_contour(a: np.ndarray, psi0: np.ndarray, yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """Head-frame (x, z) of face-outline points that stay on the visible boundary when the head turns.

    Each outline point sits on a horizontal cross-section ellipse of half-width ``a`` and depth
    :data:`_CONTOUR_B` at angle ``psi0`` (0 = front, ±pi/2 = the sides). On the side turning away
    from the camera the outline is the silhouette, so points beyond the silhouette angle move onto
    it; on the side turning towards the camera the outline keeps its place (the jaw edge by the ear).
    """
    b = _CONTOUR_B
    side = np.sign(psi0)
    away = side * yaw > 0
    psi_s = np.arctan2(a * math.cos(yaw), b * abs(math.sin(yaw)) + 1e-12)
    psi = np.where(away & (np.abs(psi0) > psi_s), side * psi_s, psi0)
    return a * np.sin(psi), _CONTOUR_ZC + b * np.cos(psi)


def head_ellipsoid(ident: IdentityParams) -> tuple[np.ndarray, np.ndarray]:
    """Centre (head frame, crop units) and radii of the ellipsoid used for skin shading."""
    hw = face_half_width(ident)
    return np.array([0.0, 0.5, -0.05]), np.array([hw * 1.0, 0.40, 0.35])


def skull_ellipsoid(ident: IdentityParams) -> tuple[np.ndarray, np.ndarray]:
    """Centre and radii of the skull including the hair volume of the identity's hair style."""
    hw = face_half_width(ident)
    vol = HAIR_VOLUME[int(ident.hair_style)]
    return np.array([0.0, 0.405, -0.05]), np.array([hw * 1.03 + vol, 0.29 + vol, 0.37 + vol])


def hairline_y(ident: IdentityParams, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Head-frame y below which the skull is skin, for skull points (x, z): the hairline across the
    forehead, sideburns at the temples, the nape at the back. Hair is where y < this."""
    hw = face_half_width(ident)
    ax = np.clip(np.abs(x) / hw, 0.0, 1.0)
    if int(ident.hair_style) == 3:  # fringe: low and straight, with a ragged edge
        front = 0.245 + 0.03 * ax ** 3 + 0.004 * np.sin(x * 260.0)
    else:
        peak = 0.195 + 0.03 * ident.face_shape
        front = peak + (0.36 - peak) * ax ** 2.2
    # an irregular hairline, the same for every picture of the person
    ph1 = 2 * math.pi * ((ident.hair_hue * 7.31 + ident.face_width * 3.17) % 1.0)
    ph2 = 2 * math.pi * ((ident.eye_hue * 5.13 + ident.jaw * 2.71) % 1.0)
    front = front + 0.0035 * np.sin(x * 70.0 + ph1) + 0.0015 * np.sin(x * 190.0 + ph2)
    back = 0.6 if int(ident.hair_style) != 4 else 0.56
    t = np.clip((0.06 - z) / 0.22, 0.0, 1.0)  # 0 on the face side, 1 behind the ears
    side = np.clip((ax - 0.85) / 0.15, 0.0, 1.0) * (1 - t)
    return (1 - t) * (front + side * 0.04) + t * back


def face_half_width(ident: IdentityParams) -> float:
    """Half the face width at the temples, in crop units."""
    return 0.262 + 0.045 * ident.face_width


def build_geometry(ident: IdentityParams, expr: ExpressionParams, size: int) -> FaceGeometry:
    """Compute the 68 landmarks and the helper contours of one face.

    Args:
        ident: identity parameters.
        expr: expression/pose parameters.
        size: crop side in pixels.

    Returns:
        The :class:`FaceGeometry` in pixels.
    """
    P = np.zeros((68, 3))
    hw = face_half_width(ident)
    yc = 0.41
    gap = 0.09 * expr.mouth_open  # lip separation
    chin_y = 0.835 + 0.04 * ident.face_shape + 0.55 * gap
    n = 2.0 + 1.5 * ident.jaw  # superellipse exponent: larger is squarer
    phi = (np.arange(17) - 8) / 8 * (math.pi / 2)
    s, c = np.sin(phi), np.abs(np.cos(phi))
    taper = 1.0 - (0.22 - 0.12 * ident.jaw) * (c ** 2)  # jaw narrows towards the chin
    x0 = hw * np.sign(s) * np.abs(s) ** (2 / n) * taper
    a_k = np.where(np.abs(s) > 1e-6, x0 / np.where(np.abs(s) > 1e-6, s, 1.0), 0.0)
    yaw_rad = math.radians(expr.yaw * MAX_YAW)
    P[0:17, 0], P[0:17, 2] = _turned_contour(a_k, phi, yaw_rad)
    P[0:17, 1] = yc + (chin_y - yc) * c ** (2 / n)

    # eyes: 36 outer, 37/38 upper, 39 inner, 40/41 lower (right eye = image left); 42.. mirrored
    ew = 0.049 + 0.014 * ident.eye_size  # half eye width
    ex = 0.128 + 0.01 * ident.face_width
    closed = EYE_Y + 0.1 * ew
    up = 0.60 * ew * expr.eye_open
    lo = 0.22 * ew * expr.eye_open
    for side, base in ((-1, 36), (1, 42)):
        cx = side * ex
        outer = (cx + side * ew, EYE_Y - 0.06 * ew, 0.235)
        inner = (cx - side * ew, EYE_Y + 0.04 * ew, 0.255)
        u1 = (cx + side * ew * 0.36, closed - up * 0.95, 0.28)
        u2 = (cx - side * ew * 0.30, closed - up * 0.92, 0.28)
        l2 = (cx - side * ew * 0.34, closed + lo * 0.95 + 0.05 * ew, 0.275)
        l1 = (cx + side * ew * 0.38, closed + lo * 0.90 + 0.05 * ew, 0.275)
        pts = (outer, u1, u2, inner, l2, l1) if side < 0 else (inner, u2, u1, outer, l1, l2)
        P[base:base + 6] = pts

    # brows: 17 outer .. 21 inner (image left); 22 inner .. 26 outer
    fx = np.array([-1.45, -0.95, -0.35, 0.25, 0.8])  # outer → inner, in eye half-widths from the eye centre
    arch = np.array([0.2, 0.75, 1.0, 0.9, 0.6]) * 0.016
    inner_w = np.array([0.2, 0.35, 0.55, 0.8, 1.0])
    raise_ = np.where(expr.brow_raise >= 0, 0.03 * expr.brow_raise * (0.6 + 0.4 * inner_w),
                      0.018 * expr.brow_raise * inner_w)
    by = EYE_Y - 0.072 - 0.004 * ident.eye_size - arch - raise_
    bz = np.array([0.24, 0.28, 0.3, 0.31, 0.31])
    P[17:22] = np.stack([-ex + fx * ew, by, bz], 1)
    P[22:27] = P[17:22][::-1] * np.array([-1, 1, 1])

    # nose: 27..30 bridge (top to tip), 31..35 lower nose (image left to right), 33 under the tip
    tip_y = EYE_Y + 0.125 + 0.06 * ident.nose_length
    nw = 0.036 + 0.024 * ident.nose_width
    P[27:31, 0] = 0.0
    P[27:31, 1] = np.linspace(EYE_Y - 0.008, tip_y, 4)
    P[27:31, 2] = np.array([0.3, 0.33, 0.365, 0.41 + 0.03 * ident.nose_length])
    low = tip_y + 0.022
    P[31:36] = [(-nw, low - 0.006, 0.31), (-nw * 0.5, low + 0.006, 0.345), (0.0, low + 0.01, 0.37),
                (nw * 0.5, low + 0.006, 0.345), (nw, low - 0.006, 0.31)]

    # mouth: 48 right corner (image left), 49-53 upper outer, 54 left corner, 55-59 lower outer,
    # 60-64 inner upper (corner to corner), 65-67 inner lower (image right to left)
    my = low + 0.093 + 0.01 * ident.face_shape
    mw = (0.086 + 0.034 * ident.mouth_width) * (1 + 0.08 * max(expr.smile, 0.0))
    ult, llt = 0.02, 0.027
    xo = np.array([-1.0, -0.62, -0.26, 0.0, 0.26, 0.62, 1.0])
    upper_o = np.array([0.0, -0.75, -1.05, -0.9, -1.05, -0.75, 0.0]) * ult
    lower_x = np.array([0.62, 0.3, 0.0, -0.3, -0.62])
    lower_o = np.array([0.8, 1.0, 1.05, 1.0, 0.8]) * llt
    inner_x = np.array([-0.86, -0.3, 0.0, 0.3, 0.86])
    P[48:55, 0] = xo * mw
    P[48:55, 1] = my + upper_o
    P[55:60, 0] = lower_x * mw
    P[55:60, 1] = my + lower_o + gap * (1 - 0.55 * lower_x ** 2)
    P[60:65, 0] = inner_x * mw
    P[60:65, 1] = my
    P[65:68, 0] = np.array([0.3, 0.0, -0.3]) * mw
    P[65:68, 1] = my + gap * (1 - 0.55 * np.array([0.3, 0.0, -0.3]) ** 2) * 0.98
    # smile/frown bends the whole lip line: corners move most, the centre not at all
    for i in range(48, 68):
        t = P[i, 0] / mw
        P[i, 1] -= 0.034 * expr.smile * t * t
        P[i, 2] = 0.345 - 0.07 * t * t

    rot = rotation(expr.yaw, expr.pitch, expr.roll)
    lm, depth = _project(P, rot, size)

    # forehead arc from jaw 16 over the top back to jaw 0 (for the face outline)
    top = 0.135
    ang = np.linspace(0, math.pi, 15)[1:-1]
    a_f = hw * 1.02
    fx_, fz_ = _turned_contour(np.full_like(ang, a_f), np.arcsin(np.clip(np.cos(ang) / 1.02, -1, 1)), yaw_rad)
    fa = np.stack([fx_, yc - (yc - top) * np.sin(ang) ** 0.9, fz_ - 0.06 * np.sin(ang) ** 4], 1)
    c_sk, r_sk = skull_ellipsoid(ident)
    e = np.sqrt((((fa - c_sk) / r_sk) ** 2).sum(1, keepdims=True))
    fa = c_sk + (fa - c_sk) * np.minimum(1.0, 0.97 / np.maximum(e, 1e-9))  # keep the forehead inside the skull
    outline3 = np.concatenate([P[0:17], fa], 0)
    outline, _ = _project(outline3, rot, size)

    # skull silhouette: hull of a projected ellipsoid (hair volume added per style)
    th, ph = np.meshgrid(np.linspace(0, math.pi, 16), np.linspace(0, 2 * math.pi, 48, endpoint=False))
    sk3 = np.stack([r_sk[0] * np.sin(th) * np.cos(ph), c_sk[1] + r_sk[1] * np.cos(th),
                    c_sk[2] + r_sk[2] * np.sin(th) * np.sin(ph)], -1).reshape(-1, 3)
    sk2, _ = _project(sk3, rot, size)
    skull = _hull(sk2)

    ears = []
    for side in (-1, 1):
        e3 = np.array([[side * (hw + 0.012), yc + 0.055, -0.02]])
        centre, z = _project(e3, rot, size)
        # an ear turned away from the camera is hidden behind the head
        facing = float(np.clip(0.5 + side * -math.sin(math.radians(expr.yaw * MAX_YAW)) * 2.5, 0.0, 1.0))
        ears.append((centre[0], (0.028 * size * (0.6 + 0.4 * facing), 0.062 * size),
                     expr.roll * MAX_ROLL, facing))

    irises = []
    for side, base in ((-1, 36), (1, 42)):
        cx = side * ex
        gx = expr.gaze_x * 0.42 * ew
        gy = expr.gaze_y * 0.18 * ew
        c3 = np.array([[cx + gx, EYE_Y - 0.05 * ew + gy, 0.285]])
        centre, _ = _project(c3, rot, size)
        irises.append((centre[0], 0.46 * ew * size))

    return FaceGeometry(landmarks=lm, depth=depth, outline=outline, skull=skull,
                        ears=ears, irises=irises, rotation=rot, size=size, eye_w=ew * size)
