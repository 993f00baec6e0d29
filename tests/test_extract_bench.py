"""`latentedit bench extract` on a tiny folder built from a sample photo."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image


def test_bench_extract_writes_ratios_and_machine_info(tmp_path, capsys):
    import skimage.data

    from latentedit.cli.main import main

    img = Image.fromarray(skimage.data.astronaut())
    for person in ("A_x", "B_y"):
        (tmp_path / person).mkdir()
        for i in range(2):
            img.rotate(3 * i).save(tmp_path / person / f"{i + 1:04d}.jpg")
    out = tmp_path / "bench.json"
    assert main(["bench", "extract", "--data", str(tmp_path), "--frames", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "speed-up" in text and "faces/s" in text
    res = json.loads(out.read_text())
    assert res["machine"]["cpu_count"] >= 1 and res["machine"]["device"] == "cpu" and res["machine"]["torch"]
    assert res["faces_found"] == {"ours": 4, "baseline": 4}
    stages = {r["stage"]: r for r in res["rows"]}
    assert set(stages) == {"detect+landmarks", "refine", "align", "descriptor", "total"}
    assert stages["refine"]["baseline_ms_per_frame"] == 0 and stages["refine"]["speedup"] is None
    for name, r in stages.items():
        if name != "refine":
            assert r["ours_ms_per_frame"] > 0 and r["baseline_ms_per_frame"] > 0
            assert np.isclose(r["speedup"], r["baseline_ms_per_frame"] / r["ours_ms_per_frame"], rtol=1e-6)
