"""``latentedit bench train`` measures both variants on the same model and reports ratios."""
from __future__ import annotations

import json

from latentedit.eval.bench import train as bench_train


def test_measure_both_variants_same_model():
    ours = bench_train._measure("ours", 64, 2, 1, 0, 1, "cpu")
    base = bench_train._measure("baseline", 64, 2, 1, 0, 1, "cpu")
    assert ours["params"] == base["params"] > 1_000_000       # the same default 64 px model
    for r in (ours, base):
        assert r["img_per_s"] > 0 and r["img_per_s"] == 4 / r["step_s_median"] and r["peak_mb"] > 0
    assert ours["decode_ms"] > 0 and ours["decode_ms_channels_last"] > 0


def test_run_writes_json_with_machine_info(tmp_path, monkeypatch, capsys):
    fake = {"img_per_s": 10.0, "step_s_median": 0.1, "step_s": [0.1], "peak_mb": 100.0, "params": 5}
    calls = []

    def measure(kind, size, *a):
        calls.append((kind, size))
        return dict(fake, variant=kind, size=size, img_per_s=20.0 if kind == "ours" else 10.0)

    monkeypatch.setattr(bench_train, "_run_isolated", measure)
    import argparse
    p = argparse.ArgumentParser()
    bench_train.add_arguments(p)
    args = p.parse_args(["--sizes", "64", "--json", str(tmp_path / "t.json")])
    assert bench_train.run(args) == 0
    out = json.loads((tmp_path / "t.json").read_text())
    assert calls == [("baseline", 64), ("ours", 64)]
    assert out["machine"]["cpu_count"] and out["machine"]["torch"] and len(out["machine"]["loadavg_before"]) == 3
    ours = [r for r in out["results"] if r["variant"] == "ours"][0]
    assert ours["speedup_vs_baseline"] == 2.0
    assert "2.00" in capsys.readouterr().out
