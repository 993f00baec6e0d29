"""No traceback from any user input, app side: the app's callbacks (plain functions, no browser) answer
every bad upload, recipe and control value with a LatentEditError whose one-line message names the
input (the file the user chose, never the server's temp path) and the problem; ``latentedit.app.build``
shows exactly that message in the UI (``tests/test_app.py::test_guard_turns_errors_into_messages``).
Rows of docs/RELIABILITY.md point here.
"""
from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from latentedit.app import batch as bt
from latentedit.app import callbacks as cb
from latentedit.errors import LatentEditError

ATTRS = ["eye_open", "mouth_open", "smile"]
IDS = ["A", "B"]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Uploads as the web server stores them: in a temp folder the user never sees."""
    from PIL import Image

    from latentedit._io import write_image
    from tests.test_app_fixtures import sample_photo
    from tests.test_reliability import _png_with_size

    d = tmp_path_factory.mktemp("gradio-upload-3f9a")
    photo = sample_photo(d / "photo.png")
    (d / "trunc.png").write_bytes(photo.read_bytes()[:200])
    (d / "notimage.png").write_text("not an image")
    _png_with_size(d / "bomb.png", 9000, 8000)
    Image.new("RGB", (5000, 5000)).save(d / "huge.png", compress_level=1)  # 25 MP, over the 24 MP upload limit
    write_image(d / "tiny.png", np.zeros((1, 1, 3), np.uint8))
    Image.open(photo).save(d / "photo.gif")
    (d / "recipe.bin").write_bytes(b"\xff\xfe\x00binary")
    (d / "big.json").write_text(" " * (1 << 20) + "{}")
    (d / "folder.json").mkdir()
    with zipfile.ZipFile(d / "notes.zip", "w") as zf:
        zf.writestr("readme.txt", "no images here")
    (d / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with zipfile.ZipFile(d / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.png", b"\x00" * (3 << 20))  # 3 MB unzipped from a few kB
    with zipfile.ZipFile(d / "many.zip", "w") as zf:
        for i in range(5):
            zf.writestr(f"{i}.png", photo.read_bytes())
    return d


def _recipe(text: str):
    return cb.parse_recipe(text, ATTRS, IDS, where="my.json")


def _controls(values=(0.0, 0.0, 0.0), holds=(False, False, False), region="none", color="rct"):
    return cb.build_recipe(ATTRS, list(values), list(holds), region, None, color)[0]


@dataclass
class AppCase:
    id: str
    call: Callable  # (editor, media folder, tmp_path) -> anything; must raise LatentEditError
    expect: list[str]


def A(id, call, expect) -> pytest.param:
    return pytest.param(AppCase(id, call, expect), id=id)


APP_CASES = [
    # -- uploads -----------------------------------------------------------------------------------
    A("upload-nothing", lambda e, m, t: cb.read_upload(None), ["upload a photo or pick a sample first"]),
    A("upload-truncated", lambda e, m, t: cb.read_upload(m / "trunc.png"), ["trunc.png: cannot read image"]),
    A("upload-not-an-image", lambda e, m, t: cb.read_upload(m / "notimage.png"), ["notimage.png: cannot read image"]),
    A("upload-decompression-bomb", lambda e, m, t: cb.read_upload(m / "bomb.png"),
      ["bomb.png: image is 9000x8000", "64 MP limit"]),
    A("upload-huge", lambda e, m, t: cb.read_upload(m / "huge.png"), ["huge.png: 5000x5000 is over the app's 24 MP"]),
    A("upload-1x1", lambda e, m, t: cb.find_faces(e, cb.read_upload(m / "tiny.png"), False, "tiny.png"),
      ["tiny.png: image is 1×1 pixels, too small to hold a face (the minimum is 16×16)"]),
    A("upload-1x1-aligned", lambda e, m, t: cb.find_faces(e, cb.read_upload(m / "tiny.png"), True, "tiny.png"),
      ["tiny.png: image is 1×1 pixels"]),
    A("upload-no-face", lambda e, m, t: cb.find_faces(e, np.full((120, 120, 3), 128, np.uint8), False, "blank.png"),
      ["blank.png: no face found", "tick 'input is an already aligned face'"]),
    # -- recipes (pasted or uploaded JSON) -----------------------------------------------------------
    A("recipe-empty", lambda e, m, t: _recipe("   "), ["my.json: empty recipe"]),
    A("recipe-bad-json", lambda e, m, t: _recipe('{"edits": {"smile": '), ["my.json: malformed JSON", "line 1"]),
    A("recipe-not-an-object", lambda e, m, t: _recipe("[1, 2]"), ["my.json: expected a JSON object, got list"]),
    A("recipe-unknown-attribute", lambda e, m, t: _recipe('{"edits": {"beard": 1}}'),
      ["my.json", "unknown attribute(s) 'beard'", "known: eye_open, mouth_open, smile"]),
    A("recipe-alpha-huge", lambda e, m, t: _recipe('{"edits": {"smile": 1e30}}'),
      ["my.json: field 'edits.smile': alpha must be in -10..10"]),
    A("recipe-alpha-nan", lambda e, m, t: _recipe('{"edits": {"smile": NaN}}'), ["my.json", "alpha must be finite"]),
    A("recipe-deeply-nested", lambda e, m, t: _recipe("[" * 100000), ["my.json", "nested too deeply"]),
    A("recipe-identity-unknown", lambda e, m, t: _recipe('{"identity": "Z"}'), ["my.json", "unknown identity 'Z'"]),
    A("recipe-outside-slider-range", lambda e, m, t: cb.recipe_to_controls(_recipe('{"edits": {"smile": 7}}'), ATTRS),
      ["smile=7.0 is outside the app's slider range [-3, 3]", "latentedit edit"]),
    A("recipe-upload-missing", lambda e, m, t: cb.read_text_upload(m / "gone.json"),
      ["gone.json: cannot read the uploaded file"]),
    A("recipe-upload-folder", lambda e, m, t: cb.read_text_upload(m / "folder.json"),
      ["folder.json: cannot read the uploaded file"]),
    A("recipe-upload-binary", lambda e, m, t: cb.read_text_upload(m / "recipe.bin"),
      ["recipe.bin: not a UTF-8 text (JSON) file"]),
    A("recipe-upload-too-large", lambda e, m, t: cb.read_text_upload(m / "big.json"),
      ["big.json", "too large for a recipe"]),
    # -- controls -----------------------------------------------------------------------------------
    A("slider-nan", lambda e, m, t: _controls(values=(math.nan, 0, 0)), ["slider 'eye_open'", "not finite"]),
    A("slider-huge", lambda e, m, t: _controls(values=(0, 0, 1e30)), ["slider 'smile': 1e+30 is outside -10..10"]),
    A("slider-not-a-number", lambda e, m, t: _controls(values=("lots", 0, 0)), ["slider 'eye_open'", "not a number"]),
    A("slider-count-wrong", lambda e, m, t: cb.build_recipe(ATTRS, [0.0], [False], "none", None, "rct"),
      ["expected 3 slider values and hold flags, got 1 and 1"]),
    A("region-unknown", lambda e, m, t: _controls(region="ears"), ["unknown region 'ears'"]),
    A("colour-unknown", lambda e, m, t: _controls(color="hsv"), ["unknown colour mode 'hsv'"]),
    A("apply-without-a-face", lambda e, m, t: cb.apply_edit(e, [], 0, _controls()),
      ["upload a photo or pick a sample first"]),
    A("apply-bad-face-index", lambda e, m, t: cb.apply_edit(e, ["face"], 2, _controls()),
      ["face 3 does not exist; the photo has 1 face(s)"]),
    # -- batch tab ----------------------------------------------------------------------------------
    A("batch-nothing", lambda e, m, t: bt.collect_batch_inputs([], t), ["no images in the upload", ".gif", ".zip"]),
    A("batch-zip-without-images", lambda e, m, t: bt.collect_batch_inputs([m / "notes.zip"], t),
      ["no images in the upload (accepted: .png"]),
    A("batch-broken-zip", lambda e, m, t: bt.collect_batch_inputs([m / "broken.zip"], t),
      ["broken.zip: not a readable zip archive"]),
    A("batch-zip-bomb", lambda e, m, t: bt.collect_batch_inputs([m / "bomb.zip"], t,
                                                                cb.AppLimits(max_unzipped_bytes=1 << 20)),
      ["bomb.zip: more than 1 MB of images once unzipped"]),
    A("batch-too-many-files", lambda e, m, t: bt.collect_batch_inputs([m / "many.zip"], t,
                                                                      cb.AppLimits(max_batch_files=3)),
      ["more than 3 images in one batch"]),
]


@pytest.mark.parametrize("case", APP_CASES)
def test_app_callback_error(case: AppCase, editor, media, tmp_path):
    with pytest.raises(LatentEditError) as info:
        case.call(editor, media, tmp_path)
    msg = str(info.value)
    assert "\n" not in msg
    for needle in case.expect:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    assert str(media) not in msg  # the server's temp folder is never shown


def test_uploads_accept_the_same_files_as_the_cli(editor, media):
    from latentedit.media import IMAGE_EXTENSIONS

    assert cb.IMAGE_SUFFIXES == IMAGE_EXTENSIONS
    image = cb.read_upload(media / "photo.gif")  # the first frame of a GIF
    assert image.shape == cb.read_upload(media / "photo.png").shape
    assert len(cb.find_faces(editor, image, False, "photo.gif")) == 1


def test_batch_reports_a_bad_image_and_edits_the_rest(editor, media, tmp_path):
    items = bt.collect_batch_inputs([media / "photo.png", media / "trunc.png", media / "tiny.png"], tmp_path / "w")
    res = bt.run_batch(editor, items, _controls(values=(0, 0, 1.0)), False, tmp_path / "out")
    status = {r["input"]: (r["status"], r["message"]) for r in res.rows}
    assert status["photo.png"][0] == "ok"
    assert status["trunc.png"][0] == "error" and status["trunc.png"][1].startswith("trunc.png: cannot read image")
    assert status["tiny.png"][0] == "error" and "too small to hold a face" in status["tiny.png"][1]
    assert str(media) not in res.markdown
