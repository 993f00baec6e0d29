"""``latentedit synth``: render a SynthFaces FaceSet and/or a preview grid."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import LatentEditError


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``synth`` on the CLI's subparsers."""
    p = sub.add_parser(
        "synth", help="render synthetic faces with exact ground truth (a FaceSet and/or a preview grid)",
        description="Render a FaceSet of SynthFaces: N identities × M expressions, each with its exact "
                    "parameters as ground-truth attributes and its 68 landmarks (region masks follow from "
                    "them with latentedit.masks). The same seed gives byte-identical images; identity i "
                    "depends only on (seed, i).")
    p.add_argument("--out", metavar="DIR", help="new FaceSet folder (refuses one that already holds a FaceSet)")
    p.add_argument("--identities", type=int, default=10, metavar="N", help="number of people (default 10)")
    p.add_argument("--per-identity", type=int, default=20, metavar="M", help="images per person (default 20)")
    p.add_argument("--size", type=int, default=128, metavar="S", help="crop side in pixels, 32-512 (default 128)")
    p.add_argument("--seed", type=int, default=0, metavar="K", help="dataset seed (default 0)")
    p.add_argument("--workers", type=int, default=1, metavar="P",
                   help="render processes (default 1; the images do not depend on it)")
    p.add_argument("--preview", metavar="PNG", help="also write a preview grid (identities × expressions)")
    p.add_argument("--preview-only", metavar="PNG", help="write only the preview grid, no FaceSet")
    p.add_argument("--preview-rows", type=int, default=6, metavar="R", help="identities in the preview (default 6)")
    p.add_argument("--preview-cols", type=int, default=6, metavar="C", help="expressions in the preview (default 6)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _write_preview(path: str, args) -> None:
    from .._io import write_image
    from ..synth import preview_grid

    if Path(path).suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise LatentEditError(f"--preview {path}: use a .png, .jpg or .webp file name")
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
    for p in (args.preview, args.preview_only):
        if p and Path(p).exists():
            raise LatentEditError(f"{p} already exists; refusing to overwrite it")
    if args.preview_only:
        _write_preview(args.preview_only, args)
        return 0
    from ..synth import synth_faceset

    fs = synth_faceset(args.out, identities=args.identities, per_identity=args.per_identity, size=args.size,
                       seed=args.seed, progress=not args.no_progress, workers=args.workers)
    print(f"wrote {len(fs)} faces of {len(fs.identities)} identities ({args.size} px, seed {args.seed}) to {fs.root}")
    if args.preview:
        _write_preview(args.preview, args)
    return 0
