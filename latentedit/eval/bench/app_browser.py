"""``latentedit bench app --browser``: felt slider latency in a real browser.

The app (``latentedit app MODEL``, its own process, 127.0.0.1) is opened in Debian's Chromium through
Playwright. For each photo size (default 512 and 1024 px on the longer side) the benchmark uploads
one photo, focuses the first slider of the attribute it times (``smile`` or its nearest relative) and
presses an arrow key, then waits for the result ``<img>`` to fire its ``load`` event with the new
picture. Felt latency = that ``load`` time − the ``keydown`` time, both taken inside the page with
``performance.now()``: it includes the browser's event, Gradio's round trip, the server's edit and
preview encoding, the image download and its decode.

Baseline, in the same run and for the same moves: the server's own time for each move (the edit plus
the preview encoding, which the app prints as "edited in N ms"), so ``felt − server`` is what the
browser, the network stack and Gradio add.

Chromium is found as the tests find it (``/usr/bin/chromium``, or ``$LATENTEDIT_CHROMIUM``); nothing
is downloaded.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..._io import read_image, write_image
from ...errors import LatentEditError
from ...preprocess import resize
from ...synth.params import ExpressionParams, IdentityParams
from ...synth.render import render

#: Where the browser is looked for (Debian's package; CI installs it with apt-get).
CHROMIUM = Path(os.environ.get("LATENTEDIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
#: Attributes that mean "smile" in the models the project ships or imports, most specific first.
SMILE_NAMES = ("smile", "smile_score", "Smiling")

# Page-side probes: every keydown and every load of an image inside the result view, timestamped.
_PROBE = """() => {
  window.__le = {down: [], load: []};
  document.addEventListener('keydown', () => window.__le.down.push(performance.now()), true);
  document.addEventListener('load', (e) => {
    const t = e.target;
    if (t && t.tagName === 'IMG' && t.closest('#le-after')) window.__le.load.push([performance.now(), t.src]);
  }, true);
}"""
_STATUS_MS = re.compile(r"edited in (\d+(?:\.\d+)?) ms")


def chromium_path() -> Path:
    """The Chromium binary, or a LatentEditError saying how to install it."""
    if not CHROMIUM.exists():
        raise LatentEditError(f"{CHROMIUM} not found: the browser benchmark drives Debian's Chromium "
                              "(apt-get install chromium), or set LATENTEDIT_CHROMIUM to a Chromium binary")
    return CHROMIUM


def timed_attribute(attributes: list[str]) -> str:
    """The attribute whose slider is moved: a smile if the model has one, else its first attribute."""
    for name in SMILE_NAMES:
        if name in attributes:
            return name
    return attributes[0]


def make_photo(path: Path, side: int, seed: int = 0, source: Path | None = None) -> Path:
    """A ``side``-px photo with one face: ``source`` resized, or a SynthFaces face on a plain canvas."""
    if source is not None:
        image = read_image(source)
        h, w = image.shape[:2]
        s = side / max(h, w)
        image = resize(image, (max(1, round(w * s)), max(1, round(h * s))))
    else:
        rng = np.random.default_rng(seed + 1)
        face = render(IdentityParams.sample(rng), ExpressionParams.neutral(), 256).image
        face = resize(face, (side // 2, side // 2))
        image = np.full((side, side, 3), 110, np.uint8)
        o = side // 4
        image[o:o + side // 2, o:o + side // 2] = face
    write_image(path, image, overwrite=True)
    return path


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, np.float64), q)) if values else float("nan")


def _upload(page, path: Path) -> None:
    clear = page.locator("#le-upload button[aria-label=Clear]")
    if clear.count():
        clear.first.click()
    before = page.locator("#le-status").inner_text()
    page.set_input_files("#le-upload input[type=file]", str(path))
    # the upload's first render answers with "edited in"; wait for a status that is new
    page.wait_for_function("b => { const s = document.querySelector('#le-status');"
                           " return s && s.innerText.includes('edited in') && s.innerText !== b; }",
                           arg=before, timeout=120_000)


def _move(page, key: str, timeout_ms: float) -> tuple[float, float | None]:
    """Press ``key`` on the focused slider; returns (felt ms, server ms from the status line)."""
    n = page.evaluate("() => window.__le.load.length")
    page.keyboard.press(key)
    page.wait_for_function(f"() => window.__le.load.length > {n}", timeout=timeout_ms)
    down = page.evaluate("() => window.__le.down[window.__le.down.length - 1]")
    loaded = page.evaluate(f"() => window.__le.load[{n}][0]")
    time.sleep(0.05)   # let the response's other outputs (status, recipe) land
    m = _STATUS_MS.search(page.locator("#le-status").inner_text())
    return loaded - down, (float(m.group(1)) if m else None)


def measure(url: str, attribute: str, sizes: list[int], work: Path, requests: int, warmup: int,
            seed: int = 0, source: Path | None = None, viewport: tuple[int, int] = (1366, 768)) -> list[dict[str, Any]]:
    """Felt and server latency of slider moves at each photo size, in one Chromium page.

    Returns:
        One row per size: ``photo_px``, ``felt_p50_ms``/``felt_p95_ms``, ``server_p50_ms``/
        ``server_p95_ms``, ``overhead_p50_ms`` (felt − server, per move), ``requests``, ``timeouts``.

    Raises:
        LatentEditError: Chromium or Playwright is missing, or the page never showed a result.
    """
    try:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise LatentEditError("the browser benchmark needs playwright (pip install -e '.[dev]')") from None
    exe = chromium_path()
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(exe), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_selector("#le-upload input[type=file]", state="attached")
            page.evaluate(_PROBE)
            for side in sizes:
                photo = make_photo(work / f"photo_{side}.png", side, seed, source)
                _upload(page, photo)
                slider = page.locator(f"#le-slider-{attribute} input[type=range]")
                slider.scroll_into_view_if_needed()
                slider.focus()
                felt, server, timeouts = [], [], 0
                for k in range(warmup + requests):
                    # up 12 steps, down 12 steps, ...: every move is a new value inside the slider range
                    key = "ArrowRight" if (k // 12) % 2 == 0 else "ArrowLeft"
                    try:
                        f, s = _move(page, key, 15_000)
                    except PlaywrightTimeout:
                        timeouts += 1
                        continue
                    if k >= warmup:
                        felt.append(f)
                        if s is not None:
                            server.append(s)
                over = [f - s for f, s in zip(felt, server)] if len(server) == len(felt) else []
                rows.append({"photo_px": side, "attribute": attribute, "requests": len(felt), "timeouts": timeouts,
                             "felt_p50_ms": _percentile(felt, 50), "felt_p95_ms": _percentile(felt, 95),
                             "server_p50_ms": _percentile(server, 50), "server_p95_ms": _percentile(server, 95),
                             "overhead_p50_ms": _percentile(over, 50)})
        finally:
            browser.close()
    return rows
