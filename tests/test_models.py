"""SwapAutoencoder: shapes, shared encoder, input checks, save/load, model_id."""
from __future__ import annotations

import json

import pytest
import torch

from latentedit.errors import LatentEditError, ModelFormatError
from latentedit.models import (Discriminators, ModelConfig, SwapAutoencoder, load_discriminators,
                               load_model, tiny_config)


def _images(n: int, s: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, s, s, generator=g) * 2 - 1


@pytest.mark.parametrize("res", [64, 128, 256])
def test_shapes_and_ranges(res):
    model = SwapAutoencoder(tiny_config(res, identities=("A", "B", "generic"))).eval()
    x = _images(2, res)
    with torch.no_grad():
        z = model.encode(x)
        assert z.shape == (2, 32) and z.dtype == torch.float32
        for ident in model.identities:
            rgb, mask = model.decode(z, ident)
            assert rgb.shape == (2, 3, res, res) and mask.shape == (2, 1, res, res)
            assert rgb.min() >= -1 and rgb.max() <= 1 and mask.min() >= 0 and mask.max() <= 1
        rgb2, _ = model.swap(x, "B")
    assert torch.allclose(rgb2, model.decode(z, "B")[0])
    assert model.identities == ("A", "B", "generic")
    disc = Discriminators(model.config)
    assert disc.patch(x).shape == (2, 1, res // 8, res // 8)
    assert disc.latent(z).shape == (2,)


def test_default_configs_build_and_bottleneck():
    for res, grid in ((64, 4), (128, 4), (256, 8)):
        cfg = ModelConfig(resolution=res)
        assert cfg.bottleneck_res == grid
        assert cfg.dec_widths()[-1] == cfg.dec_channels
    with pytest.raises(ValueError, match="resolution"):
        ModelConfig(resolution=96)
    with pytest.raises(ValueError, match="distinct"):
        ModelConfig(identities=("A", "A"))


def test_encoder_is_shared_between_identities():
    model = SwapAutoencoder(tiny_config(64))
    xa, xb = _images(2, 64, 1), _images(2, 64, 2)
    grads = {}
    for ident, x in (("A", xa), ("B", xb)):
        model.zero_grad()
        _, rgb, _ = model(x, ident)
        (rgb - x).abs().mean().backward()
        grads[ident] = torch.cat([p.grad.flatten() for p in model.encoder.parameters()])
        other = "B" if ident == "A" else "A"
        assert all(p.grad is None or not p.grad.any() for p in model.decoders[other].parameters())
        assert grads[ident].abs().sum() > 0
    # Both identities' losses reach the same encoder parameters, with different gradients.
    assert not torch.allclose(grads["A"], grads["B"])
    model.zero_grad()
    loss = sum((model(x, i)[1] - x).abs().mean() for i, x in (("A", xa), ("B", xb)))
    loss.backward()
    both = torch.cat([p.grad.flatten() for p in model.encoder.parameters()])
    assert torch.allclose(both, grads["A"] + grads["B"], atol=1e-6)


def test_input_checks_name_the_problem():
    model = SwapAutoencoder(tiny_config(64))
    with pytest.raises(LatentEditError, match=r"expected float32 N×3×64×64 RGB in \[-1, 1\], got 2×3×128×128"):
        model.encode(_images(2, 128))
    with pytest.raises(LatentEditError, match=r"values in \[255, 255\].*x / 127.5 - 1"):
        model.encode(torch.full((1, 3, 64, 64), 255.0))
    with pytest.raises(LatentEditError, match="dtype torch.float64"):
        model.encode(_images(1, 64).double())
    with pytest.raises(LatentEditError, match="unknown identity 'C'; this model has decoders: A, B"):
        model.decode(torch.zeros(1, 32), "C")
    with pytest.raises(LatentEditError, match="N×32, got 1×16"):
        model.decode(torch.zeros(1, 16), "A")
    with pytest.raises(LatentEditError, match="NaN"):
        model.decode(torch.full((1, 32), float("nan")), "A")


def test_save_load_identical_outputs_and_model_id(tmp_path):
    torch.manual_seed(3)
    model = SwapAutoencoder(tiny_config(64)).eval()
    disc = Discriminators(model.config)
    model.save_pretrained(tmp_path / "m", discriminators=disc)
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["format_version"] == 1 and cfg["class"] == "SwapAutoencoder"
    assert cfg["identities"] == ["A", "B"] and cfg["preprocessing"]["input_range"] == [-1, 1]
    assert cfg["preprocessing"]["channel_order"] == "RGB" and cfg["model_id"] == model.model_id
    loaded = SwapAutoencoder.from_pretrained(tmp_path / "m")
    x = _images(3, 64)
    with torch.no_grad():
        for ident in ("A", "B"):
            a, ma = model.swap(x, ident)
            b, mb = loaded.swap(x, ident)
            assert torch.equal(a, b) and torch.equal(ma, mb)
    assert loaded.model_id == model.model_id and len(model.model_id) == 12
    d2 = load_discriminators(tmp_path / "m", loaded.config)
    assert all(torch.equal(p, q) for p, q in zip(disc.state_dict().values(), d2.state_dict().values()))
    # model_id tracks the weights.
    with torch.no_grad():
        loaded.decoders["A"].out.bias.add_(1e-3)
    assert loaded.model_id != model.model_id
    # A run folder (RUN/model) is accepted wherever a model folder is.
    model.save_pretrained(tmp_path / "run" / "model")
    assert load_model(tmp_path / "run").model_id == model.model_id


def test_save_refuses_to_overwrite(tmp_path):
    model = SwapAutoencoder(tiny_config(64))
    model.save_pretrained(tmp_path / "m", discriminators=Discriminators(model.config))
    with pytest.raises(LatentEditError, match="refusing to overwrite"):
        model.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "boundaries").mkdir()
    model.save_pretrained(tmp_path / "m", overwrite=True)
    assert (tmp_path / "m" / "boundaries").is_dir()
    assert not (tmp_path / "m" / "discriminators.safetensors").exists()  # stale critics removed


def test_load_errors_name_the_file(tmp_path):
    model = SwapAutoencoder(tiny_config(64))
    d = tmp_path / "m"
    model.save_pretrained(d)
    cfg = json.loads((d / "config.json").read_text())

    (d / "model.safetensors").rename(d / "moved")
    with pytest.raises(ModelFormatError, match=r"model\.safetensors: missing"):
        SwapAutoencoder.from_pretrained(d)
    (d / "moved").rename(d / "model.safetensors")

    newer = dict(cfg, format_version=99)
    (d / "config.json").write_text(json.dumps(newer))
    with pytest.raises(ModelFormatError, match=r"config\.json: model config format_version 99 is newer"):
        SwapAutoencoder.from_pretrained(d)

    wrong = dict(cfg, model=dict(cfg["model"], latent_dim=48))
    (d / "config.json").write_text(json.dumps(wrong))
    with pytest.raises(ModelFormatError, match=r"model\.safetensors: tensor 'encoder\.to_latent\.weight' has shape"):
        SwapAutoencoder.from_pretrained(d)

    extra_id = dict(cfg, model=dict(cfg["model"], identities=["A", "B", "C"]))
    (d / "config.json").write_text(json.dumps(extra_id))
    with pytest.raises(ModelFormatError, match=r"missing \['decoders\.C"):
        SwapAutoencoder.from_pretrained(d)

    (d / "config.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match=r"config\.json: malformed JSON"):
        SwapAutoencoder.from_pretrained(d)
    with pytest.raises(ModelFormatError, match="not a model folder"):
        load_model(tmp_path)
    with pytest.raises(ModelFormatError, match="no such model folder"):
        load_model(tmp_path / "nope")
