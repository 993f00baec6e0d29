"""The preprocessing contract (latentedit.preprocess): training and inference crops are the same bytes,
the resampler is anti-aliased, uint8 <-> [-1, 1] round-trips exactly, and a model's recorded contract is
checked when it loads."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from latentedit import preprocess as pp
from latentedit.errors import ModelFormatError
from tests.conftest import REPO, shared_path

SYNTH_PHOTO = REPO / "latentedit" / "assets" / "samples" / "synth_neutral.png"  # SynthFaces, 307×268


@pytest.fixture(scope="module")
def tiny_editor():
    """An Editor on a tiny 64-px model aligning to the canonical framing (the framing ``extract`` writes)."""
    from latentedit.edit import Editor
    from latentedit.models import SwapAutoencoder, tiny_config

    torch.manual_seed(0)
    return Editor(SwapAutoencoder(tiny_config(64)).eval(), template=None)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255.0 ** 2 / mse)


def _box_filtered(image: np.ndarray, affine: np.ndarray, size: int, k: int = 32) -> np.ndarray:
    """Ground truth: each crop pixel is the mean of the source area it covers (pixels as little squares,
    integrated on a k× supersampled grid)."""
    import cv2

    big = np.asarray(affine, np.float64) * k
    big[:, 2] += (k - 1) / 2.0
    fine = cv2.warpAffine(image.astype(np.float32), big, (size * k, size * k), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(fine, (size, size), interpolation=cv2.INTER_AREA)


# -- one crop for training and inference ------------------------------------------------------------------

def test_extract_cli_and_editor_give_byte_identical_crops(tiny_editor, tmp_path):
    """A SynthFaces photo through `latentedit extract` (into a FaceSet) and through Editor.find_faces."""
    from latentedit.cli.main import main
    from latentedit.faceset import FaceSet

    out = tmp_path / "fs"
    assert main(["extract", str(SYNTH_PHOTO), "--out", str(out), "--size", "64", "--no-descriptor", "--quiet"]) == 0
    fs = FaceSet(out)
    assert len(fs) == 1
    from latentedit.faces import canonical_landmarks

    np.testing.assert_array_equal(tiny_editor.alignment_target, canonical_landmarks(64))  # extract's framing
    face, = tiny_editor.find_faces(SYNTH_PHOTO, all_faces=False)
    stored = fs.read_image(0)
    assert stored.shape == face.crop.shape == (64, 64, 3)
    np.testing.assert_array_equal(face.crop, stored)
    np.testing.assert_array_equal(face.affine, fs.records[0].affine)
    np.testing.assert_allclose(face.landmarks, fs.records[0].landmarks, atol=1e-3)
    # the crop is the contract's warp of the photo through the stored affine
    from latentedit._io import read_image

    np.testing.assert_array_equal(pp.warp(read_image(SYNTH_PHOTO), fs.records[0].affine, 64), stored)


def test_an_editor_with_a_model_template_aligns_with_the_same_function():
    """The shipped model frames faces like its SynthFaces training crops (alignment_template.json):
    another target, the same align and resampler."""
    from latentedit._io import read_image
    from latentedit.edit import Editor
    from latentedit.faces import canonical_landmarks, detect_faces, refine_landmarks

    editor = Editor.from_pretrained("synthfaces64")
    assert editor.template is not None and not np.allclose(editor.alignment_target, canonical_landmarks(64))
    image = read_image(SYNTH_PHOTO)
    face, = editor.find_faces(image, all_faces=False)
    lm = refine_landmarks(image, detect_faces(image)[0].landmarks)
    crop, affine = pp.align(image, lm, editor.alignment_target, 64)
    np.testing.assert_array_equal(face.crop, crop)
    np.testing.assert_array_equal(face.affine, affine)


def test_extract_and_editor_agree_on_a_high_resolution_photo(tiny_editor, tmp_path):
    """A 1024-px london_dev photo (a ~370-px face cut to 64 px): same bytes, and box-filtered, not aliased."""
    from latentedit._io import read_image
    from latentedit.faces import extract
    from latentedit.faceset import FaceSet

    photo = shared_path("data", "london_dev", "neutral", "001.jpg")
    extract([photo], tmp_path / "fs", size=64, descriptor=False, progress=False)
    fs = FaceSet(tmp_path / "fs")
    face, = tiny_editor.find_faces(photo, all_faces=False)
    np.testing.assert_array_equal(face.crop, fs.read_image(0))
    truth = _box_filtered(read_image(photo), face.affine, 64)
    assert _psnr(face.crop, truth) > 50.0  # measured 57.0 dB; the old align_face resampler gave 39.3 dB


def test_align_returns_the_affine_it_warped_with():
    from latentedit._io import read_image
    from latentedit.faces import align_face, canonical_landmarks, detect_faces

    image = read_image(SYNTH_PHOTO)
    lm = detect_faces(image)[0].landmarks
    crop, affine = pp.align(image, lm, canonical_landmarks(64), 64)
    assert crop.dtype == np.uint8 and crop.shape == (64, 64, 3) and affine.dtype == np.float32
    np.testing.assert_array_equal(crop, pp.warp(image, affine, 64))
    al = align_face(image, lm, 64)  # the face pipeline's name for the same thing
    np.testing.assert_array_equal(al.crop, crop)
    np.testing.assert_array_equal(al.affine, affine)
    with pytest.raises(ValueError, match="68×2"):
        pp.align(image, lm[:10], canonical_landmarks(64), 64)
    with pytest.raises(ValueError, match="uint8"):
        pp.align(image.astype(np.float32), lm, canonical_landmarks(64), 64)


# -- the resampler --------------------------------------------------------------------------------------

def _stripes(period: float, side: int = 1024) -> np.ndarray:
    xx = np.arange(side)[None, :].repeat(side, 0)
    grey = np.round(127.5 + 127.5 * np.cos(2 * np.pi * xx / period)).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _rotated_scale(inv_scale: float, side: int, size: int, degrees: float = 7.0) -> np.ndarray:
    s, a = 1.0 / inv_scale, np.deg2rad(degrees)
    rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    t = np.array([size / 2, size / 2]) - rot @ np.array([side / 2, side / 2])
    return np.c_[rot, t]


@pytest.mark.parametrize("inv_scale,side,limit", [(8.0, 1024, 2.0), (1.6, 1024, 40.0), (30.0, 2048, 2.0)])
def test_resampler_is_antialiased_on_stripes(inv_scale, side, limit):
    """Stripes at the source's Nyquist limit (2-px period), rotated, downscaled: a box filter leaves
    (almost) flat grey; sampling without a prefilter leaves full-contrast moiré."""
    import cv2

    image, size = _stripes(2.0, side), 64
    affine = _rotated_scale(inv_scale, side, size)
    out = pp.warp(image, affine, size)[..., 0].astype(np.float64)
    naive = cv2.warpAffine(image, affine, (size, size), flags=cv2.INTER_CUBIC)[..., 0].astype(np.float64)
    residual, aliased = out.std(), naive.std()
    # grey levels left (RMS): 8×: 0.6 (an exact box: 0); 1.6×: 28 (an exact 1.6-px box: 21); 30× (past the
    # supersampling cap, area-prescaled): 0.8, where the old Editor resampler left 8.5; naive: ~89
    assert aliased > 60.0
    assert residual < limit, (residual, aliased)


def test_supersampling_factor_and_resize():
    assert pp.supersample_factor(np.eye(2, 3) * 0.25) == 4
    assert pp.supersample_factor(np.eye(2, 3) * 0.6) == 2
    assert pp.supersample_factor(np.eye(2, 3) * 0.99) == 1  # near 1: one bicubic warp
    assert pp.supersample_factor(np.eye(2, 3) * 0.01) == pp.MAX_SUPERSAMPLE
    assert pp.supersample_factor(np.eye(2, 3) * 3.0) == 1
    img = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    s = 0.25
    by_warp = pp.warp(img, np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5]]), 64)
    np.testing.assert_array_equal(pp.resize(img, 64), by_warp)  # an integer shrink is the same box
    np.testing.assert_array_equal(pp.resize(img, 64), img.reshape(64, 4, 64, 4, 3).mean((1, 3)).round())
    np.testing.assert_array_equal(pp.warp(img, np.eye(2, 3), 256), img)  # the identity is exact
    assert pp.resize(img, (100, 50)).shape == (50, 100, 3)
    assert pp.resize(img[:40, :40], 64).shape == (64, 64, 3)  # enlarging: bicubic
    same = pp.resize(img, 256)
    assert same is not img and np.array_equal(same, img)


def test_merge_cuts_the_frame_with_the_same_resampler():
    from latentedit.merge import warp_to_crop

    img = np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    affine = _rotated_scale(3.3, 300, 64)
    np.testing.assert_array_equal(warp_to_crop(img, affine, 64), pp.warp(img, affine, 64))


# -- conversions ----------------------------------------------------------------------------------------

def test_to_model_from_model_round_trip_is_exact_for_uint8():
    every = np.arange(256, dtype=np.uint8).reshape(16, 16)
    crops = np.stack([np.stack([every, every[::-1], every.T], axis=-1)] * 2)  # (2, 16, 16, 3)
    x = pp.to_model(crops)
    assert x.dtype == torch.float32 and tuple(x.shape) == (2, 3, 16, 16) and x.is_contiguous()
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    g = every[::-1].astype(np.float32) / np.float32(127.5) - np.float32(1)
    np.testing.assert_array_equal(x[0, 1].numpy(), g)  # channel order kept (RGB)
    np.testing.assert_array_equal(pp.from_model(x), crops)
    np.testing.assert_array_equal(pp.from_model(pp.to_model(crops[0]))[0], crops[0])  # H×W×3 in
    np.testing.assert_array_equal(pp.from_model(x[0]), crops[0])  # 3×S×S out -> S×S×3
    assert pp.to_model(torch.from_numpy(crops)).shape == (2, 3, 16, 16)  # a uint8 tensor works too


def test_from_model_clips_and_rounds_to_nearest():
    y = torch.tensor([-3.0, -1.0, 2.0, 0.0, 10.4 / 127.5 - 1, 10.6 / 127.5 - 1]).view(1, 1, 6).expand(3, 1, 6)
    got = pp.from_model(y)[0, :, 0]
    np.testing.assert_array_equal(got, [0, 0, 255, 128, 10, 11])  # 0.0 -> 127.5, the only tie -> 128


def test_conversions_refuse_other_contracts():
    with pytest.raises(ValueError, match="uint8"):
        pp.to_model(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="N×H×W×3"):
        pp.to_model(np.zeros((2, 3, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="3×S×S"):
        pp.from_model(torch.zeros(1, 4, 4, 3))
    np.testing.assert_array_equal(pp.to_unit(np.array([0, 51, 255], np.uint8)), np.float32([0, 0.2, 1]))


def test_rescale_landmarks_keeps_pixel_centres():
    from latentedit.faces import canonical_landmarks

    np.testing.assert_allclose(pp.rescale_landmarks(canonical_landmarks(256), 256, 64), canonical_landmarks(64),
                               atol=1e-4)
    pts = np.array([[-0.5, -0.5], [255.5, 255.5]])  # the crop's outer edges stay its edges
    np.testing.assert_allclose(pp.rescale_landmarks(pts, 256, 64), [[-0.5, -0.5], [63.5, 63.5]])


# -- the contract recorded with the weights -------------------------------------------------------------

@pytest.fixture
def saved_model(tmp_path):
    from latentedit.models import SwapAutoencoder, save_pretrained, tiny_config

    torch.manual_seed(0)
    return save_pretrained(SwapAutoencoder(tiny_config(64)), tmp_path / "m")


def _edit_block(model_dir: Path, block) -> None:
    path = model_dir / "config.json"
    cfg = json.loads(path.read_text())
    cfg["preprocessing"] = block
    path.write_text(json.dumps(cfg))


def test_config_records_the_contract_version(saved_model):
    cfg = json.loads((saved_model / "config.json").read_text())
    assert cfg["preprocessing"] == pp.preprocessing_block(64)
    assert cfg["preprocessing"]["version"] == pp.PREPROCESSING_VERSION == 1


@pytest.mark.parametrize("change,match", [
    ({"version": 2}, r"preprocessing contract v2, newer.*upgrade latentedit"),
    ({"version": "1"}, r"'preprocessing.version' must be an integer"),
    ({"input_range": [0, 1]}, r"'preprocessing.input_range' is \[0, 1\].*retrain"),
    ({"channel_order": "BGR"}, r"'preprocessing.channel_order' is 'BGR'"),
    ({"resolution": 128}, r"'preprocessing.resolution' is 128.*'model.resolution'\) is 64"),
])
def test_loading_refuses_another_contract(saved_model, change, match):
    from latentedit.models import load_model

    _edit_block(saved_model, {**pp.preprocessing_block(64), **change})
    with pytest.raises(pp.PreprocessingMismatchError, match=match) as info:
        load_model(saved_model)
    assert isinstance(info.value, ModelFormatError) and "config.json" in str(info.value)


def test_the_cli_reports_a_mismatch_in_one_line(saved_model, tmp_path, capsys):
    from latentedit.cli.main import main

    _edit_block(saved_model, {**pp.preprocessing_block(64), "version": 7})
    assert main(["edit", str(saved_model), str(SYNTH_PHOTO), "--set", "smile=1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "preprocessing contract v7" in err and "upgrade latentedit" in err and "Traceback" not in err


def test_an_older_contract_is_refused_with_the_fix(saved_model, monkeypatch):
    from latentedit.models import load_model

    monkeypatch.setattr(pp, "PREPROCESSING_VERSION", 2)  # as if the contract had moved on since it was saved
    with pytest.raises(pp.PreprocessingMismatchError, match=r"contract v1, but this latentedit makes crops "
                                                            r"with v2.*retrain it"):
        load_model(saved_model)


def test_a_block_from_before_the_version_loads_as_version_1(saved_model):
    from latentedit.models import load_model

    before = {"resolution": 64, "input_range": [-1, 1], "channel_order": "RGB", "layout": "NCHW",
              "dtype": "float32", "alignment": "whole face"}
    _edit_block(saved_model, before)
    assert load_model(saved_model).model_id
    assert pp.check_preprocessing(before, 64)["version"] == 1
    assert pp.check_preprocessing(None, 64)["version"] == 1  # a hand-made config without the block


def test_the_shipped_model_records_the_old_block_and_loads():
    from latentedit.models import load_model
    from latentedit.pretrained import locate

    cfg = json.loads((locate("synthfaces64") / "config.json").read_text())
    assert "version" not in cfg["preprocessing"]  # saved before the contract was versioned
    assert load_model("synthfaces64").config.resolution == 64
