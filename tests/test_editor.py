"""Editor: alpha 0 is the unedited decode, batched == one by one, region edits stay in the region,
boundaries of another model are refused, failures are reported per input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latentedit.edit import Editor, MergeOptions, Recipe, RecipeError
from latentedit.preprocess import from_model as _to_uint8
from latentedit.latent import Boundary, BoundaryMismatchError
from latentedit.models import SwapAutoencoder, tiny_config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SwapAutoencoder(tiny_config(64)).eval()


@pytest.fixture(scope="module")
def boundaries(model):
    rng = np.random.default_rng(0)
    d = model.config.latent_dim
    mid = model.model_id
    return {"smile": Boundary("smile", rng.standard_normal(d), model_id=mid, std=3.0),
            "eye_open": Boundary("eye_open", rng.standard_normal(d), model_id=mid, std=2.0),
            "mouth_open": Boundary("mouth_open", rng.standard_normal(d), model_id=mid, std=2.5)}


@pytest.fixture(scope="module")
def editor(model, boundaries):
    return Editor(model, boundaries)


def crops(n=5, size=64, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, size)[None, :, None] * np.ones((size, 1, 3))
    return [np.clip(base * rng.uniform(0.3, 1) + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
            for _ in range(n)]


def test_interface(editor, model):
    assert editor.attributes == ["eye_open", "mouth_open", "smile"]
    assert editor.identities == ["A", "B"] and editor.resolution == 64
    assert editor.default_identity == "A"


def test_alpha_zero_is_the_unedited_decode(editor):
    face, = editor.find_faces(crops(1)[0], aligned=True)
    assert face.crop.shape == (64, 64, 3) and face.z.shape == (32,) and face.affine is None
    rgb, _ = editor.decode(face.z[None], "A")
    for region in ("none", "mouth"):
        res = editor.apply(face, Recipe(edits={"smile": 0.0, "eye_open": 0.0}, region=region))
        np.testing.assert_array_equal(res.face, _to_uint8(rgb[0]))
        assert res.image is res.face  # aligned input: nothing to merge into
    moved = editor.apply(face, Recipe(edits={"smile": 3.0}))
    assert np.abs(moved.face.astype(int) - res.face.astype(int)).mean() > 0.5


def test_direction_is_alpha_times_std_along_conditioned_normal(editor, boundaries):
    z = torch.zeros(32)
    shifted = editor.shift(z, Recipe(edits={"smile": 1.5}, hold=["eye_open", "mouth_open"]))
    n = boundaries["smile"].conditioned([boundaries["eye_open"], boundaries["mouth_open"]]).normal
    np.testing.assert_allclose(shifted.numpy(), 1.5 * 3.0 * n, atol=1e-5)
    assert abs(float(shifted.numpy() @ boundaries["eye_open"].normal)) < 1e-4
    assert abs(float(shifted.numpy() @ boundaries["mouth_open"].normal)) < 1e-4
    both = editor.shift(z, Recipe(edits={"smile": 1.0, "eye_open": -2.0}))
    np.testing.assert_allclose(both.numpy(), 3.0 * boundaries["smile"].normal - 4.0 * boundaries["eye_open"].normal,
                               atol=1e-5)


def test_batched_equals_one_by_one(editor):
    images = crops(7, seed=1)
    recipe = Recipe(edits={"smile": 2.0}, hold=["eye_open"], region="mouth")
    batched = editor.edit(images, recipe, batch_size=3, aligned=True)
    assert [r.ok for r in batched] == [True] * 7
    for img, res in zip(images, batched):
        single = editor.apply(editor.find_faces(img, aligned=True)[0], recipe)
        diff = np.abs(single.face.astype(int) - res.face.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01  # float summation order only


def test_region_edit_leaves_outside_unchanged(editor):
    face, = editor.find_faces(crops(1, seed=2)[0], aligned=True)
    base = editor.apply(face, Recipe()).face
    res = editor.apply(face, Recipe(edits={"smile": 4.0}, region="mouth"))
    mask = editor._region_mask(face, "mouth")
    outside = mask == 0
    assert outside.mean() > 0.5
    np.testing.assert_array_equal(res.face[outside], base[outside])
    assert (res.face[mask > 0.9] != base[mask > 0.9]).any()


def test_region_edit_merged_into_photo_keeps_the_rest(editor):
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (200, 240, 3), dtype=np.uint8)
    affine = np.array([[0.5, 0, -30], [0, 0.5, -20]], np.float32)  # crop = photo[40:168, 60:188] at half size
    crop = photo[40:168, 60:188][::2, ::2].copy()
    face = editor.find_faces(crop, aligned=True)[0]
    face.image, face.affine = photo, affine
    res = editor.apply(face, Recipe(edits={"smile": 4.0}, region="mouth", merge=MergeOptions(color="none")))
    assert res.image.shape == photo.shape
    changed = np.any(res.image != photo, axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.any()
    # every changed pixel lies inside the mouth region of the crop, mapped back to the photo
    lm_mouth = editor._region_mask(face, "mouth") > 0
    cy, cx = np.nonzero(lm_mouth)
    assert ys.min() >= 40 + 2 * cy.min() - 4 and ys.max() <= 40 + 2 * cy.max() + 4
    assert xs.min() >= 60 + 2 * cx.min() - 4 and xs.max() <= 60 + 2 * cx.max() + 4


def test_slider_moves_reuse_the_paste_and_match_a_fresh_face(editor):
    rng = np.random.default_rng(5)
    photo = rng.integers(0, 256, (200, 240, 3), dtype=np.uint8)
    affine = np.array([[0.5, 0, -30], [0, 0.5, -20]], np.float32)
    crop = photo[40:168, 60:188][::2, ::2].copy()

    def fresh():
        f = editor.find_faces(crop, aligned=True)[0]
        f.image, f.affine = photo, affine
        return f

    face = fresh()
    for recipe in (Recipe(edits={"smile": 2.0}), Recipe(edits={"smile": -1.0}, region="mouth"),
                   Recipe(edits={"smile": 3.0}, merge=MergeOptions(color="lct")), Recipe(edits={"smile": 1.0})):
        moved = editor.apply(face, recipe)  # the same face, moved again and again (cached paste plan)
        np.testing.assert_array_equal(moved.image, editor.apply(fresh(), recipe).image)
    assert "paste" in face._cache
    np.testing.assert_array_equal(face.image, photo)


def test_swap_uses_the_other_decoder(editor):
    img = crops(1, seed=4)[0]
    res, = editor.swap([img], "B", aligned=True)
    face, = editor.find_faces(img, aligned=True)
    rgb, _ = editor.decode(face.z[None], "B")
    np.testing.assert_array_equal(res.face, _to_uint8(rgb[0]))
    assert res.recipe.identity == "B"
    with pytest.raises(RecipeError, match="unknown identity 'C'.*A, B"):
        editor.swap([img], "C", aligned=True)


def test_bad_recipe_and_mismatched_boundaries(model, boundaries, editor):
    with pytest.raises(RecipeError, match="unknown attribute.*'beard'.*known: eye_open, mouth_open, smile"):
        editor.apply(editor.find_faces(crops(1)[0], aligned=True)[0], Recipe(edits={"beard": 1.0}))
    other = Boundary("smile", np.ones(32), model_id="0123456789ab")
    with pytest.raises(BoundaryMismatchError, match="0123456789ab"):
        Editor(model, {"smile": other})


def test_from_pretrained_refuses_other_models_boundaries(tmp_path, model, boundaries):
    model.save_pretrained(tmp_path / "m")
    for b in boundaries.values():
        b.save(tmp_path / "m" / "boundaries")
    ed = Editor.from_pretrained(tmp_path / "m", device="cpu")
    assert ed.attributes == ["eye_open", "mouth_open", "smile"]
    torch.manual_seed(1)
    SwapAutoencoder(tiny_config(64)).save_pretrained(tmp_path / "m2")
    with pytest.raises(BoundaryMismatchError) as exc:
        Editor.from_pretrained(tmp_path / "m2", boundaries=tmp_path / "m" / "boundaries", device="cpu")
    assert model.model_id in str(exc.value) and "eye_open.json" in str(exc.value)


def test_failures_reported_per_input(editor, tmp_path):
    from latentedit._io import write_image

    good = tmp_path / "good.png"
    write_image(good, crops(1)[0])
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    res = editor.edit([str(tmp_path / "missing.png"), good, bad, crops(1, seed=9)[0]], Recipe(edits={"smile": 1.0}),
                      aligned=True, batch_size=2)
    assert [r.ok for r in res] == [False, True, False, True]
    assert "missing.png: file not found" in res[0].error and "bad.png" in res[2].error
    assert res[1].face.shape == (64, 64, 3)


def test_faceset_input(editor, tmp_path):
    from latentedit.faceset import FaceRecord, FaceSetWriter

    with FaceSetWriter(tmp_path / "fs") as w:
        for i, img in enumerate(crops(3, size=96)):
            w.add(img, FaceRecord(image=f"images/{i:06d}.png", identity="B", size=96))
    res = editor.edit(tmp_path / "fs", Recipe())
    assert len(res) == 3 and all(r.ok for r in res) and res[0].face.shape == (64, 64, 3)
    # the record's identity names a decoder, so it is the default reconstruction decoder
    face = editor.faces_from_faceset(__import__("latentedit").FaceSet(tmp_path / "fs"), [0])[0]
    face.z = editor.encode_crops([face.crop])[0]
    rgb, _ = editor.decode(face.z[None], "B")
    np.testing.assert_array_equal(res[0].face, _to_uint8(rgb[0]))


def test_real_photo_detect_align_edit_merge(editor):
    from latentedit._io import read_image
    from tests.conftest import shared_path

    photo = read_image(shared_path("data", "swap_pair", "A_KatieHill", "0001.jpg"))
    faces = editor.find_faces(photo)
    assert len(faces) == 1
    f = faces[0]
    assert f.crop.shape == (64, 64, 3) and f.landmarks.shape == (68, 2) and f.affine.shape == (2, 3)
    x0, y0, x1, y1 = f.box
    # replace mode: the decode is pasted (this random model's decodes barely differ, so detail mode's
    # flow would move nothing; detail mode on real photos is tested in test_detail*.py)
    res = editor.apply(f, Recipe(edits={"smile": 3.0}, merge=MergeOptions(mode="replace")))
    changed = np.any(res.image != photo, axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 1000
    # only the face changed: every modified pixel is near the detected box
    w = x1 - x0
    assert xs.min() > x0 - 0.3 * w and xs.max() < x1 + 0.3 * w and ys.min() > y0 - 0.6 * w and ys.max() < y1 + 0.3 * w
    # a recipe decoding as another identity is a swap: re-rendered even in detail mode and at alpha 0
    assert editor.default_identity == "A"
    same = editor.apply(f, Recipe())
    swapped = editor.apply(f, Recipe(identity="B"))
    assert np.array_equal(same.image, photo) and not np.array_equal(swapped.image, photo)
    with pytest.raises(__import__("latentedit").NoFaceError, match="blank: no face found"):
        editor.prepare_faces(np.zeros((100, 100, 3), np.uint8), source="blank")


def test_alignment_template(editor, model, boundaries, tmp_path):
    from latentedit._io import read_image
    from latentedit.edit import alignment_template
    from latentedit.faces.align import canonical_landmarks
    from latentedit.faceset import FaceRecord, FaceSetWriter
    from tests.conftest import shared_path

    photo = read_image(shared_path("data", "swap_pair", "A_KatieHill", "0001.jpg"))
    # the canonical landmarks as a template reproduce the default alignment (one align, one resampler)
    same = Editor(model, boundaries, template=canonical_landmarks(64)).prepare_faces(photo)[0]
    default = editor.prepare_faces(photo)[0]
    np.testing.assert_array_equal(same.crop, default.crop)
    np.testing.assert_array_equal(same.affine, default.affine)
    # a template built from a FaceSet framed smaller and lower moves the landmarks there
    lm = canonical_landmarks(128) * 0.75 + np.float32([16, 30])
    with FaceSetWriter(tmp_path / "fs") as w:
        w.add(np.zeros((128, 128, 3), np.uint8), FaceRecord(image="images/0.png", identity="x", size=128, landmarks=lm))
    from latentedit.faceset import FaceSet

    t = alignment_template(FaceSet(tmp_path / "fs"), 64)
    np.testing.assert_allclose(t, (lm + 0.5) * 0.5 - 0.5, atol=2e-3)  # the index stores 3 decimals
    f = Editor(model, boundaries, template=t).prepare_faces(photo)[0]
    assert abs(f.landmarks[36:48, 1].mean() - t[36:48, 1].mean()) < 1.5  # eyes where the template has them
    with pytest.raises(__import__("latentedit").LatentEditError, match="68×2"):
        Editor(model, boundaries, template=np.zeros((5, 2)))
