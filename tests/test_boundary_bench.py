"""The boundaries and edit benchmarks run end to end at tiny sizes and report what they measure."""
from __future__ import annotations

import json

from latentedit.cli.main import main


def test_bench_boundaries_tiny(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "boundaries", "--sizes", "3000", "--dim", "32", "--svc-max", "500", "--repeat", "1",
                 "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["benchmark"] == "boundaries" and data["machine"]["cpu_count"] >= 1
    rows = {r["method"].split(" (")[0]: r for r in data["results"]}
    ridge = rows["BoundaryFitter ridge"]
    assert ridge["cosine"] > 0.99 and ridge["val_balanced_accuracy"] > 0.85
    assert rows["SVC(kernel='linear'), all labels"]["note"].startswith("subsampled to 500")
    base = data["results"][0]
    assert base["speed_vs_baseline"] == 1.0
    assert "speed×" in capsys.readouterr().out


def test_bench_edit_tiny(tmp_path, capsys):
    out = tmp_path / "e.json"
    assert main(["bench", "edit", "--resolutions", "64", "--moves", "4", "--naive", "1", "--images", "4",
                 "--batch-size", "4", "--photo", str(tmp_path / "none.jpg"), "--json", str(out)]) == 0
    r = json.loads(out.read_text())["results"][0]
    assert r["resolution"] == 64 and r["face"] == "fixed box"
    assert 0 < r["move_ms_p50"] <= r["move_ms_p95"] and r["batch_images_per_s"] > 0
