"""PSNR / SSIM known values and offline LPIPS."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import latentedit
from latentedit.errors import LatentEditError
from latentedit.eval.metrics import lpips_distance, psnr, ssim, summarize
from latentedit.train.lpips import LPIPS_ENV, load_lpips, lpips_search_paths
from tests.conftest import shared_path


def _pair(seed: int = 0, sigma: float = 0.05):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(2, 3, 24, 32, generator=g)
    b = a + sigma * torch.randn(a.shape, generator=g)
    return a, b


def test_psnr_identical_is_inf_and_known_noise_level():
    a, _ = _pair()
    assert torch.isinf(psnr(a, a)).all()
    # A constant offset of 0.1 has MSE 0.01 -> exactly 20 dB for data_range 1, 26.02 dB for range 2.
    b = a + 0.1
    assert torch.allclose(psnr(a, b), torch.full((2,), 20.0), atol=1e-4)
    assert torch.allclose(psnr(a, b, data_range=2.0), torch.full((2,), 20 + 20 * math.log10(2)), atol=1e-4)
    # [0,1] -> [-1,1] rescaling with the matching data_range gives the same PSNR.
    assert torch.allclose(psnr(a * 2 - 1, b * 2 - 1, data_range=2.0), psnr(a, b), atol=1e-4)


def test_ssim_identical_is_one_and_matches_scikit_image():
    from skimage.metrics import structural_similarity

    a, b = _pair(sigma=0.1)
    assert torch.allclose(ssim(a, a), torch.ones(2))
    got = ssim(a, b)
    for i in range(2):
        ref = structural_similarity(a[i].permute(1, 2, 0).double().numpy(), b[i].permute(1, 2, 0).double().numpy(),
                                    gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=1.0, channel_axis=2)
        assert got[i].item() == pytest.approx(ref, abs=1e-5)
    # More noise -> lower SSIM; scaling values and data_range together leaves SSIM unchanged.
    _, b2 = _pair(sigma=0.3)
    assert (ssim(a, b2) < got).all()
    assert torch.allclose(ssim(a * 2, b * 2, data_range=2.0), got, atol=1e-5)


def test_ssim_small_images_and_shape_errors():
    a = torch.rand(1, 3, 6, 6)
    assert ssim(a, a).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, torch.rand(1, 3, 6, 7))
    with pytest.raises(ValueError, match="N×C×H×W"):
        ssim(torch.rand(6, 6), torch.rand(6, 6))


def test_lpips_check_images_match_reference_values():
    from latentedit._io import read_image

    check = shared_path("weights", "lpips", "check")
    torch.set_num_threads(1)
    model = load_lpips(check.parent)
    to_t = lambda f: torch.from_numpy(read_image(check / f)).permute(2, 0, 1).float() / 127.5 - 1
    ref = to_t("ex_ref.png")
    d = lpips_distance(torch.stack([ref, ref, ref]), torch.stack([to_t("ex_p0.png"), to_t("ex_p1.png"), ref]), model)
    assert d[0].item() == pytest.approx(0.7219, abs=5e-4)
    assert d[1].item() == pytest.approx(0.1376, abs=5e-4)
    assert d[2].item() == pytest.approx(0.0, abs=1e-6)
    # [0,1] inputs with data_range=1 give the same distances.
    d01 = lpips_distance((ref[None] + 1) / 2, (to_t("ex_p1.png")[None] + 1) / 2, model, data_range=1.0)
    assert d01.item() == pytest.approx(d[1].item(), abs=1e-5)
    assert not any(p.requires_grad for p in model.parameters())


def test_lpips_missing_weights_error_names_paths(tmp_path, monkeypatch):
    monkeypatch.setenv(LPIPS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(LatentEditError, match="nowhere.*Nothing is downloaded"):
        load_lpips(tmp_path / "nowhere")
    # Without an argument the environment variable is tried first, then ../shared (dev only).
    paths = lpips_search_paths()
    checkout = Path(latentedit.__file__).resolve().parents[1]
    assert paths[0] == tmp_path / "nowhere" and paths[-1] == checkout.parent / "shared" / "weights" / "lpips"


def test_lpips_corrupt_weights_file(tmp_path):
    (tmp_path / "alex_features.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(LatentEditError, match="cannot read LPIPS weights"):
        load_lpips(tmp_path)


def test_summarize_counts_inf_apart():
    s = summarize([1.0, 3.0, float("inf")])
    assert s == {"mean": 2.0, "std": 1.0, "n": 3, "n_inf": 1}
    assert np.isnan(summarize([float("inf")])["mean"])
