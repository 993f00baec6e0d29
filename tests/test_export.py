"""ONNX export of a tiny model: graphs match PyTorch in onnxruntime, with a dynamic batch axis."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

_WHY = "needs the export extra; runs once `pip install -e '.[export]'` (or .[dev]) has installed onnx and onnxruntime"
pytest.importorskip("onnx", reason=_WHY)
ort = pytest.importorskip("onnxruntime", reason=_WHY)

from latentedit.errors import LatentEditError  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    import torch

    from latentedit.models import SwapAutoencoder, save_pretrained, tiny_config

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = SwapAutoencoder(tiny_config(64, identities=("A", "B", "generic")))
    return save_pretrained(model, tmp_path_factory.mktemp("m") / "tiny")


@pytest.fixture(scope="module")
def exported(model_dir, tmp_path_factory):
    from latentedit.cli.main import main

    out = tmp_path_factory.mktemp("onnx") / "out"
    assert main(["export", str(model_dir), "--onnx", str(out)]) == 0
    return out


def test_manifest_lists_every_graph_within_tolerance(exported, model_dir):
    from latentedit.models import load_model

    m = json.loads((exported / "manifest.json").read_text())
    files = [g["file"] for g in m["graphs"]]
    assert files == ["encoder.onnx", "decoder_A.onnx", "decoder_B.onnx", "decoder_generic.onnx"]
    assert all((exported / f).is_file() for f in files)
    assert m["resolution"] == 64 and m["latent_dim"] == 32 and m["opset"] >= 13
    assert m["model_id"] == load_model(model_dir).model_id
    assert 0 <= m["max_abs_diff"] <= 1e-3
    assert all(g["max_abs_diff"] <= 1e-3 for g in m["graphs"])
    from latentedit.preprocess import preprocessing_block

    assert m["preprocessing"] == preprocessing_block(64)  # how a runtime must make the encoder's input


def test_onnx_graphs_reproduce_pytorch_at_another_batch_size(exported, model_dir):
    import torch

    from latentedit.models import load_model

    model = load_model(model_dir).eval()
    x = torch.rand(5, 3, 64, 64, generator=torch.Generator().manual_seed(3)) * 2 - 1
    enc = ort.InferenceSession(str(exported / "encoder.onnx"), providers=["CPUExecutionProvider"])
    z = enc.run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        z_ref = model.encode(x)
        rgb_ref, mask_ref = model.decode(z_ref, "B")
    assert z.shape == (5, 32)
    assert np.abs(z - z_ref.numpy()).max() <= 1e-3
    dec = ort.InferenceSession(str(exported / "decoder_B.onnx"), providers=["CPUExecutionProvider"])
    rgb, mask = dec.run(None, {"z": z_ref.numpy()})
    assert rgb.shape == (5, 3, 64, 64) and mask.shape == (5, 1, 64, 64)
    assert np.abs(rgb - rgb_ref.numpy()).max() <= 1e-3
    assert np.abs(mask - mask_ref.numpy()).max() <= 1e-3
    assert rgb.min() >= -1 and rgb.max() <= 1 and mask.min() >= 0 and mask.max() <= 1


def test_cli_prints_the_differences(model_dir, tmp_path, capsys):
    from latentedit.cli.main import main

    assert main(["export", str(model_dir), "--onnx", str(tmp_path / "o"), "--identity", "A"]) == 0
    out = capsys.readouterr().out
    assert "encoder.onnx" in out and "decoder_A.onnx" in out and "decoder_B.onnx" not in out
    assert "within atol 0.001" in out
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["decoder_A.onnx", "encoder.onnx", "manifest.json"]


def test_refuses_to_overwrite_and_unknown_identities(model_dir, exported, tmp_path, capsys):
    from latentedit.cli.main import main

    before = (exported / "encoder.onnx").read_bytes()
    assert main(["export", str(model_dir), "--onnx", str(exported)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (exported / "encoder.onnx").read_bytes() == before
    assert main(["export", str(model_dir), "--onnx", str(tmp_path / "x"), "--identity", "Z"]) == 2
    assert "unknown identity 'Z'" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing"), "--onnx", str(tmp_path / "y")]) == 2


def test_a_graph_outside_tolerance_fails(model_dir, tmp_path):
    from latentedit.export import export_onnx
    from latentedit.models import load_model

    with pytest.raises(LatentEditError, match="differs from PyTorch by .* > atol 1e-12"):
        export_onnx(load_model(model_dir), tmp_path / "strict", identities=["A"], atol=1e-12)
