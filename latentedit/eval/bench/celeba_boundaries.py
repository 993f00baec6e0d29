"""The CelebA boundary experiment: are a trained model's latent codes more linearly predictive of
CelebA attributes than the raw pixels?

Run as ``latentedit bench boundaries --celeba FACESET --model MODEL [--json PATH]``. The FaceSet is
split once (seeded) into ``--train`` training faces and the rest held out. For every attribute the
*same* linear classifier (standardised features, class-balanced logistic regression) is trained on
two feature sets and scored by held-out balanced accuracy:

* the model's latent codes (``D`` dims);
* the baseline, measured in the same run: PCA of the raw 64-px pixels with the same ``D``
  components (fitted on the training faces only).

Two model-independent references come with each attribute when the FaceSet has landmarks: the same
classifier on the 136 normalised landmark coordinates, and on PCA + landmarks (what a latent holding
both the pixels' principal components and the landmark geometry could reach with a linear boundary).

Measured landmark scores (``*_score``, continuous) are split at the training median.
:func:`prepare_celeba` builds the FaceSet: CelebA import plus 68 landmarks (dlib, fitted in a fixed
box since CelebA is aligned) and the measured scores, so the trainer's eyes/mouth emphasis and the
landmark-score attributes are available.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from ..._io import atomic_write_json, read_image
from ...celeba import import_celeba
from ...edit.editor import load_model
from ...errors import LatentEditError
from ...faces.celeba_landmarks import detect_one
from ...faces.detect import fit_landmarks
from ...faces.rescore import rescore_records
from ...faces.scores import normalise_landmarks
from ...faceset import FaceSet, write_index
from ...latent.encode import encode_faceset
from ...preprocess import resize, to_model, to_unit
from .cnn_reference import supervised_cnn_bacc
from .markdown import cpu_machine_info

CELEBA_ATTRIBUTES = ("Smiling", "Mouth_Slightly_Open", "Narrow_Eyes", "Big_Nose", "Big_Lips", "Eyeglasses", "Male")
PCA_BASELINE = "the same classifier on PCA of the raw pixels (same number of dims as the latent)"


def prepare_celeba(celeba_dir: str | os.PathLike, out: str | os.PathLike, size: int = 64,
                   progress: bool = True):
    """Import CelebA into a new FaceSet ``out`` and add landmarks and measured scores to it.

    Raises:
        FaceSetError: if ``out`` already exists or the CelebA folder is malformed.
    """
    import_celeba(celeba_dir, out, size=size, progress=progress)
    return add_celeba_landmarks(out, progress=progress)


def add_celeba_landmarks(root: str | os.PathLike, progress: bool = True):
    """Add 68 landmarks and the measured landmark scores to a FaceSet imported from CelebA.

    Landmarks: dlib's HOG detector on a few upscaled source images gives the median face box of
    the aligned CelebA framing; the 68-point predictor is then run in that box on every source
    image (HOG itself misses most of CelebA's tight crops and costs ~25× more). They are mapped
    into the crop with each record's import affine. The index is rewritten atomically.

    Raises:
        LatentEditError: if records lack their source file or affine, or no face is found.
    """
    fs = FaceSet(root)
    for i, rec in enumerate(fs.records):
        if rec.affine is None or not rec.source.get("file"):
            raise LatentEditError(f"{root}: record {i} has no source file or affine (not a CelebA import)")
    factor = 4
    boxes = []
    for rec in fs.records[:40]:
        found = detect_one(read_image(rec.source["file"]), factor=factor, pad=0.25, cnn=False, refine=False)
        if found is not None:
            boxes.append(np.array(found[2]))  # the face box in the source image's pixels
    if not boxes:
        raise LatentEditError(f"{root}: no face found in the first 40 sources; cannot place the landmark box")
    box = np.median(boxes, axis=0) * factor
    lms = np.zeros((len(fs), 68, 2), np.float32)
    it = range(len(fs))
    if progress:
        it = tqdm(it, desc="landmarks", unit="img")
    for i in it:
        rec = fs.records[i]
        img = read_image(rec.source["file"])
        big = resize(img, (img.shape[1] * factor, img.shape[0] * factor))
        src = fit_landmarks(big, tuple(float(v) for v in box)).landmarks.astype(np.float64) / factor
        a = rec.affine.astype(np.float64)
        lms[i] = src @ a[:, :2].T + a[:, 2]
    for i, rec in enumerate(fs.records):
        rec.landmarks = lms[i]
    rescore_records(fs.records, where=str(root))
    write_index(root, fs.records)
    return FaceSet(root)


def _binarise(y: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, bool]:
    """One attribute column as 0/1 floats (NaN where missing) and whether it was binary: CelebA's 0/1
    labels stay as they are; continuous measured scores are split at their training median."""
    known = np.isfinite(y)
    binary = len(np.unique(y[known])) == 2
    ok = train[known[train]]
    thr = float(np.max(y[ok])) if binary else float(np.median(y[ok]))
    lab = np.where(known, ((y >= thr) if binary else (y > thr)).astype(np.float64), np.nan)
    return lab, binary


def headline(runs: list[dict], rows: list[dict], attributes=("Smiling", "Mouth_Slightly_Open")) -> str:
    """One line for the speed/quality summaries: the last model's mean gain over pixel PCA and its
    balanced accuracy on the headline attributes, next to PCA (and the supervised CNN when measured)."""
    if not runs:
        return ""
    last = runs[-1]
    name = Path(last["model"]).name
    parts = [f"{name}: mean {last['mean_delta_points']:+.1f} pts vs pixel PCA"]
    mine = [r for r in rows if r["model"] == name]
    shown = [r for r in mine if r["attribute"] in attributes] or mine[:2]  # else the first two fitted
    for r in shown:
        ref = f"PCA {r['pca_bacc']:.3f}"
        if r.get("supervised_cnn_bacc") is not None:
            ref += f", supervised CNN {r['supervised_cnn_bacc']:.3f}"
        parts.append(f"{r['attribute']} {r['latent_bacc']:.3f} ({ref})")
    return "; ".join(parts)


def _classify(x_tr, y_tr, x_va, y_va) -> tuple[float, float]:
    sc = StandardScaler().fit(x_tr)
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)
    clf.fit(sc.transform(x_tr), y_tr)
    xv = sc.transform(x_va)
    return (float(balanced_accuracy_score(y_va, clf.predict(xv))),
            float(roc_auc_score(y_va, clf.decision_function(xv))))


def _landmark_features(fs) -> np.ndarray | None:
    """The 136 roll/size-normalised landmark coordinates of every record (None if any record lacks landmarks)."""
    if any(r.landmarks is None for r in fs.records):
        return None
    pts, _ = normalise_landmarks(np.stack([np.asarray(r.landmarks, np.float64) for r in fs.records]))
    return pts.reshape(len(pts), -1)


def heldout_psnr(model, crops: torch.Tensor, batch: int = 256) -> float:
    """Mean PSNR (dB) of the model's reconstructions of uint8 ``N×3×S×S`` crops (first decoder), e.g.
    ``FaceSet.load_images(size=model.config.resolution)`` of held-out faces."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(crops), batch):
            x = to_model(crops[i:i + batch].permute(0, 2, 3, 1))
            rgb, _ = model.decode(model.encode(x), model.identities[0])
            mse = ((rgb.float() - x) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10) / 4.0  # [-1, 1] -> [0, 1]
            out.append(-10.0 * torch.log10(mse))
    return float(torch.cat(out).mean())


def _run_info(model_dir: str) -> dict:
    """Training facts of a run folder (config and last logged step), when present."""
    info: dict = {}
    run = Path(model_dir)
    run = run.parent if run.name == "model" else run
    for name in ("config.json", "train_config.json"):
        p = run / name
        if p.is_file():
            try:
                info["train_config"] = json.loads(p.read_text())
            except json.JSONDecodeError:
                pass
            break
    metrics = run / "metrics.jsonl"
    if metrics.is_file():
        lines = [ln for ln in metrics.read_text().splitlines() if ln.strip()]
        if lines:
            try:
                info["last_metrics"] = json.loads(lines[-1])
            except json.JSONDecodeError:
                pass
    return info


def run(args) -> int:
    """The experiment; prints a table and optionally writes JSON."""
    models = [args.model] if isinstance(args.model, str) else list(args.model or [])
    if not models:
        raise LatentEditError("--celeba needs --model (one or more trained model or run folders)")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    fs = FaceSet(args.celeba)
    names = list(args.attributes) if args.attributes else \
        [a for a in CELEBA_ATTRIBUTES] + [a for a in fs.attribute_names if a.endswith("_score")]
    n = len(fs)
    if args.train >= n:
        raise LatentEditError(f"--train {args.train} leaves no held-out faces (the FaceSet has {n})")
    perm = np.random.default_rng(args.seed).permutation(n)
    tr, va = perm[:args.train], perm[args.train:]
    labels = fs.attribute_matrix(names).astype(np.float64)
    lms = _landmark_features(fs)
    refs: dict[tuple, tuple] = {}
    cnn, cnn_s = None, None
    pix = None
    pcas: dict[int, tuple] = {}
    rows, runs = [], []
    for model_dir in models:
        t0 = time.perf_counter()
        model = load_model(model_dir, "cpu")
        table = encode_faceset(model, fs, attributes=names, batch_size=128, progress=True)
        t_enc = time.perf_counter() - t0
        z = table.z.numpy().astype(np.float64)
        d = z.shape[1]
        if d not in pcas:  # the baseline: PCA of the pixels with as many components as the latent
            t0 = time.perf_counter()
            if pix is None:
                crops = fs.load_images(size=int(model.config.resolution), progress=True)  # uint8 N×3×S×S
                pix = to_unit(crops.numpy()).reshape(n, -1)
            pca = PCA(n_components=d, svd_solver="randomized", random_state=0).fit(pix[tr])
            pcas[d] = (pca.transform(pix), float(pca.explained_variance_ratio_.sum()), time.perf_counter() - t0)
        p, explained, t_pca = pcas[d]
        psnr = heldout_psnr(model, crops[torch.from_numpy(np.asarray(va))])
        if getattr(args, "cnn_reference", 0) and cnn is None:  # supervised reference, once per run

            onehot = np.stack([_binarise(labels[:, j], tr)[0] for j in range(len(names))], axis=1)
            t0 = time.perf_counter()
            cnn = supervised_cnn_bacc(pix, onehot, tr, va, epochs=args.cnn_reference, seed=args.seed)
            cnn_s = time.perf_counter() - t0
        model_rows = []
        for j, name in enumerate(names):
            y = labels[:, j]
            ok_tr, ok_va = tr[np.isfinite(y[tr])], va[np.isfinite(y[va])]
            lab, binary = _binarise(y, tr)
            lab = lab > 0.5
            lat = _classify(z[ok_tr], lab[ok_tr], z[ok_va], lab[ok_va])
            base = _classify(p[ok_tr], lab[ok_tr], p[ok_va], lab[ok_va])
            if lms is not None and (d, name) not in refs:  # references: what landmarks add to the pixels
                both = np.hstack([p, lms])
                refs[(d, name)] = (_classify(lms[ok_tr], lab[ok_tr], lms[ok_va], lab[ok_va])[0],
                                   _classify(both[ok_tr], lab[ok_tr], both[ok_va], lab[ok_va])[0])
            ref = refs.get((d, name), (None, None))
            model_rows.append({"model": Path(model_dir).name, "attribute": name,
                               "labels": "celeba 0/1" if binary else "measured, split at train median",
                               "positive_rate": float(lab[ok_va].mean()), "n_train": int(len(ok_tr)),
                               "n_val": int(len(ok_va)), "latent_bacc": lat[0], "latent_auc": lat[1],
                               "pca_bacc": base[0], "pca_auc": base[1], "delta_points": 100 * (lat[0] - base[0]),
                               "landmarks_bacc": ref[0], "pca_plus_landmarks_bacc": ref[1],
                               "supervised_cnn_bacc": None if cnn is None else cnn[j]})
        mean_delta = float(np.mean([r["delta_points"] for r in model_rows]))
        runs.append({"model": str(model_dir), "model_id": table.model_id, "latent_dim": d, "encode_s": t_enc,
                     "pca_dims": d, "pca_explained_variance": explained, "pca_s": t_pca,
                     "mean_delta_points": mean_delta, "heldout_psnr_db": psnr, **_run_info(model_dir)})
        rows.extend(model_rows)
        print(f"\nmodel {model_dir} ({table.model_id}, D = {d}); baseline: PCA-{d} of the pixels "
              f"({explained:.1%} of their variance)")
        print(f"{'attribute':<22} {'pos':>5} {'latent bacc':>11} {'PCA bacc':>9} {'Δ pts':>6} {'latent AUC':>10} "
              f"{'PCA AUC':>8} {'lmk bacc':>8} {'PCA+lmk':>8} {'CNN sup':>8}")
        for r in model_rows:
            extra = "".join(f" {v:>8.3f}" if v is not None else f" {'—':>8}"
                            for v in (r["landmarks_bacc"], r["pca_plus_landmarks_bacc"], r["supervised_cnn_bacc"]))
            print(f"{r['attribute']:<22} {r['positive_rate']:>5.2f} {r['latent_bacc']:>11.3f} {r['pca_bacc']:>9.3f} "
                  f"{r['delta_points']:>6.1f} {r['latent_auc']:>10.3f} {r['pca_auc']:>8.3f}{extra}")
        print(f"mean Δ = {mean_delta:+.1f} points of balanced accuracy; held-out reconstruction {psnr:.2f} dB PSNR")
    print(f"\n{len(tr)} train / {len(va)} held out (seed {args.seed}); classifier: standardised features + "
          f"class-balanced logistic regression; baseline = {PCA_BASELINE}")
    if args.json:
        atomic_write_json(args.json, {
            "benchmark": "celeba_boundaries",
            "description": "held-out balanced accuracy of a class-balanced logistic regression on each model's latent "
                           "codes vs on pixel PCA with the same number of dims, CelebA 64 px, same split",
            "command": (f"latentedit bench boundaries --celeba {args.celeba} --model {' '.join(models)} "
                        + (f"--cnn-reference {args.cnn_reference} " if cnn is not None else "")
                        + f"--json {args.json}"),
            "machine": cpu_machine_info(),
            "settings": {"faceset": str(args.celeba), "n_train": int(len(tr)), "n_val": int(len(va)),
                         "seed": args.seed, "attributes": names,
                         "cnn_reference_epochs": int(args.cnn_reference) if cnn is not None else 0,
                         "cnn_reference_s": cnn_s},
            "baseline": PCA_BASELINE,
            "headline": headline(runs, rows),
            "models": runs,
            "results": rows,
        })
        print(f"wrote {args.json}")
    return 0
