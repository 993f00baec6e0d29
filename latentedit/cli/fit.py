"""``latentedit fit MODEL [FACESET] --attribute NAME... --out DIR``: one boundary per attribute."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..edit.editor import load_model, model_folder
from ..errors import LatentEditError
from ..faceset import FaceSet
from ..latent.boundary import check_attribute_name
from ..latent.encode import LatentTable, encode_faceset
from ..latent.fitter import BoundaryFitter, METHODS
from ..latent.landmark_head import fit_landmark_head, landmark_weights
from ..preprocess import rescale_landmarks
from ..manifest import manifest_owners, verify_manifest
from ._checks import bounded_float, bounded_int, check_output_dir, seed_arg

#: ``--batch`` range (faces per forward pass when encoding).
MAX_BATCH = 4096


#: ``latentedit fit --help``: what the command does.
DESCRIPTION = ("Encode FACESET with MODEL (or read --latents) and fit one linear boundary per "
               "attribute (InterFaceGAN-style); each is written as <attribute>.json + "
               "<attribute>.safetensors into --out (default MODEL/boundaries).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register ``latentedit fit``'s arguments on its parser (made by :mod:`latentedit.cli.main`)."""
    p.add_argument("model", metavar="MODEL", help="pretrained model folder or training run folder")
    p.add_argument("faceset", metavar="FACESET", nargs="?", default=None,
                   help="FaceSet folder to encode (not needed with --latents)")
    p.add_argument("--attribute", nargs="+", default=[], metavar="NAME", help="attributes to fit")
    p.add_argument("--landmark-head", action="store_true",
                   help="also fit the landmark head detail mode moves the photo with (needs FACESET with "
                        "landmarks; written into the model folder)")
    p.add_argument("--latents", default=None, help="codes written by `latentedit encode` (skips encoding)")
    p.add_argument("--out", default=None, help="boundaries folder (default: MODEL/boundaries)")
    p.add_argument("--method", choices=METHODS, default="auto",
                   help="auto = ridge for continuous scores, logistic for binary labels (default auto)")
    p.add_argument("--condition", nargs="+", default=[], metavar="NAME",
                   help="make every fitted direction orthogonal to these attributes' directions")
    p.add_argument("--ratio", type=bounded_float(0.0, 0.5, lo_open=True), default=0.02,
                   help="svm: top/bottom fraction of scores, > 0 and ≤ 0.5 (default 0.02)")
    p.add_argument("--val-fraction", type=bounded_float(0.01, 0.9), default=0.2,
                   help="held-out fraction, 0.01..0.9 (default 0.2)")
    p.add_argument("--seed", type=seed_arg(), default=0, help="seed of the held-out split, 0..2^32-1 (default 0)")
    p.add_argument("--batch", type=bounded_int(1, MAX_BATCH), default=64,
                   help=f"faces per forward pass when encoding, 1..{MAX_BATCH} (default 64)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--overwrite", action="store_true", help="replace existing boundaries of these attributes")


def run(args) -> int:
    for name in args.attribute + args.condition:
        check_attribute_name(name)
    if (args.faceset is None) == (args.latents is None):
        raise LatentEditError("give either FACESET or --latents (exactly one)")
    if not args.attribute and not args.landmark_head:
        raise LatentEditError("nothing to fit: give --attribute NAME... and/or --landmark-head")
    if args.landmark_head and args.faceset is None:
        raise LatentEditError("--landmark-head needs FACESET (its landmarks), not --latents")
    out = Path(args.out) if args.out else model_folder(args.model) / "boundaries"
    check_output_dir(out, "--out" if args.out else "boundaries folder")
    if not args.overwrite:
        taken = [n for n in args.attribute if (out / f"{n}.json").exists() or (out / f"{n}.safetensors").exists()]
        if taken:
            raise LatentEditError(f"{out}: boundaries for {', '.join(taken)} already exist; pass --overwrite "
                                  "or choose another --out")

    for owner in manifest_owners(out):  # a manifested model: refuse before encoding if it does not verify
        verify_manifest(owner)          # (never bless tampering); Boundary.save re-writes its manifest
    model = load_model(args.model, args.device)
    model_id = str(model.model_id)
    needed = list(dict.fromkeys(args.attribute + args.condition))
    if args.latents:
        table = LatentTable.load(args.latents)
        if table.model_id != model_id:
            raise LatentEditError(f"{args.latents}: codes were encoded by model {table.model_id!r}, but {args.model} "
                                  f"is model {model_id!r}; re-run `latentedit encode`")
    else:
        fs = FaceSet(args.faceset)
        table = encode_faceset(model, fs, attributes=needed, batch_size=args.batch, progress=True)
    columns = {n: table.column(n) for n in needed}
    if args.landmark_head:
        fit_head(model, fs, table, args.model)

    def fitter():
        return BoundaryFitter(method=args.method, ratio=args.ratio, val_fraction=args.val_fraction,
                              random_state=args.seed)

    held = {n: fitter().fit(table.z, columns[n]).normal_ for n in args.condition}
    meta = {"faceset": table.faceset, "latents": str(args.latents or ""), "n_codes": len(table),
            "attribute_source": table.attribute_sources}
    rows = []
    faces_lm = None
    if args.faceset is not None and all(r.landmarks is not None for r in fs.records):
        s = int(model.config.resolution)
        faces_lm = np.stack([rescale_landmarks(r.landmarks, r.size, s) for r in fs.records])
    for name in args.attribute:
        conds = [c for c in args.condition if c != name]
        f = fitter().fit(table.z, columns[name], hold=[held[c] for c in conds] or None)
        extra = {}
        if faces_lm is not None:  # where this attribute moves the face (detail mode's geometry weights)
            w = landmark_weights(faces_lm, columns[name])
            if w is not None:
                extra["landmark_weights"] = w
        b = f.to_boundary(name, model_id, conditioned_on=conds,
                          meta={**meta, "attribute_source": table.attribute_sources.get(name, ""), **extra})
        b.save(out, overwrite=args.overwrite)
        rows.append((name, f.method_, "binary" if f.binary_ else "continuous", f.val_accuracy_, f.val_auc_,
                     f.n_train_, f.n_val_, f.std_, ",".join(conds) or "-"))
    if not rows:
        return 0
    print(f"{'attribute':<22} {'method':<9} {'labels':<11} {'val_bacc':>8} {'val_auc':>8} {'n_train':>7} "
          f"{'n_val':>6} {'std':>7}  conditioned_on")
    for r in rows:
        print(f"{r[0]:<22} {r[1]:<9} {r[2]:<11} {r[3]:>8.3f} {r[4]:>8.3f} {r[5]:>7d} {r[6]:>6d} {r[7]:>7.3f}  {r[8]}")
    print(f"wrote {len(rows)} boundaries to {out}")
    return 0


def fit_head(model, fs: FaceSet, table: LatentTable, model_arg: str) -> None:
    """Fit and save the landmark head on the FaceSet's faces that have landmarks."""
    s = int(model.config.resolution)
    keep = [i for i, r in enumerate(fs.records) if r.landmarks is not None]
    if len(keep) < 20:
        raise LatentEditError(f"{fs.root}: --landmark-head needs at least 20 faces with landmarks, "
                              f"found {len(keep)}")
    lms = [rescale_landmarks(fs.records[i].landmarks, fs.records[i].size, s) for i in keep]
    head = fit_landmark_head(table.z[keep], lms, str(model.model_id), s)
    path = head.save(model_folder(model_arg))
    print(f"landmark head: held-out error {head.val_error:.2f} px (mean face {head.baseline_error:.2f} px) "
          f"on {len(keep)} faces -> {path}")
