"""Drive the real app in Debian's Chromium: upload a photo, move the smile slider, compare before and
after, save and reload a recipe, load a bad one.

Skipped when /usr/bin/chromium is absent (CI installs it: ``apt-get install -y chromium``); no
browser is downloaded. The real-photo test also needs ``../shared/data/london_dev`` (skipped without
it). Set ``LATENTEDIT_APP_SCREENSHOT=path.png`` to keep a full-page screenshot taken after the slider
move; ``tests/browser/screenshots.py`` makes the documentation screenshots.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_path
from tests.test_app_fixtures import make_tiny_model, sample_photo

CHROMIUM = Path(os.environ.get("LATENTEDIT_CHROMIUM", "/usr/bin/chromium"))
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
    model = make_tiny_model(tmp_path_factory.mktemp("model") / "tiny")
    editor = Editor.from_pretrained(model)
    demo = launch(editor, port=_free_port(), prevent_thread_lock=True, quiet=True, model_dir=model,
                  work_dir=str(tmp_path_factory.mktemp("work")))
    try:
        yield demo.local_url, editor
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs playwright from the dev extra; runs once `pip install -e '.[dev]'` installed it")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, served):
    pg = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg.set_default_timeout(60_000)
    pg.goto(served[0])
    pg.wait_for_selector("#le-upload input[type=file]", state="attached")
    yield pg
    pg.close()


def _upload(page, path: Path) -> None:
    clear = page.locator("#le-upload button[aria-label=Clear]")
    if clear.count():                                       # a file is shown: clear it to get the input back
        clear.first.click()
    page.set_input_files("#le-upload input[type=file]", str(path))


def _after_src(page) -> str | None:
    img = page.locator("#le-after img")
    return img.first.get_attribute("src") if img.count() else None


def _wait_settled(page, previous: str | None, quiet_s: float = 1.5, timeout_s: float = 90.0) -> str:
    """Wait until the After image differs from ``previous`` and then stops changing."""
    deadline = time.monotonic() + timeout_s
    src, since = _after_src(page), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
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


def _mouth_box(editor, photo: Path, pad: int, scale: float = 1.0) -> tuple[int, int, int, int]:
    from latentedit._io import read_image
    from latentedit.landmarks import region_indices

    face = editor.find_faces(read_image(photo))[0]
    pts = face.landmarks[region_indices("mouth")]
    inv = np.linalg.inv(np.vstack([face.affine, [0, 0, 1]]))[:2]
    src = (pts @ inv[:, :2].T + inv[:, 2]) * scale
    x0, y0 = np.floor(src.min(0)).astype(int) - pad
    x1, y1 = np.ceil(src.max(0)).astype(int) + pad
    return x0, y0, x1, y1


def _wait_recipe(page, text: str) -> None:
    """Wait until the recipe box (updated by the same response as the After image) contains ``text``."""
    page.wait_for_function("t => { const a = document.querySelector('#le-recipe textarea');"
                           " return a && a.value.includes(t); }", arg=text, timeout=90_000)


def _slider_value(page, attribute: str) -> float:
    return float(page.locator(f"#le-slider-{attribute} input[type=number]").input_value())


def _press(page, attribute: str, key: str, n: int) -> None:
    slider = page.locator(f"#le-slider-{attribute} input[type=range]")
    slider.scroll_into_view_if_needed()
    slider.focus()
    for _ in range(n):
        page.keyboard.press(key)


def _set_region_and_mode(page, region: str, mode_label: str) -> None:
    page.get_by_text("Recipe JSON", exact=True).click()     # open the accordion: the recipe box renders
    page.get_by_text("Region, face swap, colour", exact=True).click()
    page.locator("#le-region label", has_text=region).click()
    page.locator("#le-mode label", has_text=mode_label).click()


def _no_errors_shown(page) -> None:
    assert page.locator(".toast-body").count() == 0, "an error toast popped up"
    assert page.get_by_text("Error", exact=True).count() == 0, "a component shows an error badge"


def test_upload_then_smile_slider_changes_the_mouth(page, served, tmp_path):
    _, editor = served
    photo = sample_photo(tmp_path / "person.png")
    _set_region_and_mode(page, "mouth", "replace")
    _upload(page, photo)
    page.locator("#le-status", has_text="edited in").wait_for(timeout=90_000)
    _wait_recipe(page, '"region": "mouth"')
    first = _after_src(page)
    before = _fetch(page, first)
    assert before.shape[:2] == (224, 256)

    _press(page, "smile", "ArrowRight", 25)                 # 25 steps of 0.1: smile = 2.5
    assert _slider_value(page, "smile") == pytest.approx(2.5)
    _wait_recipe(page, '"smile": 2.5')                     # the last slider event has been answered
    second = _wait_settled(page, first)
    after = _fetch(page, second)
    _no_errors_shown(page)

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
    page.locator("#le-status", has_text="person.png: 1 face(s) found").wait_for(timeout=60_000)
    _wait_settled(page, second)


def test_a_non_image_upload_shows_a_message(page, tmp_path):
    bad = tmp_path / "holiday.png"
    bad.write_text("definitely not a PNG")
    _upload(page, bad)
    toast = page.locator(".toast-body", has_text="holiday.png: cannot read image")
    toast.first.wait_for(state="visible", timeout=60_000)
    assert "Traceback" not in page.content()


def _load_recipe_file(page, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.locator("#le-load-recipe").click()
    chooser.value.set_files(str(path))


@pytest.mark.shared
def test_real_photo_edit_compare_save_reload_and_a_bad_recipe(page, served, tmp_path):
    """The whole session on a real photo (Face Research Lab London Set, CC BY 4.0)."""
    real = shared_path("data", "london_dev", "neutral", "001.jpg")
    _, editor = served
    _set_region_and_mode(page, "mouth", "replace")
    _upload(page, real)
    page.locator("#le-status", has_text="edited in").wait_for(timeout=120_000)
    _wait_recipe(page, '"region": "mouth"')
    first = _after_src(page)
    base = _fetch(page, first)
    from latentedit.app.callbacks import DISPLAY_MAX_SIDE

    assert base.shape[:2] == (DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE)   # a 1024-px photo, previewed at display size
    scale = DISPLAY_MAX_SIDE / 1024

    # The smile slider moves the mouth and nothing away from it (the preview is JPEG: a few levels of
    # rounding next to the edit are allowed, none far from it).
    _press(page, "smile", "ArrowRight", 20)
    _wait_recipe(page, '"smile": 2.0')
    moved_src = _wait_settled(page, first)
    moved = _fetch(page, moved_src)
    diff = np.abs(moved - base).sum(axis=2)
    x0, y0, x1, y1 = _mouth_box(editor, real, pad=4, scale=scale)
    inside = np.zeros(diff.shape, bool)
    inside[y0:y1, x0:x1] = True
    near = np.zeros(diff.shape, bool)
    near[y0 - 32:y1 + 32, x0 - 32:x1 + 32] = True
    assert diff[inside].mean() > 2.0, "the slider move did not change the mouth"
    assert diff[~near].max() <= 12, "the edit changed the photo away from the mouth"
    _no_errors_shown(page)

    # Before / after: the view switch runs in the page (no request) and shows the chosen image(s).
    def shown(elem_id: str) -> bool:
        return page.locator(f"#{elem_id}").is_visible()

    assert shown("le-after") and not shown("le-before")
    page.locator("#le-view label", has_text="Before").click()
    page.wait_for_function("() => document.querySelector('#le-images').dataset.view === 'before'")
    assert shown("le-before") and not shown("le-after")
    before_img = _fetch(page, page.locator("#le-before img").first.get_attribute("src"))
    assert np.abs(before_img - base).mean() < 3.0           # the photo itself (the edit at smile 0 = base)
    page.locator("#le-view label", has_text="Side by side").click()
    page.wait_for_function("() => document.querySelector('#le-images').dataset.view === 'side'")
    assert shown("le-before") and shown("le-after")
    page.locator("#le-view label", has_text="After").click()

    # The result stays in view while the controls scroll (sticky photo column on a wide screen).
    page.mouse.wheel(0, 700)
    page.wait_for_timeout(300)
    assert page.evaluate("window.scrollY") > 100
    box = page.locator("#le-after").bounding_box()
    assert 0 <= box["y"] < 120, f"the result scrolled away: {box}"
    page.mouse.wheel(0, -2000)

    # Save the recipe, reset, and load it back from the file and from the preset list.
    page.locator("#le-save-recipe").click()
    link = page.locator("#le-download a").first
    link.wait_for(timeout=60_000)
    saved = json.loads(page.request.get(link.get_attribute("href")).body())
    assert saved["edits"] == {"smile": 2.0} and saved["merge"]["mode"] == "replace"
    path = tmp_path / "smile.json"
    path.write_text(json.dumps(saved))
    page.locator("#le-reset").click()
    page.wait_for_function("() => Number(document.querySelector('#le-slider-smile input[type=number]').value) === 0")
    _load_recipe_file(page, path)
    page.wait_for_function("() => Number(document.querySelector('#le-slider-smile input[type=number]').value) === 2")
    page.locator("#le-reset").click()
    page.wait_for_function("() => Number(document.querySelector('#le-slider-smile input[type=number]').value) === 0")
    page.locator("#le-preset input").click()
    page.get_by_role("option", name="Saved: smile+2").click()
    page.wait_for_function("() => Number(document.querySelector('#le-slider-smile input[type=number]').value) === 2")

    # A bad recipe: one message beside "Load recipe"; the controls keep their values and keep working.
    bad = tmp_path / "typo.json"
    bad.write_text('{"edits": {"smile": 1.0,}}')
    _load_recipe_file(page, bad)
    page.locator("#le-load-msg", has_text="typo.json: malformed JSON").wait_for(timeout=60_000)
    shown_messages = [m for m in ("le-json-msg", "le-load-msg", "le-preset-msg")
                      if page.locator(f"#{m}").is_visible() and page.locator(f"#{m}").inner_text().strip()]
    assert shown_messages == ["le-load-msg"]
    assert page.get_by_text("typo.json: malformed JSON").count() == 1      # said once, in one place
    _no_errors_shown(page)
    assert _slider_value(page, "smile") == pytest.approx(2.0)
    src = _after_src(page)
    _press(page, "smile", "ArrowLeft", 5)
    _wait_recipe(page, '"smile": 1.5')
    _wait_settled(page, src)
    _no_errors_shown(page)


@pytest.mark.slow
def test_bench_app_browser_writes_felt_and_server_latency(tmp_path):
    """``latentedit bench app --browser`` in miniature: one size, a few key presses, JSON out (in its own
    process: this module's browser fixture already runs Playwright's sync API here)."""
    import subprocess
    import sys

    pytest.importorskip("playwright.sync_api", reason="needs playwright; runs once latentedit[dev] (as CI installs) is")
    model = tmp_path / "tiny"
    make_tiny_model(model)
    out = tmp_path / "app_browser.json"
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "latentedit.cli.main", "bench", "app", str(model), "--browser",
                           "--sizes", "320", "--requests", "4", "--warmup", "1", "--out", str(out)],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "key press → result <img> load" in proc.stdout
    result = json.loads(out.read_text())
    (row,) = result["results"]
    assert row["photo_px"] == 320 and row["requests"] == 4 and row["timeouts"] == 0
    assert 0 < row["server_p50_ms"] < row["felt_p50_ms"] < 5000
    assert result["settings"]["attribute"] == "smile" and result["machine"]["chromium"]
