"""float16 model weights: half the file, loaded back into float32, the model id is the loaded weights'."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latentedit.cli.main import main
from latentedit.errors import LatentEditError, ModelFormatError
from latentedit.faceset import FaceSet
from latentedit.latent.landmark_head import LandmarkHead
from latentedit.manifest import verify_manifest, write_manifest
from latentedit.models import SwapAutoencoder, save_pretrained, tiny_config
from latentedit.synth import synth_faceset


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return SwapAutoencoder(tiny_config(resolution=64)).eval()


def test_float16_weights_load_as_float32_and_decode_the_same(model, tmp_path):
    save_pretrained(model, tmp_path / "f32")
    save_pretrained(model, tmp_path / "f16", weights_dtype="float16")
    a, b = SwapAutoencoder.from_pretrained(tmp_path / "f32"), SwapAutoencoder.from_pretrained(tmp_path / "f16")
    assert all(p.dtype == torch.float32 for p in b.parameters())
    size = lambda d: (d / "model.safetensors").stat().st_size  # noqa: E731
    assert size(tmp_path / "f16") < 0.6 * size(tmp_path / "f32")
    cfg = json.loads((tmp_path / "f16" / "config.json").read_text())
    assert cfg["weights_dtype"] == "float16" and cfg["model_id"] == b.model_id != a.model_id
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        da = a.decode(a.encode(x), a.identities[0])[0]
        db = b.decode(b.encode(x), b.identities[0])[0]
    assert float((da - db).abs().max()) < 5e-3


def test_a_weights_dtype_that_does_not_match_the_file_is_refused(model, tmp_path):
    save_pretrained(model, tmp_path / "m", weights_dtype="float16")
    cfg_path = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["weights_dtype"] = "float32"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ModelFormatError, match="dtype torch.float16, expected torch.float32"):
        SwapAutoencoder.from_pretrained(tmp_path / "m")
    cfg["weights_dtype"] = "int4"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ModelFormatError, match="weights_dtype"):
        SwapAutoencoder.from_pretrained(tmp_path / "m")
    with pytest.raises(LatentEditError, match="weights_dtype must be one of"):
        save_pretrained(model, tmp_path / "x", weights_dtype="bfloat8")


def test_fit_landmark_head_cli_writes_a_head_the_manifest_lists(model, tmp_path, capsys):
    save_pretrained(model, tmp_path / "m")
    write_manifest(tmp_path / "m")
    synth_faceset(tmp_path / "faces", identities=2, per_identity=12, size=64, seed=0, progress=False)
    assert main(["fit", str(tmp_path / "m"), str(tmp_path / "faces"), "--landmark-head", "--attribute", "smile"]) == 0
    assert "landmark head: held-out error" in capsys.readouterr().out
    smile = json.loads((tmp_path / "m" / "boundaries" / "smile.json").read_text())
    assert len(smile["meta"]["landmark_weights"]) == 68                    # where a smile moves a face
    verify_manifest(tmp_path / "m", required=True)
    head = LandmarkHead.load(tmp_path / "m", model.model_id)
    z = np.zeros((1, model.config.latent_dim), np.float32)
    assert head.predict(z).shape == (1, 68, 2) and np.isfinite(head.predict(z)).all()
    assert len(FaceSet(tmp_path / "faces")) == 24
    assert main(["fit", str(tmp_path / "m"), str(tmp_path / "faces")]) == 2          # nothing to fit
    assert "nothing to fit" in capsys.readouterr().err
