"""``latentedit report MODEL FACESET --attribute NAME --out DIR``: the edit report.

Sweeps one attribute's edit strength over faces of a FaceSet and measures the target change,
leakage into every other attribute and identity drift with oracles independent of the model
(see :mod:`latentedit.eval.report`). Writes ``report.json``, ``report.md`` and ``report.png``.
"""
from __future__ import annotations

import argparse

import torch

from ..edit.recipe import MAX_ALPHA
from ..eval.report import edit_report
from ..train.lpips import load_lpips
from ._checks import bounded_float, bounded_int, check_output_dir, seed_arg

#: Most faces one report sweeps (``--n``) and most alphas in ``--alphas``.
MAX_FACES, MAX_ALPHAS = 100_000, 64


def _floats(text: str) -> list[float]:
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one alpha")
    if len(vals) > MAX_ALPHAS:
        raise argparse.ArgumentTypeError(f"at most {MAX_ALPHAS} alphas, got {len(vals)}")
    for v in vals:
        if not -MAX_ALPHA <= v <= MAX_ALPHA:  # also refuses nan and inf
            raise argparse.ArgumentTypeError(f"each alpha must be in {-MAX_ALPHA:g}..{MAX_ALPHA:g}, got {v:g}")
    return vals


#: ``latentedit report --help``: what the command does.
DESCRIPTION = ("Sweep an attribute's edit strength over faces of a FaceSet and measure it with oracles "
               "independent of the model (SynthFaces attribute oracle for synthetic FaceSets; dlib landmark "
               "scores and identity distance for real faces). Writes report.json, report.md, report.png.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register ``latentedit report``'s arguments on its parser (made by :mod:`latentedit.cli.main`)."""
    p.add_argument("model", help="pretrained model folder (or a training run folder)")
    p.add_argument("faceset", help="FaceSet folder with the faces to edit")
    p.add_argument("--attribute", required=True, help="boundary attribute to sweep")
    p.add_argument("--alphas", type=_floats, default=[-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0],
                   help=f"comma-separated edit strengths in std units, each in -{MAX_ALPHA:g}..{MAX_ALPHA:g}; write "
                   "--alphas=-3,-1,1,3 when the list starts with a minus (default -3,-2,-1,0,1,2,3; 0 is always added)")
    p.add_argument("--hold", action="append", default=[], metavar="ATTR[,ATTR]",
                   help="attributes held fixed (repeatable or comma-separated)")
    p.add_argument("--region", default="none", help="confine the edit to a region: none, face, eyes, brows, "
                   "nose, mouth (default none)")
    p.add_argument("--identity", default=None, help="decoder to use (default: each face's own, else the model's "
                   "default)")
    p.add_argument("--boundaries", default=None, help="boundaries folder (default MODEL/boundaries)")
    p.add_argument("--n", type=bounded_int(1, MAX_FACES), default=64,
                   help=f"faces to sweep, 1..{MAX_FACES} (seeded random subset; default 64)")
    p.add_argument("--seed", type=seed_arg(), default=0, help="seed of the face subset, 0..2^32-1 (default 0)")
    p.add_argument("--margin", type=bounded_float(0.0, 10.0), default=0.25,
                   help="success margin in oracle-std units, 0..10 (default 0.25)")
    p.add_argument("--oracle", choices=("auto", "synth", "landmarks"), default="auto",
                   help="auto: synth when the FaceSet's labels are SynthFaces ground truth, else landmarks")
    p.add_argument("--oracle-dir", default=None, help="SynthFaces oracle folder (default pretrained/oracle or "
                   "$LATENTEDIT_ORACLE)")
    p.add_argument("--oracle-attribute", default=None, help="oracle output measuring the target (prefix '-' "
                   "if more of the attribute means less of it, e.g. -eye_open_score)")
    p.add_argument("--lpips", action="store_true", help="add LPIPS to the alpha-0 decode to the identity drift "
                   "(needs the LPIPS weights, see latentedit.train.lpips.load_lpips)")
    p.add_argument("--out", required=True, help="folder for report.json, report.md, report.png")
    p.add_argument("--overwrite", action="store_true", help="replace report files already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    """Run the report and print its markdown table."""
    check_output_dir(args.out)  # before the sweep: a bad --out costs nothing
    torch.set_num_threads(min(2, torch.get_num_threads()))
    hold = [h for item in args.hold for h in item.split(",") if h]
    lp = load_lpips() if args.lpips else None
    rep = edit_report(args.model, args.boundaries, args.faceset, args.attribute, alphas=args.alphas, hold=hold,
                      region=args.region, identity=args.identity, n=args.n, seed=args.seed, margin=args.margin,
                      oracle=args.oracle, oracle_dir=args.oracle_dir, oracle_attribute=args.oracle_attribute,
                      lpips_model=lp, progress=not args.quiet)
    paths = rep.save(args.out, overwrite=args.overwrite)
    print(rep.to_markdown())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
