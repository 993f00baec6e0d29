"""Trainer data pipeline: seeded batch order, augmentation contracts, losses, previews."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latentedit.errors import LatentEditError
from latentedit.models import SwapAutoencoder, tiny_config
from latentedit.train import augment, batch_indices, ms_dssim, parse_data_spec, preview_grid, sample_params
from latentedit.train.data import ellipse_mask
from latentedit.train.losses import reconstruction_losses


def test_batch_order_is_seeded_epoch_permutations():
    n, b = 10, 4
    stream = np.concatenate([batch_indices(n, b, s, seed=7, stream=0) for s in range(5)])  # 20 = 2 epochs
    assert sorted(stream[:10]) == list(range(10)) and sorted(stream[10:]) == list(range(10))
    assert not np.array_equal(stream[:10], stream[10:])  # a new permutation each epoch
    assert np.array_equal(batch_indices(n, b, 3, 7, 0), batch_indices(n, b, 3, 7, 0))
    assert not np.array_equal(batch_indices(n, b, 0, 7, 0), batch_indices(n, b, 0, 7, 1))
    assert len(batch_indices(3, 8, 0, 0, 0)) == 8  # a set smaller than a batch wraps around


def test_parse_data_spec():
    assert parse_data_spec("A=faces/a") == ("A", "faces/a", None)
    assert parse_data_spec("B=synth@id001") == ("B", "synth", "id001")
    for bad in ("faces", "=x", "A=", "A=x@"):
        with pytest.raises(LatentEditError):
            parse_data_spec(bad)


def _batch(n=6, s=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    imgs = torch.randint(0, 256, (n, 3, s, s), generator=g, dtype=torch.uint8)
    face = torch.from_numpy(np.round(ellipse_mask(s) * 255).astype(np.uint8))[None, None].expand(n, 1, s, s)
    return imgs, face.contiguous(), torch.zeros(n, 1, s, s, dtype=torch.uint8)


def test_no_augmentation_is_identity_and_warp_touches_only_the_input():
    imgs, face, feat = _batch()
    off = sample_params(6, torch.Generator().manual_seed(0), warp=0, rotate=0, scale=0, shift=0, flip=False,
                        color_jitter=0)
    inp, tgt, fm, _ = augment(imgs, face, feat, off)
    ref = imgs.float() / 127.5 - 1
    assert torch.allclose(inp, ref, atol=1e-4) and torch.allclose(tgt, ref, atol=1e-4)
    assert torch.allclose(fm, face.float() / 255, atol=1e-4)
    warp_only = sample_params(6, torch.Generator().manual_seed(0), warp=1, rotate=0, scale=0, shift=0,
                              flip=False, color_jitter=0)
    inp, tgt, _, _ = augment(imgs, face, feat, warp_only)
    assert torch.allclose(tgt, ref, atol=1e-4)               # targets are not warped
    assert (inp - ref).abs().mean() > 0.05                    # inputs are
    assert inp.min() >= -1 and inp.max() <= 1


def test_flip_and_shards_match_the_global_batch():
    imgs, face, feat = _batch()
    flip = sample_params(6, torch.Generator().manual_seed(1), warp=0, rotate=0, scale=0, shift=0, flip=True,
                         color_jitter=0)
    _, tgt, _, _ = augment(imgs, face, feat, flip)
    ref = imgs.float() / 127.5 - 1
    flipped = flip.theta[:, 0, 0] < 0
    assert flipped.any() and (~flipped).any()
    assert torch.allclose(tgt[flipped], ref[flipped].flip(-1), atol=1e-4)
    p = sample_params(6, torch.Generator().manual_seed(2))
    whole = augment(imgs, face, feat, p)
    for rank in range(2):
        part = augment(imgs[rank::2], face[rank::2], feat[rank::2], p.shard(rank, 2))
        for a, b in zip(part, whole):
            assert torch.allclose(a, b[rank::2], atol=1e-6)


def test_losses_are_zero_for_perfect_output_and_masked():
    imgs, face, feat = _batch(2)
    x = imgs.float() / 127.5 - 1
    fm = face.float() / 255
    out = reconstruction_losses(x, fm, x, fm, feat.float(), dssim=1, l1=1, mask_loss=1, eyes_mouth=1,
                                background=0.1)
    assert float(out["total"]) < 1e-4
    assert float(ms_dssim(x, x)) < 1e-6 and float(ms_dssim(x, x.roll(7, -1))) > 0.3
    # With background weight 0, errors outside the face mask cost nothing.
    y = x.clone()
    y[fm.expand_as(y) == 0] = -x[fm.expand_as(y) == 0]
    out = reconstruction_losses(y, fm, x, fm, feat.float(), dssim=0, l1=1, mask_loss=0, eyes_mouth=0,
                                background=0.0)
    assert float(out["l1"]) < 1e-6


def test_preview_grid_layout():
    model = SwapAutoencoder(tiny_config(64))
    s = {"A": torch.zeros(3, 3, 64, 64), "B": torch.zeros(3, 3, 64, 64)}
    grid = preview_grid(model, s)
    assert grid.shape == (6 * 66 + 2, 3 * 66 + 2, 3) and grid.dtype == np.uint8
    assert (grid[2:66, 2:66] == 128).all()  # input row shows the input (0 -> mid grey)
