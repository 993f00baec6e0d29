"""Part 5 of the quality suite (``latentedit bench quality``): one headline per speed benchmark JSON."""
from __future__ import annotations

import json
from pathlib import Path

from .markdown import fmt, hardware_line

#: The speed benchmarks summarised, by their ``docs/bench/<name>_cpu.json`` file.
SPEED_BENCHMARKS = ("train", "edit", "boundaries", "app", "merge", "extract", "synth", "celeba_boundaries")

_RATIO_HINTS = ("vs_baseline", "ratio", "speedup", "seam_delta_e", "per_s", "p50", "p95")


def headline(data: dict) -> str:
    """A one-line summary of a benchmark JSON: its ``headline`` if given, else the ratio-like columns
    (``*_vs_baseline``, ``*ratio*``, ``*speedup*``, seam ΔE, throughput, latency percentiles) of the first rows."""
    if data.get("headline") is not None:
        return fmt(data["headline"], limit=200)
    rows = data.get("results") if data.get("results") is not None else data.get("rows")
    if rows is None:  # no rows: the top-level objects that carry a ratio (e.g. {"faces_per_s": {"speedup": …}})
        found = {k: v for k, v in data.items() if isinstance(v, dict) and k not in ("machine", "settings")
                 and any(any(h in kk for h in _RATIO_HINTS) for kk in v)}
        return "; ".join(f"{k}: {fmt(v, limit=120)}" for k, v in found.items()) or "—"
    if isinstance(rows, dict):
        rows = [dict(name=k, **v) if isinstance(v, dict) else {"name": k, "value": v} for k, v in rows.items()]
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return fmt(rows, limit=200)
    parts = []
    for r in rows[:4]:
        label = next((str(v) for v in r.values() if isinstance(v, str)), "")
        keys = [k for k in r if any(h in k for h in _RATIO_HINTS) and isinstance(r[k], (int, float))]
        shown = keys or [k for k in r if isinstance(r[k], (int, float)) and not isinstance(r[k], bool)][:2]
        parts.append(f"{label}: " + ", ".join(f"{k}={fmt(r[k])}" for k in shown))
    return "; ".join(parts) + ("; …" if len(rows) > 4 else "")


def speed_summary(bench_dir):
    """Headline of every speed benchmark JSON in ``bench_dir`` (``<name>_cpu.json``)."""
    bench_dir = Path(bench_dir)
    rows, res = [], {}
    for name in SPEED_BENCHMARKS:
        f = bench_dir / f"{name}_cpu.json"
        if not f.is_file():
            rows.append([name, "not measured yet", "", ""])
            res[name] = None
            continue
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            rows.append([name, f"unreadable ({exc.__class__.__name__})", "", ""])
            res[name] = None
            continue
        head = headline(data)
        rows.append([name, head, fmt(data.get("baseline"), limit=80), hardware_line(data.get("machine"))[10:]])
        res[name] = {"file": f.name, "headline": head}
    return res, [{"title": "Speed summary (docs/bench/*_cpu.json; full tables in BENCHMARKS.md)",
                  "columns": ["benchmark", "headline", "baseline", "hardware"], "rows": rows,
                  "note": "ratios are against each benchmark's own baseline in the same run"}]
