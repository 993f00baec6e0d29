"""Building blocks: strided downscale, pixel-shuffle upscale, residual blocks."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

#: Negative slope of every LeakyReLU (DeepFaceLab uses 0.1).
LRELU_SLOPE = 0.1


class Downscale(nn.Module):
    """Stride-2 convolution + LeakyReLU: ``(N, Cin, H, W) -> (N, Cout, H/2, W/2)``."""

    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=2, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x), LRELU_SLOPE)


class Upscale(nn.Module):
    """3×3 convolution to ``4·Cout`` channels + pixel shuffle: ``(N, Cin, H, W) -> (N, Cout, 2H, 2W)``.

    Pixel shuffle avoids the checkerboard artefacts of transposed convolutions.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(F.leaky_relu(self.conv(x), LRELU_SLOPE), 2)


class ResBlock(nn.Module):
    """Two 3×3 convolutions with a skip connection (DeepFaceLab's ResidualBlock)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv1(x), LRELU_SLOPE)
        return F.leaky_relu(x + self.conv2(h), LRELU_SLOPE)
