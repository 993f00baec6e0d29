"""Preview grids: for each identity, rows input / reconstruction / swap to the next identity."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .._io import write_image
from ..models import GENERIC, SwapAutoencoder


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """``N×3×S×S`` in [-1, 1] → ``uint8 N×S×S×3``."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def preview_grid(model: SwapAutoencoder, samples: dict[str, torch.Tensor], pad: int = 2) -> np.ndarray:
    """Render a preview grid.

    Args:
        model: the model (any mode; run without gradients).
        samples: decoder name → unaugmented inputs ``N×3×S×S`` in [-1, 1] (same N for all).
        pad: pixels between tiles.

    Returns:
        ``uint8 H×W×3`` grid: three rows per identity (input, reconstruction, swap to the next
        non-generic identity; the generic decoder's swap row shows the first identity).
    """
    names = list(samples)
    faces = [n for n in names if n != GENERIC] or names
    rows: list[np.ndarray] = []
    dev = next(model.parameters()).device
    for name in names:
        x = samples[name].to(dev)
        z = model.encoder(x)
        h = model.inter(z)
        recon = model.decoders[name](h)[0]
        other = faces[(faces.index(name) + 1) % len(faces)] if name in faces else faces[0]
        swap = model.decoders[other](h)[0]
        rows.extend([_to_uint8(x), _to_uint8(recon), _to_uint8(swap)])
    n, s = rows[0].shape[0], rows[0].shape[1]
    grid = np.full((len(rows) * (s + pad) + pad, n * (s + pad) + pad, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c in range(n):
            y, x0 = pad + r * (s + pad), pad + c * (s + pad)
            grid[y:y + s, x0:x0 + s] = row[c]
    return grid


def write_preview(run: Path, step: int, grid: np.ndarray) -> Path:
    """Write ``RUN/previews/step_XXXXXXXX.png`` and ``RUN/preview.png`` (latest) atomically."""
    path = Path(run) / "previews" / f"step_{step:08d}.png"
    write_image(path, grid)
    write_image(Path(run) / "preview.png", grid)
    return path
