"""Measurements of :mod:`latentedit.eval.bench.realedit`, made with dlib on the output photos only.

Nothing here knows the model under test: a face is found and its 68 landmarks fitted on the edited
photo itself, its identity is dlib's descriptor, and the pixel measures compare photos.

* **mouth ratio** — mouth width (corners 48–54) over the interocular distance (centres of 36–41 and
  42–47): a smile widens the mouth, and the ratio does not depend on the face's size in the photo.
* **reach** — how far an edit moved the mouth ratio towards the person's real smile:
  ``(ratio(edit) − ratio(neutral)) / (ratio(smiling) − ratio(neutral))``; 1 = as wide as the real smile.
* **sharpness** — variance of the Laplacian of the grey image inside a face box.
* **outside change** — mean absolute difference (0..255, all channels) outside a face box enlarged
  about its centre; an edit of the face should leave the rest of the photo alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...errors import NoFaceError
from ...faces import compute_descriptor, detect_faces, fit_landmarks, refine_landmarks

#: A person whose real smile widens the mouth ratio by no more than this has no reach denominator.
MIN_REACH_DENOMINATOR = 0.01
#: The face box is enlarged by this factor (about its centre) before "outside" starts.
OUTSIDE_SCALE = 1.5


def interocular(landmarks: np.ndarray) -> float:
    """Distance between the eye centres (means of points 36–41 and 42–47) of ``68×2`` landmarks."""
    lm = np.asarray(landmarks, np.float64)
    return float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))


def mouth_ratio(landmarks: np.ndarray) -> float:
    """Mouth width (points 48 to 54) over the interocular distance.

    Raises:
        ValueError: if the eye centres coincide (degenerate landmarks).
    """
    lm = np.asarray(landmarks, np.float64)
    eyes = interocular(lm)
    if not eyes > 1e-6:
        raise ValueError("degenerate landmarks: the eye centres coincide")
    return float(np.linalg.norm(lm[54] - lm[48]) / eyes)


def reach(edit: float, neutral: float, smiling: float,
          min_denominator: float = MIN_REACH_DENOMINATOR) -> float | None:
    """How far an edit moved a measure from the neutral photo's value towards the real smile's.

    Args:
        edit, neutral, smiling: the measure (e.g. :func:`mouth_ratio`) on the edited photo, the
            neutral photo and the person's real smiling photo.
        min_denominator: the real smile must raise the measure by more than this, else the person
            says nothing about a smile edit.

    Returns:
        ``(edit − neutral) / (smiling − neutral)``, or None when ``smiling − neutral ≤ min_denominator``.
    """
    denominator = smiling - neutral
    if not denominator > min_denominator:
        return None
    return float((edit - neutral) / denominator)


def enlarge_box(box, scale: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """``box`` ``(x0, y0, x1, y1)`` scaled about its centre, rounded outwards and clipped to ``shape``'s ``H×W``."""
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * scale / 2, (y1 - y0) * scale / 2
    h, w = shape[:2]
    return (int(max(0, np.floor(cx - hw))), int(max(0, np.floor(cy - hh))),
            int(min(w, np.ceil(cx + hw))), int(min(h, np.ceil(cy + hh))))


def sharpness(image: np.ndarray, box) -> float:
    """Variance of the Laplacian of the grey ``image`` (uint8 RGB) inside ``box``."""
    x0, y0, x1, y1 = enlarge_box(box, 1.0, image.shape)
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def outside_change(edited: np.ndarray, original: np.ndarray, box, scale: float = OUTSIDE_SCALE) -> float:
    """Mean absolute change (0..255, all channels) of the pixels outside ``box`` enlarged by ``scale``.

    Raises:
        ValueError: if the images differ in shape.
    """
    if edited.shape != original.shape:
        raise ValueError(f"images differ in shape: {edited.shape} vs {original.shape}")
    x0, y0, x1, y1 = enlarge_box(box, scale, original.shape)
    outside = np.ones(original.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    if not outside.any():
        return 0.0
    diff = np.abs(edited.astype(np.int16) - original.astype(np.int16))
    return float(diff[outside].mean())


@dataclass
class FaceMeasure:
    """The largest face of a photo as dlib sees it.

    Attributes:
        box: detector box ``(x0, y0, x1, y1)`` in photo pixels (the fallback box when ``fallback``).
        landmarks: ``68×2`` refined landmarks in photo pixels.
        descriptor: dlib's 128-d identity descriptor.
        fallback: True when no face was detected and the landmarks were fitted in a given box.
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    descriptor: np.ndarray
    fallback: bool = False

    @property
    def mouth_ratio(self) -> float:
        """:func:`mouth_ratio` of the landmarks."""
        return mouth_ratio(self.landmarks)


def measure_face(image: np.ndarray, fallback_box=None) -> FaceMeasure:
    """Detect the largest face (dlib HOG), fit and refine its 68 landmarks, compute its descriptor.

    Args:
        image: uint8 RGB ``H×W×3``.
        fallback_box: box to fit the landmarks in when nothing is detected (e.g. the neutral photo's);
            None = raise instead.

    Raises:
        NoFaceError: no face detected and no ``fallback_box``.
    """
    dets = detect_faces(image, refine=True)
    if dets:
        box, lm, fallback = dets[0].box, dets[0].landmarks, False
    elif fallback_box is not None:
        box, fallback = tuple(float(v) for v in fallback_box), True
        lm = refine_landmarks(image, fit_landmarks(image, box).landmarks)
    else:
        raise NoFaceError("no face found")
    return FaceMeasure(box=tuple(float(v) for v in box), landmarks=lm,
                       descriptor=compute_descriptor(image, lm), fallback=fallback)


def face_crop(image: np.ndarray, box, size: int = 256, scale: float = 1.3) -> np.ndarray:
    """A square ``size×size`` crop around ``box`` enlarged by ``scale`` (edge pixels repeated past the photo)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0) * scale
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    k = size / side
    affine = np.array([[k, 0, size / 2 - k * cx], [0, k, size / 2 - k * cy]], np.float64)
    return cv2.warpAffine(image, affine, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


# -- SynthFaces: one landmark feature per edited attribute -----------------------------------------

def landmark_feature(attribute: str, landmarks: np.ndarray) -> float:
    """The landmark measure an attribute moves, in interocular units (larger = more of it).

    ``smile``: mouth corners (48, 54) above the lip centre (51, 57); ``mouth_open``: inner-lip gap
    (62–66); ``eye_open``: eye opening (mean of 37–41 and 38–40, both eyes); ``brow_raise``: brows
    (17–26) above the eye centres; ``nose_length``: nose tip (33) below the bridge top (27).

    Raises:
        KeyError: for another attribute.
    """
    lm = np.asarray(landmarks, np.float64)
    eyes = interocular(lm)
    y = lm[:, 1]
    if attribute == "smile":
        value = (y[51] + y[57]) / 2 - (y[48] + y[54]) / 2
    elif attribute == "mouth_open":
        value = y[66] - y[62]
    elif attribute == "eye_open":
        value = np.mean([y[41] - y[37], y[40] - y[38], y[47] - y[43], y[46] - y[44]])
    elif attribute == "brow_raise":
        value = (y[36:48].mean() - y[17:27].mean())
    elif attribute == "nose_length":
        value = y[33] - y[27]
    else:
        raise KeyError(f"no landmark feature for attribute {attribute!r}")
    return float(value / eyes)
