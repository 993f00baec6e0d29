"""The app's callbacks and ``build_app`` on a real tiny model (no browser, no server)."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from latentedit._io import read_image, write_image
from latentedit.app import batch as bt
from latentedit.app import callbacks as cb
from latentedit.errors import ImageReadError, LatentEditError, NoFaceError
from tests.test_app_fixtures import ATTRIBUTES, sample_photo


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    return sample_photo(tmp_path_factory.mktemp("photos") / "person.png")


def _controls(**edits):
    values = [edits.get(a, 0.0) for a in ATTRIBUTES]
    return values, [False] * len(ATTRIBUTES)


def _region_box(face, region: str = "mouth", pad: int = 3):
    """Bounding box (source pixels) of a face region's landmarks, padded."""
    from latentedit.landmarks import region_indices

    pts = face.landmarks[region_indices(region)]
    inv = np.linalg.inv(np.vstack([face.affine, [0, 0, 1]]))[:2]
    src = pts @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(src.min(0)).astype(int) - pad
    x1, y1 = np.ceil(src.max(0)).astype(int) + pad
    return x0, y0, x1, y1


# ------------------------------------------------------------------------------------- recipes

def test_build_recipe_keeps_nonzero_edits_and_reports_hold_conflicts():
    recipe, notes = cb.build_recipe(ATTRIBUTES, [0.0, 0.5, 1.25], [True, False, True], "mouth", "B", "none")
    assert recipe.edits == {"mouth_open": 0.5, "smile": 1.25}
    assert recipe.hold == ["eye_open"]                     # smile is edited, so it is not held
    assert recipe.region == "mouth" and recipe.identity == "B" and recipe.merge.color == "none"
    assert len(notes) == 2 and "smile" in notes[0]
    # decoding as another person is a swap: re-rendered (replace), whatever the edit mode says
    assert recipe.merge.mode == "replace" and "face swap" in notes[1]
    same, notes = cb.build_recipe(ATTRIBUTES, [0, 0, 1], [False] * 3, "none", "B", "none", "detail",
                                  default_identity="B")
    assert same.merge.mode == "detail" and notes == []
    recipe, _ = cb.build_recipe(ATTRIBUTES, [0, 0, 0], [False] * 3, "none", cb.DEFAULT_IDENTITY, "rct")
    assert recipe.edits == {} and recipe.identity is None


@pytest.mark.parametrize("region,color,values,match", [
    ("lips", "rct", [0, 0, 0], "unknown region 'lips'"),
    ("none", "sepia", [0, 0, 0], "unknown colour mode 'sepia'"),
    ("none", "rct", [0, float("nan"), 0], "mouth_open"),
    ("none", "rct", [0, "abc", 0], "not a number"),
    ("none", "rct", [0, 0], "expected 3 slider values"),
])
def test_build_recipe_rejects_bad_controls(region, color, values, match):
    with pytest.raises(LatentEditError, match=match):
        cb.build_recipe(ATTRIBUTES, values, [False] * 3, region, None, color)


def test_recipe_json_round_trips_through_the_controls():
    recipe, _ = cb.build_recipe(ATTRIBUTES, [-1.5, 0.0, 2.0], [False, True, False], "eyes", "A", "mkl", "replace")
    parsed = cb.parse_recipe(recipe.to_json(), ATTRIBUTES, ["A", "B"], "r.json")
    values, holds, region, identity, color, mode = cb.recipe_to_controls(parsed, ATTRIBUTES)
    assert values == [-1.5, 0.0, 2.0] and holds == [False, True, False]
    assert (region, identity, color, mode) == ("eyes", "A", "mkl", "replace")


def test_edit_mode_goes_into_the_recipe():
    from latentedit.edit.recipe import MERGE_MODES, MergeOptions

    assert cb.MERGE_MODES == MERGE_MODES and set(cb.MODE_LABELS) == set(MERGE_MODES)
    default, _ = cb.build_recipe(ATTRIBUTES, [0, 0, 1], [False] * 3, "none", None, "rct")
    assert default.merge.mode == MergeOptions().mode == cb.DEFAULT_MODE
    for mode in MERGE_MODES:
        recipe, _ = cb.build_recipe(ATTRIBUTES, [0, 0, 1], [False] * 3, "none", None, "rct", mode)
        assert recipe.to_dict()["merge"]["mode"] == mode
    with pytest.raises(LatentEditError, match="unknown edit mode 'blend'"):
        cb.build_recipe(ATTRIBUTES, [0, 0, 1], [False] * 3, "none", None, "rct", "blend")


@pytest.mark.parametrize("text,match", [
    ('{"edits": {"smile": 1', "my.json: malformed JSON .*line 1"),
    ("", "my.json: empty recipe"),
    ('{"edits": {"frown": 1.0}}', "my.json.*unknown attribute.*'frown'"),
    ('{"edits": {"smile": 1.0}, "identity": "Z"}', "my.json.*unknown identity 'Z'"),
    ('{"edits": {"smile": 1.0}, "colour": "rct"}', "my.json: unknown field"),
    ('[1, 2]', "my.json: expected a JSON object"),
])
def test_parse_recipe_names_the_file_and_the_problem(text, match):
    with pytest.raises(LatentEditError, match=match):
        cb.parse_recipe(text, ATTRIBUTES, ["A", "B"], "my.json")


def test_recipe_outside_the_slider_range_is_refused():
    from latentedit.edit import Recipe

    with pytest.raises(LatentEditError, match=r"smile=7.0 is outside"):
        cb.recipe_to_controls(Recipe(edits={"smile": 7.0}), ATTRIBUTES)


# -------------------------------------------------------------------------------------- images

def test_read_upload_rejects_non_images_oversize_and_nothing(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    with pytest.raises(ImageReadError, match="notes.png: cannot read image") as info:
        cb.read_upload(bad)
    assert str(tmp_path) not in str(info.value)            # no server temp paths in messages
    big = tmp_path / "big.png"
    write_image(big, np.zeros((60, 50, 3), np.uint8))
    with pytest.raises(ImageReadError, match="big.png: 50x60 is over"):
        cb.read_upload(big, cb.AppLimits(max_pixels=2000))
    with pytest.raises(LatentEditError, match="upload a photo"):
        cb.read_upload(None)


def test_find_faces_on_a_photo_an_aligned_crop_and_a_blank_image(editor, photo):
    image = read_image(photo)
    faces = cb.find_faces(editor, image, False, "person.png")
    assert len(faces) == 1 and faces[0].source == "person.png" and faces[0].affine is not None
    assert cb.face_labels(faces)[0].startswith("face 1 at (")
    crop = cb.find_faces(editor, faces[0].crop, True, "crop.png")
    assert crop[0].affine is None and cb.face_labels(crop) == ["face 1 (aligned crop)"]
    with pytest.raises(NoFaceError, match="blank.png: no face found; if it is already an aligned"):
        cb.find_faces(editor, np.full((120, 120, 3), 128, np.uint8), False, "blank.png")


def test_mouth_region_edit_changes_only_the_mouth(editor, photo):
    image = read_image(photo)
    faces = cb.find_faces(editor, image, False, "person.png")
    base, _ = cb.build_recipe(ATTRIBUTES, [0, 0, 0], [False] * 3, "mouth", None, "rct", "replace")
    moved, _ = cb.build_recipe(ATTRIBUTES, [0, 0, 2.5], [False] * 3, "mouth", None, "rct", "replace")
    a = cb.apply_edit(editor, faces, 0, base).image.astype(np.int32)
    b = cb.apply_edit(editor, faces, 0, moved).image.astype(np.int32)
    assert a.shape == image.shape
    diff = np.abs(a - b).sum(axis=2)

    def box_mask(pad):
        x0, y0, x1, y1 = _region_box(faces[0], pad=pad)
        m = np.zeros(diff.shape, bool)
        m[max(y0, 0):y1, max(x0, 0):x1] = True
        return m

    feather = int(0.25 * (faces[0].box[2] - faces[0].box[0]))
    inside, near = box_mask(2), box_mask(feather)          # the mouth, and the mouth plus its feather
    assert diff[inside].mean() > 1.0                       # the smile slider moved the mouth
    assert diff[inside].mean() > 20 * diff[~inside].mean()
    assert diff[~near].max() == 0                          # and nothing away from it


def test_identity_dropdown_decodes_with_another_decoder(editor, photo):
    faces = cb.find_faces(editor, read_image(photo), False, "person.png")
    as_a, _ = cb.build_recipe(ATTRIBUTES, [0, 0, 0], [False] * 3, "none", "A", "none")
    as_b, _ = cb.build_recipe(ATTRIBUTES, [0, 0, 0], [False] * 3, "none", "B", "none")
    fa = cb.apply_edit(editor, faces, 0, as_a).face.astype(int)
    fb = cb.apply_edit(editor, faces, 0, as_b).face.astype(int)
    assert np.abs(fa - fb).mean() > 1.0


def test_apply_without_a_face_or_with_a_bad_index(editor, photo):
    recipe, _ = cb.build_recipe(ATTRIBUTES, [0, 0, 1], [False] * 3, "none", None, "rct")
    with pytest.raises(LatentEditError, match="upload a photo"):
        cb.apply_edit(editor, None, 0, recipe)
    faces = cb.find_faces(editor, read_image(photo), False, "person.png")
    with pytest.raises(LatentEditError, match="face 3 does not exist"):
        cb.apply_edit(editor, faces, 2, recipe)


def test_saves_never_overwrite_and_reload(tmp_path, editor, photo):
    from latentedit.edit import Recipe

    recipe, _ = cb.build_recipe(ATTRIBUTES, [0.5, 0, 0], [False, False, True], "eyes", "B", "lct")
    p1, p2 = cb.save_recipe(recipe, tmp_path), cb.save_recipe(recipe, tmp_path)
    assert p1 != p2 and p1.exists() and p2.exists()
    assert Recipe.load(p1).to_dict() == recipe.to_dict()
    img = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    r1, r2 = cb.save_result(img, tmp_path, "x"), cb.save_result(img, tmp_path, "x")
    assert r1.name == "x.png" and r2.name == "x_1.png"
    assert np.array_equal(read_image(r2), img)
    bad = tmp_path / "bin.json"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(LatentEditError, match="bin.json: not a UTF-8"):
        cb.read_text_upload(bad)


def test_display_copy_is_downscaled():
    big = np.zeros((3000, 1500, 3), np.uint8)
    assert cb.fit_display(big, 1024).shape == (1024, 512, 3)
    small = np.zeros((64, 64, 3), np.uint8)
    assert cb.fit_display(small) is small


# --------------------------------------------------------------------------------------- batch

def test_zip_inputs_are_extracted_safely(tmp_path):
    z = tmp_path / "in.zip"
    png = tmp_path / "a.png"
    write_image(png, np.zeros((8, 8, 3), np.uint8))
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(png, "../../evil.png")
        zf.write(png, "dir/b.png")
        zf.writestr("readme.txt", "skip me")
        zf.writestr("__MACOSX/._b.png", "junk")
    work = tmp_path / "work"
    items = bt.collect_batch_inputs([z], work)
    assert [i.name for i in items] == ["in.zip/../../evil.png", "in.zip/dir/b.png"]
    for i in items:
        assert i.path.resolve().parent == work.resolve()
    assert not (tmp_path.parent / "evil.png").exists()
    with pytest.raises(LatentEditError, match="more than 1 images"):
        bt.collect_batch_inputs([z], tmp_path / "w2", cb.AppLimits(max_batch_files=1))
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(LatentEditError, match="broken.zip: not a readable zip"):
        bt.collect_batch_inputs([broken], tmp_path / "w3")
    with pytest.raises(LatentEditError, match="no images"):
        bt.collect_batch_inputs([], tmp_path / "w4")


def test_run_batch_edits_good_inputs_and_reports_bad_ones(tmp_path, editor, photo):
    bad = tmp_path / "broken.png"
    bad.write_text("nope")
    blank = tmp_path / "blank.png"
    write_image(blank, np.full((100, 100, 3), 200, np.uint8))
    items = bt.collect_batch_inputs([photo, bad, blank], tmp_path / "in")
    recipe, _ = cb.build_recipe(ATTRIBUTES, [0, 0, 2.0], [False] * 3, "mouth", None, "rct")
    seen = []
    res = bt.run_batch(editor, items, recipe, False, tmp_path / "out", progress=lambda k, n, name: seen.append(k))
    s = res.summary
    assert (s["inputs"], s["edited"], s["failed"], s["faces"]) == (3, 1, 2, 1)
    assert seen[-1] == 3
    by_name = {r["input"]: r for r in s["items"]}
    assert "cannot read image" in by_name["broken.png"]["message"]
    assert "no face" in by_name["blank.png"]["message"]
    assert "| person.png | ok | 1 |" in res.markdown
    with zipfile.ZipFile(res.zip_path) as zf:
        names = set(zf.namelist())
        assert {"edited/person.png", "summary.json", "summary.md", "recipe.json"} <= names
        assert json.loads(zf.read("recipe.json"))["edits"] == {"smile": 2.0}
        zf.extract("edited/person.png", tmp_path / "x")
    faces = cb.find_faces(editor, read_image(photo), False, "person.png")
    expected = cb.apply_edit(editor, faces, 0, recipe).image
    assert np.array_equal(read_image(tmp_path / "x" / "edited" / "person.png"), expected)


# ------------------------------------------------------------------------------------ build_app

def test_build_app_makes_one_slider_and_hold_box_per_boundary(editor, tmp_path):
    import gradio as gr

    from latentedit.app import build_app

    demo = build_app(editor, work_dir=str(tmp_path))
    assert isinstance(demo, gr.Blocks)
    sliders = {b.elem_id: b for b in demo.blocks.values() if isinstance(b, gr.Slider)}
    assert set(sliders) == {f"le-slider-{a}" for a in ATTRIBUTES}
    assert {s.label for s in sliders.values()} == {"Eye openness", "Open mouth", "Smile"}   # human labels
    assert all(s.info and "accuracy" not in s.info for s in sliders.values())               # a hint, no metrics
    assert all((s.minimum, s.maximum, s.step) == (-3.0, 3.0, 0.1) for s in sliders.values())
    holds = [b for b in demo.blocks.values() if isinstance(b, gr.Checkbox) and b.label == "hold"]
    assert len(holds) == len(ATTRIBUTES)
    names = {d.api_name for d in demo.fns.values() if d.api_visibility == "public"}
    assert {"load_image", "load_sample", "apply", "reset", "recipe_from_json", "load_recipe", "preset", "save_result",
            "save_recipe", "batch", "report"} <= names
    # A slider move skips the queue, sends only its own control (plus photo, face, scope and the
    # session's control values) and only its newest value is rendered.
    moves = [d for d in demo.fns.values() if getattr(d.fn, "__name__", "") == "move"]
    assert len(moves) == 2 * len(ATTRIBUTES) + 4
    assert all(d.queue is False and d.trigger_mode == "always_last" and len(d.inputs) == 5 for d in moves)


def test_build_app_needs_boundaries(model_dir):
    from latentedit.app import build_app
    from latentedit.edit import Editor

    bare = Editor.from_pretrained(model_dir, boundaries={})
    with pytest.raises(LatentEditError, match="no boundaries"):
        build_app(bare)


def test_guard_turns_errors_into_messages():
    import gradio as gr

    from latentedit.app.handlers import guard as _guard

    @_guard
    def user_error():
        raise NoFaceError("x.png: no face found")

    @_guard
    def bug():
        raise ZeroDivisionError("secret internals")

    with pytest.raises(gr.Error, match="x.png: no face found"):
        user_error()
    with pytest.raises(gr.Error) as info:
        bug()
    assert "ZeroDivisionError" in info.value.message and "secret" not in info.value.message


def test_builtin_samples_are_listed_and_readable():
    from latentedit.app.samples import list_samples

    samples = list_samples()
    assert len(samples) >= 4 and any(s.aligned for s in samples)
    for s in samples:
        img = read_image(s.path)
        assert img.ndim == 3 and min(img.shape[:2]) >= 64


# ------------------------------------------------------------------------------------------ CLI

def test_cli_app_refuses_missing_and_tampered_models(tmp_path, model_dir, capsys):
    import shutil

    from latentedit.cli.main import main
    from latentedit.manifest import write_manifest

    assert main(["app", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such model folder, and not a model name" in capsys.readouterr().err
    copy = tmp_path / "shipped"
    shutil.copytree(model_dir, copy)
    write_manifest(copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert main(["app", str(copy), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "model.safetensors" in err and "sha256" in err
    missing = tmp_path / "missing_weights"
    shutil.copytree(model_dir, missing)
    (missing / "model.safetensors").unlink()
    assert main(["app", str(missing), "--port", "0"]) == 2
    assert "model.safetensors" in capsys.readouterr().err
    assert main(["app", str(model_dir), "--concurrency", "0"]) == 2
    assert main(["app", str(model_dir), "--max-file-size", "lots"]) == 2
    assert "--max-file-size: 'lots'" in capsys.readouterr().err


def test_report_tab_plots_and_caches(editor, tmp_path):
    from latentedit.app.report_tab import edit_report_for_app
    from latentedit.eval.report import edit_report

    png, md = edit_report_for_app(editor, "smile", tmp_path, edit_report, n=4)
    assert Path(png).is_file() and read_image(png).shape[1] > 300
    assert "# Edit report: `smile`" in md and "4 faces" in md
    assert "(\\|Δ\\|/std)" in md                            # the table renders as a table
    mtime = Path(png).stat().st_mtime_ns
    assert edit_report_for_app(editor, "smile", tmp_path, edit_report, n=4) == (png, md)   # cached: not recomputed
    assert Path(png).stat().st_mtime_ns == mtime
    with pytest.raises(LatentEditError, match="no boundary for 'frown'"):
        edit_report_for_app(editor, "frown", tmp_path, edit_report)


def test_report_tab_without_engine_says_unavailable(editor, tmp_path):
    """The app never imports evaluation code: without an injected report engine the tab says so."""
    import gradio as gr

    from latentedit.app import build_app
    from latentedit.app.report_tab import UNAVAILABLE, edit_report_for_app
    from latentedit.eval.report import edit_report

    with pytest.raises(LatentEditError, match="reports are not available"):
        edit_report_for_app(editor, "smile", tmp_path, None)
    assert not (tmp_path / "faceset").exists()            # refused before rendering anything

    def report_button(demo):
        return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "le-report-run")

    def texts(demo):
        return [b.value for b in demo.blocks.values() if isinstance(b, gr.Markdown)]

    bare = build_app(editor, work_dir=str(tmp_path / "bare"))
    assert UNAVAILABLE in texts(bare) and report_button(bare).interactive is False
    full = build_app(editor, work_dir=str(tmp_path / "full"), report=edit_report)
    assert UNAVAILABLE not in texts(full) and report_button(full).interactive is not False


def test_cli_app_hands_the_report_engine_to_the_app(model_dir, monkeypatch):
    from latentedit.app import build
    from latentedit.cli.main import main
    from latentedit.eval.report import edit_report

    seen = {}
    monkeypatch.setattr(build, "launch", lambda editor, **kw: seen.update(kw, attributes=editor.attributes))
    assert main(["app", str(model_dir), "--port", "0"]) == 0
    assert seen["report"] is edit_report and list(seen["attributes"]) == list(ATTRIBUTES)
    assert Path(seen["model_dir"]) == Path(model_dir) and seen["recipes_dir"] is None
    assert seen["preview_max_side"] == cb.DISPLAY_MAX_SIDE
    assert main(["app", str(model_dir), "--port", "0", "--preview-size", "1024", "--recipes", "mine"]) == 0
    assert seen["preview_max_side"] == 1024 and seen["recipes_dir"] == "mine"
    assert main(["app", str(model_dir), "--preview-size", "10"]) == 2
