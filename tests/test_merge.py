"""Mask shaping, seamless cloning and paste-back into the source image."""
from __future__ import annotations

import numpy as np
import pytest

from latentedit.merge import (PastePlan, alpha_blend, border_fade, crop_mask, erode_mask, feather_mask, paste_back,
                              seamless_clone, warp_to_crop)


def _similarity(cx: float, cy: float, box: float, angle_deg: float, size: int) -> np.ndarray:
    """Source→crop affine: a ``box``-pixel square centred on (cx, cy), rotated, mapped onto a
    ``size``-pixel crop (what a face aligner would produce for a face there)."""
    s = size / box
    t = np.deg2rad(angle_deg)
    lin = s * np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    c = (size - 1) / 2
    return np.hstack([lin, (np.array([c, c]) - lin @ [cx, cy])[:, None]]).astype(np.float32)


def _warped_mask(mask: np.ndarray, affine: np.ndarray, shape) -> np.ndarray:
    import cv2

    return cv2.warpAffine(mask, affine, (shape[1], shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # 512×512 RGB, face around (220, 120)


# ----------------------------------------------------------------------------- masks

def test_erode_and_dilate_move_the_edge_by_the_given_pixels():
    m = np.zeros((40, 40), np.float32)
    m[10:30, 10:30] = 1
    assert erode_mask(m, 3).sum() == 14 * 14
    grown = erode_mask(m, -2)
    assert grown[8, 20] == 1 and grown[7, 20] == 0 and grown[20, 31] == 1
    np.testing.assert_array_equal(erode_mask(m, 0), m)
    # A full mask also shrinks away from the image edges.
    full = erode_mask(np.ones((10, 10)), 2)
    assert full[:2].max() == 0 and full[2:8, 2:8].min() == 1
    with pytest.raises(ValueError, match="whole number"):
        erode_mask(m, 1.5)


def test_feather_ramps_over_the_requested_width():
    m = np.zeros((64, 64), np.float32)
    m[:, 32:] = 1
    f = feather_mask(m, 8)
    row = f[32]
    assert abs(row[31] + row[32] - 1) < 0.02  # symmetric about the edge
    assert row[32 - 9] < 0.03 and row[32 + 8] > 0.97  # ±pixels covers the transition
    assert 0.1 < row[28] < 0.3  # and it really is soft inside that band
    np.testing.assert_array_equal(feather_mask(m, 0), m)


def test_border_fade_is_zero_on_the_edge_and_one_inside():
    b = border_fade((20, 30), 5)
    assert b[0].max() == 0 and b[:, -1].max() == 0
    assert b[5:15, 5:25].min() == 1
    assert np.all(np.diff(b[10, :6]) > 0)


def test_crop_mask_default_covers_the_crop_and_fades_out():
    m = crop_mask(128)  # feather defaults to 128 / 16 = 8 px
    assert m[0].max() == 0 and m[:, 0].max() == 0
    assert m[20:108, 20:108].min() > 0.99
    assert m.dtype == np.float32 and m.shape == (128, 128)
    with pytest.raises(ValueError, match="does not match the 128×128 face crop"):
        crop_mask(128, np.ones((64, 64)))


def test_crop_mask_feathers_inside_the_given_mask():
    import cv2

    hull = np.zeros((128, 128), np.float32)
    cv2.ellipse(hull, (64, 64), (40, 50), 0, 0, 360, 1.0, -1)
    m = crop_mask(128, hull, feather=6)
    assert m[hull == 0].max() < 0.03  # nothing outside the face is pasted
    core = cv2.erode(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (27, 27))) > 0  # 13 px inside
    assert m[core].min() > 0.98
    grown = crop_mask(128, hull, erode=-10, feather=6)  # negative erode lets the blend spill past the hull
    assert grown[hull == 0].max() > 0.9


def test_alpha_blend_keeps_background_exactly_where_mask_is_zero():
    rng = np.random.default_rng(0)
    fg = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    m = np.zeros((20, 20), np.float32)
    m[5:15, 5:15] = 1
    m[5:15, 5] = 0.5
    out = alpha_blend(fg, bg, m)
    np.testing.assert_array_equal(out[m == 0], bg[m == 0])
    np.testing.assert_array_equal(out[m == 1], fg[m == 1])
    half = (fg[5:15, 5].astype(float) + bg[5:15, 5]) / 2
    assert np.abs(out[5:15, 5] - half).max() <= 0.5 + 1e-6


# ----------------------------------------------------------------------------- seamless clone

def test_seamless_clone_of_the_frame_into_itself_is_a_no_op(astronaut):
    m = np.zeros(astronaut.shape[:2], np.float32)
    m[60:200, 150:300] = 1
    out = seamless_clone(astronaut, astronaut, m)
    assert np.abs(out.astype(int) - astronaut).mean() < 0.5


@pytest.mark.parametrize("where", ["corner", "edge", "full"])
def test_seamless_clone_with_mask_touching_the_border(astronaut, where):
    import cv2

    # A textured source, so a one-pixel misplacement of the clone would show in its gradients.
    rng = np.random.default_rng(0)
    other = cv2.blur(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), (3, 3))
    m = np.zeros((512, 512), np.float32)
    if where == "corner":
        m[:200, :250] = 1
    elif where == "edge":
        m[100:300, 400:] = 1
    else:
        m[:] = 1
    out = seamless_clone(other, astronaut, m)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[m == 0], astronaut[m == 0])
    # Inside, the result carries the cloned image's gradients, in place (not shifted by a pixel).
    inside = cv2.erode(m, np.ones((5, 5))) > 0
    gx = lambda im: np.diff(im.astype(np.float64).mean(2), axis=1)[:, :-1][inside[:, :-2]]  # noqa: E731
    err0 = np.abs(gx(out) - gx(other)).mean()
    shifted = np.roll(other, 1, axis=1)
    assert err0 < 2.0 and err0 < 0.2 * np.abs(gx(out) - gx(shifted)).mean()


def test_seamless_clone_empty_mask_returns_the_frame(astronaut):
    out = seamless_clone(astronaut[::-1].copy(), astronaut, np.zeros((512, 512)))
    np.testing.assert_array_equal(out, astronaut)
    assert out is not astronaut


# ----------------------------------------------------------------------------- paste back

@pytest.mark.parametrize("box,angle", [(160, 10), (200, -8), (120, 25)])
def test_crop_then_paste_back_reproduces_the_photo(astronaut, box, angle):
    size = 256
    affine = _similarity(220, 130, box, angle, size)
    crop = warp_to_crop(astronaut, affine, size)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    out = paste_back(astronaut, crop, affine, color="none")
    inside = _warped_mask(crop_mask(size), affine, astronaut.shape) > 0.99
    err = np.abs(out.astype(np.float64) - astronaut)
    assert inside.sum() > 5000
    assert err[inside].mean() < 2.0, err[inside].mean()  # < 2/255
    footprint = _warped_mask(np.ones((size, size), np.float32), affine, astronaut.shape) > 0
    np.testing.assert_array_equal(out[~footprint], astronaut[~footprint])


def test_paste_back_float_face_and_uint8_face_agree(astronaut):
    affine = _similarity(220, 130, 180, 5, 128)
    crop = warp_to_crop(astronaut, affine, 128)
    a = paste_back(astronaut, crop, affine, color="none")
    b = paste_back(astronaut, crop.astype(np.float32) / 255, affine, color="none")
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("color", ["rct", "lct", "mkl", "idt", "sot", "none"])
@pytest.mark.parametrize("blend", ["alpha", "seamless"])
def test_pixels_outside_the_mask_are_untouched(astronaut, color, blend):
    import cv2
    from skimage import data

    size = 96
    affine = _similarity(220, 130, 170, 12, size)
    face = cv2.resize(data.chelsea(), (size, size))  # a different "face"
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(mask, (48, 50), (30, 38), 0, 0, 360, 1.0, -1)
    out = paste_back(astronaut, face, affine, mask, color=color, blend=blend, erode=2, feather=4)
    soft = crop_mask(size, mask, erode=2, feather=4)
    zero = _warped_mask(soft, affine, astronaut.shape) <= 0
    np.testing.assert_array_equal(out[zero], astronaut[zero])
    core = _warped_mask(soft, affine, astronaut.shape) > 0.99
    assert np.abs(out[core].astype(int) - astronaut[core]).mean() > 5  # the face really was pasted


@pytest.mark.parametrize("color", ["rct", "lct", "mkl", "idt", "none"])
@pytest.mark.parametrize("blend", ["alpha", "seamless"])
def test_a_reused_paste_plan_equals_fresh_paste_backs(astronaut, color, blend):
    import cv2
    from skimage import data

    size = 96
    affine = _similarity(220, 130, 170, 12, size)
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(mask, (48, 50), (30, 38), 0, 0, 360, 1.0, -1)
    frame = astronaut.copy()
    plan = PastePlan(frame, affine, size, mask, erode=1, feather=3)
    faces = [cv2.resize(data.chelsea(), (size, size)), cv2.resize(data.coffee(), (size, size))]
    for face in faces + faces[:1]:  # the colour statistics cached by the first paste must not leak
        got = plan.paste(face, color=color, blend=blend)
        want = paste_back(frame, face, affine, mask, color=color, blend=blend, erode=1, feather=3)
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(frame, astronaut)  # the frame is never written to
    assert plan.matches(frame, affine, size, mask, 1, 3)
    assert not plan.matches(frame.copy(), affine, size, mask, 1, 3)
    assert not plan.matches(frame, affine, size, mask, 2, 3)
    with pytest.raises(ValueError, match="paste plan is for 96"):
        plan.paste(np.zeros((64, 64, 3), np.uint8))


def test_colour_transfer_pulls_the_pasted_face_to_the_frame_tone(astronaut):
    size = 128
    affine = _similarity(220, 130, 170, 0, size)
    crop = warp_to_crop(astronaut, affine, size).astype(np.float32) / 255
    tinted = np.clip(crop * [0.6, 0.9, 1.3] + [0.1, 0, 0], 0, 1).astype(np.float32)  # a badly tinted "swap"
    inside = _warped_mask(crop_mask(size), affine, astronaut.shape) > 0.99
    raw = paste_back(astronaut, tinted, affine, color="none")
    err_raw = np.abs(raw[inside].astype(float).mean(0) - astronaut[inside].mean(0)).max()
    for mode in ("rct", "lct", "mkl", "idt", "sot"):
        fixed = paste_back(astronaut, tinted, affine, color=mode)
        err = np.abs(fixed[inside].astype(float).mean(0) - astronaut[inside].mean(0)).max()
        assert err < err_raw / 4, (mode, err, err_raw)


def test_paste_back_handles_a_face_partly_outside_the_frame(astronaut):
    affine = _similarity(20, 480, 150, 30, 128)  # crop centre near the bottom-left corner
    crop = warp_to_crop(astronaut, affine, 128)
    for blend in ("alpha", "seamless"):
        out = paste_back(astronaut, 255 - crop, affine, blend=blend, color="rct")
        assert out.shape == astronaut.shape
        assert not np.array_equal(out[400:, :100], astronaut[400:, :100])
        np.testing.assert_array_equal(out[:300, 200:], astronaut[:300, 200:])


def test_paste_back_face_entirely_outside_returns_a_copy(astronaut):
    affine = _similarity(-500, -500, 100, 0, 64)
    face = np.zeros((64, 64, 3), np.uint8)
    out = paste_back(astronaut, face, affine, color="none")
    np.testing.assert_array_equal(out, astronaut)
    assert out is not astronaut


def test_paste_back_rejects_bad_inputs_with_clear_messages(astronaut):
    face = np.zeros((64, 64, 3), np.uint8)
    ok = _similarity(220, 130, 150, 0, 64)
    with pytest.raises(ValueError, match="frame: expected uint8"):
        paste_back(astronaut.astype(np.float32), face, ok)
    with pytest.raises(ValueError, match="square S×S×3"):
        paste_back(astronaut, np.zeros((64, 32, 3), np.uint8), ok)
    with pytest.raises(ValueError, match=r"\(x \+ 1\) / 2"):
        paste_back(astronaut, np.full((64, 64, 3), -0.5, np.float32), ok)
    with pytest.raises(ValueError, match="affine: expected a 2×3"):
        paste_back(astronaut, face, np.eye(2))
    with pytest.raises(ValueError, match="singular"):
        paste_back(astronaut, face, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="color: unknown mode 'fancy'"):
        paste_back(astronaut, face, ok, color="fancy")
    with pytest.raises(ValueError, match="blend: unknown mode"):
        paste_back(astronaut, face, ok, blend="poisson")
    with pytest.raises(ValueError, match="mask is empty"):
        paste_back(astronaut, face, ok, mask=np.zeros((64, 64)), color="rct")


def test_importing_merge_is_cheap():
    """The architecture contract: importing latentedit.merge pulls in neither cv2 nor PyAV."""
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, latentedit.merge; print('cv2' in sys.modules, 'av' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(Path(__file__).resolve().parents[1]))
    assert out.stdout.split() == ["False", "False"]
