"""A tiny real model for the app, export and demo tests (no tests of its own).

``make_tiny_model(dir)`` saves a seeded, untrained, He-initialised tiny ``SwapAutoencoder`` (64 px,
decoders A and B)
with ``save_pretrained`` and fits ``smile``, ``eye_open`` and ``mouth_open`` boundaries on its codes
of a few seeded SynthFaces renders — the same files a real model folder has, built in seconds.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

ATTRIBUTES = ("eye_open", "mouth_open", "smile")


def make_tiny_model(directory: Path, resolution: int = 64, n: int = 60, seed: int = 0) -> Path:
    """Write a tiny model folder with boundaries into ``directory``; returns it."""
    import torch

    from latentedit.latent import BoundaryFitter
    from latentedit.latent.landmark_head import fit_landmark_head
    from latentedit.models import SwapAutoencoder, save_pretrained, tiny_config
    from latentedit.synth.params import ExpressionParams, IdentityParams
    from latentedit.synth.render import render

    torch.manual_seed(seed)
    model = SwapAutoencoder(tiny_config(resolution, identities=("A", "B"))).eval()
    # He initialisation instead of PyTorch's default (gain ≈ 0.6 per layer): an untrained decoder
    # then responds visibly to a latent step, so edits change pixels the tests can measure.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim > 1:
                torch.nn.init.kaiming_normal_(p, a=0.2)
                if ".out." in name:
                    p.mul_(0.5)
            else:
                p.zero_()
    save_pretrained(model, directory)
    rng = np.random.default_rng(seed)
    renders = [render(IdentityParams.sample(rng), ExpressionParams.sample(rng), resolution) for _ in range(n)]
    x = torch.from_numpy(np.stack([r.image for r in renders])).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    with torch.no_grad():
        z = model.encode(x).numpy()
    lms = np.stack([r.landmarks for r in renders])
    for attr in ATTRIBUTES:
        y = np.array([r.attributes[attr] for r in renders])
        fitter = BoundaryFitter(method="ridge", random_state=seed).fit(z, y)
        fitter.to_boundary(attr, model.model_id).save(Path(directory) / "boundaries")
    # the landmark head detail mode moves the photo with (as `latentedit fit --landmark-head` fits it)
    fit_landmark_head(z, lms, str(model.model_id), resolution, hidden=32, epochs=100).save(directory)
    return Path(directory)


def sample_photo(path: Path, size: int = 160, seed: int = 3, smile: float = 0.0) -> Path:
    """Write a SynthFaces 'photo' (one face on a larger canvas, detectable by dlib) to ``path``."""
    from latentedit._io import write_image
    from latentedit.synth.params import ExpressionParams, IdentityParams
    from latentedit.synth.render import render

    rng = np.random.default_rng(seed)
    face = render(IdentityParams.sample(rng), ExpressionParams.neutral(smile=smile), size).image
    canvas = np.full((int(size * 1.4), int(size * 1.6), 3), 110, np.uint8)
    y0, x0 = int(size * 0.2), int(size * 0.3)
    canvas[y0:y0 + size, x0:x0 + size] = face
    write_image(path, canvas)
    return path
