"""68-point landmarks on CelebA's small aligned crops (89×109 or 178×218), with a fallback chain.

dlib's HOG detector misses faces that touch the image border or are under ~80 px, which is the
normal case for CelebA's tightly cropped images. :func:`celeba_landmarks` therefore pads each image,
upscales it, and tries in turn: HOG, HOG with one more doubling, dlib's CNN detector (slow, so last), and
— since CelebA images are aligned — a fixed box (the median of the boxes found so far) in which the
landmark predictor is run directly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from tqdm import tqdm

from .._io import read_image
from .detect import detect_faces, fit_landmarks, refine_landmarks
from .meanface import build_mean_face

#: Fallback stages, in order.
METHODS = ("hog", "hog_up", "cnn", "fixed_box")


def _prepare(image: np.ndarray, pad: float, factor: int) -> tuple[np.ndarray, float, float]:
    h, w = image.shape[:2]
    p = int(round(pad * max(h, w)))
    padded = cv2.copyMakeBorder(image, p, p, p, p, cv2.BORDER_REPLICATE)
    big = cv2.resize(padded, (padded.shape[1] * factor, padded.shape[0] * factor), interpolation=cv2.INTER_CUBIC)
    return big, float(p), float(factor)


def _pick(dets, shape) -> object | None:
    if not dets:
        return None
    cy, cx = shape[0] / 2, shape[1] / 2
    # the biggest face near the centre: CelebA crops are centred on the labelled face
    return max(dets, key=lambda d: d.size - 0.5 * np.hypot(d.landmarks[:, 0].mean() - cx, d.landmarks[:, 1].mean() - cy))


def detect_one(image: np.ndarray, factor: int = 4, pad: float = 0.25, cnn: bool = True, refine: bool = True):
    """Run the detector stages (HOG, HOG with one more doubling, CNN) on one CelebA image.

    Returns:
        ``(landmarks 68×2 float32, method index, box)`` in the image's pixels, or None if no stage finds a face.
    """
    stages = (("hog", 0, factor), ("hog", 1, factor), ("cnn", 0, 2))
    for m, (kind, up, f) in enumerate(stages if cnn else stages[:2]):
        # the CNN is slow: it runs on a 2x image, where it still finds CelebA's faces
        work, p, scale = _prepare(image, pad, f)
        det = _pick(detect_faces(work, detector=kind, upscale=up, adaptive=False, rotations=()), work.shape)
        if det is not None:
            lm = refine_landmarks(work, det.landmarks) if refine else det.landmarks
            return lm / scale - p, m, tuple(v / scale - p for v in det.box)
    return None


def celeba_landmarks(paths: Sequence[str | Path], factor: int = 4, pad: float = 0.25, cnn: bool = True,
                     refine: bool = True, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks for aligned CelebA images.

    Args:
        paths: image files (all the same size).
        factor: integer upscale before detection (bicubic).
        pad: border added on each side before upscaling, as a fraction of the longer side.
        cnn: include the CNN stage (~1-2 s per image it runs on).
        refine: average the landmarks over mirrored and jittered fits (:func:`~.detect.refine_landmarks`).
        progress: show a progress bar.

    Returns:
        ``(landmarks N×68×2 float32 in the original image's pixels, method index N int8)`` where
        ``METHODS[method]`` says which stage found the face.

    Raises:
        ImageReadError: if an image cannot be read.
    """
    n = len(paths)
    lms = np.zeros((n, 68, 2), dtype=np.float32)
    method = np.full(n, -1, dtype=np.int8)
    boxes: list[tuple[float, float, float, float]] = []
    missed: list[int] = []
    for i, path in enumerate(tqdm(paths, desc="celeba landmarks", disable=not progress, unit="img")):
        found = detect_one(read_image(path), factor, pad, cnn, refine)
        if found is None:
            missed.append(i)
            continue
        lms[i], method[i], box = found
        if method[i] < 2:  # the fixed box imitates HOG's framing, so only HOG boxes go into its median
            boxes.append(box)
    if missed:
        box = np.median(np.array(boxes), axis=0) if boxes else None
        for i in missed:
            big, p, f = _prepare(read_image(paths[i]), pad, factor)
            if box is None:  # nothing found anywhere: frame the centre of the image
                h, w = big.shape[:2]
                b = (w * 0.3, h * 0.35, w * 0.7, h * 0.75)
            else:
                b = tuple((v + p) * f for v in box)
            lm = fit_landmarks(big, b).landmarks
            lms[i] = (refine_landmarks(big, lm) if refine else lm) / f - p
            method[i] = METHODS.index("fixed_box")
    return lms, method


def _collect_celeba(folder: Path, limit: int) -> np.ndarray:
    sets = []
    for path in sorted(folder.glob("*.jpg"))[:limit]:
        img = read_image(path)
        big = cv2.resize(img, (img.shape[1] * 4, img.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
        dets = detect_faces(big, upscale=0)
        if dets:
            sets.append(dets[0].landmarks)
    return np.stack(sets)


def mean_face_source(images_dir: str | Path, limit: int = 1500) -> str:  # pragma: no cover - maintainers only
    """Recompute :data:`MEAN_FACE` from the ``*.jpg`` faces in ``images_dir`` and return it as Python
    source, to paste over ``MEAN_FACE`` in :mod:`latentedit.faces.meanface` (a maintainer's tool; nothing calls it)::

        python -c "from latentedit.faces.celeba_landmarks import mean_face_source; print(mean_face_source('../shared/data/celeba10k/images'))"

    Args:
        images_dir: folder of face photos (CelebA's aligned images were used).
        limit: photos read (the first ``limit`` in name order).

    Returns:
        ``# from N faces`` then the ``MEAN_FACE = np.array([...], dtype=np.float32)`` assignment.
    """
    data = _collect_celeba(Path(images_dir), limit)
    rows = [f"    [{x:+.5f}, {y:+.5f}]," for x, y in build_mean_face(data)]
    return "\n".join([f"# from {len(data)} faces", "MEAN_FACE = np.array([", *rows, "], dtype=np.float32)"])
