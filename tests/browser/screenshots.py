"""Make the app's documentation screenshots (``docs/screenshots/app_<W>x<H>.png``) in Debian's Chromium.

    python -m tests.browser.screenshots [--model DIR] [--photo PATH] [--out docs/screenshots]

Serves ``latentedit app MODEL`` (default: the shipped default model), uploads the photo (default: the
first face of ``../shared/data/london_dev``, CC BY 4.0: DeBruine & Jones 2017, Face Research Lab
London Set, doi:10.6084/m9.figshare.5047666.v5), moves the smile slider (or the first validated one)
and captures the page at 1366×768 (the After view) and 1920×1080 (Before and After side by side).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SIZES = {(1366, 768): "after", (1920, 1080): "side"}


def capture(url: str, photo: Path, attribute: str, out: Path, chromium: Path, args: list[str]) -> list[Path]:
    """One screenshot per size in :data:`SIZES`; returns their paths."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=args)
        try:
            for (w, h), view in SIZES.items():
                page = browser.new_page(viewport={"width": w, "height": h})
                page.set_default_timeout(120_000)
                page.goto(url)
                page.wait_for_selector("#le-upload input[type=file]", state="attached")
                page.set_input_files("#le-upload input[type=file]", str(photo))
                page.locator("#le-status", has_text="edited in").wait_for()
                slider = page.locator(f"#le-slider-{attribute} input[type=range]")
                slider.focus()
                for _ in range(15):
                    page.keyboard.press("ArrowRight")
                page.wait_for_function(f"() => Number(document.querySelector('#le-slider-{attribute} "
                                       "input[type=number]').value) === 1.5")
                time.sleep(3)                     # the last move's image drawn
                page.locator("#le-view label", has_text={"after": "After", "side": "Side by side"}[view]).click()
                page.evaluate("window.scrollTo(0, 0)")
                time.sleep(1)
                path = out / f"app_{w}x{h}.png"
                page.screenshot(path=str(path))
                paths.append(path)
                page.close()
        finally:
            browser.close()
    return paths


def main(argv: list[str] | None = None) -> int:
    """Serve the app, capture the screenshots, stop the app."""
    from latentedit.app.labels import split_validated
    from latentedit.edit import Editor
    from latentedit.eval.bench.app import AppServer
    from latentedit.eval.bench.app_browser import CHROMIUM_ARGS, chromium_path, timed_attribute
    from latentedit.pretrained import default_model_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model folder (default: the shipped default model)")
    ap.add_argument("--photo", default=str(REPO.parent / "shared" / "data" / "london_dev" / "neutral" / "001.jpg"))
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    args = ap.parse_args(argv)
    model = Path(args.model).resolve() if args.model else default_model_dir()
    editor = Editor.from_pretrained(model, device="cpu")
    validated, _ = split_validated(editor.boundaries)
    attribute = timed_attribute(validated or editor.attributes)
    with tempfile.TemporaryDirectory(prefix="latentedit-shots-") as tmp:
        server = AppServer(model, 2, Path(tmp))
        try:
            for p in capture(server.url, Path(args.photo), attribute, Path(args.out), chromium_path(), CHROMIUM_ARGS):
                print(f"wrote {p}")
        finally:
            server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
