"""Swap-then-edit demo: decode person A's faces with person B's decoder, then smile (or any edit).

    python demos/swap_then_edit.py                                  # SynthFaces + the shipped model
    python demos/swap_then_edit.py A_DIR B_DIR --model MODEL        # two folders of photos/crops
    python demos/swap_then_edit.py A.mp4 B.mp4 --model MODEL        # two videos -> two mp4s
    python demos/swap_then_edit.py ... --edit smile=1.5 --edit eye_open=-1 --region mouth

For every input of A it writes the swap A→B with the edit applied, and a comparison strip
(input | swap | swap + edit); likewise B→A when B is given. A video input gives an mp4 of the edited
swap (audio kept). With no inputs, a few SynthFaces of two random people are rendered into a temp
folder and treated as aligned crops: people id000 and id001 of SynthFaces seed 1, whom the shipped
model's decoders A and B were trained on, with expressions it never saw. Uses only the public API (``latentedit.edit.Editor``, ``Recipe``,
``latentedit.merge.write_video``, ``latentedit.synth``).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "synthfaces64"  # the shipped model, found by name from any directory
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("a", nargs="?", help="person A: a folder of images or a video (default: SynthFaces)")
    p.add_argument("b", nargs="?", help="person B: a folder of images or a video (optional)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model folder with boundaries/ "
                   "(default: the shipped synthfaces64)")
    p.add_argument("--a-identity", default=None, help="decoder of person A (default: the model's first)")
    p.add_argument("--b-identity", default=None, help="decoder of person B (default: the model's second)")
    p.add_argument("--edit", action="append", default=None, metavar="NAME=ALPHA",
                   help="edit applied after the swap (repeatable; default smile=1.5)")
    p.add_argument("--region", default="none", help="confine the edit to a region (none/face/eyes/brows/nose/mouth)")
    p.add_argument("--aligned", action="store_true", help="inputs are aligned face crops (no detection)")
    p.add_argument("--max-frames", type=int, default=None, help="use at most this many images per folder")
    p.add_argument("--out", default="swap_then_edit_out", help="output folder (must not exist yet)")
    p.add_argument("--n", type=int, default=6, help="SynthFaces per person when no inputs are given")
    p.add_argument("--seed", type=int, default=1, help="SynthFaces dataset seed of the default inputs (default 1: "
                   "the people the shipped model's decoders A and B were trained on)")
    return p.parse_args(argv)


def render_people(folder: Path, n: int, seed: int, size: int) -> tuple[Path, Path]:
    """Render ``n`` aligned SynthFaces crops of people 0 and 1 of SynthFaces dataset ``seed`` into A/ and B/.

    The shipped model's decoders A and B were trained on people ``id000`` and ``id001`` of
    ``latentedit synth --seed 1``; the expressions used here (index 900 on) were never seen in training.
    """
    from latentedit._io import write_image
    from latentedit.synth import expression_params, identity_params, render

    out = []
    for index, person in enumerate(("A", "B")):
        ident = identity_params(seed, index)
        d = folder / person
        d.mkdir(parents=True)
        for k in range(n):
            expr = expression_params(seed, index, 900 + k)
            write_image(d / f"{person}_{k:03d}.png", render(ident, expr, size).image)
        out.append(d)
    return out[0], out[1]


def _images(folder: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".bmp"))
    return files[:limit] if limit else files


def _strip(*images: np.ndarray, height: int = 256) -> np.ndarray:
    from PIL import Image

    tiles = []
    for im in images:
        w = max(1, round(im.shape[1] * height / im.shape[0]))
        tiles.append(np.asarray(Image.fromarray(im).resize((w, height), Image.BILINEAR)))
    return np.concatenate(tiles, axis=1)


def swap_one_way(editor, source: Path, identity: str, recipe, out: Path, aligned: bool,
                 limit: int | None) -> dict:
    """Swap every face of ``source`` (folder or video) to ``identity`` with ``recipe``; write the results."""
    from dataclasses import replace

    from latentedit._io import read_image, write_image
    from latentedit.merge import write_video

    plain = replace(recipe, edits={}, hold=[])
    out.mkdir(parents=True)
    if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        from latentedit.video_io import video_info

        info = video_info(source)
        results = editor.swap(source, identity, recipe, progress=True)
        if limit:
            results = results[:limit]
        frames = [r.image for r in results]
        write_video(frames, out / f"{source.stem}_to_{identity}.mp4", fps=info.fps)
        write_image(out / "first_frame_compare.png", _strip(frames[0]))
        return {"input": str(source), "frames": len(frames), "with_face": sum(r.ok for r in results)}
    files = _images(source, limit)
    if not files:
        raise SystemExit(f"{source}: no images (png/jpg/webp/bmp) found")
    swapped = editor.swap(files, identity, plain, aligned=aligned, progress=True)
    edited = editor.swap(files, identity, recipe, aligned=aligned, progress=True)
    done = 0
    for f, s, e in zip(files, swapped, edited):
        if not (s.ok and e.ok):
            print(f"  skipped {f.name}: {s.error or e.error}", file=sys.stderr)
            continue
        write_image(out / f"{f.stem}.png", e.image, overwrite=False)
        write_image(out / f"{f.stem}_compare.png", _strip(read_image(f), s.image, e.image), overwrite=False)
        done += 1
    return {"input": str(source), "images": len(files), "written": done}


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns 0 on success."""
    args = parse_args(argv)
    from latentedit.edit import Editor, Recipe, parse_assignment
    from latentedit.errors import LatentEditError

    out = Path(args.out)
    if out.exists():
        print(f"{out} already exists; choose another --out", file=sys.stderr)
        return 2
    try:
        editor = Editor.from_pretrained(args.model)
        decoders = [i for i in editor.identities if i != "generic"]
        a_id = args.a_identity or decoders[0]
        b_id = args.b_identity or (decoders[1] if len(decoders) > 1 else decoders[0])
        edits = dict(parse_assignment(e) for e in (args.edit or ["smile=1.5"]))
        recipe = Recipe(edits=edits, region=args.region)
        recipe.validate(editor.attributes, editor.identities)
        with tempfile.TemporaryDirectory(prefix="swap_then_edit_") as tmp:
            aligned = args.aligned
            if args.a is None:
                a, b = render_people(Path(tmp), args.n, args.seed, editor.resolution)
                aligned = True
                print(f"rendered {args.n} SynthFaces of two people into {tmp}")
            else:
                a, b = Path(args.a), Path(args.b) if args.b else None
            report = [swap_one_way(editor, a, b_id, recipe, out / f"A_to_{b_id}", aligned, args.max_frames)]
            if b is not None:
                report.append(swap_one_way(editor, b, a_id, recipe, out / f"B_to_{a_id}", aligned, args.max_frames))
    except LatentEditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in report:
        print(r)
    print(f"recipe: {recipe.to_json(indent=None)}\nwrote {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
