"""Colour transfer: each mode does what its maths says, on real and synthetic images."""
from __future__ import annotations

import numpy as np
import pytest

from latentedit.merge import COLOR_MODES, color_transfer, lab_to_rgb, rgb_to_lab


def _photos(size: int = 96, target: str = "coffee") -> tuple[np.ndarray, np.ndarray]:
    """Two real photos (skimage test images, shipped with the package) as float RGB."""
    import cv2
    from skimage import data

    a = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)
    c = cv2.resize(getattr(data, target)(), (size, size), interpolation=cv2.INTER_AREA)
    return a.astype(np.float32) / 255, c.astype(np.float32) / 255


def _gaussian_image(rng, mean, cov, size=64):
    x = rng.multivariate_normal(mean, cov, size=size * size)
    return np.clip(x, 0, 1).reshape(size, size, 3).astype(np.float32)


def _moments(img, mask=None):
    x = img.reshape(-1, 3).astype(np.float64)
    if mask is not None:
        x = x[mask.reshape(-1) > 0.5]
    return x.mean(0), np.cov(x.T, bias=True)


def _sliced_wasserstein(x, y, n=64, seed=123):
    r = np.random.default_rng(seed)
    x, y = x.reshape(-1, 3), y.reshape(-1, 3)
    d = r.standard_normal((n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    q = np.linspace(0, 1, 101)
    return float(np.mean([np.abs(np.quantile(x @ v, q) - np.quantile(y @ v, q)).mean() for v in d]))


def test_rgb_lab_round_trip_and_reference_values():
    rgb = np.array([[1, 1, 1], [0, 0, 0], [1, 0, 0]], np.float32)
    lab = rgb_to_lab(rgb)
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.1)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.1)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.2)  # sRGB red, D65
    rng = np.random.default_rng(0)
    x = rng.random((50, 3)).astype(np.float32)
    np.testing.assert_allclose(lab_to_rgb(rgb_to_lab(x)), x, atol=2e-3)


def test_rct_matches_lab_mean_and_std_inside_masks():
    # chelsea (a cat) rather than coffee: coffee's saturated browns push many transferred
    # pixels out of the sRGB gamut, and clipping them is not what this test is about.
    src, tgt = _photos(target="chelsea")
    ms = np.zeros(src.shape[:2], np.float32)
    ms[10:80, 20:90] = 1
    mt = np.zeros(tgt.shape[:2], np.float32)
    mt[30:90, 5:70] = 1
    out = color_transfer(src, tgt, "rct", ms, mt)
    lab_o = rgb_to_lab(out)[ms > 0.5]
    lab_t = rgb_to_lab(tgt)[mt > 0.5]
    lab_s = rgb_to_lab(src)[ms > 0.5]
    # Before: > 10 L*a*b* units apart; after: means within 0.3, stds within 2 %.
    assert np.abs(lab_s.mean(0) - lab_t.mean(0)).max() > 10
    np.testing.assert_allclose(lab_o.mean(0), lab_t.mean(0), atol=0.3)
    np.testing.assert_allclose(lab_o.std(0), lab_t.std(0), rtol=0.02)


@pytest.mark.parametrize("mode", ["lct", "mkl"])
def test_linear_modes_match_mean_and_covariance(mode):
    rng = np.random.default_rng(1)
    src = _gaussian_image(rng, [0.5, 0.45, 0.4], np.array([[4, 1, 0], [1, 3, 0.5], [0, 0.5, 2]]) * 1e-3)
    tgt = _gaussian_image(rng, [0.6, 0.4, 0.3], np.array([[3, -1, 0.5], [-1, 5, 1], [0.5, 1, 4]]) * 1e-3)
    out = color_transfer(src, tgt, mode)
    mu_o, cov_o = _moments(out)
    mu_t, cov_t = _moments(tgt)
    np.testing.assert_allclose(mu_o, mu_t, atol=2e-3)
    np.testing.assert_allclose(cov_o, cov_t, atol=2e-4)


def test_mkl_is_the_optimal_gaussian_map_and_lct_differs():
    """MKL is the symmetric positive-definite map (the OT map between Gaussians); LCT is another
    covariance-matching map, so the two must differ on anisotropic inputs while matching the same moments."""
    rng = np.random.default_rng(2)
    src = _gaussian_image(rng, [0.5, 0.5, 0.5], np.diag([6, 1, 3]) * 1e-3)
    tgt = _gaussian_image(rng, [0.5, 0.5, 0.5], np.array([[2, 1.5, 0], [1.5, 5, 0], [0, 0, 3]]) * 1e-3)
    x = src.reshape(-1, 3).astype(np.float64) - src.reshape(-1, 3).mean(0)
    maps = {}
    for mode in ("lct", "mkl"):
        y = color_transfer(src, tgt, mode).reshape(-1, 3).astype(np.float64)
        y -= y.mean(0)
        maps[mode] = np.linalg.lstsq(x, y, rcond=None)[0].T  # fitted linear map
    t = maps["mkl"]
    np.testing.assert_allclose(t, t.T, atol=0.03)  # symmetric
    assert np.linalg.eigvalsh((t + t.T) / 2).min() > 0  # positive definite
    assert np.abs(maps["lct"] - maps["mkl"]).max() > 0.05
    # MKL moves pixels less than LCT on average (it minimises the expected squared displacement).
    disp = {m: float(np.mean(np.sum((x @ (maps[m] - np.eye(3)).T) ** 2, 1))) for m in maps}
    assert disp["mkl"] <= disp["lct"] + 1e-9


@pytest.mark.parametrize("mode", ["idt", "sot"])
def test_distribution_modes_reduce_sliced_wasserstein(mode):
    src, tgt = _photos()
    before = _sliced_wasserstein(src, tgt)
    out = color_transfer(src, tgt, mode)
    after = _sliced_wasserstein(out, tgt)
    assert after < before / 5, (before, after)
    # And beat the moment-matching modes at matching the full distribution.
    assert after < _sliced_wasserstein(color_transfer(src, tgt, "mkl"), tgt)


def test_distribution_modes_respect_masks():
    src, tgt = _photos()
    mt = np.zeros(tgt.shape[:2], np.float32)
    mt[:40] = 1  # only the top of the target
    out = color_transfer(src, tgt, "idt", target_mask=mt)
    top, whole = tgt[:40], tgt
    assert _sliced_wasserstein(out, top) < 0.5 * _sliced_wasserstein(out, whole)


@pytest.mark.parametrize("mode", COLOR_MODES)
def test_every_mode_keeps_shape_range_and_is_deterministic(mode):
    src, tgt = _photos(64)
    tgt = tgt[:48]  # target of another size
    out1 = color_transfer(src, tgt, mode)
    out2 = color_transfer(src, tgt, mode)
    assert out1.shape == src.shape and out1.dtype == np.float32
    assert out1.min() >= 0 and out1.max() <= 1
    np.testing.assert_array_equal(out1, out2)
    if mode in ("idt", "sot"):
        other = color_transfer(src, tgt, mode, seed=5)
        assert not np.array_equal(other, out1)  # the seed matters, and is honoured


def test_none_is_identity():
    src, tgt = _photos(32)
    out = color_transfer(src, tgt, "none")
    np.testing.assert_array_equal(out, src)
    assert out is not src


@pytest.mark.parametrize("mode", ["rct", "lct", "mkl", "idt", "sot"])
def test_constant_source_maps_to_target_colour(mode):
    src = np.full((32, 32, 3), 0.3, np.float32)
    rng = np.random.default_rng(3)
    tgt = np.clip(rng.normal([0.7, 0.5, 0.2], 0.05, (32, 32, 3)), 0, 1).astype(np.float32)
    out = color_transfer(src, tgt, mode)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), tgt.reshape(-1, 3).mean(0), atol=0.02)


def test_constant_target_gives_constant_output():
    src, _ = _photos(32)
    tgt = np.full((16, 16, 3), 0.5, np.float32)
    for mode in ("rct", "lct", "mkl", "idt", "sot"):
        out = color_transfer(src, tgt, mode)
        assert np.abs(out - 0.5).max() < 0.03, mode


def test_bad_inputs_raise_value_errors_naming_the_problem():
    src, tgt = _photos(32)
    with pytest.raises(ValueError, match="unknown colour mode 'xyz'"):
        color_transfer(src, tgt, "xyz")
    with pytest.raises(ValueError, match="source_mask: mask is empty"):
        color_transfer(src, tgt, "rct", source_mask=np.zeros((32, 32)))
    tiny = np.zeros((32, 32))
    tiny[0, :3] = 1
    with pytest.raises(ValueError, match="target_mask: mask selects only 3 pixel"):
        color_transfer(src, tgt, "lct", target_mask=tiny)
    with pytest.raises(ValueError, match="source_mask: shape"):
        color_transfer(src, tgt, "rct", source_mask=np.ones((31, 32)))
    with pytest.raises(ValueError, match="source: expected float RGB"):
        color_transfer((src * 255).astype(np.uint8), tgt, "rct")
    with pytest.raises(ValueError, match=r"target: values must lie in \[0, 1\]"):
        color_transfer(src, tgt * 2 - 0.5, "rct")
    with pytest.raises(ValueError, match="source: contains NaN"):
        color_transfer(np.full((8, 8, 3), np.nan, np.float32), tgt, "mkl")
