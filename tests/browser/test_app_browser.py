"""Drive the real app in Debian's Chromium: upload a photo, move the smile slider, check the result.

Skipped when /usr/bin/chromium is absent (CI installs it: ``apt-get install -y chromium``); no
browser is downloaded. Set ``LATENTEDIT_APP_SCREENSHOT=path.png`` to keep a full-page screenshot
taken after the slider move.
"""
from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from tests.test_app_fixtures import make_tiny_model, sample_photo

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed; runs once Debian's chromium is (apt-get install chromium; .ci/run does)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import torch

    from latentedit.app import launch
    from latentedit.edit import Editor

    torch.set_num_threads(2)
    editor = Editor.from_pretrained(make_tiny_model(tmp_path_factory.mktemp("model") / "tiny"))
    demo = launch(editor, port=_free_port(), prevent_thread_lock=True, quiet=True,
                  work_dir=str(tmp_path_factory.mktemp("work")))
    try:
        yield demo.local_url, editor
    finally:
        demo.close()


@pytest.fixture(scope="module")
def page(served):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs playwright from the dev extra; runs once `pip install -e '.[dev]'` installed it")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60_000)
        pg.goto(served[0])
        pg.wait_for_selector("#le-upload input[type=file]", state="attached")
        yield pg
        browser.close()


def _upload(page, path: Path) -> None:
    clear = page.locator("#le-upload button[aria-label=Clear]")
    if clear.count():                                       # a file is shown: clear it to get the input back
        clear.first.click()
    page.set_input_files("#le-upload input[type=file]", str(path))


def _after_src(page) -> str | None:
    img = page.locator("#le-after img")
    return img.first.get_attribute("src") if img.count() else None


def _wait_settled(page, previous: str | None, quiet_s: float = 2.0, timeout_s: float = 90.0) -> str:
    """Wait until the After image differs from ``previous`` and then stops changing."""
    deadline = time.monotonic() + timeout_s
    src, since = _after_src(page), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = _after_src(page)
        if now != src:
            src, since = now, time.monotonic()
        elif src and src != previous and time.monotonic() - since >= quiet_s:
            return src
    raise AssertionError(f"the After image did not update (last src {src!r})")


def _fetch(page, src: str) -> np.ndarray:
    from io import BytesIO

    from PIL import Image

    body = page.request.get(src).body()
    return np.asarray(Image.open(BytesIO(body)).convert("RGB")).astype(np.int32)


def _mouth_box(editor, photo: Path, pad: int) -> tuple[int, int, int, int]:
    from latentedit._io import read_image
    from latentedit.landmarks import region_indices

    face = editor.find_faces(read_image(photo))[0]
    pts = face.landmarks[region_indices("mouth")]
    inv = np.linalg.inv(np.vstack([face.affine, [0, 0, 1]]))[:2]
    src = pts @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(src.min(0)).astype(int) - pad
    x1, y1 = np.ceil(src.max(0)).astype(int) + pad
    return x0, y0, x1, y1


def _wait_recipe(page, text: str) -> None:
    """Wait until the recipe box (updated by the same response as the After image) contains ``text``."""
    page.wait_for_function("t => { const a = document.querySelector('#le-recipe textarea');"
                           " return a && a.value.includes(t); }", arg=text, timeout=90_000)


def test_upload_then_smile_slider_changes_the_mouth(page, served, tmp_path):
    _, editor = served
    photo = sample_photo(tmp_path / "person.png")
    page.get_by_text("Recipe JSON", exact=True).click()     # open the accordion: the recipe box renders
    page.locator("#le-region label", has_text="mouth").click()
    _upload(page, photo)
    page.locator("#le-status", has_text="edited in").wait_for(timeout=90_000)
    _wait_recipe(page, '"region": "mouth"')
    first = _after_src(page)
    before = _fetch(page, first)
    assert before.shape[:2] == (224, 256)

    slider = page.locator("#le-slider-smile input[type=range]")
    slider.focus()
    for _ in range(25):                                    # 25 steps of 0.1: smile = 2.5
        page.keyboard.press("ArrowRight")
    assert float(page.locator("#le-slider-smile input[type=number]").input_value()) == pytest.approx(2.5)
    _wait_recipe(page, '"smile": 2.5')                     # the last slider event has been answered
    second = _wait_settled(page, first)
    after = _fetch(page, second)
    assert page.locator(".toast-body").count() == 0, "an error message popped up"

    diff = np.abs(after - before).sum(axis=2)
    x0, y0, x1, y1 = _mouth_box(editor, photo, pad=2)
    inside = np.zeros(diff.shape, bool)
    inside[y0:y1, x0:x1] = True
    assert diff[inside].mean() > 1.0, "the slider move did not change the mouth"
    assert diff[inside].mean() > 20 * diff[~inside].mean(), "the edit leaked outside the mouth"

    shot = os.environ.get("LATENTEDIT_APP_SCREENSHOT")
    page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
    if shot:
        shutil.copyfile(tmp_path / "app.png", shot)

    # Ticking "already aligned" prepares the same photo again, now as one aligned crop.
    page.locator("#le-aligned input[type=checkbox]").check()
    page.locator("#le-face", has_text="face 1 (aligned crop)").wait_for(timeout=60_000)
    _wait_settled(page, second)


def test_a_non_image_upload_shows_a_message(page, tmp_path):
    bad = tmp_path / "holiday.png"
    bad.write_text("definitely not a PNG")
    _upload(page, bad)
    toast = page.locator(".toast-body", has_text="holiday.png: cannot read image")
    toast.first.wait_for(state="visible", timeout=60_000)
    assert "Traceback" not in page.content()
