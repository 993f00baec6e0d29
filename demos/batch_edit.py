"""Batch-edit demo: apply one recipe to every photo of a folder through the Python API.

    python demos/batch_edit.py                                     # SynthFaces photos + the shipped model
    python demos/batch_edit.py PHOTOS/ --recipe recipe.json --model MODEL --out edited/
    python demos/batch_edit.py PHOTOS/ --edit smile=1.5 --hold eye_open --region mouth

Each photo's faces are found, aligned, edited and merged back; the edited photos keep their file
names in ``--out`` (a new folder), with ``summary.json`` listing each input's outcome (a photo
without a face is reported, not fatal). Save a recipe from the app ("Save recipe") and pass it with
``--recipe``. With no folder, a few SynthFaces photos are rendered into a temp folder first.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "synthfaces64"  # the shipped model, found by name from any directory


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("folder", nargs="?", help="folder of photos (default: rendered SynthFaces photos)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model folder with boundaries/")
    p.add_argument("--recipe", default=None, help="recipe JSON (e.g. saved from the app)")
    p.add_argument("--edit", action="append", default=None, metavar="NAME=ALPHA",
                   help="edits when no --recipe is given (repeatable; default smile=1.5)")
    p.add_argument("--hold", action="append", default=[], metavar="NAME", help="attributes held fixed")
    p.add_argument("--region", default="none", help="none/face/eyes/brows/nose/mouth")
    p.add_argument("--aligned", action="store_true", help="the photos are aligned face crops")
    p.add_argument("--out", default="batch_edit_out", help="output folder (must not exist yet)")
    p.add_argument("--n", type=int, default=8, help="SynthFaces photos when no folder is given")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def render_photos(folder: Path, n: int, seed: int, size: int = 160) -> Path:
    """Render ``n`` SynthFaces 'photos' (a face on a larger plain background) into ``folder``."""
    from latentedit._io import write_image
    from latentedit.synth import ExpressionParams, IdentityParams, render

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for k in range(n):
        face = render(IdentityParams.sample(rng), ExpressionParams.sample(rng), size).image
        canvas = np.full((int(size * 1.5), int(size * 1.5), 3), rng.integers(40, 200, 3), np.uint8)
        o = size // 4
        canvas[o:o + size, o:o + size] = face
        write_image(folder / f"photo_{k:03d}.png", canvas)
    return folder


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns 0 on success, 2 on a user error."""
    args = parse_args(argv)
    from latentedit._io import atomic_write_json, write_image
    from latentedit.edit import Editor, Recipe, parse_assignment
    from latentedit.errors import LatentEditError

    out = Path(args.out)
    if out.exists():
        print(f"{out} already exists; choose another --out", file=sys.stderr)
        return 2
    try:
        editor = Editor.from_pretrained(args.model)
        if args.recipe:
            recipe = Recipe.load(args.recipe)
        else:
            recipe = Recipe(edits=dict(parse_assignment(e) for e in (args.edit or ["smile=1.5"])),
                            hold=args.hold, region=args.region)
        recipe.validate(editor.attributes, editor.identities, where=args.recipe or "recipe")
        with tempfile.TemporaryDirectory(prefix="batch_edit_") as tmp:
            folder = Path(args.folder) if args.folder else render_photos(Path(tmp) / "photos", args.n, args.seed)
            if not folder.is_dir():
                raise LatentEditError(f"{folder}: not a folder")
            t0 = time.perf_counter()
            rows, last = [], {}
            for res in editor.iter_edit(folder, recipe, aligned=args.aligned, progress=True):
                name = Path(res.source).name
                if res.ok:
                    last[name] = res.image          # several faces: the last result holds them all
                rows.append({"input": name, "face": res.index, "ok": res.ok, "error": res.error})
            out.mkdir(parents=True)
            for name, image in last.items():
                dest, k = out / (Path(name).stem + ".png"), 1
                while dest.exists():                # photo.jpg and photo.png both become photo*.png
                    dest, k = out / f"{Path(name).stem}_{k}.png", k + 1
                write_image(dest, image, overwrite=False)
            seconds = time.perf_counter() - t0
    except LatentEditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = sorted({r["input"] for r in rows if not r["ok"]})
    summary = {"recipe": recipe.to_dict(), "inputs": len({r["input"] for r in rows}), "edited": len(last),
               "failed": failed, "faces": sum(r["ok"] for r in rows), "seconds": round(seconds, 2), "items": rows}
    atomic_write_json(out / "summary.json", summary, overwrite=False)
    print(json.dumps({k: v for k, v in summary.items() if k != "items"}, indent=1))
    print(f"wrote {len(last)} edited photos to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
