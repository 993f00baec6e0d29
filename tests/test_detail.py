"""Detail mode: the photo is warped, not re-rendered (latentedit.merge.detail, latentedit.edit.detail)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from latentedit.edit import Editor, Face
from latentedit.edit.detail import DetailFallback
from latentedit.edit.recipe import MergeOptions, Recipe
from latentedit.faces import canonical_landmarks
from latentedit.latent import Boundary
from latentedit.latent.landmark_head import LandmarkHead, fit_landmark_head
from latentedit.merge.detail import (GRID, MAX_SHIFT, DetailError, DetailPlan, footprint_polygon,
                                     remove_similarity, tps_map)
from latentedit.models import ModelConfig, SwapAutoencoder

S = 64


def _photo(h=320, w=400, seed=0) -> np.ndarray:
    """A textured photo (noise + gradients: every warp shows)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h, w, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    base[..., 0] = 0.5 * base[..., 0] + 0.5 * (255 * xx / w)
    return base.clip(0, 255).astype(np.uint8)


def _affine(scale=0.4, tx=-40.0, ty=-30.0) -> np.ndarray:
    return np.array([[scale, 0.0, tx], [0.0, scale, ty]])


def _mouth_shift(px: float) -> np.ndarray:
    d = np.zeros((68, 2))
    d[48, 0], d[54, 0] = -px, px     # mouth corners outwards
    d[48, 1] = d[54, 1] = -px / 2    # and up: a smile
    return d


def test_tps_interpolates_its_control_points():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 64, (20, 2))
    dst = src + rng.normal(0, 1.5, src.shape)
    out = tps_map(src, dst, src, smoothing=0.0)
    assert np.abs(out - dst).max() < 1e-6
    with pytest.raises(DetailError, match="singular|degenerate"):
        tps_map(np.zeros((5, 2)), np.zeros((5, 2)), np.zeros((1, 2)), smoothing=0.0)


def test_similarity_is_removed_from_a_shift():
    lm = canonical_landmarks(S).astype(np.float64)
    theta, scale, t = 0.05, 1.04, np.array([1.5, -2.0])
    c, s = np.cos(theta) * scale, np.sin(theta) * scale
    moved = (lm - lm.mean(0)) @ np.array([[c, s], [-s, c]]) + lm.mean(0) + t
    assert np.abs(remove_similarity(lm, moved - lm)).max() < 1e-9            # a rigid move is no edit
    shape = _mouth_shift(2.0)
    kept = remove_similarity(lm, shape + (moved - lm))
    assert np.abs(kept[48, 0] - kept[54, 0]) > 3.0                            # the non-rigid part stays


def test_zero_shift_is_the_photo_and_outside_the_footprint_never_changes():
    photo = _photo()
    lm = canonical_landmarks(S)
    plan = DetailPlan(photo, _affine(), S, lm)
    assert np.array_equal(plan.apply(plan.grid_field(np.zeros((68, 2))), None, photo), photo)
    field = plan.grid_field(_mouth_shift(3.0))
    out = plan.apply(field, None, photo)
    changed = np.any(out != photo, axis=-1)
    assert changed.any()
    inside = np.zeros(photo.shape[:2], bool)
    x0, y0, x1, y1 = plan.roi
    inside[y0:y1, x0:x1] = plan.weight[..., 0] > 0
    assert not (changed & ~inside).any()
    # the field is finite and bounded by the largest move followed
    assert np.isfinite(field).all() and np.abs(field).max() <= MAX_SHIFT * S * 1.5


def test_the_warp_moves_a_mark_with_its_landmark():
    lm = canonical_landmarks(S).astype(np.float64)
    inv_scale = 1 / 0.4
    photo = np.full((320, 400, 3), 128, np.uint8)
    corner = (lm[54] - [-40.0, -30.0]) * inv_scale          # the right mouth corner in photo pixels
    x, y = np.round(corner).astype(int)
    photo[y - 2:y + 3, x - 2:x + 3] = 255
    plan = DetailPlan(photo, _affine(), S, lm)
    shift = np.zeros((68, 2))
    shift[[53, 54, 55, 63, 64, 65]] = [2.0, 0.0]              # the mouth's right side: 2 crop px = 5 photo px
    out = plan.apply(plan.grid_field(shift), None, photo)
    ys, xs = np.nonzero(out[..., 0] > 200)
    # most of the 5 px (the similarity part of a one-sided move is taken out, the spline is smooth)
    assert 3.0 < xs.mean() - x <= 5.5 and abs(ys.mean() - y) < 1.0


def test_a_face_at_the_border_never_samples_outside_the_photo():
    photo = _photo(200, 200)
    lm = canonical_landmarks(S)
    affine = _affine(scale=0.4, tx=20.0, ty=10.0)            # the face hangs over the top-left edge
    plan = DetailPlan(photo, affine, S, lm)
    assert plan.roi[0] == 0 and plan.roi[1] == 0
    out = plan.apply(plan.grid_field(_mouth_shift(4.0)), None, photo)
    assert out.shape == photo.shape and out.dtype == np.uint8
    with pytest.raises(DetailError, match="outside the photo"):
        DetailPlan(photo, _affine(scale=0.4, tx=500.0, ty=500.0), S, lm)


def test_bad_landmarks_and_fields_are_refused():
    photo = _photo()
    lm = canonical_landmarks(S).copy()
    with pytest.raises(DetailError, match="68 finite"):
        DetailPlan(photo, _affine(), S, np.where(np.arange(68)[:, None] == 3, np.nan, lm))
    with pytest.raises(DetailError, match="degenerate"):
        DetailPlan(photo, _affine(), S, np.full((68, 2), 30.0))
    plan = DetailPlan(photo, _affine(), S, lm)
    with pytest.raises(DetailError, match="not finite"):
        plan.grid_field(np.full((68, 2), np.inf))
    with pytest.raises(DetailError, match="not finite"):
        plan.apply(np.full((GRID, GRID, 2), np.nan, np.float32), None, photo)


def test_a_large_shift_is_clipped():
    plan = DetailPlan(_photo(), _affine(), S, canonical_landmarks(S))
    clipped = plan.clip_shift(_mouth_shift(100.0))
    assert np.linalg.norm(clipped, axis=1).max() <= MAX_SHIFT * S + 1e-9


# -- the Editor ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def editor():
    torch.manual_seed(0)
    cfg = ModelConfig(resolution=S, latent_dim=32, enc_channels=4, dec_channels=4, inter_channels=32,
                      identities=("generic",))
    model = SwapAutoencoder(cfg).eval()
    rng = np.random.default_rng(0)
    normal = rng.normal(size=32)
    b = Boundary("smile", normal, model_id=str(model.model_id), std=1.0)
    # a head whose prediction depends on z along the smile normal: the mouth widens with it
    z = torch.from_numpy(rng.normal(size=(200, 32)).astype(np.float32))
    t = z.numpy() @ (normal / np.linalg.norm(normal))
    lms = np.repeat(canonical_landmarks(S)[None].astype(np.float64), 200, axis=0)
    lms[:, 54, 0] += 1.5 * t
    lms[:, 48, 0] -= 1.5 * t
    head = fit_landmark_head(z, lms, str(model.model_id), S, hidden=16, epochs=150)
    return Editor(model, {"smile": b}, landmark_head=head)


def _face(editor, photo) -> Face:
    lm = canonical_landmarks(S)
    z = torch.zeros(32)
    crop = np.zeros((S, S, 3), np.uint8)
    return Face(crop=crop, z=z, affine=_affine(), landmarks=lm, image=photo, source="test.png")


def test_detail_mode_alpha_zero_is_the_photo_byte_for_byte(editor):
    photo = _photo()
    res = editor.apply(_face(editor, photo), Recipe(edits={"smile": 0.0}))
    assert res.image is not photo and np.array_equal(res.image, photo)


def test_detail_mode_widens_the_mouth_the_way_the_head_says(editor):
    photo = _photo()
    face = _face(editor, photo)
    res = editor.apply(face, Recipe(edits={"smile": 2.0}, merge=MergeOptions(appearance=0.0)))
    plan = face._cache["detail_plan"]
    changed = np.any(res.image != photo, axis=-1)
    assert changed.any()
    x0, y0, x1, y1 = plan.roi
    outside = np.ones(photo.shape[:2], bool)
    outside[y0:y1, x0:x1] = plan.weight[..., 0] == 0
    assert not (changed & outside).any()
    shift = editor.landmark_head.shift(np.zeros(32), editor.shift(torch.zeros(1, 32),
                                                                  Recipe(edits={"smile": 2.0}))[0].numpy())
    assert shift[54, 0] > 0.5 and shift[48, 0] < -0.5            # the head: corners apart


def test_replace_mode_and_swaps_re_render(editor):
    photo = _photo()
    face = _face(editor, photo)
    res = editor.apply(face, Recipe(edits={"smile": 0.0}, merge=MergeOptions(mode="replace", color="none")))
    assert not np.array_equal(res.image, photo)                 # the decode is pasted even at alpha 0


def test_a_face_detail_mode_cannot_edit_falls_back_with_a_warning(editor):
    photo = _photo()
    face = _face(editor, photo)
    face.landmarks = np.full((68, 2), 30.0, np.float32)          # degenerate
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = editor.apply(face, Recipe(edits={"smile": 1.0}, merge=MergeOptions(color="none")))
    assert res.ok and any(issubclass(w.category, DetailFallback) and "test.png" in str(w.message) for w in caught)


def test_the_landmark_head_round_trips_and_is_tied_to_its_model(editor, tmp_path):
    head = editor.landmark_head
    head.save(tmp_path)
    again = LandmarkHead.load(tmp_path, head.model_id)
    z = np.random.default_rng(3).normal(size=(4, 32))
    assert np.allclose(again.predict(z), head.predict(z), atol=1e-5)
    assert LandmarkHead.load(tmp_path / "none") is None
    from latentedit.errors import ModelFormatError

    with pytest.raises(ModelFormatError, match="fitted on model"):
        LandmarkHead.load(tmp_path, "another")
    assert head.val_error < head.baseline_error                 # it learned the planted dependence


def test_footprint_holds_the_landmarks():
    lm = canonical_landmarks(S)
    poly = footprint_polygon(lm)
    import cv2

    assert all(cv2.pointPolygonTest(poly.reshape(-1, 1, 2), (float(x), float(y)), False) >= 0 for x, y in lm)


def test_landmark_weights_find_the_points_an_attribute_moves():
    from latentedit.latent.landmark_head import landmark_weights

    rng = np.random.default_rng(0)
    base = canonical_landmarks(S).astype(np.float64)
    lms = base[None] + rng.normal(0, 0.3, (400, 68, 2))
    smile = rng.uniform(0, 1, 400)
    lms[:, 48, 0] -= 3 * smile
    lms[:, 54, 0] += 3 * smile
    w = np.asarray(landmark_weights(lms, smile))
    assert w[48] == 1.0 and w[54] == 1.0
    assert np.median(np.delete(w, [48, 54])) < 0.3
    assert landmark_weights(lms[:10], smile[:10]) is None       # too few faces


def test_point_weights_scale_the_move(editor):
    from latentedit.edit.detail import point_weights

    b = editor.boundaries["smile"]
    assert point_weights(editor, Recipe(edits={"smile": 1.0})) is None
    b.meta["landmark_weights"] = [0.1] * 48 + [1.0] * 20
    try:
        w = point_weights(editor, Recipe(edits={"smile": 1.0}))
        assert w.shape == (68,) and w[0] == 0.1 and w[60] == 1.0
        assert point_weights(editor, Recipe(edits={"smile": 0.0})) is None
    finally:
        del b.meta["landmark_weights"]
