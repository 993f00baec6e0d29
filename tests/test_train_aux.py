"""The self-supervised auxiliary head (``TrainConfig.aux``): targets, mirroring, training, resume, refusal."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_train_helpers import tiny_config  # noqa: E402
from latentedit.errors import LatentEditError
from latentedit.faces.meanface import MEAN_FACE, mirror_landmarks
from latentedit.train import Trainer, train
from latentedit.train.aux_head import N_COORDS, N_TARGETS, landmark_targets
from latentedit.train.data import batch_indices
from latentedit.train.control import step_generator
from latentedit.train.warp import sample_params


def _faces(rng, n=40) -> np.ndarray:
    base = MEAN_FACE * 50 + 32
    return base[None] + rng.normal(0, 0.8, (n, 68, 2))


def test_targets_are_standardised_and_mirrored(rng):
    lm = _faces(rng)
    valid = np.ones(len(lm), bool)
    valid[3] = False
    t, m, stats = landmark_targets(lm, valid)
    assert t.shape == m.shape == (len(lm), N_TARGETS)
    np.testing.assert_allclose(t[valid].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(t[valid].std(0), 1, atol=1e-4)
    assert not t[3].any() and not m[3].any()
    # the mirrored targets of face i are the targets the mirror image of face i would get
    mirrored = np.stack([mirror_landmarks(p) for p in lm])
    both = np.concatenate([valid, valid])
    t2, _, stats2 = landmark_targets(np.concatenate([lm, mirrored]), both)
    # (standardised over other rows there: compare after undoing each standardisation)
    raw_m = m[valid] * np.array(stats["std"]) + np.array(stats["mean"])
    raw_direct = t2[len(lm):][valid] * np.array(stats2["std"]) + np.array(stats2["mean"])
    np.testing.assert_allclose(raw_m, raw_direct, atol=1e-6)
    # mirroring changes the coordinate targets
    assert not np.allclose(t[valid][:, :N_COORDS], m[valid][:, :N_COORDS])
    with pytest.raises(ValueError, match="landmarks"):
        landmark_targets(lm, np.zeros(len(lm), bool))


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    from latentedit.synth import synth_faceset

    d = tmp_path_factory.mktemp("aux") / "synth"
    synth_faceset(d, identities=2, per_identity=12, size=64, seed=0, progress=False)
    return d


def _cfg(tmp_path, synth_dir, out="run", **kw):
    data = {"A": f"{synth_dir}@id000", "B": f"{synth_dir}@id001"}
    return tiny_config(tmp_path, out, data=data, aux=1.0, **kw)


def test_flipped_inputs_get_mirrored_targets(tmp_path, synth_dir):
    trainer = Trainer(_cfg(tmp_path, synth_dir, flip=True, batch=8))
    batch = trainer.make_batch(0)
    tgt, mir, w = trainer.aux_targets["A"]
    idx = torch.from_numpy(batch_indices(len(trainer.data["A"]), 8, 0, trainer.cfg.seed, 0))
    got = batch["A"][4]
    # the step's augmentation, drawn again: which of the 8 inputs were mirrored
    cfg = trainer.cfg
    p = sample_params(8, step_generator(cfg.seed, 0, 0), warp=cfg.warp, rotate=cfg.rotate, scale=cfg.scale,
                      shift=cfg.shift, flip=True, color_jitter=cfg.color_jitter)
    flipped = p.theta[:, 0, 0] < 0
    assert flipped.any() and (~flipped).any()  # seed 0 flips some of the 8 and not others
    assert torch.equal(got[flipped], mir[idx][flipped]) and torch.equal(got[~flipped], tgt[idx][~flipped])
    assert torch.equal(batch["A"][5], w[idx]) and bool(w.all())


def test_aux_head_learns_and_resumes_exactly(tmp_path, synth_dir):
    s = train(_cfg(tmp_path, synth_dir, steps=40, lr=1e-3, checkpoint_every=40, preview_every=40))
    m = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    aux = [r["aux"] for r in m]
    assert np.mean(aux[-5:]) < 0.8 * np.mean(aux[:5]), (aux[:5], aux[-5:])
    assert "aux" in s["losses"]
    # exact resume includes the head and its optimiser state
    full = train(_cfg(tmp_path, synth_dir, "full", steps=4))
    train(_cfg(tmp_path, synth_dir, "split", steps=2))
    second = train(_cfg(tmp_path, synth_dir, "split", steps=4, resume=True))
    assert full["model_id"] == second["model_id"]
    assert full["losses"]["aux"] == pytest.approx(second["losses"]["aux"], rel=1e-6)


def test_aux_without_landmarks_is_refused(tmp_path):
    with pytest.raises(LatentEditError, match="--aux needs landmarks"):
        Trainer(tiny_config(tmp_path, aux=1.0))


def test_runs_from_before_an_option_existed_resume(tmp_path):
    """A run whose config.json predates an option (here ``aux``) resumes; the option counts as its default."""
    train(tiny_config(tmp_path, steps=2))
    cfg_file = tmp_path / "run" / "config.json"
    saved = json.loads(cfg_file.read_text())
    del saved["train"]["aux"]
    cfg_file.write_text(json.dumps(saved))
    assert train(tiny_config(tmp_path, steps=3, resume=True))["step"] == 3
    saved = json.loads(cfg_file.read_text())  # rewritten by the resume, now with aux = 0.0
    assert saved["train"]["aux"] == 0.0
    with pytest.raises(LatentEditError, match="--dssim: saved 1.0, now 0.5"):
        train(tiny_config(tmp_path, steps=4, resume=True, dssim=0.5))
