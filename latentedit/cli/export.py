"""``latentedit export MODEL --onnx DIR``: the encoder and each decoder as ONNX graphs, checked with onnxruntime."""
from __future__ import annotations

import argparse

from ..export import DEFAULT_ATOL, export_onnx
from ..models import load_model
from ._checks import bounded_float, check_output_dir


#: ``latentedit export --help``: what the command does.
DESCRIPTION = ("Export the encoder and every decoder of MODEL to ONNX (dynamic batch axis), run each "
               "graph with onnxruntime on random inputs, print the max |ONNX - PyTorch| difference and "
               "fail when it is above --atol. DIR also gets a manifest.json.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register ``latentedit export``'s arguments on its parser (made by :mod:`latentedit.cli.main`)."""
    p.add_argument("model", metavar="MODEL", help="pretrained model folder (config.json + model.safetensors) "
                   "or a training run folder")
    p.add_argument("--onnx", metavar="DIR", required=True, help="output folder (must not hold earlier exports)")
    p.add_argument("--identity", action="append", default=None, metavar="NAME",
                   help="export only this decoder (repeatable; default: all)")
    p.add_argument("--atol", type=bounded_float(0.0, 1.0, lo_open=True), default=None,
                   help="largest accepted difference, > 0 and ≤ 1 (default 1e-3)")


def run(args: argparse.Namespace) -> int:
    """Export and print one line per graph. Returns 0, or raises LatentEditError."""
    atol = DEFAULT_ATOL if args.atol is None else args.atol
    check_output_dir(args.onnx, "--onnx")
    model = load_model(args.model)
    result = export_onnx(model, args.onnx, identities=args.identity, atol=atol, model_source=str(args.model))
    print(f"{'graph':<28} {'input':<30} {'max |onnx - torch|':>18}")
    for g in result.graphs:
        shape = ", ".join(f"{k} {'×'.join(map(str, v))}" for k, v in g.inputs.items())
        print(f"{g.file:<28} {shape:<30} {g.max_abs_diff:>18.2e}")
    print(f"all {len(result.graphs)} graphs within atol {atol:g}; manifest: {result.out_dir / 'manifest.json'}")
    return 0
