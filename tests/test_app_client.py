"""The running app through ``gradio_client``: named endpoints, a slider move, errors as messages,
uploads over the size limit, recipes, batch, and several clients at once."""
from __future__ import annotations

import re
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from latentedit._io import read_image, write_image
from tests.test_app_fixtures import make_tiny_model, sample_photo

gradio_client = pytest.importorskip(
    "gradio_client", reason="needs gradio_client from the dev extra; runs once `pip install -e '.[dev]'` installed it")
from gradio_client import Client, handle_file  # noqa: E402

MAX_FILE = 300_000   # bytes; the server refuses larger uploads


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    noise = d / "noise.png"
    write_image(noise, (rng.random((700, 700, 3)) * 255).astype(np.uint8))   # ~1.4 MB as PNG
    blank = d / "blank.png"
    write_image(blank, np.full((100, 100, 3), 90, np.uint8))
    text = d / "notes.png"
    text.write_text("not an image at all")
    return {"photo": sample_photo(d / "person.png"), "noise": noise, "blank": blank, "text": text}


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    import torch

    from latentedit.app import launch
    from latentedit.edit import Editor

    torch.set_num_threads(2)
    model = make_tiny_model(tmp_path_factory.mktemp("model") / "tiny")
    demo = launch(Editor.from_pretrained(model), port=free_port(), concurrency=2, max_file_size=MAX_FILE,
                  prevent_thread_lock=True, quiet=True, work_dir=str(tmp_path_factory.mktemp("work")))
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.fixture
def client(url) -> Client:
    return Client(url, verbose=False)


N_CONTROLS = 10   # 3 sliders, 3 hold boxes, region, identity, colour, edit mode


def _load(client: Client, path: Path) -> str:
    before, picker, status, thumb, scope = client.predict(handle_file(str(path)), False, api_name="/load_image")
    assert Path(before).is_file() and "1 face(s) found" in status
    assert thumb is None and scope == "one"                 # one face: no face map, nothing to choose
    return picker["value"]


def _recipe_answer(out):
    """(control values, [json, file, preset] messages) of a recipe endpoint's answer."""
    assert len(out) == N_CONTROLS + 3
    return list(out[:N_CONTROLS]), [m["value"] if m.get("visible") else None for m in out[N_CONTROLS:]]


def test_named_endpoints_and_parameters(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/load_image", "/load_sample", "/apply", "/reset", "/recipe_from_json", "/load_recipe", "/preset",
            "/save_result", "/save_recipe", "/batch", "/report"} <= set(api)
    names = [p["parameter_name"] for p in api["/apply"]["parameters"]]
    assert names == ["face", "scope", "eye_open", "mouth_open", "smile", "hold_eye_open", "hold_mouth_open",
                     "hold_smile", "region", "identity", "color", "mode"]


def test_slider_move_changes_the_mouth_through_the_api(client, files):
    face = _load(client, files["photo"])
    out0, recipe0, status0 = client.predict(face=face, region="mouth", mode="replace", api_name="/apply")
    out1, recipe1, status1 = client.predict(face=face, smile=2.5, region="mouth", mode="replace", api_name="/apply")
    assert status1.startswith("edited in")
    assert '"smile": 2.5' in recipe1 and '"region": "mouth"' in recipe1
    assert out1.endswith(".jpg")                            # previews are JPEG; Save result is PNG
    a, b = read_image(out0).astype(int), read_image(out1).astype(int)
    assert a.shape == read_image(files["photo"]).shape
    diff = np.abs(a - b).sum(axis=2)
    ys, xs = np.nonzero(diff > 3)                           # past JPEG rounding next to the edit
    assert len(ys) > 20
    # Every changed pixel lies in the lower-middle of the face (the mouth), none on the canvas.
    h, w = diff.shape
    assert ys.min() > 0.45 * h and ys.max() < 0.85 * h and xs.min() > 0.3 * w and xs.max() < 0.7 * w


def test_user_errors_are_messages_and_the_app_keeps_serving(client, url, files):
    from gradio_client.exceptions import AppError

    face = _load(client, files["photo"])
    with pytest.raises(AppError, match=r"notes.png: cannot read image"):
        client.predict(handle_file(str(files["text"])), False, api_name="/load_image")
    with pytest.raises(AppError, match=r"blank.png: no face found"):
        client.predict(handle_file(str(files["blank"])), False, api_name="/load_image")
    # A bad recipe is one message beside the JSON box; no control is touched (no error on the controls).
    controls, msgs = _recipe_answer(client.predict('{"edits": {"smile": ', api_name="/recipe_from_json"))
    assert all(c == {"__type__": "update"} for c in controls)
    assert "recipe JSON: malformed JSON" in msgs[0] and msgs[1:] == [None, None]
    controls, msgs = _recipe_answer(client.predict('{"edits": {"frown": 1}}', api_name="/recipe_from_json"))
    assert re.search(r"unknown attribute.*'frown'", msgs[0]) and msgs[1:] == [None, None]
    # A new session has no face yet: the controls are accepted and the status says what to do.
    none, recipe, status = Client(url, verbose=False).predict(face=None, smile=1.0, api_name="/apply")
    assert none is None and '"smile": 1.0' in recipe and status == "Upload a photo or pick a sample first."
    out, _, status = client.predict(face=face, smile=1.0, api_name="/apply")  # this session still works
    assert Path(out).is_file() and status.startswith("edited in")


def test_uploads_over_the_size_limit_are_refused(client, files):
    assert files["noise"].stat().st_size > MAX_FILE
    with pytest.raises(Exception, match=r"(?i)size|large|413"):
        client.predict(handle_file(str(files["noise"])), False, api_name="/load_image")


def test_recipe_save_and_load(client, tmp_path):
    path, presets = client.predict(0.5, 0.0, -1.0, False, True, False, "eyes", "B", "mkl", "replace",
                                   api_name="/save_recipe")
    text = Path(path).read_text()
    assert '"eye_open": 0.5' in text and '"smile": -1.0' in text and '"hold": [\n    "mouth_open"' in text
    saved = f"Saved: {Path(path).stem}"
    assert saved in [c[0] for c in presets["choices"]]       # listed with the presets at once
    controls, msgs = _recipe_answer(client.predict(handle_file(path), api_name="/load_recipe"))
    assert controls == [0.5, 0.0, -1.0, False, True, False, "eyes", "B", "mkl", "replace"] and msgs == [None] * 3
    assert _recipe_answer(client.predict(text, api_name="/recipe_from_json"))[0] == controls
    assert _recipe_answer(client.predict(saved, api_name="/preset"))[0] == controls
    smile, _ = _recipe_answer(client.predict("Gentle smile", api_name="/preset"))
    assert smile[:3] == [0.0, 0.0, 1.0]
    bad = tmp_path / "bad.json"
    bad.write_text('{"edits": {"smile": 99}}')
    controls, msgs = _recipe_answer(client.predict(handle_file(str(bad)), api_name="/load_recipe"))
    assert all(c == {"__type__": "update"} for c in controls)
    assert msgs[0] is None and "bad.json" in msgs[1] and "alpha must be in -10..10" in msgs[1] and msgs[2] is None
    assert list(client.predict(api_name="/reset")) == [0.0, 0.0, 0.0, False, False, False, "none",
                                                       "(model default)", "rct", "detail"]


def test_samples_and_face_picker(client):
    before, picker, status, thumb, scope = client.predict("SynthFaces: two people", False, api_name="/load_sample")
    labels = [c[0] for c in picker["choices"]]
    assert len(labels) == 2 and "pick one" in status
    assert thumb is not None and Path(thumb).is_file() and scope == "one"   # the numbered face map

    def edit(**kw):
        return read_image(client.predict(smile=2.0, region="mouth", mode="replace", api_name="/apply", **kw)[0])

    base = read_image(before).astype(int)
    r1, r2 = edit(face=labels[0]).astype(int), edit(face=labels[1]).astype(int)
    both = edit(face=labels[0], scope="all").astype(int)
    # Each choice edits its own face: the changed columns sit on opposite halves of the photo;
    # "all faces" edits both.
    c1 = np.nonzero((np.abs(r1 - base).sum(axis=2) > 12).any(axis=0))[0]
    c2 = np.nonzero((np.abs(r2 - base).sum(axis=2) > 12).any(axis=0))[0]
    cb_ = np.nonzero((np.abs(both - base).sum(axis=2) > 12).any(axis=0))[0]
    w = base.shape[1]
    assert len(c1) and len(c2) and c1.max() < w / 2 < c2.min()
    assert cb_.min() < w / 2 < cb_.max()


def test_batch_through_the_api(client, files):
    zpath, md, summary = client.predict([handle_file(str(files["photo"])), handle_file(str(files["text"]))],
                                        False, 0.0, 0.0, 1.5, api_name="/batch")
    assert summary["recipe"]["merge"]["mode"] == "detail"    # the app's default edit mode
    assert summary["edited"] == 1 and summary["failed"] == 1 and summary["recipe"]["edits"] == {"smile": 1.5}
    assert "notes.png" in md and "cannot read image" in md
    with zipfile.ZipFile(zpath) as zf:
        assert "edited/person.png" in zf.namelist()


def test_concurrent_clients_get_their_own_results(url, files):
    errors: list[BaseException] = []
    outputs: dict[int, list[str]] = {}

    def worker(k: int) -> None:
        try:
            c = Client(url, verbose=False)
            face = _load(c, files["photo"])
            outputs[k] = [c.predict(face=face, smile=0.5 * k, region="mouth", api_name="/apply")[1]
                          for _ in range(3)]
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for k, recipes in outputs.items():
        assert all(f'"smile": {0.5 * k}' in r for r in recipes)
