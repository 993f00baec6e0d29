"""Tiny seeded FaceSets and configs shared by the trainer tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from latentedit.faceset import FaceRecord, FaceSetWriter
from latentedit.train import TrainConfig

TINY_MODEL = dict(latent_dim=32, enc_channels=8, dec_channels=8, inter_channels=32)


def make_faceset(root: Path, identity: str, n: int = 12, size: int = 64, seed: int = 0) -> Path:
    """A FaceSet of ``n`` simple 'faces': a coloured disc (identity colour) at a random place
    on a random plain background, with small dark 'eyes'. No landmarks (ellipse masks)."""
    rng = np.random.default_rng(seed)
    colour = np.array([200, 150, 120] if identity in ("A", "id000") else [90, 130, 210], np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    with FaceSetWriter(root) as w:
        for _ in range(n):
            img = np.empty((size, size, 3), np.uint8)
            img[:] = rng.integers(0, 255, 3, dtype=np.uint8)
            cx, cy = rng.uniform(0.4, 0.6, 2) * size
            r = size * rng.uniform(0.25, 0.32)
            img[(xx - cx) ** 2 + (yy - cy) ** 2 < r ** 2] = colour
            for ex in (cx - r * 0.4, cx + r * 0.4):
                img[(xx - ex) ** 2 + (yy - cy + r * 0.2) ** 2 < (r * 0.12) ** 2] = 20
            w.add(img, FaceRecord(image=w.next_name(), identity=identity, size=size))
    return root


def tiny_config(tmp_path: Path, out: str = "run", **kw) -> TrainConfig:
    """A tiny, fast config on two generated FaceSets (created once per tmp_path)."""
    a, b = tmp_path / "A", tmp_path / "B"
    if not a.exists():
        make_faceset(a, "A", seed=1)
        make_faceset(b, "B", seed=2)
    base = dict(data={"A": str(a), "B": str(b)}, out=str(tmp_path / out), size=64, batch=4, steps=4,
                checkpoint_every=2, preview_every=2, log_every=1, progress=False, threads=1, tensorboard=False,
                **TINY_MODEL)
    base.update(kw)
    return TrainConfig(**base)
