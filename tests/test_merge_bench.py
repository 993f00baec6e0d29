"""``latentedit bench merge`` on its synthetic pair: runs in-process, writes sane JSON."""
from __future__ import annotations

import json

from latentedit.cli.main import main


def test_bench_merge_synthetic_json(tmp_path, capsys):
    out = tmp_path / "merge.json"
    rc = main(["bench", "merge", "--synthetic", "--frames", "1", "--repeat", "1", "--size", "64", "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "× baseline" in printed and "seamless + rct" in printed
    res = json.loads(out.read_text())
    assert res["benchmark"] == "merge" and res["settings"]["data"] == "synthetic"
    assert {"cpu_count", "torch", "device"} <= set(res["machine"])
    rows = {r["method"]: r for r in res["results"]}
    assert set(rows) >= {"baseline: mean-colour shift", "none (plain paste)", "rct", "lct", "mkl", "idt", "sot",
                         "seamless + none", "seamless + rct"}
    assert rows["baseline: mean-colour shift"]["time_vs_baseline"] == 1.0
    assert all(r["ms_per_frame_median"] > 0 for r in rows.values())
    # The two synthetic "people" have very different skin tones: any colour matching must fix most of it.
    plain = rows["none (plain paste)"]["tone_delta_e"]
    assert plain > 10
    for mode in ("rct", "lct", "mkl", "idt", "sot"):
        assert rows[mode]["tone_delta_e"] < plain / 4, mode
        assert rows[mode]["seam_step_error"] < rows["none (plain paste)"]["seam_step_error"] / 2, mode
