"""``latentedit bench <what>``: benchmarks and evaluation tools. Each lives in
``latentedit/eval/bench/<what>.py`` (dashes in the command become underscores) with
``add_arguments(parser)`` and ``run(args) -> int``."""
from __future__ import annotations

import importlib

from ..errors import LatentEditError

#: Package holding one module per benchmark.
PACKAGE = "latentedit.eval.bench"

#: Benchmark name -> one-line help.
BENCHMARKS = {
    "synth": "SynthFaces render speed (images/s at 64 and 128 px)",
    "train": "training throughput and peak memory vs a plain-PyTorch baseline",
    "extract": "face extraction speed (faces/s)",
    "merge": "merge speed (ms per 512-px frame) per colour mode",
    "boundaries": "boundary fitting time and accuracy vs scikit-learn's linear SVC",
    "edit": "slider-move latency p50/p95 and batch edit throughput",
    "app": "app latency through a real client, 1 and 8 concurrent clients",
    "quality": "reconstruction, swap and edit quality (BENCHMARKS.md tables)",
    "landmark-scores": "landmark attribute scores against CelebA's labels (held-out ROC AUC)",
    "oracle": "train the SynthFaces attribute oracle that judges edit reports",
    "markdown": "regenerate BENCHMARKS.md from docs/bench/*.json",
}


def module_name(name: str) -> str:
    """The module of benchmark ``name`` (``landmark-scores`` -> ``latentedit.eval.bench.landmark_scores``)."""
    return f"{PACKAGE}.{name.replace('-', '_')}"


def add_parser(sub):
    p = sub.add_parser("bench", help="run a benchmark", description="Benchmarks; results are printed "
                       "and optionally written as JSON.")
    bsub = p.add_subparsers(dest="bench", metavar="WHAT")
    for name, help_text in BENCHMARKS.items():
        bp = bsub.add_parser(name, help=help_text, description=help_text)
        bp.set_defaults(_bench=name)
        try:
            module = importlib.import_module(module_name(name))
        except ModuleNotFoundError as exc:
            if exc.name != module_name(name):
                raise
            continue
        module.add_arguments(bp)
    return p


def run(args) -> int:
    name = getattr(args, "_bench", None)
    if name is None:
        raise LatentEditError("choose a benchmark: " + ", ".join(BENCHMARKS))
    try:
        module = importlib.import_module(module_name(name))
    except ModuleNotFoundError as exc:
        if exc.name == module_name(name):
            raise LatentEditError(f"benchmark {name!r} is not implemented yet") from None
        raise
    return module.run(args)
