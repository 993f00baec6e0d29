"""dlib's 128-d identity descriptor and the distance between descriptors."""
from __future__ import annotations

import numpy as np

from ..landmarks import NUM_LANDMARKS
from .detect import as_rgb_uint8
from .models import LOCK, dlib_module, get_model

#: dlib's recommended same-person threshold for Euclidean distance between descriptors.
SAME_PERSON_THRESHOLD = 0.6


def _shape(landmarks68: np.ndarray):
    dlib = dlib_module()
    lm = np.asarray(landmarks68, dtype=np.float64)
    if lm.shape != (NUM_LANDMARKS, 2) or not np.all(np.isfinite(lm)):
        raise ValueError(f"expected 68×2 finite landmarks, got shape {lm.shape}")
    x0, y0 = np.floor(lm.min(axis=0)).astype(int)
    x1, y1 = np.ceil(lm.max(axis=0)).astype(int)
    rect = dlib.rectangle(int(x0), int(y0), int(max(x1, x0 + 1)), int(max(y1, y0 + 1)))
    return dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in lm])


def compute_descriptor(image: np.ndarray, landmarks68_source: np.ndarray, jitter: int = 0) -> np.ndarray:
    """The 128-d dlib ResNet identity descriptor of one face.

    Args:
        image: uint8 RGB ``H×W×3`` source image.
        landmarks68_source: ``68×2`` landmarks in the image's pixels.
        jitter: extra randomly jittered copies averaged in (dlib's ``num_jitters``; slower, slightly better).

    Returns:
        float32 ``(128,)`` descriptor (unit-scale; compare with :func:`identity_distance`).

    Raises:
        ValueError: for bad landmarks or image.
        ModelFormatError: if the model file is missing.
    """
    return compute_descriptors(image, [landmarks68_source], jitter=jitter)[0]


def compute_descriptors(image: np.ndarray, landmark_sets, jitter: int = 0) -> np.ndarray:
    """Descriptors of several faces in one image (one network batch).

    Returns:
        float32 ``N×128``.
    """
    image = as_rgb_uint8(image)
    dlib = dlib_module()
    shapes = dlib.full_object_detections()
    for lm in landmark_sets:
        shapes.append(_shape(lm))
    if len(shapes) == 0:
        return np.zeros((0, 128), dtype=np.float32)
    net = get_model("descriptor")
    with LOCK:
        out = net.compute_face_descriptor(image, shapes, int(jitter))
    return np.array([np.array(d) for d in out], dtype=np.float32)


def identity_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Euclidean distance between dlib descriptors (``< 0.6`` ≈ the same person).

    Args:
        a: ``(128,)`` or ``(N, 128)`` descriptors.
        b: ``(128,)`` or ``(N, 128)``; broadcast against ``a``.

    Returns:
        A float for two single descriptors, else a float32 array of distances.

    Raises:
        ValueError: if the last dimension is not 128 or the shapes do not broadcast.
    """
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.shape[-1:] != (128,) or b.shape[-1:] != (128,):
        raise ValueError(f"descriptors must have 128 values in the last dimension, got {a.shape} and {b.shape}")
    try:
        d = np.linalg.norm(a - b, axis=-1)
    except ValueError:
        raise ValueError(f"descriptor shapes {a.shape} and {b.shape} do not broadcast") from None
    return float(d) if d.ndim == 0 else d.astype(np.float32)


def same_person(a: np.ndarray, b: np.ndarray, threshold: float = SAME_PERSON_THRESHOLD) -> np.ndarray | bool:
    """Whether descriptors belong to the same person (distance below ``threshold``).

    Returns:
        A bool for two single descriptors, else a bool array.
    """
    d = identity_distance(a, b)
    return bool(d < threshold) if isinstance(d, float) else d < threshold
