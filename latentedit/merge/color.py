"""Colour transfer between a face crop and the frame it is pasted into.

Every function here is pure: float32 RGB arrays in [0, 1] in, a new float32 array in [0, 1] out.
Statistics are measured on the pixels inside a mask (``None`` = every pixel) and the resulting
map is applied to *every* pixel of the source, so the region outside the mask stays consistent
with the region inside it.

Modes (see :func:`color_transfer`):

``rct``  Reinhard et al. 2001: per-channel mean/std matching in CIE L*a*b*.
``lct``  Linear colour transfer: match the mean and the full 3×3 RGB covariance with
         ``T = Σt^½ Σs^-½`` (symmetric square roots, i.e. PCA whitening / colouring).
``mkl``  Monge–Kantorovich linear map (Pitié & Kokaram 2007): the optimal-transport map
         between two Gaussians, ``T = Σs^-½ (Σs^½ Σt Σs^½)^½ Σs^-½``.
``idt``  Iterative distribution transfer (Pitié et al. 2005): random rotations of colour space
         followed by 1-D quantile matching along each rotated axis, repeated.
``sot``  Sliced optimal transport (Rabin et al. 2011): random 1-D projections, sorted matching
         along each, the averaged displacement applied, repeated.
``none`` Identity (returns a clipped copy).
"""
from __future__ import annotations

import cv2
import numpy as np

#: Colour-transfer modes accepted by :func:`color_transfer` (and ``MergeOptions.color``).
COLOR_MODES: tuple[str, ...] = ("rct", "lct", "mkl", "idt", "sot", "none")

#: A mask must select at least this many pixels for statistics to mean anything.
MIN_MASK_PIXELS = 16

# Variance floor (RGB units², i.e. std ≈ 0.001) so constant-colour inputs never divide by zero.
_EPS_VAR = 1e-6
# Iteration counts and sample caps for the distribution-matching modes.
_IDT_ITERATIONS = 8
_SOT_ITERATIONS = 10
_SOT_DIRECTIONS = 4
_MAX_SAMPLES = 16_384
_N_QUANTILES = 256


def color_transfer(source: np.ndarray, target: np.ndarray, mode: str,
                   source_mask: np.ndarray | None = None, target_mask: np.ndarray | None = None,
                   *, seed: int = 0, iterations: int | None = None, target_cache: dict | None = None) -> np.ndarray:
    """Recolour ``source`` so that its colour statistics match ``target``'s.

    Args:
        source: float RGB image ``H×W×3`` in [0, 1] to recolour (any float dtype; computed in float32/64).
        target: float RGB image ``H'×W'×3`` in [0, 1] whose colours are wanted.
        mode: one of :data:`COLOR_MODES`.
        source_mask: optional ``H×W`` weights in [0, 1] selecting the source pixels whose statistics
            are measured (rct/lct/mkl use them as weights; idt/sot use pixels with weight > 0.5).
        target_mask: the same for ``target`` (``H'×W'``).
        seed: seed of the random rotations/projections of ``idt`` and ``sot`` (results are deterministic).
        iterations: override the number of iterations of ``idt``/``sot``.
        target_cache: a dict kept by the caller for one (``target``, ``target_mask``) pair; the target's
            statistics (rct, lct, mkl) are stored there on the first call and reused afterwards, which
            halves the work of repeated transfers onto one frame (slider moves). Never share one dict
            between different targets.

    Returns:
        A new float32 ``H×W×3`` array in [0, 1].

    Raises:
        ValueError: unknown mode; wrong shapes/dtypes; values outside [0, 1] or non-finite; a mask
            whose shape does not match its image, that is empty, or that selects fewer than
            :data:`MIN_MASK_PIXELS` pixels.
    """
    if mode not in COLOR_MODES:
        raise ValueError(f"unknown colour mode {mode!r}; expected one of {', '.join(COLOR_MODES)}")
    src = _check_image(source, "source")
    tgt = _check_image(target, "target")
    if mode == "none":
        return np.clip(src, 0.0, 1.0).astype(np.float32, copy=True)
    ws = _check_mask(source_mask, src.shape[:2], "source_mask")
    wt = _check_mask(target_mask, tgt.shape[:2], "target_mask")
    flat = src.reshape(-1, 3).astype(np.float64)
    cache = {} if target_cache is None else target_cache
    if mode == "rct":
        if "rct" not in cache:
            cache["rct"] = _weighted_moments(rgb_to_lab(tgt).reshape(-1, 3).astype(np.float64), wt)
        out = _rct(src, ws, *cache["rct"])
    elif mode in ("lct", "mkl"):
        mu_s, cov_s = _weighted_moments(flat, ws)
        if "moments" not in cache:
            cache["moments"] = _weighted_moments(tgt.reshape(-1, 3).astype(np.float64), wt)
        mu_t, cov_t = cache["moments"]
        transform = _lct_matrix(cov_s, cov_t) if mode == "lct" else _mkl_matrix(cov_s, cov_t)
        d = flat - mu_s
        # x @ T.T spelled out per column: BLAS takes a slow path for an (N, 3) @ strided (3, 3).
        out = d[:, :1] * transform[:, 0] + d[:, 1:2] * transform[:, 1] + d[:, 2:3] * transform[:, 2] + mu_t
    else:
        rng = np.random.default_rng(seed)
        xs = _samples(flat, ws, "source_mask", rng)
        xt = _samples(tgt.reshape(-1, 3).astype(np.float64), wt, "target_mask", rng)
        if mode == "idt":
            out = _idt(flat, xs, xt, rng, iterations or _IDT_ITERATIONS)
        else:
            out = _sot(flat, xs, xt, rng, iterations or _SOT_ITERATIONS)
    out = np.asarray(out, dtype=np.float32).reshape(src.shape)
    return np.clip(out, 0.0, 1.0)


# ----------------------------------------------------------------------------- input checks

def _check_image(img: np.ndarray, name: str) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{name}: expected an H×W×3 RGB array, got shape {img.shape}")
    if not np.issubdtype(img.dtype, np.floating):
        raise ValueError(f"{name}: expected float RGB in [0, 1], got dtype {img.dtype} "
                         "(convert uint8 with img.astype(np.float32) / 255)")
    if img.size == 0:
        raise ValueError(f"{name}: image is empty ({img.shape})")
    if not np.isfinite(img).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    lo, hi = float(img.min()), float(img.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(f"{name}: values must lie in [0, 1], got [{lo:.3f}, {hi:.3f}]")
    return img.astype(np.float32, copy=False)


def _check_mask(mask: np.ndarray | None, shape: tuple[int, int], name: str) -> np.ndarray:
    """Return flat float64 weights for ``shape``; reject empty/tiny masks."""
    if mask is None:
        w = np.ones(shape[0] * shape[1], dtype=np.float64)
    else:
        m = np.asarray(mask)
        if m.ndim == 3 and m.shape[2] == 1:
            m = m[..., 0]
        if m.shape != tuple(shape):
            raise ValueError(f"{name}: shape {m.shape} does not match its image {tuple(shape)}")
        w = m.astype(np.float64).reshape(-1)
        if not np.isfinite(w).all():
            raise ValueError(f"{name}: contains NaN or infinite values")
        w = np.clip(w, 0.0, 1.0)
    selected = int((w > 0.5).sum())
    if w.sum() <= 0:
        raise ValueError(f"{name}: mask is empty (no pixel has a weight > 0)")
    if selected < MIN_MASK_PIXELS:
        raise ValueError(f"{name}: mask selects only {selected} pixel(s) with weight > 0.5; "
                         f"at least {MIN_MASK_PIXELS} are needed for colour statistics")
    return w


def _weighted_moments(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean (3,) and covariance (3, 3) of the rows of ``x`` (N, 3)."""
    wsum = w.sum()
    mu = w @ x / wsum
    d = x - mu
    cov = (d.T * w) @ d / wsum  # (3, N) @ (N, 3): BLAS's fast path, unlike (N, 3)-shaped products
    return mu, cov


def _samples(x: np.ndarray, w: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
    """Pixels with weight > 0.5, subsampled (seeded) to at most ``_MAX_SAMPLES``."""
    sel = x[w > 0.5]
    if len(sel) > _MAX_SAMPLES:
        sel = sel[rng.choice(len(sel), _MAX_SAMPLES, replace=False)]
    return sel


# ----------------------------------------------------------------------------- rct (LAB)

def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert float RGB in [0, 1] (sRGB, D65) to CIE L*a*b* (L in [0, 100]).

    Args:
        rgb: ``...×3`` float array in [0, 1].

    Returns:
        float32 array of the same shape.
    """
    rgb = np.ascontiguousarray(np.asarray(rgb, dtype=np.float32))
    shape = rgb.shape
    lab = cv2.cvtColor(rgb.reshape(-1, 1, 3), cv2.COLOR_RGB2Lab)
    return lab.reshape(shape)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_lab` (not clipped: out-of-gamut colours may leave [0, 1]).

    Args:
        lab: ``...×3`` float array (L in [0, 100]).

    Returns:
        float32 RGB array of the same shape.
    """
    lab = np.ascontiguousarray(np.asarray(lab, dtype=np.float32))
    shape = lab.shape
    return cv2.cvtColor(lab.reshape(-1, 1, 3), cv2.COLOR_Lab2RGB).reshape(shape)


def _rct(src: np.ndarray, ws: np.ndarray, mu_t: np.ndarray, cov_t: np.ndarray) -> np.ndarray:
    """Reinhard transfer of ``src`` onto the target's LAB mean ``mu_t`` and covariance ``cov_t``."""
    lab_s = rgb_to_lab(src).reshape(-1, 3).astype(np.float64)
    mu_s, cov_s = _weighted_moments(lab_s, ws)
    std_s = np.sqrt(np.diag(cov_s))
    std_t = np.sqrt(np.diag(cov_t))
    # A constant source channel has nothing to stretch: it is only shifted to the target mean.
    scale = np.where(std_s > 1e-3, std_t / np.maximum(std_s, 1e-3), 1.0)
    lab = (lab_s - mu_s) * scale + mu_t
    return lab_to_rgb(lab.reshape(src.shape))


# ----------------------------------------------------------------------------- lct / mkl

def _sym_pow(cov: np.ndarray, power: float, floor: float = _EPS_VAR) -> np.ndarray:
    """``cov ** power`` for a symmetric PSD matrix, eigenvalues floored at ``floor``.

    Only inverse powers need a positive floor (a constant-colour source); positive powers use 0
    so that a constant-colour target really maps everything onto one colour."""
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    vals = np.maximum(vals, floor)
    return (vecs * vals ** power) @ vecs.T


def _lct_matrix(cov_s: np.ndarray, cov_t: np.ndarray) -> np.ndarray:
    return _sym_pow(cov_t, 0.5, 0.0) @ _sym_pow(cov_s, -0.5)


def _mkl_matrix(cov_s: np.ndarray, cov_t: np.ndarray) -> np.ndarray:
    # Floor the source covariance once so that s_half and s_inv_half are exact inverses.
    vals, vecs = np.linalg.eigh((cov_s + cov_s.T) / 2)
    cov_s = (vecs * np.maximum(vals, _EPS_VAR)) @ vecs.T
    s_half = _sym_pow(cov_s, 0.5)
    s_inv_half = _sym_pow(cov_s, -0.5)
    middle = _sym_pow(s_half @ cov_t @ s_half, 0.5, 0.0)
    return s_inv_half @ middle @ s_inv_half


# ----------------------------------------------------------------------------- idt / sot

def _quantiles(values: np.ndarray) -> np.ndarray:
    """``_N_QUANTILES`` evenly spaced order statistics of ``values`` (one sort, no interpolation)."""
    v = np.sort(values)
    return v[np.linspace(0, len(v) - 1, _N_QUANTILES).round().astype(np.intp)]


def _quantile_map(values: list[np.ndarray], values_src: np.ndarray, values_tgt: np.ndarray) -> list[np.ndarray]:
    """Map each array in ``values`` through the 1-D monotone map taking the distribution of
    ``values_src`` onto that of ``values_tgt`` (piecewise linear between quantiles)."""
    qs = _quantiles(values_src)
    qt = _quantiles(values_tgt)
    if qs[-1] - qs[0] < 1e-9:
        # A point mass cannot be spread by a function: move it to the target median.
        shift = qt[_N_QUANTILES // 2] - qs[_N_QUANTILES // 2]
        return [v + shift for v in values]
    # Ties in the source quantiles make np.interp ambiguous; keep the first of each run.
    keep = np.concatenate([[True], np.diff(qs) > 1e-12])
    qs, qt = qs[keep], qt[keep]
    out = []
    for v in values:
        mapped = np.interp(v, qs, qt)
        # Beyond the measured range continue with a unit slope rather than clamping.
        below, above = v < qs[0], v > qs[-1]
        mapped[below] = qt[0] + (v[below] - qs[0])
        mapped[above] = qt[-1] + (v[above] - qs[-1])
        out.append(mapped)
    return out


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    return q * np.sign(np.diag(r))  # uniform (Haar) orthogonal matrix


def _idt(flat: np.ndarray, xs: np.ndarray, xt: np.ndarray, rng: np.random.Generator,
         iterations: int) -> np.ndarray:
    # Points are kept as contiguous (3, N) rows: np.interp on strided columns is several times slower.
    out, xs, xt = np.ascontiguousarray(flat.T), np.ascontiguousarray(xs.T), np.ascontiguousarray(xt.T)
    for _ in range(iterations):
        rot = _random_rotation(rng)  # rows are the new axes
        ps, pt, pa = rot @ xs, rot @ xt, rot @ out
        for k in range(3):
            pa[k], ps[k] = _quantile_map([pa[k], ps[k]], ps[k], pt[k])
        out = rot.T @ pa
        xs = rot.T @ ps
    return out.T


def _sot(flat: np.ndarray, xs: np.ndarray, xt: np.ndarray, rng: np.random.Generator,
         iterations: int) -> np.ndarray:
    out, xs, xt = np.ascontiguousarray(flat.T), np.ascontiguousarray(xs.T), np.ascontiguousarray(xt.T)
    for _ in range(iterations):
        dirs = rng.standard_normal((_SOT_DIRECTIONS, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        pa_all, ps_all, pt_all = dirs @ out, dirs @ xs, dirs @ xt  # (K, N)
        for k in range(_SOT_DIRECTIONS):
            new_a, new_s = _quantile_map([pa_all[k], ps_all[k]], ps_all[k], pt_all[k])
            pa_all[k] = new_a - pa_all[k]
            ps_all[k] = new_s - ps_all[k]
        # E[d dᵀ] = I/3 for uniform unit directions, so 3/K times the sum is an unbiased full step.
        out += (3.0 / _SOT_DIRECTIONS) * (dirs.T @ pa_all)
        xs += (3.0 / _SOT_DIRECTIONS) * (dirs.T @ ps_all)
    return out.T
