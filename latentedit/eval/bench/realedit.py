"""``latentedit bench realedit``: does a smile edit of a real photo look like the person's real smile?

Both merge modes side by side, in one run, on CPU, with measures independent of the model (dlib on
the output photo; :mod:`.realedit_measure`):

1. **real pairs** (london_dev: the same person neutral and smiling, 1024 px): the neutral photo is
   edited with ``Recipe(edits={attr: alpha}, merge=MergeOptions(mode=...))`` for every mode,
   detail geometry, appearance share and alpha (plus alpha 0). Per row: *reach* (mouth width over
   interocular distance, edit − neutral, over real smile − neutral; median and share ≥ 0.5), dlib
   *identity distance* edit ↔ neutral (median and share < 0.6), *sharpness* (Laplacian variance in
   the face box, edit / neutral, median) and *outside change* (mean |Δ| outside the box enlarged
   1.5×). The real smiling photo ↔ neutral is the reference row.
2. **canada_dev** (no pairs): identity, sharpness and outside change.
3. **SynthFaces ground truth** (``--synth``): region PSNR against ``render(identity, expression')``
   next to "no edit" (:mod:`.realedit_synth`).
4. **latency**: a slider move per mode on london_dev photo 001 next to the decode alone.

Writes JSON (``--json``), a markdown file (``--markdown``) and a picture grid (``--grid``).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..._io import atomic_write_json, atomic_write_text, write_image
from ...edit import Editor
from ...edit.recipe import MERGE_MODES
from ...errors import LatentEditError
from ...pretrained import SHIPPED_DIR
from .markdown import REPO, cpu_machine_info, table
from .quality_parts import clean_json
from .realedit_real import edit_set, grid_variant, latency, set_items, variants_for
from .realedit_report import latency_table, picture_grid, real_table, synth_table
from .realedit_synth import synth_ground_truth

#: The SynthFaces-trained model the ground-truth part edits (its boundaries are SynthFaces attributes).
SYNTH_MODEL = "synthfaces64"

DATA = REPO.parent / "shared" / "data"
#: Smile boundaries looked for, in order, when ``--attribute`` is not given.
SMILE_NAMES = ("smile_score", "Smiling", "smile")


def add_arguments(parser) -> None:
    """Register the benchmark's options."""
    parser.add_argument("--model", required=True, metavar="DIR", help="model folder with boundaries")
    parser.add_argument("--attribute", default=None, metavar="NAME", help="smile boundary to edit (default: the "
                        f"first of {', '.join(SMILE_NAMES)} the model has)")
    parser.add_argument("--alphas", type=float, nargs="+", default=[1.0, 2.0, 3.0], help="edit strengths "
                        "(default 1 2 3; alpha 0 is always measured too)")
    parser.add_argument("--modes", nargs="+", choices=MERGE_MODES, default=list(MERGE_MODES),
                        help="merge modes (default: detail replace)")
    parser.add_argument("--geometries", nargs="+", choices=("auto", "flow", "landmarks", "all"), default=["auto"],
                        help="detail-mode geometries (default auto: the landmark head when the model has one, else "
                             "optical flow; all = flow and, with a head, landmarks)")
    parser.add_argument("--appearance", type=float, nargs="+", default=[1.0], help="detail mode's appearance "
                        "share(s), 0..1 (default 1; e.g. --appearance 0 1)")
    parser.add_argument("--london", default=str(DATA / "london_dev"), metavar="DIR",
                        help="pair set with neutral/ and smiling/ (default ../shared/data/london_dev)")
    parser.add_argument("--canada", default=str(DATA / "canada_dev"), metavar="DIR",
                        help="folder of photos without pairs (default ../shared/data/canada_dev; '' skips it)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="faces per set (default all)")
    parser.add_argument("--synth", action=argparse.BooleanOptionalAction, default=True,
                        help="include the SynthFaces ground-truth part (default on; --no-synth skips it)")
    parser.add_argument("--synth-model", default=str(SHIPPED_DIR / SYNTH_MODEL), metavar="DIR",
                        help="model for the SynthFaces part (default latentedit/pretrained/synthfaces64)")
    parser.add_argument("--synth-identities", type=int, default=12, help="SynthFaces people (default 12)")
    parser.add_argument("--latency-moves", type=int, default=30, metavar="N",
                        help="timed slider moves per row (default 30; 0 skips the latency part)")
    parser.add_argument("--grid-alpha", type=float, default=2.0,
                        help="alpha of the grid's edits (one of --alphas; default 2, else the largest)")
    parser.add_argument("--grid-faces", type=int, default=6, help="london_dev faces in the --grid picture")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: 1 on a busy machine "
                        "— load above the core count — else min(2, cores))")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON")
    parser.add_argument("--markdown", default=None, metavar="PATH", help="write the tables as markdown")
    parser.add_argument("--grid", default=None, metavar="PATH", help="write a PNG grid: neutral | detail | "
                        "replace | real smile")


def _threads(requested: int | None) -> int:
    cores = os.cpu_count() or 1
    if requested is None:
        busy = hasattr(os, "getloadavg") and os.getloadavg()[0] > cores
        requested = 1 if busy else min(2, cores)
    return max(1, min(int(requested), cores))


def pick_attribute(editor: Editor, name: str | None) -> str:
    """``name``, or the first of :data:`SMILE_NAMES` the editor has.

    Raises:
        LatentEditError: when the model has no such boundary (listing what it has).
    """
    if name is not None:
        if name not in editor.boundaries:
            raise LatentEditError(f"the model has no boundary {name!r}; it has: "
                                  f"{', '.join(editor.attributes) or 'none'}")
        return name
    for n in SMILE_NAMES:
        if n in editor.boundaries:
            return n
    raise LatentEditError(f"the model has no smile boundary ({', '.join(SMILE_NAMES)}); pass --attribute; it has: "
                          f"{', '.join(editor.attributes) or 'none'}")


def _check_args(args) -> None:
    if not all(0.0 <= a <= 1.0 for a in args.appearance):
        raise LatentEditError(f"--appearance values must be in 0..1, got {args.appearance}")
    if args.limit is not None and args.limit < 1:
        raise LatentEditError(f"--limit must be ≥ 1, got {args.limit}")


def run(args) -> int:
    """Run every part, print the tables, write what was asked for. Returns 0."""
    _check_args(args)
    torch.set_num_threads(_threads(args.threads))
    t0 = time.time()
    notes: list[str] = []
    london, unpaired = set_items(args.london, pairs=True, limit=args.limit)
    canada = set_items(args.canada, pairs=False, limit=args.limit)[0] if args.canada else []
    if not args.canada:
        notes.append("canada_dev skipped (--canada '')")
    editor = Editor.from_pretrained(args.model, device="cpu")
    attr = pick_attribute(editor, args.attribute)
    variants, vnotes = variants_for(editor, args.modes, args.geometries, args.appearance)
    notes += vnotes
    grid_alpha = args.grid_alpha if args.grid_alpha in args.alphas else max(args.alphas)
    results: dict[str, Any] = {"attribute": attr, "landmark_head": editor.landmark_head is not None}
    seconds: dict[str, float] = {}

    results["london"] = edit_set(editor, attr, london, variants, args.alphas,
                                 grid_faces=args.grid_faces if args.grid else 0, grid_alpha=grid_alpha,
                                 progress=tqdm, desc="london_dev")
    results["london"]["counts"]["unpaired"] = unpaired
    seconds["london"] = results["london"].pop("seconds")
    grid = results["london"].pop("grid")
    tables = [real_table(f"london_dev: {attr} edit of the neutral photo vs the person's real smile",
                         results["london"], True,
                         "reach: mouth width / interocular distance, (edit − neutral) / (real smile − neutral); "
                         "identity: dlib distance to the neutral photo (same person < 0.6); sharpness: Laplacian "
                         "variance in the face box, edit / neutral; outside: mean |Δ| (0..255) outside the box × 1.5.")]
    if canada:
        results["canada"] = edit_set(editor, attr, canada, variants, args.alphas, progress=tqdm, desc="canada_dev")
        seconds["canada"] = results["canada"].pop("seconds")
        results["canada"].pop("grid")
        tables.append(real_table(f"canada_dev: {attr} edit (no pairs)", results["canada"], False,
                                 "identity, sharpness and outside change as above."))
    if args.synth:
        t = time.time()
        synth_editor = editor if Path(args.synth_model).resolve() == Path(args.model).resolve() else \
            Editor.from_pretrained(args.synth_model, device="cpu")
        synth_geos = sorted({v.geometry for v in variants_for(synth_editor, ["detail"], args.geometries,
                                                                args.appearance)[0]})
        if "detail" not in args.modes:
            synth_geos = []
        results["synth"], snotes = synth_ground_truth(synth_editor, synth_geos, args.appearance,
                                                      identities=args.synth_identities, progress=tqdm)
        results["synth_landmark_head"] = synth_editor.landmark_head is not None
        notes += snotes
        if synth_editor.landmark_head is None:
            notes.append("SynthFaces model has no landmark head: detail mode ran on optical flow there")
        seconds["synth"] = round(time.time() - t, 1)
        if results["synth"]:
            tables.append(synth_table(results["synth"]))
    if args.latency_moves > 0:
        t = time.time()
        photo = next((p for n, p, _ in set_items(args.london, pairs=True, limit=None)[0] if n == "001"), london[0][1])
        results["latency"] = latency(editor, attr, photo, args.latency_moves, variants)
        seconds["latency"] = round(time.time() - t, 1)
        tables.append(latency_table(results["latency"]))
    seconds["total"] = round(time.time() - t0, 1)

    text = []
    for t in tables:
        text += [f"**{t['title']}**", "", table(t["columns"], t["rows"]), "", f"_{t['note']}_", ""]
    text += [f"> {n}" for n in notes]
    print("\n".join(text))
    print(f"\nrealedit benchmark done in {seconds['total']} s")
    if args.grid:
        v = grid_variant(variants, editor)
        dlabel = f"detail {v.geometry_ran(editor)} alpha={grid_alpha:g}" if v else "detail (not run)"
        write_image(args.grid, picture_grid(grid, dlabel, f"replace alpha={grid_alpha:g}"))
        print(f"wrote {args.grid}")
    if args.markdown:
        atomic_write_text(args.markdown, "# latentedit bench realedit\n\n" + "\n".join(text) + "\n")
        print(f"wrote {args.markdown}")
    if args.json:
        cmd = ("latentedit bench realedit " + shlex.join(sys.argv[3:]) if sys.argv[1:3] == ["bench", "realedit"]
               else f"latentedit bench realedit --model {shlex.quote(str(args.model))}")
        data = {"benchmark": "realedit",
                "description": "a smile edit of real photos (london_dev pairs, canada_dev) in detail and replace "
                               "mode, measured with dlib on the output photo against the person's real smile; "
                               "SynthFaces edits against the ground-truth render; slider-move latency",
                "command": cmd, "machine": cpu_machine_info(),
                "settings": {"model": str(args.model), "model_id": str(editor.model.model_id), "attribute": attr,
                             "alphas": list(args.alphas), "modes": list(args.modes),
                             "geometries": list(args.geometries), "appearance": list(args.appearance),
                             "london": str(args.london), "canada": str(args.canada), "limit": args.limit,
                             "synth": bool(args.synth), "synth_model": str(args.synth_model),
                             "synth_identities": args.synth_identities, "latency_moves": args.latency_moves,
                             "threads": torch.get_num_threads()},
                "baseline": "alpha 0 per mode (detail: the photo itself; replace: the reconstruction pasted), the "
                            "real smiling photo (reference row), 'no edit' on SynthFaces, the decode alone for latency",
                "results": results, "tables": tables, "notes": notes, "seconds": seconds}
        atomic_write_json(args.json, clean_json(data))
        print(f"wrote {args.json}")
    return 0
