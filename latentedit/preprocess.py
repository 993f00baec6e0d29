"""The preprocessing contract: how a photo becomes model input, and model output becomes pixels.

One module owns every step a face crop goes through on its way into the model and back, so that the
crops a model is trained on (``extract``, the CelebA import, ``train``) and the crops it is used on
(the Editor, the app, video, ONNX) are made by the same code::

    photo  uint8 H×W×3 RGB, 68 landmarks (source pixels)
      -> align(image, landmarks, template, size)   crop uint8 S×S×3 RGB + affine 2×3 (source -> crop)
      -> to_model(crops)                           float32 N×3×S×S RGB in [-1, 1]
      -> model ...
      -> from_model(rgb)                           uint8 N×S×S×3 RGB

* **One resampler** (:func:`warp`): every source → crop warp (alignment, resizing aligned crops to the
  model, the frame side of paste-back) is a bicubic warp, supersampled ``k = ceil(1 / scale)`` times
  and area-averaged back to the crop (beyond :data:`MAX_SUPERSAMPLE`× the region the crop sees is
  area-averaged first), so a 1024-px face cut to 64 px is box-filtered instead of aliased. Pixels
  outside the image repeat the border.
* **One conversion** each way: ``x / 127.5 - 1`` in, ``round((clip(y, -1, 1) + 1) * 127.5)`` out (to the
  nearest integer), so ``from_model(to_model(x)) == x`` for every uint8 ``x``.
* **One landmark rescale** between crop sizes (:func:`rescale_landmarks`; pixel centres at integers).

:func:`preprocessing_block` describes the contract; it is written into every model's ``config.json``
and checked when the model is loaded (:func:`check_preprocessing`), so a model is never fed crops made
differently from the ones it learned from. Change any number here and bump
:data:`PREPROCESSING_VERSION`.
"""
from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import torch

from . import __version__
from .errors import ModelFormatError
from .landmarks import NUM_LANDMARKS

#: Version of the contract below. 1 is also what a ``config.json`` without a version means: models
#: written before the contract was recorded (see :func:`check_preprocessing`).
PREPROCESSING_VERSION = 1

#: Largest supersampling factor of :func:`warp`; stronger downscales are area-prescaled first.
MAX_SUPERSAMPLE = 8

#: Landmarks that drive the similarity fit: brows, nose, eyes and the mouth corners. The jaw (moves
#: with yaw and an open mouth) and the lips (move with expression) are left out so that expressions
#: do not shift the framing.
ALIGN_INDICES = np.array(list(range(17, 48)) + [48, 54], dtype=np.int64)

_INPUT_RANGE = [-1, 1]
_RECORDED = {"input_range": _INPUT_RANGE, "channel_order": "RGB", "layout": "NCHW", "dtype": "float32",
             "alignment": "whole face"}


class PreprocessingMismatchError(ModelFormatError):
    """A model's recorded preprocessing is not the contract this latentedit implements."""


# -- the record ---------------------------------------------------------------------------------------

def preprocessing_block(resolution: int) -> dict[str, Any]:
    """The ``preprocessing`` block of a model's ``config.json``.

    Args:
        resolution: the model's crop side ``S``.

    Returns:
        A JSON-serialisable dict: ``version`` (:data:`PREPROCESSING_VERSION`), the tensor contract
        (``resolution``, ``input_range``, ``channel_order``, ``layout``, ``dtype``), the face framing
        (``alignment``) and, for readers, how crops and conversions are made.
    """
    return {
        "version": PREPROCESSING_VERSION,
        "resolution": int(resolution),
        **{k: (list(v) if isinstance(v, list) else v) for k, v in _RECORDED.items()},
        "align_points": "dlib-68 brows, nose, eyes and mouth corners (17-47, 48, 54), least-squares similarity",
        "resampler": f"bicubic warp supersampled ceil(1/scale) times, area-averaged; beyond {MAX_SUPERSAMPLE}x "
                     f"the region seen is area-prescaled to {MAX_SUPERSAMPLE}x first; border replicated",
        "to_model": "uint8 NHWC -> x / 127.5 - 1, NCHW float32",
        "from_model": "round((clip(x, -1, 1) + 1) * 127.5) -> uint8 NHWC",
    }


def check_preprocessing(block: Any, resolution: int, where: str = "config.json") -> dict[str, Any]:
    """Check a model's recorded ``preprocessing`` block against this contract.

    A block without ``version`` (or a config without a block) comes from before the contract was
    recorded and reads as version 1: the shipped ``synthfaces64`` and every model trained until then.
    Their inference crops were already made by this resampler (the Editor's); their training crops
    were rendered at size (SynthFaces), or cut by the older ``align_face`` resampler (``extract``,
    ~1.1-1.3 grey levels mean difference at 64 px) or a blur-then-bilinear warp (CelebA import).

    Args:
        block: the ``"preprocessing"`` value of ``config.json`` (None when absent).
        resolution: the model architecture's resolution.
        where: the file, for messages.

    Returns:
        The block with its ``version`` filled in.

    Raises:
        PreprocessingMismatchError: naming the field and the fix, for another contract version, a
            resolution other than the architecture's, or a tensor contract (range, channel order,
            layout, dtype, framing) this latentedit does not feed.
    """
    if block is None:
        block = {}
    if not isinstance(block, dict):
        raise PreprocessingMismatchError(f"{where}: field 'preprocessing' must be a JSON object, got {block!r}")
    version = block.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PreprocessingMismatchError(f"{where}: field 'preprocessing.version' must be an integer ≥ 1, "
                                         f"got {version!r}")
    if version > PREPROCESSING_VERSION:
        raise PreprocessingMismatchError(
            f"{where}: the model was trained with preprocessing contract v{version}, newer than this latentedit "
            f"({__version__}) implements (v{PREPROCESSING_VERSION}); upgrade latentedit (pip install -U latentedit)")
    if version < PREPROCESSING_VERSION:
        raise PreprocessingMismatchError(
            f"{where}: the model was trained with preprocessing contract v{version}, but this latentedit makes "
            f"crops with v{PREPROCESSING_VERSION}, which the model never saw; re-extract its training faces "
            f"and retrain it (latentedit extract, latentedit train), or use the latentedit release named by "
            f"'library_version' in the same file")
    if "resolution" in block and block["resolution"] != resolution:
        raise PreprocessingMismatchError(
            f"{where}: field 'preprocessing.resolution' is {block['resolution']!r}, but the architecture "
            f"('model.resolution') is {resolution}; the file was edited or mixed with another model's — "
            f"restore the original config.json")
    for key, want in _RECORDED.items():
        if key in block and block[key] != want:
            raise PreprocessingMismatchError(
                f"{where}: field 'preprocessing.{key}' is {block[key]!r}, but latentedit feeds models {want!r} "
                f"(preprocessing contract v{PREPROCESSING_VERSION}); a model trained on other input cannot be "
                f"used as is — restore the original config.json, or retrain the model with latentedit")
    return {**block, "version": version}


# -- geometry -----------------------------------------------------------------------------------------

def similarity_transform(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` onto ``dst``.

    Closed-form solution (Umeyama 1991) without reflection.

    Args:
        src: ``N×2`` points.
        dst: ``N×2`` target points.
        weights: optional ``N`` non-negative weights.

    Returns:
        ``2×3`` float64 matrix ``M`` with ``dst ≈ M @ [x, y, 1]``.

    Raises:
        ValueError: for mismatched shapes or degenerate (coincident) points.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"expected two N×2 arrays with N ≥ 2, got {src.shape} and {dst.shape}")
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s = w @ src
    mu_d = w @ dst
    s = src - mu_s
    d = dst - mu_d
    var_s = float(w @ (s ** 2).sum(axis=1))
    if var_s <= 1e-12:
        raise ValueError("source points are all at one place; cannot fit a similarity transform")
    cov = (d * w[:, None]).T @ s  # (2, 2)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sig) @ sign)) / var_s
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def transform_points(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Apply a ``2×3`` affine to ``N×2`` points (float32 result)."""
    pts = np.asarray(points, dtype=np.float64)
    a = np.asarray(affine, dtype=np.float64)
    return (pts @ a[:, :2].T + a[:, 2]).astype(np.float32)


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """Inverse of a ``2×3`` affine (crop → source when given source → crop), float64."""
    a = np.asarray(affine, dtype=np.float64)
    inv = np.linalg.inv(a[:, :2])
    return np.concatenate([inv, -(inv @ a[:, 2])[:, None]], axis=1)


def check_affine(affine: np.ndarray) -> np.ndarray:
    """Validate a source→crop affine and return it as float64 ``2×3``.

    Args:
        affine: array-like of shape ``2×3`` (a ``3×3`` with last row ``[0, 0, 1]`` is accepted).

    Returns:
        float64 ``2×3`` array.

    Raises:
        ValueError: wrong shape, non-finite entries, or a singular (non-invertible) linear part.
    """
    a = np.asarray(affine, dtype=np.float64)
    if a.shape == (3, 3) and np.allclose(a[2], [0, 0, 1]):
        a = a[:2]
    if a.shape != (2, 3):
        raise ValueError(f"affine: expected a 2×3 matrix (source pixel → crop pixel), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("affine: contains NaN or infinite values")
    det = float(np.linalg.det(a[:, :2]))
    if abs(det) < 1e-10:
        raise ValueError(f"affine: linear part is singular (determinant {det:.3g}); cannot invert it")
    return a


def rescale_landmarks(points: np.ndarray, from_size: float, to_size: float) -> np.ndarray:
    """Landmarks of an ``from_size``-px crop in the pixels of the same crop at ``to_size`` px.

    Pixel centres sit at integers, so ``x' = (x + 0.5) · to_size / from_size − 0.5``.

    Args:
        points: ``…×2`` (x, y) pixel positions (e.g. ``68×2`` or ``N×68×2``).
        from_size: side of the crop the points are in.
        to_size: side of the crop they are wanted in.

    Returns:
        float32 array of the same shape.
    """
    pts = np.asarray(points, dtype=np.float64)
    return ((pts + 0.5) * (float(to_size) / float(from_size)) - 0.5).astype(np.float32)


# -- the resampler ------------------------------------------------------------------------------------

def supersample_factor(affine: np.ndarray) -> int:
    """How many times :func:`warp` supersamples for ``affine``: ``ceil(1 / scale)``, 1..MAX_SUPERSAMPLE.

    ``scale`` is the affine's smallest singular value (crop pixels per source pixel); scales within
    2 % of 1 or above are warped directly.
    """
    a = np.asarray(affine, dtype=np.float64)
    smallest = float(np.linalg.svd(a[:, :2], compute_uv=False).min())
    return int(min(MAX_SUPERSAMPLE, max(1, math.ceil(1.0 / max(smallest, 1e-6) - 0.02))))


def warp(image: np.ndarray, affine: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resample ``image`` into a crop through a source → crop affine, anti-aliased.

    The crop is warped bicubically at ``k×`` its size (``k`` = :func:`supersample_factor`) and
    area-averaged back, i.e. each crop pixel is (close to) the mean of the source area it covers;
    upscales and scales near 1 are one bicubic warp. A downscale beyond :data:`MAX_SUPERSAMPLE`×
    (a 1024-px face cut to 64 px) first area-averages the part of the image the crop sees down to
    ``MAX_SUPERSAMPLE``× the crop's pixel density. Crop pixels outside the image repeat its border.

    Args:
        image: ``H×W×3`` (or ``H×W``) array, uint8 RGB or float; the result has its dtype.
        affine: ``2×3`` matrix mapping source pixel ``(x, y, 1)`` to crop pixel (pixel centres at
            integers, cv2's convention).
        size: crop side ``S``, or ``(width, height)``.

    Returns:
        ``S×S×3`` (``height×width×3``) array of ``image``'s dtype.

    Raises:
        ValueError: for a bad image, affine or size.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)) or min(image.shape[:2]) < 1:
        raise ValueError(f"image: expected H×W×3, got shape {image.shape}")
    width, height = (size, size) if np.isscalar(size) else tuple(size)
    if int(width) != width or int(height) != height or width < 2 or height < 2:
        raise ValueError(f"size: expected an integer >= 2 (or a (width, height) pair), got {size!r}")
    width, height = int(width), int(height)
    a = check_affine(affine)
    src = np.ascontiguousarray(image)
    smallest = float(np.linalg.svd(a[:, :2], compute_uv=False).min())
    if smallest * MAX_SUPERSAMPLE < 1.0:
        src, a = _area_prescale(src, a, width, height, MAX_SUPERSAMPLE * smallest)
    k = supersample_factor(a)
    if k == 1:
        return cv2.warpAffine(src, a, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    big = a * k
    big[:, 2] += (k - 1) / 2.0  # big-crop pixel = k·(crop pixel + 0.5) − 0.5
    fine = cv2.warpAffine(src, big, (width * k, height * k), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(fine, (width, height), interpolation=cv2.INTER_AREA)


def _area_prescale(image: np.ndarray, a: np.ndarray, width: int, height: int,
                   factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut the part of ``image`` a ``width×height`` crop sees (plus a margin for the bicubic kernel) and
    area-resize it by ``factor`` (< 1). Returns the resized region and the affine from it to the crop."""
    h, w = image.shape[:2]
    corners = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [-0.5, height - 0.5], [width - 0.5, height - 0.5]])
    seen = transform_points(corners, invert_affine(a)).astype(np.float64)
    margin = 4.0 / factor  # 4 resized pixels
    x0 = int(np.clip(np.floor(seen[:, 0].min() - margin), 0, w - 1))
    y0 = int(np.clip(np.floor(seen[:, 1].min() - margin), 0, h - 1))
    x1 = int(np.clip(np.ceil(seen[:, 0].max() + margin), x0 + 1, w))
    y1 = int(np.clip(np.ceil(seen[:, 1].max() + margin), y0 + 1, h))
    out_w, out_h = max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor))
    small = cv2.resize(np.ascontiguousarray(image[y0:y1, x0:x1]), (out_w, out_h), interpolation=cv2.INTER_AREA)
    fx, fy = out_w / (x1 - x0), out_h / (y1 - y0)
    # pixel centres at integers: resized coordinate = (source - x0 + 0.5) · f − 0.5
    to_small = np.array([[fx, 0.0, (0.5 - x0) * fx - 0.5], [0.0, fy, (0.5 - y0) * fy - 0.5], [0.0, 0.0, 1.0]])
    return small, (np.vstack([a, [0.0, 0.0, 1.0]]) @ np.linalg.inv(to_small))[:2]


def resize(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize an image (an aligned crop to the model resolution, a photo for display).

    The axis-aligned case of :func:`warp`: a shrink is the exact area average (cv2's ``INTER_AREA``,
    the box filter :func:`warp` approximates by supersampling, and byte-identical to it for integer
    factors such as 256 → 64 px); anything else is :func:`warp` with the scaling affine.

    Args:
        image: ``H×W×3`` uint8 RGB (or float) image.
        size: output side ``S`` or ``(width, height)``.

    Returns:
        The resized image (a contiguous copy when it already has that size).
    """
    image = np.asarray(image)
    h, w = image.shape[:2]
    width, height = (size, size) if np.isscalar(size) else tuple(size)
    width, height = int(width), int(height)
    if (w, h) == (width, height):
        return np.ascontiguousarray(image).copy()
    sx, sy = width / w, height / h
    if sx <= 1 and sy <= 1:
        return cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=cv2.INTER_AREA)
    affine = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])
    return warp(image, affine, (width, height))


def align(image: np.ndarray, landmarks: np.ndarray, template: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut the aligned face crop: the similarity that puts ``landmarks`` onto ``template``, then :func:`warp`.

    Training crops (``extract``) and inference crops (the Editor) both come from here, so the same
    photo and landmarks give byte-identical crops.

    Args:
        image: uint8 RGB ``H×W×3`` source image.
        landmarks: ``68×2`` dlib-order landmarks in source pixels.
        template: ``68×2`` landmarks in the pixels of a ``size×size`` crop where the face should land
            (e.g. :func:`latentedit.faces.canonical_landmarks` or a model's alignment template); only
            :data:`ALIGN_INDICES` drive the fit.
        size: crop side ``S``.

    Returns:
        ``(crop, affine)``: uint8 ``S×S×3`` RGB crop and the float32 ``2×3`` source → crop affine it was
        warped with (``crop == warp(image, affine, size)``).

    Raises:
        ValueError: for a bad image, non-finite or mis-shaped landmarks/template, or a bad size.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image: expected uint8 H×W×3 RGB, got {image.dtype} {image.shape}")
    for name, pts in (("landmarks", landmarks), ("template", template)):
        arr = np.asarray(pts, dtype=np.float64)
        if arr.shape != (NUM_LANDMARKS, 2) or not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: expected 68×2 finite points, got shape {arr.shape}")
    lm = np.asarray(landmarks, dtype=np.float64)
    tp = np.asarray(template, dtype=np.float64)
    affine = similarity_transform(lm[ALIGN_INDICES], tp[ALIGN_INDICES]).astype(np.float32)
    return warp(image, affine, size), affine


# -- conversions --------------------------------------------------------------------------------------

def to_model(crops, device=None):
    """uint8 RGB crops → model input.

    Args:
        crops: uint8 ``N×H×W×3`` or ``H×W×3`` RGB (numpy array or torch tensor).
        device: optional torch device to convert on.

    Returns:
        contiguous float32 torch tensor ``N×3×H×W`` (RGB, NCHW) in [-1, 1]: ``x / 127.5 - 1``.

    Raises:
        ValueError: for another dtype or shape.
    """
    x = crops if isinstance(crops, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(crops))
    if x.dtype != torch.uint8:
        raise ValueError(f"to_model: expected uint8 crops (0..255), got {x.dtype}; a float image in [0, 1] "
                         f"needs (x * 255).round() first")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"to_model: expected N×H×W×3 or H×W×3 RGB crops, got shape {tuple(x.shape)}")
    if device is not None:
        x = x.to(device)
    return x.permute(0, 3, 1, 2).contiguous().float().div_(127.5).sub_(1.0)


def from_model(rgb) -> np.ndarray:
    """Model RGB output → uint8 crops (the inverse of :func:`to_model`).

    Args:
        rgb: float tensor (or array) ``N×3×S×S`` or ``3×S×S``, RGB, nominally in [-1, 1].

    Returns:
        uint8 numpy ``N×S×S×3`` (``S×S×3`` for a single image): ``(clip(x, -1, 1) + 1) · 127.5``
        rounded to the nearest integer (``torch.round``: the one tie, 0.0 → 127.5, goes to 128).

    Raises:
        ValueError: for a shape without 3 channels first.
    """
    x = torch.as_tensor(rgb).detach()
    if x.ndim not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"from_model: expected N×3×S×S or 3×S×S RGB, got shape {tuple(x.shape)}")
    x = ((x.float().cpu().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    x = x.permute(1, 2, 0) if x.ndim == 3 else x.permute(0, 2, 3, 1)
    return np.ascontiguousarray(x.numpy())


def to_unit(image: np.ndarray) -> np.ndarray:
    """uint8 image (or mask) → float32 in [0, 1] (``x / 255``), the float contract of the merge code.

    Args:
        image: uint8 array of any shape.

    Returns:
        float32 array of the same shape.

    Raises:
        ValueError: if ``image`` is not uint8.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"to_unit: expected uint8, got {image.dtype}")
    return image.astype(np.float32) / 255.0
