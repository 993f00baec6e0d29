"""Reconstruction and adversarial losses. All return means over the batch, so the gradients of a
sharded batch averaged across DDP ranks equal those of the whole batch on one process."""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=8)
def _gauss(window: int, sigma: float, device: str) -> torch.Tensor:
    ax = torch.arange(window, dtype=torch.float32) - (window - 1) / 2
    g = torch.exp(-(ax ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return g.to(device)


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)


def ssim_map(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0, window: int = 11,
             sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM of two ``N×C×H×W`` batches (valid Gaussian window; differentiable)."""
    window = min(window, a.shape[-1], a.shape[-2])
    g = _gauss(window, sigma, str(a.device)).to(a.dtype)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = _blur(a, g), _blur(b, g)
    saa = _blur(a * a, g) - mu_a ** 2
    sbb = _blur(b * b, g) - mu_b ** 2
    sab = _blur(a * b, g) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))


def ms_dssim(pred: torch.Tensor, target: torch.Tensor, scales: int = 2) -> torch.Tensor:
    """Multi-scale structural dissimilarity ``(1 - SSIM) / 2`` averaged over ``scales`` octaves.

    Args:
        pred: ``N×3×S×S`` in [-1, 1].
        target: same shape.
        scales: number of octaves (full, 1/2, 1/4 ...).

    Returns:
        Scalar loss in [0, 1].
    """
    total = pred.new_zeros(())
    for i in range(scales):
        if i:
            pred, target = F.avg_pool2d(pred, 2), F.avg_pool2d(target, 2)
        total = total + (1 - ssim_map(pred, target).mean()) / 2
    return total / scales


def loss_weights(face_mask: torch.Tensor, background: float) -> torch.Tensor:
    """Per-pixel weight ``background + (1 - background) * face_mask`` (``N×1×S×S``)."""
    return background + (1.0 - background) * face_mask


def reconstruction_losses(pred: torch.Tensor, pred_mask: torch.Tensor, target: torch.Tensor,
                          face_mask: torch.Tensor, feature_mask: torch.Tensor, *, dssim: float, l1: float,
                          mask_loss: float, eyes_mouth: float, background: float,
                          lpips_model=None, lpips: float = 0.0) -> dict[str, torch.Tensor]:
    """Masked reconstruction losses of one decoder's batch.

    Args:
        pred: decoder RGB ``N×3×S×S`` in [-1, 1].
        pred_mask: decoder mask ``N×1×S×S`` in [0, 1].
        target: unwarped target ``N×3×S×S`` in [-1, 1].
        face_mask: soft face mask ``N×1×S×S`` (the mask channel's target and the loss mask).
        feature_mask: soft eyes+mouth mask ``N×1×S×S`` (extra weight ``eyes_mouth``).
        dssim, l1, mask_loss, lpips: term weights (0 skips the term).
        eyes_mouth: extra L1 weight inside ``feature_mask``.
        background: weight outside the face mask.
        lpips_model: module from :func:`latentedit.train.lpips.load_lpips` (needed if ``lpips > 0``).

    Returns:
        ``{"total", "dssim", "l1", "mask", ["lpips"]}`` scalars.
    """
    w = loss_weights(face_mask, background)
    pm, tm = pred * w, target * w
    out: dict[str, torch.Tensor] = {}
    total = pred.new_zeros(())
    if dssim:
        scales = 2 if pred.shape[-1] <= 64 else 3
        out["dssim"] = ms_dssim(pm, tm, scales=scales)
        total = total + dssim * out["dssim"]
    if l1:
        emph = 1.0 + eyes_mouth * feature_mask if eyes_mouth else 1.0
        out["l1"] = ((pred - target).abs() * (w * emph)).mean()
        total = total + l1 * out["l1"]
    if mask_loss:
        out["mask"] = F.mse_loss(pred_mask, face_mask)
        total = total + mask_loss * out["mask"]
    if lpips and lpips_model is not None:
        out["lpips"] = lpips_model(pm, tm).mean()
        total = total + lpips * out["lpips"]
    out["total"] = total
    return out


def bce_logits(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of discriminator logits against an all-real or all-fake label."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)
