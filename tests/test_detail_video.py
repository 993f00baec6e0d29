"""Detail mode on a video: the warp follows smoothed landmarks and codes, so the edit adds no flicker."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latentedit._io import read_image
from latentedit.edit import Editor
from latentedit.edit.recipe import Recipe
from latentedit.edit.video import iter_video
from latentedit.eval.metrics import temporal_flicker
from latentedit.faces import canonical_landmarks
from latentedit.latent import Boundary
from latentedit.latent.landmark_head import fit_landmark_head
from latentedit.models import SwapAutoencoder, tiny_config
from tests.conftest import shared_path

pytest.importorskip("av", reason="video needs PyAV; runs once latentedit[video] (or [dev], as CI installs) is")


def _editor() -> Editor:
    torch.manual_seed(0)
    model = SwapAutoencoder(tiny_config(64, identities=("generic",))).eval()
    d = model.config.latent_dim
    rng = np.random.default_rng(0)
    normal = rng.normal(size=d)
    z = rng.normal(size=(200, d)).astype(np.float32)
    t = z @ (normal / np.linalg.norm(normal))
    lms = np.repeat(canonical_landmarks(64)[None].astype(np.float64), 200, axis=0)
    lms[:, 48, 0] -= 1.5 * t                 # the planted smile: the mouth corners part along the normal
    lms[:, 54, 0] += 1.5 * t
    head = fit_landmark_head(z, lms, str(model.model_id), 64, hidden=16, epochs=150)
    return Editor(model, {"smile": Boundary("smile", normal, model_id=str(model.model_id))}, landmark_head=head)


def test_a_detail_edit_of_a_clip_does_not_flicker(tmp_path):
    from latentedit.merge import write_video

    frames = [read_image(shared_path("data", "swap_pair", "A_KatieHill", f"{k:04d}.jpg"))[::2, ::2]
              for k in range(1, 9)]
    write_video(frames, tmp_path / "clip.mp4", fps=10)
    from latentedit.video_io import iter_frames

    decoded = [f for _, f in iter_frames(tmp_path / "clip.mp4")]
    editor = _editor()
    recipe = Recipe(edits={"smile": 2.0})
    results = list(iter_video(editor, tmp_path / "clip.mp4", recipe, smooth=2.0))
    assert len(results) == len(decoded) and all(r.ok for r in results)
    out = [r.image for r in results]
    assert any(np.any(o != i) for o, i in zip(out, decoded))            # the edit did something
    h, w = decoded[0].shape[:2]
    box = (w // 4, h // 6, 3 * w // 4, 5 * h // 6)
    smooth = temporal_flicker(decoded, out, box)
    raw = temporal_flicker(decoded, [r.image for r in iter_video(editor, tmp_path / "clip.mp4", recipe,
                                                                 smooth=0.0)], box)
    # the edited clip changes from frame to frame about as much as the input does, no more
    assert smooth["ratio"] < 1.25, smooth
    assert smooth["ratio"] <= raw["ratio"] + 0.02, (smooth, raw)


def test_flicker_measure():
    a = [np.full((8, 8, 3), v, np.uint8) for v in (10, 20, 30)]
    b = [np.full((8, 8, 3), v, np.uint8) for v in (10, 40, 10)]
    m = temporal_flicker(a, b, (0, 0, 8, 8))
    assert m["input"] == 10 and m["output"] == 30 and m["ratio"] == 3
    with pytest.raises(ValueError, match="same length"):
        temporal_flicker(a, b[:2], (0, 0, 8, 8))
