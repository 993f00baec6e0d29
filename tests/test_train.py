"""Trainer: exact resume, learning, adversarial phases, NaN rollback, refusals, CLI."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_train_helpers import make_faceset, tiny_config  # noqa: E402
from latentedit.cli.main import main
from latentedit.errors import FaceSetError, LatentEditError
from latentedit.models import load_model
from latentedit.train import Trainer, list_checkpoints, train
from latentedit.train import loop as loop_mod


def _metrics(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_is_bit_identical(tmp_path):
    # GAN and latent critic both switch on mid-run, so every phase is part of the comparison.
    kw = dict(gan_power=0.1, gan_start=1, latent_disc=0.1, latent_disc_start=2, checkpoint_every=3)
    full = train(tiny_config(tmp_path, "full", steps=6, **kw))
    first = train(tiny_config(tmp_path, "split", steps=3, **kw))
    assert first["step"] == 3
    second = train(tiny_config(tmp_path, "split", steps=6, resume=True, **kw))
    assert second["step"] == 6 and second["steps_run"] == 3
    a = load_model(tmp_path / "full")
    b = load_model(tmp_path / "split")
    assert _same_state(a.state_dict(), b.state_dict())
    assert full["model_id"] == second["model_id"]
    ca = torch.load(list_checkpoints(tmp_path / "full")[-1][1], weights_only=True)
    cb = torch.load(list_checkpoints(tmp_path / "split")[-1][1], weights_only=True)
    assert _same_state(ca["disc"], cb["disc"])
    assert ca["opt"]["state"][0]["step"] == cb["opt"]["state"][0]["step"] == 6
    # The metrics log of the resumed run continues without duplicated steps.
    steps = [m["step"] for m in _metrics(tmp_path / "split")]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert [round(m["loss"], 6) for m in _metrics(tmp_path / "split")] == \
        [round(m["loss"], 6) for m in _metrics(tmp_path / "full")]


def test_adversarial_phases_start_on_schedule(tmp_path):
    train(tiny_config(tmp_path, steps=4, gan_power=0.1, gan_start=2, latent_disc=0.5, latent_disc_start=1))
    m = _metrics(tmp_path / "run")
    assert "gan/g" not in m[0] and "gan/g" not in m[1] and "gan/d" in m[2] and "gan/g" in m[3]
    assert "latent/g" not in m[0] and all("latent/d" in r for r in m[1:])
    # The critics were really updated.
    model_dir = tmp_path / "run" / "model"
    assert (model_dir / "discriminators.safetensors").is_file()
    cfg = tiny_config(tmp_path, "other", steps=2, latent_disc=0.5, latent_disc_mode="identity")
    s = train(cfg)
    assert "latent/d" in s["losses"] and np.isfinite(s["losses"]["latent/d"])


def test_short_run_lowers_reconstruction_loss(tmp_path):
    data = {}
    try:  # a SynthFaces set (two identities of one FaceSet, picked by label) when the renderer exists
        from latentedit.synth import synth_faceset
        synth_faceset(tmp_path / "synth", identities=2, per_identity=8, size=64, seed=0, progress=False)
        data = {"A": f"{tmp_path / 'synth'}@id000", "B": f"{tmp_path / 'synth'}@id001"}
    except ImportError:
        pass
    cfg = tiny_config(tmp_path, steps=60, lr=1e-3, warp=0.0, rotate=0, scale=0, shift=0, flip=False,
                      color_jitter=0, checkpoint_every=60, preview_every=60, **({"data": data} if data else {}))
    train(cfg)
    m = _metrics(tmp_path / "run")
    rec = [r["A/total"] + r["B/total"] for r in m]
    early, late = np.mean(rec[:5]), np.mean(rec[-5:])
    assert late < 0.75 * early, (early, late)
    assert np.mean([r["A/l1"] for r in m[-5:]]) < np.mean([r["A/l1"] for r in m[:5]])


def test_nan_rollback_restores_checkpoint_and_halves_lr(tmp_path, monkeypatch):
    real = loop_mod.reconstruction_losses
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        out = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 7:  # step 3 (two decoders per step), after the step-2 checkpoint
            out["total"] = out["total"] * float("nan")
        return out

    monkeypatch.setattr(loop_mod, "reconstruction_losses", flaky)
    with pytest.warns(RuntimeWarning, match="rolled back to step_00000002.pt"):
        s = train(tiny_config(tmp_path, steps=5, checkpoint_every=2))
    assert s["step"] == 5 and s["rollbacks"] == 1
    m = _metrics(tmp_path / "run")
    assert all(np.isfinite(r["loss"]) for r in m)
    assert m[-1]["lr"] == pytest.approx(tiny_config(tmp_path).lr / 2)
    ck = torch.load(list_checkpoints(tmp_path / "run")[-1][1], weights_only=True)
    assert ck["lr_scale"] == 0.5 and ck["rollbacks"] == 1


def test_nan_before_first_checkpoint_is_a_clear_error(tmp_path, monkeypatch):
    real = loop_mod.reconstruction_losses

    def always_nan(*args, **kwargs):
        out = real(*args, **kwargs)
        out["total"] = out["total"] * float("nan")
        return out

    monkeypatch.setattr(loop_mod, "reconstruction_losses", always_nan)
    with pytest.raises(LatentEditError, match="non-finite at step 0, before the first checkpoint"):
        train(tiny_config(tmp_path, steps=3))


def test_resume_refuses_other_config_and_new_run_refuses_existing(tmp_path):
    train(tiny_config(tmp_path, steps=2))
    with pytest.raises(LatentEditError, match=r"different options.*--lr: saved 0.0002, now 0.001"):
        train(tiny_config(tmp_path, steps=4, resume=True, lr=1e-3))
    with pytest.raises(LatentEditError, match=r"model latent_dim: saved 32, now 16"):
        train(tiny_config(tmp_path, steps=4, resume=True, latent_dim=16))
    with pytest.raises(LatentEditError, match="holds a training run; pass --resume"):
        train(tiny_config(tmp_path, steps=4))
    with pytest.raises(LatentEditError, match="not a training run"):
        train(tiny_config(tmp_path, "missing", steps=4, resume=True))
    # Resumable changes (more steps) are accepted.
    assert train(tiny_config(tmp_path, steps=3, resume=True))["step"] == 3


def test_bad_data_is_reported(tmp_path):
    make_faceset(tmp_path / "small", "A", n=3, size=32)
    with pytest.raises(FaceSetError, match=r"3 of 3 crops are smaller than --size 64"):
        Trainer(tiny_config(tmp_path, data={"A": str(tmp_path / "small")}))
    with pytest.raises(FaceSetError, match=r"no faces with identity 'zz'.*has: A"):
        Trainer(tiny_config(tmp_path, data={"A": str(tmp_path / "small") + "@zz"}, size=64))
    with pytest.raises(FaceSetError, match="not a FaceSet|not found"):
        Trainer(tiny_config(tmp_path, data={"A": str(tmp_path / "nope")}))
    with pytest.raises(LatentEditError, match="'generic' is reserved"):
        Trainer(tiny_config(tmp_path, data={"generic": str(tmp_path / "A")}))


def test_identity_label_and_generic_decoder(tmp_path):
    both = tmp_path / "both"
    make_faceset(both, "id000", n=6, seed=3)
    from latentedit.faceset import FaceSet
    from latentedit.train.data import load_identity
    d = load_identity("A", str(both), "id000", 64)
    assert d.images.shape == (6, 3, 64, 64) and d.images.dtype == torch.uint8
    assert d.face_mask.shape == (6, 1, 64, 64) and d.face_mask.float().mean() > 50
    cfg = tiny_config(tmp_path, steps=1, generic=str(tmp_path / "A"))
    s = train(cfg)
    assert load_model(tmp_path / "run").identities == ("A", "B", "generic")
    assert "generic/total" in s["losses"] and len(FaceSet(both)) == 6


def test_cli_in_process(tmp_path, capsys):
    make_faceset(tmp_path / "A", "A", seed=1)
    make_faceset(tmp_path / "B", "B", seed=2)
    run = tmp_path / "run"
    argv = ["train", "--data", f"A={tmp_path / 'A'}", "--data", f"B={tmp_path / 'B'}", "--out", str(run),
            "--steps", "2", "--batch", "2", "--latent-dim", "32", "--enc-channels", "8", "--dec-channels", "8",
            "--inter-channels", "32", "--preview-every", "1", "--threads", "1", "--quiet", "--no-tensorboard"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["step"] == 2 and summary["model_id"] == load_model(run).model_id
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["batch"] == 2 and saved["model"]["latent_dim"] == 32
    from latentedit._io import read_image
    grid = read_image(run / "preview.png")
    assert grid.shape == (2 * 3 * 66 + 2, 8 * 66 + 2, 3)  # 2 identities × (input, recon, swap) rows
    assert main(argv) == 2  # the run exists: refused without --resume
    assert "pass --resume" in capsys.readouterr().err
    assert main(argv[:-4] + ["--steps", "3", "--resume", "--quiet"]) == 0
    assert main(["train", "--data", "A", "--out", str(tmp_path / "x")]) == 2
    assert "expected NAME=DIR" in capsys.readouterr().err


def test_run_model_records_training_framing(tmp_path):
    """RUN/model carries the training crops' mean landmarks; the Editor aligns photos to them."""
    import numpy as np

    from latentedit import FaceSet
    from latentedit.edit import Editor
    from latentedit.framing import read_template
    from latentedit.synth import synth_faceset

    data = synth_faceset(tmp_path / "synth", identities=2, per_identity=4, size=64, seed=0, progress=False)
    from latentedit.cli.main import main

    assert main(["train", "--data", f"A={data.root}@id000", "--data", f"B={data.root}@id001",
                 "--out", str(tmp_path / "run"), "--size", "64", "--steps", "2", "--batch", "2",
                 "--enc-channels", "8", "--dec-channels", "8", "--latent-dim", "16", "--inter-channels", "16",
                 "--checkpoint-every", "2", "--preview-every", "100", "--threads", "1", "--quiet",
                 "--no-tensorboard"]) == 0
    recs = FaceSet(data.root).records  # synthesised at 64 px: the crops' own landmarks
    want = np.mean([r.landmarks for r in recs], axis=0)
    got = read_template(tmp_path / "run" / "model", 64)
    np.testing.assert_allclose(got, want, atol=1e-2)
    np.testing.assert_allclose(Editor.from_pretrained(tmp_path / "run").template, want, atol=1e-2)
