"""Generate ``BENCHMARKS.md`` from the benchmark JSON files in ``docs/bench/``.

``latentedit bench markdown [--bench-dir docs/bench] [--out BENCHMARKS.md]``

Every ``docs/bench/<name>_<hardware>.json`` written by ``latentedit bench <name> --json`` becomes a
section with the command that reproduces it, the hardware it ran on and its tables (the JSON
envelope is documented in ``docs/BENCHMARK_SCHEMA.md``). Benchmarks without a file are listed as
"not measured yet". Also holds :func:`machine_info`, the hardware block every benchmark records.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch

from ..._io import atomic_write_text

#: The source checkout (``docs/bench`` and ``BENCHMARKS.md`` live there).
REPO = Path(__file__).resolve().parents[3]
#: Benchmarks in the order BENCHMARKS.md shows them, with a one-line description.
KNOWN = {
    "quality": "reconstruction, swap and edit quality with model-independent metrics",
    "synth": "SynthFaces render speed",
    "extract": "face extraction speed",
    "train": "training throughput and memory vs a plain-PyTorch baseline",
    "boundaries": "boundary fitting time and accuracy vs scikit-learn",
    "celeba_boundaries": "boundaries fitted on CelebA labels",
    "landmark_scores": "landmark attribute scores against CelebA labels (ROC AUC)",
    "edit": "slider-move latency and batch edit throughput",
    "app": "app latency through a real client",
    "app_browser": "felt slider latency in Chromium (key press to the new image drawn)",
    "merge": "merge speed per colour mode and seam quality",
    "default_model": "the shipped real-face model against its quality targets",
    "realedit": "edits of real photos, detail vs replace mode (reach, identity, sharpness, outside change)",
}
#: Envelope keys (see docs/BENCHMARK_SCHEMA.md); everything else is shown as a "key: value" list.
ENVELOPE = ("benchmark", "description", "command", "machine", "settings", "baseline", "results", "tables", "notes")


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """The hardware/software block of a benchmark JSON: cpu count, torch version, device, …"""
    info = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "device": device, "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def cpu_machine_info() -> dict:
    """The machine block of the CPU benchmarks (boundaries, edit): versions of torch, scikit-learn and
    numpy, and the load average (the machine is shared)."""
    return {"cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "device": "cpu", "sklearn": sklearn.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            # the machine is shared: the 1-minute load average says how contended the timings were
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def fmt(v: Any, limit: int | None = 120) -> str:
    """A compact cell: 4 significant digits for floats, '—' for None/NaN, ``k=v`` lists for small dicts
    (cut at ``limit`` characters; None = never)."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        if len(v) <= 6 and all(not isinstance(x, (dict, list)) for x in v):
            return ", ".join(fmt(x) for x in v)
        return f"[{len(v)} items]"
    if isinstance(v, dict):
        text = ", ".join(f"{k}={fmt(x)}" for k, x in v.items())
        return text if limit is None or len(text) <= limit else text[:limit - 3] + "…"
    return str(v).replace("|", "\\|").replace("\n", " ")


def table(columns: list[str], rows: list[list[Any]]) -> str:
    """A markdown table (numbers right-aligned)."""
    def is_num(c: int) -> bool:
        vals = [r[c] for r in rows if c < len(r) and r[c] is not None]
        return bool(vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)

    align = ["---:" if is_num(c) else "---" for c in range(len(columns))]
    out = ["| " + " | ".join(fmt(c) for c in columns) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt(v) for v in list(r) + [None] * (len(columns) - len(r))) + " |")
    return "\n".join(out)


def _dict_rows_table(rows: list[dict]) -> str:
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    return table(cols, [[r.get(c) for c in cols] for r in rows])


def _results_md(results: Any) -> list[str]:
    if isinstance(results, list) and results and all(isinstance(r, dict) for r in results):
        return [_dict_rows_table(results), ""]
    if isinstance(results, dict):
        out = []
        flat = {k: v for k, v in results.items() if not isinstance(v, (dict, list))}
        if flat:
            out += [table(["metric", "value"], [[k, v] for k, v in flat.items()]), ""]
        for k, v in results.items():
            if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
                out += [f"**{k}**", "", _dict_rows_table([{"": name, **x} for name, x in v.items()]), ""]
            elif isinstance(v, dict):
                out += [f"**{k}**", "", table(["metric", "value"], [[a, b] for a, b in v.items()]), ""]
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                out += [f"**{k}**", "", _dict_rows_table(v), ""]
            elif isinstance(v, list):
                out += [f"- {k}: {fmt(v)}", ""]
        return out
    return [f"results: {fmt(results)}", ""] if results is not None else []


def hardware_line(machine: dict | None) -> str:
    """One line naming the hardware a benchmark ran on."""
    if not machine:
        return "hardware: not recorded"
    parts = [f"{machine.get('device', '?')}"]
    if machine.get("gpu"):
        parts.append(str(machine["gpu"]))
    if machine.get("cpu_count") is not None:
        parts.append(f"{machine['cpu_count']} CPU cores")
    if machine.get("torch_threads") is not None:
        parts.append(f"{machine['torch_threads']} torch threads")
    if machine.get("processor"):
        parts.append(str(machine["processor"]))
    parts.append(f"torch {machine.get('torch', '?')}")
    if machine.get("date"):
        parts.append(str(machine["date"]))
    return "hardware: " + ", ".join(parts)


def section(name: str, data: dict, file: Path) -> str:
    """The markdown section of one benchmark JSON."""
    cmd = data.get("command") or f"latentedit bench {name} --json docs/bench/{file.name}"
    lines = [f"### {name} (`{file.name}`)", ""]
    if data.get("description"):
        lines += [str(data["description"]), ""]
    lines += [f"Reproduce: `{cmd}`  ", hardware_line(data.get("machine")), ""]
    if data.get("settings"):
        lines += ["Settings: " + fmt(data["settings"], limit=None), ""]
    if data.get("baseline"):
        lines += ["Baseline: " + fmt(data["baseline"], limit=None), ""]
    tables = data.get("tables")
    if isinstance(tables, list) and tables:
        for t in tables:
            if not isinstance(t, dict) or "columns" not in t:
                continue
            if t.get("title"):
                lines += [f"**{t['title']}**", ""]
            lines += [table(list(t["columns"]), [list(r) for r in t.get("rows", [])]), ""]
            if t.get("note"):
                lines += [f"_{t['note']}_", ""]
    else:
        lines += _results_md(data.get("results"))
    extra = {k: v for k, v in data.items() if k not in ENVELOPE}
    if extra:  # benchmark-specific keys: scalars as a metric/value table, nested objects/rows as tables
        lines += _results_md(extra)
    notes = data.get("notes") or []
    for n in [notes] if isinstance(notes, str) else notes:
        lines.append(f"> {n}")
    if notes:
        lines.append("")
    return "\n".join(lines)


def render_benchmarks(bench_dir: str | os.PathLike) -> str:
    """Render every ``*.json`` in ``bench_dir`` (known benchmarks first) as one markdown document."""
    bench_dir = Path(bench_dir)
    files = sorted(bench_dir.glob("*.json")) if bench_dir.is_dir() else []
    by_name: dict[str, list[Path]] = {}
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
            name = str(data.get("benchmark") or f.stem.rsplit("_", 1)[0])
        except (OSError, json.JSONDecodeError, AttributeError):
            name = f.stem.rsplit("_", 1)[0]
        by_name.setdefault(name, []).append(f)
    order = list(KNOWN) + sorted(set(by_name) - set(KNOWN))
    lines = ["# latentedit benchmarks", "",
             "Generated by `latentedit bench markdown` from `docs/bench/*.json` (schema: "
             "`docs/BENCHMARK_SCHEMA.md`). Each section names the command that reproduces it and the hardware "
             "it ran on. Speed is quoted as ratios against a baseline measured in the same run; absolute times "
             "depend on the machine (the CPU numbers come from a 2-core machine shared with other jobs).", "",
             "| benchmark | what | status |", "|---|---|---|"]
    for name in order:
        status = ", ".join(f"`{f.name}`" for f in by_name.get(name, [])) or "not measured yet"
        lines.append(f"| {name} | {KNOWN.get(name, '')} | {status} |")
    lines.append("")
    for name in order:
        lines += [f"## {name}", ""]
        if name not in by_name:
            lines += [f"Not measured yet (run `latentedit bench {name} --json docs/bench/{name}_cpu.json`).", ""]
            continue
        for f in by_name[name]:
            try:
                data = json.loads(f.read_text(encoding="utf-8"))
                if not isinstance(data, dict):
                    raise ValueError("top level is not an object")
            except (OSError, ValueError) as exc:
                lines += [f"`{f.name}`: unreadable ({exc}).", ""]
                continue
            lines += [section(name, data, f), ""]
    return "\n".join(lines).rstrip() + "\n"


def write_benchmarks(bench_dir: str | os.PathLike = REPO / "docs" / "bench",
                     out: str | os.PathLike = REPO / "BENCHMARKS.md") -> Path:
    """Render ``bench_dir`` and write ``out`` atomically (a generated file: it is replaced)."""
    atomic_write_text(out, render_benchmarks(bench_dir))
    return Path(out)



def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``--bench-dir`` and ``--out``."""
    parser.add_argument("--bench-dir", default=str(REPO / "docs" / "bench"), help="folder of benchmark JSON files "
                        "(default docs/bench of the source checkout)")
    parser.add_argument("--out", default=str(REPO / "BENCHMARKS.md"), help="markdown file to write (default "
                        "BENCHMARKS.md of the source checkout)")


def run(args: argparse.Namespace) -> int:
    """Regenerate the markdown file from the JSON files. Returns 0."""
    path = write_benchmarks(args.bench_dir, args.out)
    print(f"wrote {path}")
    return 0
