"""``latentedit bench quality MODEL``: reconstruction, swap and edit quality, plus a speed summary.

Every number is computed by code independent of the model under test (PSNR/SSIM/LPIPS, dlib
identity distance and landmark scores, the SynthFaces attribute oracle), against ground truth
where it exists, and next to a trivial baseline measured in the same run:

1. reconstruction on held-out SynthFaces renders of the model's people (vs mean face / blurred input),
   and on real faces of a FaceSet (``--celeba``) when the model was trained on such faces;
2. swap A→B against the ground truth ``render(B identity, A expression)`` (vs the unchanged source
   and B's mean face), with the oracle's expression error (vs the oracle's error on the truth);
3. swap on a real pair (``--swap-pair``): dlib identity distance to B and A, and expression
   preservation (correlation of landmark scores between source and swapped frames);
4. edit quality per boundary (the edit report at ±alpha) vs a random direction of the same length;
5. speed: the headline rows of the other benchmarks' ``docs/bench/*_cpu.json``.

The parts live in :mod:`latentedit.eval.bench.quality_parts`.
"""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ..._io import atomic_write_json
from ...edit.editor import Editor
from ...errors import LatentEditError
from ..metrics import load_lpips
from ..oracle import default_oracle_dir
from . import quality_parts as qp
from .markdown import REPO, machine_info, table, write_benchmarks
from .quality_speed import speed_summary


def add_arguments(parser) -> None:
    """Register the benchmark's options."""
    parser.add_argument("model", help="pretrained model folder (or a training run folder)")
    parser.add_argument("--boundaries", default=None, metavar="DIR",
                        help="boundaries folder for the edit part (default MODEL/boundaries)")
    parser.add_argument("--data", action="append", default=[], metavar="DECODER=FACESET[@LABEL]",
                        help="SynthFaces FaceSet each decoder was trained on (as in `latentedit train --data`), "
                             "or DECODER=synth:SEED:INDEX for identity INDEX of `latentedit synth --seed SEED`; "
                             "its ground-truth identity attributes define the person for reconstruction and "
                             "swap ground truth. Default: a training run's recorded --data (MODEL = run folder), "
                             "then decoders named idNNN are identity NNN of --synth-seed")
    parser.add_argument("--synth-seed", type=int, default=0, help="SynthFaces dataset seed for idNNN decoders")
    parser.add_argument("--synth-pairs", type=int, default=32, help="held-out renders per decoder for "
                        "reconstruction and per direction for swaps (default 32)")
    parser.add_argument("--edit-n", type=int, default=32, help="faces per edited attribute (default 32)")
    parser.add_argument("--edit-alpha", type=float, default=2.0, help="edit strength for edit quality (default 2)")
    parser.add_argument("--edit-attributes", default=None, help="comma-separated boundaries to score "
                        "(default: every boundary the oracle can read)")
    parser.add_argument("--margin", type=float, default=0.25, help="edit success margin in oracle-std units")
    parser.add_argument("--celeba", default=None, metavar="FACESET",
                        help="real-face FaceSet (e.g. imported from ../shared/data/celeba10k) to measure "
                             "reconstruction on, for a model trained on such faces")
    parser.add_argument("--celeba-n", type=int, default=48, help="faces from --celeba (the last N records)")
    parser.add_argument("--swap-pair", default=None, metavar="DIR",
                        help="folder with two sub-folders of frames (A_*, B_*), e.g. ../shared/data/swap_pair, "
                             "for a model trained on them")
    parser.add_argument("--swap-identities", default=None, metavar="A,B",
                        help="decoder names of the two --swap-pair people (default: the model's first two)")
    parser.add_argument("--swap-n", type=int, default=24, help="frames per person from --swap-pair")
    parser.add_argument("--oracle-dir", default=None, help="SynthFaces oracle folder (default pretrained/oracle)")
    parser.add_argument("--lpips-weights", default=None, help="folder with alex_features.safetensors "
                        "(default $LATENTEDIT_LPIPS_WEIGHTS or ../shared/weights/lpips); LPIPS is skipped "
                        "with a note when absent")
    parser.add_argument("--no-dlib", action="store_true", help="skip dlib identity distances on SynthFaces")
    parser.add_argument("--bench-dir", default=str(REPO / "docs" / "bench"),
                        help="folder of the other benchmarks' JSON for the speed summary")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the held-out renders")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1; more threads "
                        "are much slower on a busy shared CPU)")
    parser.add_argument("--note", action="append", default=[], help="a note stored with the results "
                        "(e.g. which checkpoint was measured); repeatable")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON")
    parser.add_argument("--markdown", action="store_true", help="regenerate BENCHMARKS.md from --bench-dir "
                        "afterwards")


def _rel(path) -> str:
    """``path`` relative to the repository when inside it (portable JSON), else as given."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(REPO))
    except ValueError:
        return str(path)


def run(args) -> int:
    """Run every part that applies, print the tables, optionally write JSON (and BENCHMARKS.md)."""
    torch.set_num_threads(max(1, args.threads))
    t0 = time.time()
    editor = Editor.from_pretrained(args.model, boundaries=args.boundaries, device="cpu")
    model = editor.model
    notes: list[str] = list(args.note)
    try:
        lp = load_lpips(args.lpips_weights)
    except LatentEditError as exc:
        lp = None
        notes.append(f"LPIPS skipped: {exc}")
    oracle = qp.load_oracle(args.oracle_dir, notes)
    people = qp.synth_people(model, args.data, args.synth_seed, notes, model_dir=args.model)

    results: dict[str, Any] = {}
    tables: list[dict] = []
    timings: dict[str, float] = {}

    def part(name: str, fn, *a, **kw):
        t = time.time()
        out = fn(*a, **kw)
        timings[name] = round(time.time() - t, 1)
        if out is not None:
            res, tabs = out
            results[name] = res
            tables.extend(tabs)

    if people:
        part("reconstruction_synth", qp.reconstruction_synth, editor, people, args.synth_pairs, args.seed, lp,
             not args.no_dlib)
        if len(people) >= 2:
            part("swap_synth", qp.swap_synth, editor, people, args.synth_pairs, args.seed + 1, lp, oracle)
        else:
            notes.append("swap accuracy skipped: it needs two SynthFaces decoders")
        if oracle is not None:
            attrs = None if not args.edit_attributes else [a for a in args.edit_attributes.split(",") if a]
            part("edit_quality", qp.edit_quality, editor, people, oracle, args.oracle_dir, attrs, args.edit_n,
                 args.edit_alpha, args.margin, args.seed + 2, notes)
    else:
        notes.append("SynthFaces parts skipped: no decoder maps to a SynthFaces person (pass --data)")
    if args.celeba:
        part("reconstruction_real", qp.reconstruction_real, editor, args.celeba, args.celeba_n, lp)
    else:
        notes.append("real-face reconstruction not measured (no --celeba FaceSet given; use it for a model "
                     "trained on CelebA faces)")
    if args.swap_pair:
        part("swap_real", qp.swap_real, editor, args.swap_pair, args.swap_identities, args.swap_n, notes)
    else:
        notes.append("real-face swap not measured (no --swap-pair given; use it for a model trained on "
                     "../shared/data/swap_pair)")
    part("speed", speed_summary, args.bench_dir)

    for t in tables:
        print(f"\n{t['title']}")
        print(table(t["columns"], t["rows"]))
        if t.get("note"):
            print(f"  ({t['note']})")
    for n in notes:
        print(f"note: {n}")
    total = round(time.time() - t0, 1)
    print(f"\nquality benchmark done in {total} s")
    if args.json:
        cmd = ("latentedit bench quality " + shlex.join(sys.argv[3:]) if sys.argv[1:3] == ["bench", "quality"]
               else f"latentedit bench quality {shlex.quote(str(args.model))} --json {shlex.quote(str(args.json))}")
        data = {"benchmark": "quality",
                "description": "reconstruction, swap and edit quality with model-independent metrics (PSNR, SSIM, "
                               "LPIPS, dlib identity distance, SynthFaces attribute oracle) against ground truth and "
                               "trivial baselines measured in the same run; speed summary of the other benchmarks",
                "command": cmd, "machine": machine_info("cpu"),
                "settings": {"model": str(args.model), "model_id": str(model.model_id),
                             "boundaries": args.boundaries or "MODEL/boundaries", "data": list(args.data),
                             "resolution": int(model.config.resolution), "decoders": list(model.identities),
                             "synth_pairs": args.synth_pairs, "edit_n": args.edit_n, "edit_alpha": args.edit_alpha,
                             "margin": args.margin, "seed": args.seed, "lpips": lp is not None,
                             "oracle": None if oracle is None else _rel(args.oracle_dir or default_oracle_dir())},
                "baseline": "reconstruction: per-person mean face and Gaussian-blurred input; swap: unchanged "
                            "source and target mean face, oracle error on the ground truth; edits: a random "
                            "latent direction of the same length",
                "results": results, "tables": tables, "notes": notes, "seconds": {**timings, "total": total}}
        atomic_write_json(args.json, qp.clean_json(data))
        print(f"wrote {args.json}")
    if args.markdown:
        print(f"wrote {write_benchmarks(args.bench_dir)}")
    return 0
