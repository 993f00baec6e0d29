"""``latentedit bench realedit``: the measures on synthetic landmarks and images, and a run on two
london_dev faces with the shipped SynthFaces model (skipped when ../shared/data/london_dev is absent)."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentedit.cli.main import main
from latentedit.edit import Editor
from latentedit.eval.bench.realedit_measure import (enlarge_box, landmark_feature, mouth_ratio, outside_change,
                                                    reach, sharpness)
from latentedit.eval.bench.realedit_synth import (BASE_EXPRESSION, CALIBRATION_ALPHAS, SYNTH_EDITS, region_psnr,
                                                  synth_ground_truth)
from latentedit.synth import identity_params, render

REPO = Path(__file__).resolve().parents[1]
LONDON = REPO.parent / "shared" / "data" / "london_dev"
MODEL = REPO / "latentedit" / "pretrained" / "synthfaces64"


def _face(mouth_width: float, scale: float = 1.0, shift=(0.0, 0.0)) -> np.ndarray:
    """68 landmarks: eye centres 60 px apart, mouth corners ``mouth_width`` apart (then scaled, shifted)."""
    lm = np.zeros((68, 2))
    lm[36:42] = [100.0, 100.0]
    lm[42:48] = [160.0, 100.0]
    lm[48] = [130.0 - mouth_width / 2, 170.0]
    lm[54] = [130.0 + mouth_width / 2, 170.0]
    return lm * scale + np.asarray(shift)


def test_reach_formula_on_synthetic_landmarks():
    neutral, smiling = mouth_ratio(_face(42.0)), mouth_ratio(_face(54.0))
    assert neutral == pytest.approx(0.7) and smiling == pytest.approx(0.9)
    # halfway to the real smile, measured on a face twice the size elsewhere in the photo: still 0.5
    edit = mouth_ratio(_face(48.0, scale=2.0, shift=(300.0, 40.0)))
    assert reach(edit, neutral, smiling) == pytest.approx(0.5)
    assert reach(neutral, neutral, smiling) == pytest.approx(0.0)
    assert reach(mouth_ratio(_face(36.0)), neutral, smiling) == pytest.approx(-0.5)   # narrower: negative
    # a real smile that does not widen the mouth says nothing: no reach
    assert reach(edit, neutral, neutral + 0.009) is None
    assert reach(edit, neutral, neutral - 0.1) is None
    with pytest.raises(ValueError, match="degenerate"):
        mouth_ratio(np.zeros((68, 2)))


def test_pixel_measures():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (100, 120, 3), dtype=np.uint8)
    box = (40, 30, 60, 50)                                    # enlarged 1.5×: x 35..65, y 25..55
    assert enlarge_box(box, 1.5, photo.shape) == (35, 25, 65, 55)
    inside = photo.copy()
    inside[25:55, 35:65] = 0                                  # a change inside the enlarged box only
    assert outside_change(inside, photo, box) == 0.0
    moved = photo.copy()
    moved[0:10, :, 0] = np.where(photo[0:10, :, 0] < 200, photo[0:10, :, 0] + 10, photo[0:10, :, 0] - 10)
    n_out = 100 * 120 - 30 * 30
    assert outside_change(moved, photo, box) == pytest.approx(10 * 1200 / (3 * n_out))
    flat = np.full_like(photo, 128)
    assert sharpness(flat, box) == 0.0 and sharpness(photo, box) > 100.0
    weight = np.zeros((100, 120), np.float32)
    weight[:10] = 1.0
    assert region_psnr(moved, photo, weight) == pytest.approx(10 * math.log10(255 ** 2 / (100 / 3)))


def test_missing_folder_is_one_clear_line(tmp_path, capsys):
    rc = main(["bench", "realedit", "--model", str(MODEL), "--london", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert rc == 2 and "nope/neutral: folder not found" in err and "Traceback" not in err


def _finite(x):
    if isinstance(x, dict):
        return all(_finite(v) for v in x.values())
    if isinstance(x, list):
        return all(_finite(v) for v in x)
    return not isinstance(x, float) or math.isfinite(x)


@pytest.mark.skipif(not (LONDON / "neutral").is_dir(), reason=f"{LONDON} is absent (real face pairs); runs wherever ../shared holds it (dev machines, CI)")
def test_realedit_on_two_london_faces(tmp_path):
    out, md, grid = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "g.png"
    assert main(["bench", "realedit", "--model", str(MODEL), "--limit", "2", "--no-synth", "--latency-moves", "3",
                 "--alphas", "1", "--canada", "", "--threads", "1", "--json", str(out), "--markdown", str(md),
                 "--grid", str(grid), "--grid-faces", "1"]) == 0
    data = json.loads(out.read_text())
    res = data["results"]
    assert res["attribute"] == "smile" and data["settings"]["modes"] == ["detail", "replace"]
    rows = {(r["mode"], r["alpha"]): r for r in res["london"]["rows"]}
    assert set(rows) == {("detail", 0.0), ("detail", 1.0), ("replace", 0.0), ("replace", 1.0)}
    assert rows[("detail", 1.0)]["geometry"] == "landmarks"   # synthfaces64 ships a landmark head
    assert res["london"]["counts"]["faces"] == 2
    # detail mode at alpha 0 is the photo byte for byte: nothing changes, dlib sees the same person exactly
    still = rows[("detail", 0.0)]
    assert still["per_face"]["outside_change"] == [0.0, 0.0] and still["per_face"]["identity"] == [0.0, 0.0]
    assert still["per_face"]["sharpness_ratio"] == [1.0, 1.0] and still["detail_fallbacks"] == 0
    # replace mode re-renders the face (a SynthFaces decoder on a real face): another "person" for dlib
    assert rows[("replace", 1.0)]["identity_median"] > still["identity_median"]
    ref = res["london"]["reference"]
    assert ref["faces"] == 2 and 0 < ref["identity_median"] < 0.6   # the real smile is the same person
    assert {r["what"].split(" ")[0] for r in res["latency"]["rows"]} == {"detail", "replace", "decode"}
    assert all(r["ms_p50"] > 0 for r in res["latency"]["rows"])
    assert _finite(res) and data["machine"]["cpu_count"] >= 1
    assert "| detail | landmarks |" in md.read_text()
    assert Image.open(grid).size == (4 * 256, 256)


@pytest.mark.parametrize("attribute", ["smile", "mouth_open", "eye_open", "brow_raise", "nose_length"])
def test_landmark_feature_grows_with_its_synthfaces_parameter(attribute):
    ident = replace(identity_params(3, 0), nose_length=0.3)
    lo, hi = (0.3, 0.7) if attribute in ("eye_open", "nose_length") else (0.0, 0.6)
    values = []
    for v in (lo, hi):
        if SYNTH_EDITS[attribute][0] == "identity":
            r = render(replace(ident, **{attribute: v}), BASE_EXPRESSION, 128, masks=False)
        else:
            r = render(ident, replace(BASE_EXPRESSION, **{attribute: v}), 128, masks=False)
        values.append(landmark_feature(attribute, r.landmarks))
    assert values[1] > values[0] + 0.01


def test_synth_ground_truth_smoke():
    full = Editor.from_pretrained(MODEL, device="cpu")
    editor = Editor(full.model, {"smile": full.boundaries["smile"]}, template=full.template)
    res, notes = synth_ground_truth(editor, ["auto"], [1.0], identities=1)
    assert list(res) == ["smile"] and any("no boundary for mouth_open" in n for n in notes)
    part = res["smile"]
    assert part["alpha"] in CALIBRATION_ALPHAS and part["parameter_std"] == pytest.approx(1.5 / 12 ** 0.5, rel=0.05)
    assert len(part["rows"]) == 4   # no edit, replace at 0 and at alpha, detail
    rows = {r["method"].split(" α")[0]: r for r in part["rows"]}
    assert set(rows) == {"no edit", "replace", "detail flow (auto) app=1"}
    assert rows["no edit"]["gain_db"] == 0.0 and rows["no edit"]["feature_change"] == 0.0
    assert part["calibration"]["truth_feature_change"] > 0   # dlib sees the true smile lift the corners
    assert all(math.isfinite(r["psnr_db"]) for r in part["rows"])
