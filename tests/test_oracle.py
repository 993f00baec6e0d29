"""The SynthFaces attribute oracle: training on tiny renders, save/load, predict contracts."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latentedit.cli.main import main
from latentedit.eval.oracle import AttributeOracle, default_oracle_dir
from latentedit.eval.oracle_train import heldout_table, train_oracle
from latentedit.errors import LatentEditError, ModelFormatError


@pytest.fixture(scope="module")
def tiny_oracle(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("oracle")
    oracle = train_oracle(out, n_images=48, size=32, seed=3, steps=4, batch_size=16, n_heldout=12, progress=False)
    return out, oracle


def test_trains_and_reports_heldout_accuracy(tiny_oracle):
    out, oracle = tiny_oracle
    names = oracle.attributes
    for expected in ("smile", "mouth_open", "eye_open", "brow_raise", "gaze_x", "yaw", "pitch", "roll",
                     "eye_size", "nose_length", "nose_width", "mouth_width"):
        assert expected in names
    assert oracle.kind("smile") == "expression" and oracle.kind("nose_length") == "identity"
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["class"] == "AttributeOracle" and cfg["resolution"] == 32
    assert set(cfg["heldout"]) == set(names)
    for h in cfg["heldout"].values():
        assert np.isfinite(h["mae"]) and h["mae"] >= 0 and h["r2"] <= 1.0
    assert cfg["train"]["steps_done"] == 4 and cfg["train"]["heldout_seed"] != cfg["train"]["seed"]
    # Normalisation statistics are those of the attribute ranges (e.g. smile is sampled in [-0.5, 1]).
    assert 0.2 < oracle.std("smile") < 0.6
    assert "| smile | expression |" in heldout_table(oracle)


def test_save_load_roundtrip_and_predict_contracts(tiny_oracle):
    out, oracle = tiny_oracle
    loaded = AttributeOracle.load(out)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(3, 48, 48, 3), dtype=np.uint8)  # any size: resized to 32
    a, b = oracle.predict(imgs), loaded.predict(imgs)
    assert list(a) == oracle.attributes
    for k in a:
        assert a[k].shape == (3,) and a[k].dtype == np.float32
        np.testing.assert_allclose(a[k], b[k], atol=1e-5)
    # A float tensor in [-1, 1] (the decoder contract) gives the same answer as its uint8 image.
    t = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1
    c = loaded.predict(t, value_range=(-1, 1))
    np.testing.assert_allclose(c["smile"], a["smile"], atol=1e-4)
    d = loaded.predict((t + 1) / 2, value_range=(0, 1))
    np.testing.assert_allclose(d["smile"], a["smile"], atol=1e-4)
    norm = loaded.predict(imgs, normalized=True)
    np.testing.assert_allclose(norm["smile"] * loaded.std("smile") + loaded.config.mean[loaded.attributes.index("smile")],
                               a["smile"], atol=1e-4)
    with pytest.raises(ValueError, match="value_range"):
        loaded.predict(t)
    with pytest.raises(ValueError, match="uint8"):
        loaded.predict(imgs.astype(np.float32))
    with pytest.raises(LatentEditError, match="does not know attribute"):
        loaded.std("nope")


def test_refuses_overwrite_and_reports_bad_folders(tiny_oracle, tmp_path):
    out, oracle = tiny_oracle
    with pytest.raises(LatentEditError, match="refusing to overwrite"):
        oracle.save(out)
    with pytest.raises(LatentEditError, match="refusing to overwrite"):
        train_oracle(out, n_images=4, size=32, steps=1, progress=False)
    with pytest.raises(ModelFormatError, match="config.json: missing"):
        AttributeOracle.load(tmp_path)
    bad = tmp_path / "bad"
    oracle.save(bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["format_version"] = 99
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFormatError, match="format_version 99"):
        AttributeOracle.load(bad)
    cfg["format_version"] = 1
    cfg["width"] = 8
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFormatError, match="weights do not match"):
        AttributeOracle.load(bad)


def test_oracle_reads_its_training_signal():
    """A few dozen steps on tiny renders already beat chance on the big, easy attributes."""
    torch.set_num_threads(1)
    oracle = train_oracle(None, n_images=96, size=32, seed=1, steps=30, batch_size=16, n_heldout=48,
                          progress=False)
    r2 = {k: v["r2"] for k, v in oracle.config.heldout.items()}
    assert max(r2["yaw"], r2["background"], r2["skin_tone"], r2["light_angle"]) > 0.25, r2


def test_bench_oracle_command(tmp_path, capsys):
    assert main(["bench", "oracle", "--out", str(tmp_path / "o"), "--n-images", "16", "--size", "32", "--steps", "2",
                 "--batch-size", "8", "--n-heldout", "8"]) == 0
    assert "| smile |" in capsys.readouterr().out
    assert "latentedit bench oracle --out DIR" in (tmp_path / "o" / "README.md").read_text()
    assert AttributeOracle.load(tmp_path / "o").resolution == 32
    assert main(["bench", "oracle", "--out", str(tmp_path / "o"), "--n-images", "16", "--size", "32",
                 "--steps", "1"]) == 2
    assert "already holds an oracle" in capsys.readouterr().err


def test_default_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LATENTEDIT_ORACLE", str(tmp_path))
    assert default_oracle_dir() == tmp_path
    monkeypatch.delenv("LATENTEDIT_ORACLE")
    assert default_oracle_dir().parts[-2:] == ("pretrained", "oracle")


def test_continue_training_keeps_normalisation(tiny_oracle, tmp_path):
    out, oracle = tiny_oracle
    more = train_oracle(tmp_path / "more", n_images=16, size=32, seed=9, steps=2, batch_size=8, n_heldout=8,
                        progress=False, init=out)
    assert more.config.mean == oracle.config.mean and more.config.std == oracle.config.std
    assert more.config.train["init"]["train"]["steps_done"] == 4
    with pytest.raises(LatentEditError, match="--init"):
        train_oracle(None, n_images=8, size=48, seed=9, steps=1, batch_size=4, n_heldout=4, progress=False, init=out)
