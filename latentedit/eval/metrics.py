"""Image-quality and face metrics that do not depend on any model under test: PSNR, SSIM, LPIPS
distance, summaries, and dlib landmark/identity measures of face crops.

Contracts: image batches are ``torch.float32`` ``N×3×H×W`` (a single ``3×H×W`` image is accepted and
treated as a batch of one). Callers state the value range explicitly with ``data_range``: ``1.0`` for
images in [0, 1], ``2.0`` for images in [-1, 1], ``255.0`` for 0..255 values.

The LPIPS network itself is built by :func:`latentedit.train.lpips.load_lpips` (product code: the optional
training loss uses it too); it is re-exported here for the benchmarks. Nothing is ever downloaded.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..faces import canonical_landmarks, compute_descriptors, detect_faces, fit_landmarks, landmark_scores_batch
from ..preprocess import rescale_landmarks, resize
from ..train.lpips import load_lpips

__all__ = ["FaceMeasures", "gaussian_window", "load_lpips", "lpips_distance", "measure_faces", "psnr", "ssim",
           "summarize"]


def _as_batch(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"{name} must be N×C×H×W or C×H×W, got shape {tuple(x.shape)}")
    return x.float()


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _as_batch(a, "a"), _as_batch(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return a, b.to(a.device)


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, in dB.

    Args:
        a: images ``N×C×H×W`` (or ``C×H×W``).
        b: images of the same shape.
        data_range: peak-to-peak range of the values (1.0 for [0, 1], 2.0 for [-1, 1]).

    Returns:
        ``float32`` tensor ``(N,)``; ``inf`` where the images are identical.

    Raises:
        ValueError: if the shapes differ or are not image batches.
    """
    a, b = _check_pair(a, b)
    mse = (a - b).pow(2).flatten(1).mean(1)
    return (10.0 * torch.log10(data_range ** 2 / mse)).float()


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Normalised 1-D Gaussian window of ``size`` taps (the classic SSIM window: 11 taps, σ = 1.5)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return (g / g.sum()).float()


def _blur(x: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    # Separable "valid" Gaussian filter, one group per channel.  # (N, C, H, W) -> (N, C, H-k+1, W-k+1)
    c = x.shape[1]
    k = win.numel()
    wx = win.view(1, 1, 1, k).repeat(c, 1, 1, 1)
    wy = win.view(1, 1, k, 1).repeat(c, 1, 1, 1)
    return F.conv2d(F.conv2d(x, wx, groups=c), wy, groups=c)


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, window: int = 11,
         sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) with a Gaussian window, per image.

    The SSIM map is computed over every fully-covered window position ("valid" filtering, as in
    scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)``) and averaged over positions and channels. Images smaller than
    the window use the largest odd window that fits.

    Args:
        a: images ``N×C×H×W`` (or ``C×H×W``).
        b: images of the same shape.
        data_range: peak-to-peak range of the values (1.0 for [0, 1], 2.0 for [-1, 1]).
        window: window size in pixels (odd).
        sigma: standard deviation of the Gaussian window.
        k1: luminance stabiliser constant.
        k2: contrast stabiliser constant.

    Returns:
        ``float32`` tensor ``(N,)``; exactly 1 where the images are identical.

    Raises:
        ValueError: if the shapes differ or are not image batches.
    """
    a, b = _check_pair(a, b)
    size = min(window, a.shape[-1], a.shape[-2])
    size -= 1 - size % 2
    win = gaussian_window(size, sigma).to(a.device)
    a64, b64 = a.double(), b.double()
    win = win.double()
    mu_a, mu_b = _blur(a64, win), _blur(b64, win)
    saa = _blur(a64 * a64, win) - mu_a ** 2
    sbb = _blur(b64 * b64, win) - mu_b ** 2
    sab = _blur(a64 * b64, win) - mu_a * mu_b
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    smap = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))
    return smap.flatten(1).mean(1).float()


def lpips_distance(a: torch.Tensor, b: torch.Tensor, model=None, data_range: float = 2.0,
                   batch_size: int = 64) -> torch.Tensor:
    """LPIPS distance per image pair (lower = more similar).

    Args:
        a: images ``N×3×H×W`` (or ``3×H×W``).
        b: images of the same shape.
        model: a module from :func:`load_lpips` (built with default paths when None).
        data_range: 2.0 for inputs in [-1, 1] (the LPIPS convention), 1.0 for inputs in [0, 1].
        batch_size: pairs per forward pass.

    Returns:
        ``float32`` tensor ``(N,)`` on the CPU.

    Raises:
        ValueError: if the shapes differ or images have fewer than 3 channels.
        LatentEditError: if ``model`` is None and the weights cannot be found.
    """
    a, b = _check_pair(a, b)
    if a.shape[1] != 3:
        raise ValueError(f"LPIPS needs RGB images (3 channels), got {a.shape[1]}")
    if model is None:
        model = load_lpips()
    dev = next(model.parameters()).device
    if data_range == 1.0:
        a, b = a * 2 - 1, b * 2 - 1
    elif data_range != 2.0:
        raise ValueError(f"data_range must be 1.0 ([0, 1] images) or 2.0 ([-1, 1] images), got {data_range}")
    out = []
    with torch.no_grad():
        for i in range(0, a.shape[0], batch_size):
            d = model(a[i:i + batch_size].to(dev), b[i:i + batch_size].to(dev))
            out.append(d.flatten().float().cpu())
    return torch.cat(out) if out else torch.zeros(0)


def summarize(values: Sequence[float] | torch.Tensor) -> dict[str, float]:
    """Mean, std and count of finite values (``inf`` PSNR of identical pairs is counted apart).

    Returns:
        ``{"mean", "std", "n", "n_inf"}`` (mean/std NaN when no finite value).
    """
    t = torch.as_tensor(values, dtype=torch.float64).flatten()
    finite = t[torch.isfinite(t)]
    n_inf = int(torch.isinf(t).sum())
    if finite.numel() == 0:
        return {"mean": math.nan, "std": math.nan, "n": int(t.numel()), "n_inf": n_inf}
    std = float(finite.std(unbiased=False)) if finite.numel() > 1 else 0.0
    return {"mean": float(finite.mean()), "std": std, "n": int(t.numel()), "n_inf": n_inf}


def temporal_flicker(frames_in: Sequence[np.ndarray], frames_out: Sequence[np.ndarray],
                     box: tuple[int, int, int, int]) -> dict[str, float]:
    """Frame-to-frame change of an edited clip inside ``box`` against the input clip's own.

    Args:
        frames_in, frames_out: the same number (≥ 2) of uint8 ``H×W×3`` frames.
        box: ``(x0, y0, x1, y1)`` region measured (e.g. the face box).

    Returns:
        ``{"input", "output", "ratio"}``: mean absolute change between consecutive frames (0..255)
        of each clip, and output / input (1 = the edit adds no flicker of its own).

    Raises:
        ValueError: fewer than two frames, or clips of different lengths.
    """
    if len(frames_in) != len(frames_out) or len(frames_in) < 2:
        raise ValueError(f"temporal_flicker: needs two clips of the same length ≥ 2, got {len(frames_in)} and "
                         f"{len(frames_out)}")
    x0, y0, x1, y1 = box

    def change(frames):
        f = np.stack([np.asarray(fr)[y0:y1, x0:x1].astype(np.float32) for fr in frames])
        return float(np.abs(np.diff(f, axis=0)).mean())

    a, b = change(frames_in), change(frames_out)
    return {"input": a, "output": b, "ratio": b / a if a > 0 else math.inf}


# -- real-face measures (dlib landmarks + identity descriptor) ------------------------------------

@dataclass
class FaceMeasures:
    """Landmark scores and identity descriptors measured on aligned face crops.

    Attributes:
        scores: ``{name: float64 (N,)}`` from :func:`latentedit.faces.landmark_scores_batch`.
        descriptors: float32 ``N×128`` dlib identity descriptors.
        landmarks: float32 ``N×68×2`` in the pixels of the crops as given.
        detected: bool ``(N,)``; True where the HOG detector found the face, False where the
            landmarks were fitted in the fixed box of an aligned crop instead.
    """

    scores: dict[str, np.ndarray]
    descriptors: np.ndarray
    landmarks: np.ndarray
    detected: np.ndarray


def measure_faces(crops: np.ndarray, work_size: int = 256, progress: bool = False) -> FaceMeasures:
    """Measure aligned face crops with dlib: 68 landmarks, landmark scores and identity descriptors.

    Small crops (decoded faces are often 64 px) are upscaled to ``work_size`` (bicubic) first; the
    HOG detector is tried on each crop and, where it misses, the landmark predictor runs in the
    box where an aligned crop's face must be (from the canonical mean face of
    :func:`latentedit.faces.canonical_landmarks`). Independent of any model under test.

    Args:
        crops: uint8 ``N×S×S×3`` aligned RGB crops.
        work_size: side the crops are resized to before dlib sees them.
        progress: show a progress bar.

    Returns:
        :class:`FaceMeasures` (landmarks in the input crops' pixels).

    Raises:
        ValueError: if ``crops`` is not uint8 ``N×S×S×3``.
        ModelFormatError: if dlib's model files are missing.
    """
    crops = np.asarray(crops)
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[-1] != 3:
        raise ValueError(f"crops must be uint8 N×S×S×3, got {crops.dtype} {crops.shape}")
    n, s = crops.shape[0], crops.shape[1]
    canon = canonical_landmarks(work_size)
    brows_to_chin = (float(canon[:, 0].min()), float(canon[17:27, 1].min()),
                     float(canon[:, 0].max()), float(canon[:, 1].max()))
    lms = np.zeros((n, 68, 2), np.float32)
    desc = np.zeros((n, 128), np.float32)
    detected = np.zeros(n, bool)
    it = range(n)
    if progress:
        it = tqdm(it, desc="dlib landmarks + identity", unit="face", file=sys.stderr)
    for i in it:
        big = resize(crops[i], work_size)
        dets = detect_faces(big, upscale=0, adaptive=False)
        if dets:
            det, detected[i] = dets[0], True
        else:
            det = fit_landmarks(big, brows_to_chin)
        desc[i] = compute_descriptors(big, [det.landmarks])[0]
        lms[i] = rescale_landmarks(det.landmarks, work_size, s)
    scores = landmark_scores_batch(lms) if n else {}
    return FaceMeasures(scores=scores, descriptors=desc, landmarks=lms, detected=detected)
