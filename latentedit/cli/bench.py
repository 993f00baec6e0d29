"""``latentedit bench <what>``: benchmarks and evaluation tools. Each lives in
``latentedit/eval/bench/<what>.py`` (dashes in the command become underscores) with
``add_arguments(parser)`` and ``run(args) -> int``, imported only when chosen."""
from __future__ import annotations

import argparse

from ..errors import LatentEditError
from .main import add_commands

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
    "realedit": "smile edit of real photos vs the person's real smile, detail vs replace mode (dlib measures)",
    "app": "app latency through a real client, 1 and 8 concurrent clients",
    "quality": "reconstruction, swap and edit quality (BENCHMARKS.md tables)",
    "landmark-scores": "landmark attribute scores against CelebA's labels (held-out ROC AUC)",
    "oracle": "train the SynthFaces attribute oracle that judges edit reports",
    "markdown": "regenerate BENCHMARKS.md from docs/bench/*.json",
}


def module_name(name: str) -> str:
    """The module of benchmark ``name`` (``landmark-scores`` -> ``latentedit.eval.bench.landmark_scores``)."""
    return f"{PACKAGE}.{name.replace('-', '_')}"


#: ``latentedit bench --help``: what the command does.
DESCRIPTION = ("Benchmarks; results are printed "
               "and optionally written as JSON.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the benchmarks on ``latentedit bench``'s parser; only the chosen one's module is imported."""
    add_commands(p, BENCHMARKS, module_name, dest="bench", metavar="WHAT")


def run(args) -> int:
    """Reached only when no benchmark was chosen (a benchmark's own ``run`` replaces this one)."""
    raise LatentEditError("choose a benchmark: " + ", ".join(BENCHMARKS))
