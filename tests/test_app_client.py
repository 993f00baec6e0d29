"""The running app through ``gradio_client``: named endpoints, a slider move, errors as messages,
uploads over the size limit, recipes, batch, and several clients at once."""
from __future__ import annotations

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


def _load(client: Client, path: Path) -> str:
    before, picker, status = client.predict(handle_file(str(path)), False, api_name="/load_image")
    assert Path(before).is_file() and "1 face(s) found" in status
    return picker["value"]


def test_named_endpoints_and_parameters(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/load_image", "/load_sample", "/apply", "/reset", "/recipe_from_json", "/load_recipe",
            "/save_result", "/save_recipe", "/batch", "/report"} <= set(api)
    names = [p["parameter_name"] for p in api["/apply"]["parameters"]]
    assert names == ["face", "eye_open", "mouth_open", "smile", "hold_eye_open", "hold_mouth_open", "hold_smile",
                     "region", "identity", "color"]


def test_slider_move_changes_the_mouth_through_the_api(client, files):
    face = _load(client, files["photo"])
    out0, recipe0, status0 = client.predict(face=face, region="mouth", api_name="/apply")
    out1, recipe1, status1 = client.predict(face=face, smile=2.5, region="mouth", api_name="/apply")
    assert status1.startswith("edited in")
    assert '"smile": 2.5' in recipe1 and '"region": "mouth"' in recipe1
    a, b = read_image(out0).astype(int), read_image(out1).astype(int)
    assert a.shape == read_image(files["photo"]).shape
    diff = np.abs(a - b).sum(axis=2)
    ys, xs = np.nonzero(diff)
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
    with pytest.raises(AppError, match=r"recipe JSON: malformed JSON"):
        client.predict('{"edits": {"smile": ', api_name="/recipe_from_json")
    with pytest.raises(AppError, match=r"unknown attribute.*'frown'"):
        client.predict('{"edits": {"frown": 1}}', api_name="/recipe_from_json")
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
    path = client.predict(0.5, 0.0, -1.0, False, True, False, "eyes", "B", "mkl", api_name="/save_recipe")
    text = Path(path).read_text()
    assert '"eye_open": 0.5' in text and '"smile": -1.0' in text and '"hold": [\n    "mouth_open"' in text
    controls = client.predict(handle_file(path), api_name="/load_recipe")
    assert list(controls) == [0.5, 0.0, -1.0, False, True, False, "eyes", "B", "mkl"]
    assert list(client.predict(text, api_name="/recipe_from_json")) == list(controls)
    assert list(client.predict(api_name="/reset")) == [0.0, 0.0, 0.0, False, False, False, "none",
                                                       "(model default)", "rct"]


def test_samples_and_face_picker(client):
    before, picker, status = client.predict("SynthFaces: two people", False, api_name="/load_sample")
    labels = [c[0] for c in picker["choices"]]
    assert len(labels) == 2 and "pick one" in status
    r1 = read_image(client.predict(face=labels[0], smile=2.0, region="mouth", api_name="/apply")[0]).astype(int)
    r2 = read_image(client.predict(face=labels[1], smile=2.0, region="mouth", api_name="/apply")[0]).astype(int)
    src = read_image(before).astype(int)
    # Each choice edits its own face: the changed columns sit on opposite halves of the photo.
    c1 = np.nonzero(np.abs(r1 - src).sum(axis=(0, 2)))[0]
    c2 = np.nonzero(np.abs(r2 - src).sum(axis=(0, 2)))[0]
    w = src.shape[1]
    assert c1.max() < w / 2 < c2.min()


def test_batch_through_the_api(client, files):
    zpath, md, summary = client.predict([handle_file(str(files["photo"])), handle_file(str(files["text"]))],
                                        False, 0.0, 0.0, 1.5, api_name="/batch")
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
