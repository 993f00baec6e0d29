"""Soft region masks from 68 landmarks."""
from __future__ import annotations

import numpy as np
import pytest

from latentedit.landmarks import REGIONS, region_indices
from latentedit.masks import default_feather, region_mask, region_masks
from latentedit.synth import ExpressionParams, IdentityParams
from latentedit.synth.geometry import build_geometry

IDENT = IdentityParams()


def _lm(size=128, **expr):
    return build_geometry(IDENT, ExpressionParams(**expr), size).landmarks


def _at(mask, pts):
    xy = np.round(pts).astype(int).clip(0, mask.shape[0] - 1)
    return mask[xy[:, 1], xy[:, 0]]


@pytest.mark.parametrize("size", [64, 128, 200])
def test_shape_range_and_own_landmarks_inside(size):
    lm = _lm(size)
    masks = region_masks(lm, size)
    assert list(masks) == list(REGIONS)
    for region, m in masks.items():
        assert m.shape == (size, size) and m.dtype == np.float32
        assert m.min() >= 0 and m.max() <= 1 and m.max() > 0.95
        assert _at(m, lm[region_indices(region)]).min() > 0.5, region
    # regions are local: the eyes mask stays off the mouth, the mouth mask off the eyes
    assert _at(masks["eyes"], lm[48:68]).max() < 0.05
    assert _at(masks["mouth"], lm[36:48]).max() < 0.05
    # the face mask covers the forehead above the brows but not the image corners
    forehead = 0.5 * (lm[19] + lm[24]) + [0, -0.12 * size]
    assert masks["face"][int(forehead[1]), int(forehead[0])] > 0.9
    assert masks["face"][0, 0] == 0 and masks["face"][-1, -1] == 0


def test_edit_room_open_mouth_and_wide_eyes_fit():
    neutral = _lm(eye_open=0.3)
    mouth = region_mask(neutral, 128, "mouth")
    opened = _lm(smile=1.0, mouth_open=0.7)
    assert _at(mouth, opened[48:68]).min() > 0.4
    eyes = region_mask(neutral, 128, "eyes")
    assert _at(eyes, _lm(eye_open=1.0)[36:48]).min() > 0.8
    brows = region_mask(neutral, 128, "brows")
    assert _at(brows, _lm(brow_raise=1.0, eye_open=0.3)[17:27]).min() > 0.4


def test_feather_scales_with_size_and_zero_is_hard():
    lm = _lm(128)
    hard = region_mask(lm, 128, "nose", feather=0)
    soft = region_mask(lm, 128, "nose")
    partial = lambda m: int(((m > 0.02) & (m < 0.98)).sum())  # noqa: E731
    assert partial(hard) < partial(soft)
    assert default_feather(64) == pytest.approx(2.0) and default_feather(256) == pytest.approx(8.0)
    # same landmarks at twice the size give (almost) the same mask, resized
    big = region_mask(lm * 2 + 0.5, 256, "mouth")
    small = region_mask(lm, 128, "mouth")
    assert np.abs(big[::2, ::2] - small).mean() < 0.02


def test_errors():
    lm = _lm(64)
    with pytest.raises(ValueError, match="face, eyes, brows, nose, mouth"):
        region_mask(lm, 64, "ears")
    with pytest.raises(ValueError, match="68"):
        region_mask(lm[:60], 64, "face")
    bad = lm.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        region_mask(bad, 64, "face")
    with pytest.raises(ValueError, match="feather"):
        region_mask(lm, 64, "face", feather=-1)
