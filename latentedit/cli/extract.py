"""``latentedit extract``: photos, folders and videos → a FaceSet of aligned faces."""
from __future__ import annotations

import argparse


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``extract`` on the subcommand parsers."""
    p = sub.add_parser(
        "extract", help="detect, align and store faces from photos, folders and videos",
        description="Detect faces (dlib HOG or CNN), fit 68 landmarks, align them to a whole-face crop and "
                    "store them in a FaceSet with the source→crop affine, measured landmark scores and the "
                    "dlib identity descriptor. Re-running on the same --out skips what is already there. "
                    "`--rescore --out FACESET` recomputes an existing FaceSet's measured scores from its stored "
                    "landmarks (after an upgrade changed their definitions) without detecting anything again.")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="photos (jpg/png/webp), videos (mp4/mov/avi) or folders")
    p.add_argument("--out", required=True, metavar="FACESET", help="output FaceSet folder (appended to if it exists)")
    p.add_argument("--size", type=int, default=256, help="aligned crop side in pixels (default: 256)")
    p.add_argument("--every", type=int, default=1, metavar="K", help="keep every K-th video frame (default: 1)")
    p.add_argument("--detector", choices=("hog", "cnn"), default="hog", help="face detector (default: hog)")
    p.add_argument("--all-faces", action="store_true", help="keep every face, not just the largest")
    p.add_argument("--upscale", type=int, default=1, metavar="N",
                   help="double the image up to N times to find small faces (default: 1)")
    p.add_argument("--identity", default=None, help="identity label (default: a video's file name, a photo's folder name, or the name "
                        "of a folder given as INPUT)")
    p.add_argument("--min-face", type=float, default=40.0, metavar="PX",
                   help="skip faces narrower than this many source pixels (default: 40)")
    p.add_argument("--no-descriptor", action="store_true", help="do not compute identity descriptors (faster)")
    p.add_argument("--no-refine", action="store_true",
                   help="skip the landmark refinement (mirrored + jittered predictor runs; faster, noisier)")
    p.add_argument("--rescore", action="store_true",
                   help="recompute the measured *_score attributes of the FaceSet --out from its stored landmarks "
                        "(no INPUT; labels that are not measured are kept)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the extraction and print its summary. Returns 0 if the FaceSet has faces from these inputs, else 1."""
    from ..errors import LatentEditError

    if args.rescore:
        if args.inputs:
            raise LatentEditError("--rescore works on the FaceSet given by --out and takes no INPUT "
                                  f"(got {len(args.inputs)}: {args.inputs[0]!r}...)")
        from ..faces.rescore import rescore_faceset

        print(rescore_faceset(args.out).format())
        return 0
    if not args.inputs:
        raise LatentEditError("no INPUT given: name photos, videos or folders to extract faces from "
                              "(or use --rescore --out FACESET)")
    from ..faces.extract import extract

    summary = extract(args.inputs, args.out, size=args.size, every=args.every, detector=args.detector,
                      all_faces=args.all_faces, upscale=args.upscale, identity=args.identity,
                      min_face=args.min_face, descriptor=not args.no_descriptor, refine=not args.no_refine,
                      progress=not args.quiet)
    print(summary.format())
    return 0 if (summary.n_faces or summary.n_already) else 1
