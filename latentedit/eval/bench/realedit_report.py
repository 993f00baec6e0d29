"""Tables and the picture grid of ``latentedit bench realedit``."""
from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw

#: Columns of the real-photo tables (the canada_dev table drops the two reach columns).
REAL_COLUMNS = ["mode", "geometry", "appearance", "alpha", "reach median", "reach ≥ 0.5 %", "identity median",
                "same person %", "sharpness ratio", "outside change", "faces", "detect fallbacks",
                "detail fallbacks"]


def _pct(v):
    return None if v is None else 100.0 * v


def real_table(title: str, part: dict[str, Any], pairs: bool, note: str) -> dict[str, Any]:
    """One table (JSON envelope form) of :func:`~.realedit_real.edit_set`'s rows, reference row last."""
    rows = []
    for r in part["rows"] + ([part["reference"]] if part.get("reference") else []):
        cells = [r["mode"], r.get("geometry"), r.get("appearance"), r.get("alpha"), r["reach_median"],
                 _pct(r["reach_ge_half"]), r["identity_median"], _pct(r["same_person"]), r["sharpness_ratio"],
                 r["outside_change"], r["faces"], r["detect_fallbacks"], r["detail_fallbacks"]]
        rows.append(cells if pairs else cells[:4] + cells[6:])
    columns = REAL_COLUMNS if pairs else REAL_COLUMNS[:4] + REAL_COLUMNS[6:]
    c = part["counts"]
    skipped = f"{c['faces']} faces measured; skipped: {c['unreadable']} unreadable, {c['no_face']} without a face"
    if pairs:
        skipped += f", {c.get('unpaired', 0)} without a pair; {c['no_smile_widening']} whose real smile does " \
                   "not widen the mouth have no reach"
    return {"title": title, "columns": columns, "rows": rows, "note": f"{note} {skipped}."}


def synth_table(synth: dict[str, Any]) -> dict[str, Any]:
    """The SynthFaces ground-truth table (JSON envelope form)."""
    rows = []
    for attr, part in synth.items():
        for r in part["rows"]:
            rows.append([attr, part["region"], part["alpha"], part["reached"], part["dlib_reads_truth"], r["method"],
                         r["psnr_db"], r["gain_db"], r["feature_change"], r["truth_feature_change"],
                         part["calibration"]["truth_feature_change_exact"], r["detail_fallbacks"]])
    return {"title": "SynthFaces ground truth: edit of the neutral render vs render(identity, parameter + 1 std)",
            "columns": ["attribute", "region", "alpha", "alpha reached truth", "dlib reads truth", "method",
                        "region PSNR dB", "gain dB vs no edit", "landmark change (dlib)", "truth change (dlib)",
                        "truth change (exact)", "detail fallbacks"],
            "rows": rows,
            "note": "alpha calibrated per attribute: the alpha whose replace-mode landmark change (dlib, "
                    "interocular units) is closest to the truth's; gain ≤ 0 = the edit does not beat leaving the "
                    "face alone. Means over identities."}


def latency_table(lat: dict[str, Any]) -> dict[str, Any]:
    """The latency table (JSON envelope form)."""
    return {"title": f"slider-move latency on {lat['photo']} ({lat['frame'][1]}×{lat['frame'][0]} px)",
            "columns": ["what", "ms p50", "ms p95", "moves"],
            "rows": [[r["what"], r["ms_p50"], r["ms_p95"], r["moves"]] for r in lat["rows"]],
            "note": "Editor.apply on a prepared face with a changing alpha; decode alone = Editor.decode of the "
                    "shifted code; same run."}


def _label(cell: np.ndarray, text: str) -> np.ndarray:
    im = Image.fromarray(cell)
    draw = ImageDraw.Draw(im)
    x0, y0, x1, y1 = draw.textbbox((4, 4), text)
    draw.rectangle((x0 - 3, y0 - 3, x1 + 3, y1 + 3), fill=(0, 0, 0))
    draw.text((4, 4), text, fill=(255, 255, 255))
    return np.asarray(im)


def picture_grid(entries: list[dict[str, Any]], detail_label: str, replace_label: str, size: int = 256) -> np.ndarray:
    """Rows of ``neutral | detail | replace | real smile`` face crops with small text labels.

    Args:
        entries: from :func:`~.realedit_real.edit_set` (``grid``): name and ``size×size`` crops
            (None for a column the run did not have).
        detail_label, replace_label: column captions.

    Returns:
        uint8 RGB grid.
    """
    blank = np.full((size, size, 3), 96, np.uint8)
    rows = []
    for e in entries:
        cells = [(e["neutral"], f"{e['name']} neutral"), (e["detail"], detail_label),
                 (e["replace"], replace_label), (e["smiling"], "real smile")]
        rows.append(np.concatenate([_label(c if c is not None else blank, t) for c, t in cells], axis=1))
    return np.concatenate(rows, axis=0) if rows else blank
