"""``latentedit synth``: render a SynthFaces FaceSet and/or a preview grid."""
from __future__ import annotations

import argparse
from pathlib import Path

from .._io import write_image
from ..errors import LatentEditError
from ..synth import preview_grid, synth_faceset
from ..synth.render import MAX_SIZE, MIN_SIZE
from ._checks import bounded_int, check_output_dir, check_output_file, seed_arg

#: Most identities and images per identity of one ``synth`` run (10⁵ × 10⁵ would be 10¹⁰ files).
MAX_IDENTITIES, MAX_PER_IDENTITY, MAX_FACES = 100_000, 10_000, 10_000_000
#: Most render processes, and most rows/columns of a preview grid.
MAX_WORKERS, MAX_PREVIEW = 64, 64
#: Preview file types.
PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


#: ``latentedit synth --help``: what the command does.
DESCRIPTION = ("Render a FaceSet of SynthFaces: N identities × M expressions, each with its exact "
               "parameters as ground-truth attributes and its 68 landmarks (region masks follow from "
               "them with latentedit.masks). The same seed gives byte-identical images; identity i "
               "depends only on (seed, i).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register ``latentedit synth``'s arguments on its parser (made by :mod:`latentedit.cli.main`)."""
    p.add_argument("--out", metavar="DIR", help="new FaceSet folder (refuses one that already holds a FaceSet)")

    p.add_argument("--identities", type=bounded_int(1, MAX_IDENTITIES), default=10, metavar="N",
                   help=f"number of people, 1..{MAX_IDENTITIES} (default 10)")
    p.add_argument("--per-identity", type=bounded_int(1, MAX_PER_IDENTITY), default=20, metavar="M",
                   help=f"images per person, 1..{MAX_PER_IDENTITY} (default 20; N × M at most {MAX_FACES})")
    p.add_argument("--size", type=bounded_int(MIN_SIZE, MAX_SIZE), default=128, metavar="S",
                   help=f"crop side in pixels, {MIN_SIZE}..{MAX_SIZE} (default 128)")
    p.add_argument("--seed", type=seed_arg(), default=0, metavar="K", help="dataset seed, 0..2^32-1 (default 0)")
    p.add_argument("--workers", type=bounded_int(1, MAX_WORKERS), default=1, metavar="P",
                   help=f"render processes, 1..{MAX_WORKERS} (default 1; the images do not depend on it)")
    p.add_argument("--preview", metavar="PNG", help="also write a preview grid (identities × expressions)")
    p.add_argument("--preview-only", metavar="PNG", help="write only the preview grid, no FaceSet")
    p.add_argument("--preview-rows", type=bounded_int(1, MAX_PREVIEW), default=6, metavar="R",
                   help=f"identities in the preview, 1..{MAX_PREVIEW} (default 6)")
    p.add_argument("--preview-cols", type=bounded_int(1, MAX_PREVIEW), default=6, metavar="C",
                   help=f"expressions in the preview, 1..{MAX_PREVIEW} (default 6)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _write_preview(path: str, args) -> None:
    grid = preview_grid(args.preview_rows, args.preview_cols, size=args.size, seed=args.seed)
    try:
        write_image(path, grid, overwrite=False)
    except FileExistsError:
        raise LatentEditError(f"{path} already exists; refusing to overwrite it") from None
    print(f"wrote preview {path} ({args.preview_rows} identities × {args.preview_cols} expressions)")


def run(args) -> int:
    """Run ``latentedit synth``. Returns 0 on success.

    Raises:
        LatentEditError: for missing/contradictory options or an existing output.
    """
    if args.preview_only and (args.out or args.preview):
        raise LatentEditError("--preview-only writes no FaceSet; do not combine it with --out/--preview")
    if not args.out and not args.preview_only:
        raise LatentEditError("give --out DIR (a FaceSet) or --preview-only PNG")
    if args.identities * args.per_identity > MAX_FACES:
        raise LatentEditError(f"--identities {args.identities} × --per-identity {args.per_identity} = "
                              f"{args.identities * args.per_identity} faces, over the {MAX_FACES} limit")
    for flag, p in (("--preview", args.preview), ("--preview-only", args.preview_only)):
        if p and Path(p).exists():
            raise LatentEditError(f"{flag} {p}: already exists; refusing to overwrite it")
        if p:
            check_output_file(p, flag, suffixes=PREVIEW_SUFFIXES, overwrite_flag="")
    if args.out:
        check_output_dir(args.out)
    if args.preview_only:
        _write_preview(args.preview_only, args)
        return 0

    fs = synth_faceset(args.out, identities=args.identities, per_identity=args.per_identity, size=args.size,
                       seed=args.seed, progress=not args.no_progress, workers=args.workers)
    print(f"wrote {len(fs)} faces of {len(fs.identities)} identities ({args.size} px, seed {args.seed}) to {fs.root}")
    if args.preview:
        _write_preview(args.preview, args)
    return 0
