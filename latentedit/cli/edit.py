"""``latentedit edit MODEL INPUT... --set smile=1.5 --out DIR``: edit photos, videos, crops or FaceSets.

Shared with ``latentedit swap`` (which forces ``--identity``). Every output is written atomically
under a fresh name (existing files are never replaced), plus ``summary.json`` listing each input's
outputs or error. Exit code 0 when every input succeeded, 1 when some failed, 2 when every input
failed or a user error stopped the run before any work (each failure is one line on stderr).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from ..edit.editor import Editor
from ..edit.output import edit_to_folder
from ..edit.recipe import (BLEND_MODES, COLOR_MODES, MAX_ALPHA, MAX_MASK_PIXELS, MERGE_MODES, RECIPE_REGIONS,
                           Recipe, RecipeError, parse_assignment)
from ..errors import LatentEditError
from ..media import IMAGE_EXTENSIONS, MEDIA_EXTENSIONS, VIDEO_EXTENSIONS, describe_accepted
from ._checks import bounded_float, bounded_int, check_output_dir

#: Faces per batch accepted by ``--batch``.
MAX_BATCH = 1024
#: Largest ``--smooth`` (Gaussian sigma in video frames).
MAX_SMOOTH = 100.0


#: ``latentedit edit --help``: what the command does.
DESCRIPTION = ("Move the faces of INPUT (photos, videos, aligned crops, FaceSet folders) along "
               "attribute boundaries, decode them and merge them back into the originals.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register ``latentedit edit``'s arguments on its parser (made by :mod:`latentedit.cli.main`)."""
    add_common_arguments(p, identity_required=False)


def add_common_arguments(p, identity_required: bool) -> None:
    """Arguments shared by ``edit`` and ``swap``."""
    p.add_argument("model", metavar="MODEL", help="pretrained model folder or training run folder")
    p.add_argument("inputs", metavar="INPUT", nargs="+",
                   help=f"image ({' '.join(IMAGE_EXTENSIONS)}) or video ({' '.join(VIDEO_EXTENSIONS)}) files, "
                        "folders of them, or FaceSet folders")
    p.add_argument("--out", required=True, help="output folder (created; existing files are never replaced)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=ALPHA",
                   help=f"edit strength: a step along the unit normal in std units, -{MAX_ALPHA:g}..{MAX_ALPHA:g}, "
                        "e.g. smile=1.5 (repeatable)")
    p.add_argument("--hold", action="append", default=[], metavar="NAME",
                   help="attribute held fixed while editing (repeatable)")
    p.add_argument("--region", choices=RECIPE_REGIONS, default=None, help="confine the edit to a face region")
    p.add_argument("--identity", required=identity_required, default=None,
                   help="decoder to render with" + ("" if identity_required else " (default: the reconstruction "
                                                                                 "decoder)"))
    if not identity_required:  # a swap is new texture: it always re-renders the face
        p.add_argument("--mode", choices=MERGE_MODES, default=None,
                       help="detail = warp the real photo, keeping its resolution and the person (default); "
                            "replace = paste the model's decoded face")
        p.add_argument("--appearance", type=bounded_float(0.0, 1.0), default=None,
                       help="detail mode: share of what the warp cannot show (teeth, shading) taken from the "
                            "decode, 0..1 (default 0: the warp alone)")
    p.add_argument("--color", choices=COLOR_MODES, default=None, help="replace mode: colour transfer (default rct)")
    p.add_argument("--blend", choices=BLEND_MODES, default=None, help="blend mode (default alpha)")
    p.add_argument("--erode", type=bounded_int(-MAX_MASK_PIXELS, MAX_MASK_PIXELS), default=None,
                   help=f"mask erosion in crop pixels, -{MAX_MASK_PIXELS}..{MAX_MASK_PIXELS} (negative dilates; "
                        "default 0)")
    p.add_argument("--feather", type=bounded_int(0, MAX_MASK_PIXELS), default=None,
                   help=f"mask feather in crop pixels, 0..{MAX_MASK_PIXELS} (default: scales with the crop size)")
    p.add_argument("--recipe", default=None, help="recipe JSON; the flags above override its fields")
    p.add_argument("--boundaries", default=None, help="boundaries folder (default: MODEL/boundaries)")
    p.add_argument("--aligned", action="store_true", help="inputs are aligned face crops (no detection)")
    p.add_argument("--smooth", type=bounded_float(0.0, MAX_SMOOTH), default=2.0,
                   help=f"videos: temporal smoothing (Gaussian sigma in frames, 0..{MAX_SMOOTH:g}) of codes and "
                        "alignment (default 2)")
    p.add_argument("--batch", type=bounded_int(1, MAX_BATCH), default=32,
                   help=f"faces per batch, 1..{MAX_BATCH} (default 32)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="cpu, cuda or cuda:N (default: cuda when available)")


def build_recipe(args):
    """The recipe from ``--recipe`` with the command-line flags applied on top.

    Raises:
        RecipeError: for a malformed recipe file or assignment.
    """
    recipe = Recipe.load(args.recipe) if args.recipe else Recipe()
    edits = dict(recipe.edits)
    for text in args.sets:
        name, alpha = parse_assignment(text)
        edits[name] = alpha
    hold = list(dict.fromkeys(list(recipe.hold) + list(args.hold)))
    merge = recipe.merge
    for fld in ("mode", "appearance", "color", "blend", "erode", "feather"):
        if getattr(args, fld, None) is not None:
            merge = replace(merge, **{fld: getattr(args, fld)})
    try:
        return Recipe(edits=edits, hold=hold, region=args.region or recipe.region,
                      identity=args.identity or recipe.identity, merge=merge)
    except RecipeError as exc:
        raise RecipeError(f"command line: {exc}") from None


def run(args) -> int:
    return run_edit(args)


def run_edit(args) -> int:
    """Run ``edit`` / ``swap``: write outputs and ``summary.json``; return 0, 1 if some inputs failed,
    2 if every input failed.

    Raises:
        LatentEditError: before any work, for an unusable ``--out``, recipe, model or set of inputs.
    """
    out = check_output_dir(args.out)  # before loading anything: a bad --out costs nothing
    recipe = build_recipe(args)
    check_inputs(args.inputs)
    editor = Editor.from_pretrained(args.model, boundaries=args.boundaries, device=args.device)
    recipe.validate(editor.attributes, editor.identities, where=args.recipe or "command line")
    command = getattr(args, "command", "edit")
    path, summary = edit_to_folder(editor, args.inputs, recipe, out, batch_size=args.batch, aligned=args.aligned,
                                   smooth=args.smooth, progress=True, command=command, model=str(args.model))
    n_fail = summary["n_failed"]
    print(f"{summary['n_ok']} input(s) edited, {n_fail} failed; outputs in {out}; summary: {path}")
    every_input_failed = n_fail and not summary["n_ok"]
    for r in summary["failures"]:  # one line each, on stderr
        kind = "error" if every_input_failed else "failed"
        print(f"latentedit {command}: {kind}: {_one_line(r['error'])}", file=sys.stderr)
    return 2 if every_input_failed else 1 if n_fail else 0


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def check_inputs(inputs) -> None:
    """Refuse the run before loading the model when no INPUT can be used at all (each is missing,
    or a file of a type that is neither an image nor a video). When some can, the run goes ahead
    and the others are reported per input in ``summary.json``.

    Raises:
        LatentEditError: naming the first unusable input (and how many more there are).
    """
    problems = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            return
        if not p.exists():
            problems.append(f"{p}: no such file or folder")
        elif p.suffix.lower() not in MEDIA_EXTENSIONS:
            problems.append(f"{p}: not an image or video file name (accepted: {describe_accepted()})")
        else:
            return
    if problems:
        more = f" (and {len(problems) - 1} more input(s) like it)" if len(problems) > 1 else ""
        raise LatentEditError(f"INPUT {problems[0]}{more}")
