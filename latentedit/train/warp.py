"""Batched, seeded DeepFaceLab-style augmentation with ``grid_sample``.

Every image gets one random similarity transform (rotation, zoom, shift, optional flip) applied
identically to the input, the target and the masks, plus a colour jitter applied to input and
target alike. The *input* is additionally bent by a smooth random warp (a coarse grid of random
offsets, bicubically upsampled), while the target is not: the autoencoder must learn the face,
not copy pixels. Parameters are drawn for the whole global batch from a generator seeded by the
step, so single-process and multi-process runs (and resumed runs) see identical augmentations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: Side of the coarse random-offset grid of the warp (DeepFaceLab uses 3–5 cells).
WARP_CELLS = 5
#: Offset std in normalised units at ``warp=1`` (DFL: 0.24 of a cell of a 5-cell grid).
WARP_STD = 0.24 * 2.0 / (WARP_CELLS - 1)


@dataclass
class AugmentParams:
    """Per-image random parameters of one global batch (all float32 CPU tensors)."""

    theta: torch.Tensor      # (N, 2, 3) affine for affine_grid (output -> input coords)
    offsets: torch.Tensor    # (N, 2, g, g) coarse warp offsets, normalised units
    color: torch.Tensor      # (N, 3) brightness shift, contrast factor, saturation factor

    def shard(self, rank: int, world: int) -> "AugmentParams":
        """This rank's slice (``[rank::world]``)."""
        if world == 1:
            return self
        return AugmentParams(self.theta[rank::world], self.offsets[rank::world], self.color[rank::world])


def sample_params(n: int, generator: torch.Generator, warp: float = 1.0, rotate: float = 10.0,
                  scale: float = 0.05, shift: float = 0.05, flip: bool = True,
                  color_jitter: float = 0.05) -> AugmentParams:
    """Draw augmentation parameters for ``n`` images.

    Args:
        n: number of images.
        generator: seeded CPU generator (the only source of randomness).
        warp: warp strength (0 = none).
        rotate: max rotation in degrees.
        scale: max zoom fraction.
        shift: max translation as a fraction of the crop.
        flip: random horizontal flips.
        color_jitter: max brightness/contrast/saturation change.

    Returns:
        :class:`AugmentParams`.
    """
    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * 2 - 1

    ang = uniform(n) * math.radians(rotate)
    s = 1.0 + uniform(n) * scale
    t = uniform(n, 2) * shift * 2.0              # normalised coordinates span 2
    fl = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if flip else torch.ones(n)
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    theta = torch.stack([torch.stack([cos * fl, -sin, t[:, 0]], 1),
                         torch.stack([sin * fl, cos, t[:, 1]], 1)], 1)   # (N, 2, 3)
    offsets = torch.randn(n, 2, WARP_CELLS, WARP_CELLS, generator=generator) * (WARP_STD * warp)
    offsets[:, :, 0, :] = 0                      # keep the borders fixed, as DFL does
    offsets[:, :, -1, :] = 0
    offsets[:, :, :, 0] = 0
    offsets[:, :, :, -1] = 0
    color = torch.stack([uniform(n) * color_jitter, 1 + uniform(n) * color_jitter,
                         1 + uniform(n) * color_jitter], 1)
    return AugmentParams(theta=theta.float(), offsets=offsets.float(), color=color.float())


def _jitter(x: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
    """Colour jitter on ``(N, 3, S, S)`` images in [0, 1]."""
    b = color[:, 0].view(-1, 1, 1, 1)
    c = color[:, 1].view(-1, 1, 1, 1)
    sat = color[:, 2].view(-1, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * c + mean + b
    grey = x.mean(dim=1, keepdim=True)
    return (grey + (x - grey) * sat).clamp_(0, 1)


def augment(images: torch.Tensor, face_mask: torch.Tensor, feature_mask: torch.Tensor,
            params: AugmentParams) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Apply :class:`AugmentParams` to a batch.

    Args:
        images: ``uint8 N×3×S×S``.
        face_mask: ``uint8 N×1×S×S``.
        feature_mask: ``uint8 N×1×S×S``.
        params: parameters for the same ``N`` images.

    Returns:
        ``(warped_input, target, face_mask, feature_mask)``: images float32 in [-1, 1], masks
        float32 in [0, 1], all on ``images.device``.
    """
    dev = images.device
    n, _, s, _ = images.shape
    stack = torch.cat([images, face_mask, feature_mask], 1).float().div_(255.0)     # (N, 5, S, S)
    theta = params.theta.to(dev)
    grid = F.affine_grid(theta, [n, 5, s, s], align_corners=False)                  # (N, S, S, 2)
    target = F.grid_sample(stack, grid, mode="bilinear", padding_mode="border", align_corners=False)
    offs = F.interpolate(params.offsets.to(dev), size=(s, s), mode="bicubic", align_corners=True)
    wgrid = grid + offs.permute(0, 2, 3, 1)
    warped = F.grid_sample(stack[:, :3], wgrid, mode="bilinear", padding_mode="border", align_corners=False)
    color = params.color.to(dev)
    inp = _jitter(warped, color).mul_(2).sub_(1)
    tgt = _jitter(target[:, :3], color).mul_(2).sub_(1)
    return inp, tgt, target[:, 3:4].contiguous(), target[:, 4:5].contiguous()


def plain(images: torch.Tensor) -> torch.Tensor:
    """``uint8 N×3×S×S`` -> float32 in [-1, 1] without augmentation (previews, evaluation)."""
    return images.float().div(127.5).sub_(1)
