"""``latentedit extract``: photos, folders and videos → a FaceSet of aligned faces."""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from ..errors import LatentEditError
from ..faces.extract import collect_inputs, extract
from ..faces.rescore import rescore_faceset
from ..media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, describe_accepted
from ._checks import bounded_float, bounded_int, check_output_dir

#: ``--size`` range (aligned crop side in pixels): 16 is the smallest crop the landmark scores
#: are defined on; above 1024 a crop is bigger than any model input and costs memory for nothing.
SIZE_MIN, SIZE_MAX = 16, 1024
#: Largest ``--every`` (keep every K-th video frame).
EVERY_MAX = 100_000
#: ``--upscale`` range (each step doubles the image the detector sees).
UPSCALE_MAX = 4
#: Largest ``--min-face`` in source pixels.
MIN_FACE_MAX = 10_000.0
#: Skip reasons that mean the input itself is unusable (rather than "no face in it").
INPUT_ERRORS = ("missing", "unsupported", "unreadable", "too small", "video_error")


#: ``latentedit extract --help``: what the command does.
DESCRIPTION = ("Detect faces (dlib HOG or CNN), fit 68 landmarks, align them to a whole-face crop and "
               "store them in a FaceSet with the source→crop affine, measured landmark scores and the "
               "dlib identity descriptor. Re-running on the same --out skips what is already there. "
               "`--rescore --out FACESET` recomputes an existing FaceSet's measured scores from its stored "
               "landmarks (after an upgrade changed their definitions) without detecting anything again.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register ``latentedit extract``'s arguments on its parser (made by :mod:`latentedit.cli.main`)."""
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help=f"photos ({' '.join(IMAGE_EXTENSIONS)}), videos ({' '.join(VIDEO_EXTENSIONS)}) or folders")
    p.add_argument("--out", required=True, metavar="FACESET", help="output FaceSet folder (appended to if it exists)")
    p.add_argument("--size", type=bounded_int(SIZE_MIN, SIZE_MAX), default=256,
                   help=f"aligned crop side in pixels, {SIZE_MIN}..{SIZE_MAX} (default: 256)")
    p.add_argument("--every", type=bounded_int(1, EVERY_MAX), default=1, metavar="K",
                   help=f"keep every K-th video frame, 1..{EVERY_MAX} (default: 1)")
    p.add_argument("--detector", choices=("hog", "cnn"), default="hog", help="face detector (default: hog)")
    p.add_argument("--all-faces", action="store_true", help="keep every face, not just the largest")
    p.add_argument("--upscale", type=bounded_int(0, UPSCALE_MAX), default=1, metavar="N",
                   help=f"double the image up to N times to find small faces, 0..{UPSCALE_MAX} (default: 1)")
    p.add_argument("--identity", default=None, help="identity label (default: a video's file name, a photo's folder name, or the name "
                        "of a folder given as INPUT)")
    p.add_argument("--min-face", type=bounded_float(0.0, MIN_FACE_MAX), default=40.0, metavar="PX",
                   help=f"skip faces narrower than this many source pixels, 0..{MIN_FACE_MAX:g} (default: 40)")
    p.add_argument("--no-descriptor", action="store_true", help="do not compute identity descriptors (faster)")
    p.add_argument("--no-refine", action="store_true",
                   help="skip the landmark refinement (mirrored + jittered predictor runs; faster, noisier)")
    p.add_argument("--rescore", action="store_true",
                   help="recompute the measured *_score attributes of the FaceSet --out from its stored landmarks "
                        "(no INPUT; labels that are not measured are kept)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the extraction and print its summary.

    Returns:
        0 if the FaceSet has faces from these inputs; 2 if no INPUT could be read at all (each is
        missing, of an unsupported type, or unreadable: one line per input on stderr); else 1 (the
        inputs were read but no face was found).
    """
    if args.rescore:
        if args.inputs:
            raise LatentEditError("--rescore works on the FaceSet given by --out and takes no INPUT "
                                  f"(got {len(args.inputs)}: {args.inputs[0]!r}...)")

        print(rescore_faceset(args.out).format())
        return 0
    if not args.inputs:
        raise LatentEditError("no INPUT given: name photos, videos or folders to extract faces from "
                              "(or use --rescore --out FACESET)")

    check_output_dir(args.out)
    skipped: list = []
    if not collect_inputs(list(args.inputs), args.identity, skipped):
        # nothing to read: say so before a FaceSet folder is created

        if not skipped:
            raise LatentEditError(f"INPUT {args.inputs[0]}: no {describe_accepted()} found in "
                                  f"{'it' if len(args.inputs) == 1 else 'these folders'}")
        first = skipped[0]
        more = f" (and {len(skipped) - 1} more input(s))" if len(skipped) > 1 else ""
        raise LatentEditError(f"INPUT {first.file}: {first.detail}{more}")
    created = not Path(args.out).exists()
    summary = extract(args.inputs, args.out, size=args.size, every=args.every, detector=args.detector,
                      all_faces=args.all_faces, upscale=args.upscale, identity=args.identity,
                      min_face=args.min_face, descriptor=not args.no_descriptor, refine=not args.no_refine,
                      progress=not args.quiet)
    print(summary.format())
    if summary.n_faces or summary.n_already:
        return 0
    if created:  # nothing extracted into a folder this run made: leave no empty FaceSet behind
        shutil.rmtree(args.out, ignore_errors=True)
    unusable = [s for s in summary.skipped if s.reason in INPUT_ERRORS]
    if unusable and len(unusable) == len(summary.skipped):
        for s in unusable:
            print(f"latentedit extract: error: {s.file}: {_one_line(s.detail)}", file=sys.stderr)
        return 2
    return 1


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())
