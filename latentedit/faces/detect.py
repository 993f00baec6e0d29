"""Face detection (dlib HOG or CNN) and 68-point landmarks in source-image pixels."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..landmarks import NUM_LANDMARKS
from ..preprocess import ALIGN_INDICES, invert_affine, similarity_transform
from .meanface import FLIP_PERMUTATION, MEAN_FACE
from .models import LOCK, dlib_module, get_model

DETECTORS = ("hog", "cnn")


@dataclass
class Detection:
    """One detected face.

    Attributes:
        box: ``(x0, y0, x1, y1)`` detector box in source pixels.
        landmarks: ``68×2`` float32 iBUG-68 points ``(x, y)`` in source pixels.
        score: detector confidence (HOG margin or CNN confidence; ``0.0`` for a given box).
        detector: ``"hog"``, ``"cnn"`` or ``"box"`` (landmarks fitted in a caller-given box).
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float
    detector: str

    @property
    def size(self) -> float:
        """Face size in pixels: the distance between the outer eye corners times 2.5, which tracks
        the face width and, unlike the detector box, is the same for HOG, CNN and given boxes."""
        return float(np.linalg.norm(self.landmarks[45] - self.landmarks[36]) * 2.5)


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Check an image array and return it as contiguous RGB uint8 ``H×W×3``.

    Greyscale ``H×W`` / ``H×W×1`` is repeated to three channels; an alpha channel is dropped.

    Raises:
        ValueError: for other dtypes or shapes.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image, got dtype {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) < 1:
        raise ValueError(f"expected an H×W×3 RGB image, got shape {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[..., :3]
    return np.ascontiguousarray(image)


def detect_faces(image: np.ndarray, detector: str = "hog", upscale: int = 1, adaptive: bool = True,
                 max_side: int | None = 2048, rotations: tuple[float, ...] = (-30.0, 30.0),
                 refine: bool = False) -> list[Detection]:
    """Find faces and fit 68 landmarks to each.

    Args:
        image: uint8 RGB ``H×W×3`` (greyscale and RGBA are accepted).
        detector: ``"hog"`` (fast, frontal) or ``"cnn"`` (dlib's MMOD CNN; slower, handles more pose).
        upscale: how many times the image is doubled before detection; each doubling halves the smallest
            findable face (HOG: ~80 px at 0, ~40 px at 1, ~20 px at 2).
        adaptive: search coarse to fine — a copy at most 1024 px on its longer side first (for larger images), then
            ``upscale`` 0, 1, … — and stop at the first pass that finds a face. Much faster on photos whose faces are
            large; set False to always search once at ``upscale`` (finds every small face, e.g. for ``all_faces``).
        max_side: images whose longer side exceeds this are downscaled for detection only (the landmarks are
            still fitted at full resolution); ``None`` disables it.
        rotations: angles in degrees (counter-clockwise) at which the image is searched again, in turn, when
            nothing is found upright — dlib's detectors only find faces within about ±30° of upright. The
            landmarks are fitted on the rotated image and mapped back. ``()`` disables it.
        refine: average the landmarks over a mirrored copy and jittered boxes (:func:`refine_landmarks`):
            steadier and slightly more accurate, ~14 more predictor runs (~20-40 ms) per face.

    Returns:
        Detections sorted by face size, largest first (empty if none).

    Raises:
        ValueError: for a bad image array, detector name or upscale.
        ModelFormatError: if a dlib model file is missing.
    """
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; expected one of {', '.join(DETECTORS)}")
    if not isinstance(upscale, (int, np.integer)) or not 0 <= upscale <= 4:
        raise ValueError(f"upscale must be an integer in 0..4, got {upscale!r}")
    image = as_rgb_uint8(image)
    dets = _detect_upright(image, detector, upscale, adaptive, max_side)
    for angle in () if dets else rotations:
        dets = _detect_rotated(image, float(angle), detector, upscale, adaptive, max_side)
        if dets:
            break
    if refine:
        dets = [Detection(d.box, refine_landmarks(image, d.landmarks), d.score, d.detector) for d in dets]
    dets.sort(key=lambda d: -d.size)
    return dets


#: The median dlib HOG box ``(x0, y0, x1, y1)`` in mean-face units (see :mod:`.meanface`), measured on 166
#: CelebA and swap_pair faces; lets the predictor be re-run in a detector-like box placed from landmarks.
HOG_BOX_IN_MEAN_FACE = (-0.51, -0.65, 0.51, 0.38)
# (dx, dy, scale) box jitters, as fractions of the box size, for refine_landmarks
_JITTERS = ((0.0, 0.0, 1.0), (0.04, 0.0, 1.0), (-0.04, 0.0, 1.0), (0.0, 0.04, 1.0), (0.0, -0.04, 1.0),
            (0.0, 0.0, 1.06), (0.0, 0.0, 0.94))


def landmark_box(landmarks68: np.ndarray) -> tuple[float, float, float, float]:
    """A dlib-HOG-like box ``(x0, y0, x1, y1)`` placed from 68 landmarks (axis-aligned, square)."""
    lm = np.asarray(landmarks68, dtype=np.float64)
    m = invert_affine(similarity_transform(lm[ALIGN_INDICES], MEAN_FACE[ALIGN_INDICES]))  # mean face -> image
    x0, y0, x1, y1 = HOG_BOX_IN_MEAN_FACE
    centre = m[:, :2] @ [(x0 + x1) / 2, (y0 + y1) / 2] + m[:, 2]
    half = np.sqrt(abs(np.linalg.det(m[:, :2]))) * (x1 - x0) / 2
    return (float(centre[0] - half), float(centre[1] - half), float(centre[0] + half), float(centre[1] + half))


def refine_landmarks(image: np.ndarray, landmarks68: np.ndarray, flip: bool = True, jitter: bool = True) -> np.ndarray:
    """Re-fit the 68 points in boxes placed from ``landmarks68`` and average them.

    The predictor's error depends on where its box sits; averaging over slightly shifted and scaled boxes and
    over the mirrored face (mapped back with :data:`~.meanface.FLIP_PERMUTATION`) cancels part of it.

    Args:
        image: uint8 RGB ``H×W×3``.
        landmarks68: initial ``68×2`` landmarks in the image's pixels.
        flip: also fit on the mirrored face.
        jitter: use 7 jittered boxes instead of 1.

    Returns:
        float32 ``68×2`` averaged landmarks.
    """
    image = as_rgb_uint8(image)
    x0, y0, x1, y1 = landmark_box(landmarks68)
    size = x1 - x0
    # work on a window around the face so that mirroring a large photo stays cheap
    h, w = image.shape[:2]
    wx0, wy0 = int(max(0, np.floor(x0 - size))), int(max(0, np.floor(y0 - size)))
    wx1, wy1 = int(min(w, np.ceil(x1 + size))), int(min(h, np.ceil(y1 + size)))
    if wx1 - wx0 < 2 or wy1 - wy0 < 2:
        return np.asarray(landmarks68, dtype=np.float32)
    window = np.ascontiguousarray(image[wy0:wy1, wx0:wx1])
    mirrored = np.ascontiguousarray(window[:, ::-1]) if flip else None
    ww = window.shape[1]
    fits = []
    for dx, dy, sc in _JITTERS if jitter else _JITTERS[:1]:
        cx, cy = (x0 + x1) / 2 + dx * size - wx0, (y0 + y1) / 2 + dy * size - wy0
        half = size * sc / 2
        box = (cx - half, cy - half, cx + half, cy + half)
        fits.append(fit_landmarks(window, box).landmarks.astype(np.float64))
        if mirrored is not None:
            pts = fit_landmarks(mirrored, (ww - 1 - box[2], box[1], ww - 1 - box[0], box[3])).landmarks.astype(np.float64)
            pts[:, 0] = ww - 1 - pts[:, 0]
            fits.append(pts[FLIP_PERMUTATION])
    return (np.mean(fits, axis=0) + [wx0, wy0]).astype(np.float32)


#: In adaptive mode, images larger than this (longer side) are first searched at this size.
COARSE_SIDE = 1024


def _detect_upright(image: np.ndarray, detector: str, upscale: int, adaptive: bool,
                    max_side: int | None) -> list[Detection]:
    long_side = max(image.shape[:2])
    base = 1.0 if max_side is None else min(1.0, max_side / long_side)
    if adaptive:
        # coarse to fine: a big photo's faces are usually big, so a small copy finds them at a fraction of the cost
        passes = [(COARSE_SIDE / long_side, 0)] if long_side * base > COARSE_SIDE else []
        passes += [(base, level) for level in range(upscale + 1)]
    else:
        passes = [(base, upscale)]
    resized: dict[float, np.ndarray] = {}
    for scale, level in passes:
        if scale not in resized:
            resized[scale] = _resize(image, scale)
        boxes = _run_detector(resized[scale], detector, int(level))
        if boxes:
            return [fit_landmarks(image, tuple(v / scale for v in box), score=score, detector=detector)
                    for box, score in boxes]
    return []


def _detect_rotated(image: np.ndarray, angle: float, detector: str, upscale: int, adaptive: bool,
                    max_side: int | None) -> list[Detection]:
    """Detect on the image rotated by ``angle`` (on an enlarged canvas) and map the results back."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    m[:, 2] += [(nw - w) / 2, (nh - h) / 2]
    rotated = cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    inv = cv2.invertAffineTransform(m)
    out = []
    for d in _detect_upright(rotated, detector, upscale, adaptive, max_side):
        lm = (d.landmarks.astype(np.float64) @ inv[:, :2].T + inv[:, 2]).astype(np.float32)
        x0, y0, x1, y1 = d.box
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]]) @ inv[:, :2].T + inv[:, 2]
        box = (*corners.min(axis=0).tolist(), *corners.max(axis=0).tolist())
        out.append(Detection(box=tuple(float(v) for v in box), landmarks=lm, score=d.score, detector=d.detector))
    return out


def fit_landmarks(image: np.ndarray, box: tuple[float, float, float, float], score: float = 0.0,
                  detector: str = "box") -> Detection:
    """Fit the 68-point predictor inside a given box.

    Used after detection, and directly on pre-aligned crops (e.g. CelebA) where a fixed box is known.

    Args:
        image: uint8 RGB ``H×W×3``.
        box: ``(x0, y0, x1, y1)`` in source pixels, framed like a dlib HOG box (brows to chin).
        score: stored as the detection score.
        detector: stored as the detection's detector name.

    Returns:
        The :class:`Detection` with landmarks in source pixels.

    Raises:
        ModelFormatError: if the predictor file is missing.
    """
    dlib = dlib_module()
    image = as_rgb_uint8(image)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    rect = dlib.rectangle(x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))
    predictor = get_model("landmarks68")
    with LOCK:
        shape = predictor(image, rect)
    pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(NUM_LANDMARKS)], dtype=np.float32)
    return Detection(box=(float(x0), float(y0), float(x1), float(y1)), landmarks=pts, score=float(score),
                     detector=detector)


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return image

    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _run_detector(image: np.ndarray, detector: str, upscale: int):
    model = get_model(detector)
    with LOCK:
        if detector == "hog":
            rects, scores, _ = model.run(image, upscale, 0.0)
            return [((r.left(), r.top(), r.right(), r.bottom()), float(s)) for r, s in zip(rects, scores)]
        found = model(image, upscale)
        return [((d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()), float(d.confidence)) for d in found]
