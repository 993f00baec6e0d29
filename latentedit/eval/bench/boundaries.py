"""``latentedit bench boundaries``: boundary fitting time and accuracy vs scikit-learn's linear SVC.

Setup (synthetic, so the true direction is known): ``N×512`` standard-normal codes ``z``, a planted
unit normal ``n`` and continuous scores ``s = z·n + 0.3·ε``. Every method sees the same codes and
the same seeded 80/20 split; held-out labels are ``s > median(s_train)``. Reported per method: fit
time, cosine to ``n`` and held-out balanced accuracy. Speed is quoted as a ratio against the
baseline measured in the same run: InterFaceGAN's own choice, ``sklearn.svm.SVC(kernel="linear")``
on the top/bottom 2 % of the training scores. The all-data SVC (InterFaceGAN's classifier without
the top/bottom selection) is fitted on at most ``--svc-max`` codes (a seeded subsample, flagged in
the table) because its time grows quadratically (~48 s for 8k codes on 2 cores).

With ``--celeba FACESET --model MODEL`` it runs the CelebA experiment instead
(:mod:`latentedit.eval.bench.celeba_boundaries`).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.svm import SVC

from ..._io import atomic_write_json
from ...latent.fitter import BoundaryFitter
from .celeba_boundaries import run as run_celeba
from .markdown import cpu_machine_info

BASELINE = "SVC(kernel='linear'), top/bottom 2% (InterFaceGAN default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the benchmark's options."""
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000], help="numbers of codes")
    parser.add_argument("--dim", type=int, default=512, help="latent dimension (default 512)")
    parser.add_argument("--noise", type=float, default=0.3, help="score noise σ (default 0.3)")
    parser.add_argument("--svc-max", type=int, default=8_000,
                        help="all-data SVC: at most this many training codes (default 8000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed fits per fast method (median; default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--celeba", default=None, metavar="FACESET",
                        help="run the CelebA experiment on this FaceSet instead (needs --model)")
    parser.add_argument("--model", nargs="+", default=None, help="--celeba: model or run folder(s) to compare")
    parser.add_argument("--attributes", nargs="+", default=None, help="--celeba: attributes to fit")
    parser.add_argument("--train", type=int, default=8000, help="--celeba: training faces (default 8000)")
    parser.add_argument("--cnn-reference", type=int, default=0, metavar="EPOCHS",
                        help="--celeba: also train a small supervised CNN on the same split for this many "
                             "epochs and report its balanced accuracy (default 0: off; 15 takes ~10 min on 2 CPU cores)")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON")


def _timed(fn, repeat: int):
    times, out = [], None
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


def _score(normal, intercept, z_va, lab_va, planted) -> tuple[float, float]:
    n = np.asarray(normal, np.float64)
    norm = np.linalg.norm(n)
    pred = (z_va @ (n / norm) + intercept / norm) > 0
    return float(n @ planted / norm), float(balanced_accuracy_score(lab_va, pred))


def bench_size(n_codes: int, args, rng_seed: int) -> list[dict]:
    """All methods on one synthetic problem of ``n_codes`` codes."""
    rng = np.random.default_rng(rng_seed)
    z = rng.standard_normal((n_codes, args.dim)).astype(np.float32)
    planted = rng.standard_normal(args.dim)
    planted /= np.linalg.norm(planted)
    s = z @ planted + args.noise * rng.standard_normal(n_codes)
    # The same split as BoundaryFitter(val_fraction=0.2, random_state=seed) uses internally.
    perm = np.random.default_rng(args.seed).permutation(n_codes)
    n_val = int(round(n_codes * 0.2))
    va, tr = perm[:n_val], perm[n_val:]
    thr = float(np.median(s[tr]))
    lab_tr, lab_va = s[tr] > thr, s[va] > thr
    z_tr, z_va = z[tr].astype(np.float64), z[va].astype(np.float64)
    rows = []

    def add(name, fit_s, normal, intercept, n_train, note=""):
        cos, bacc = _score(normal, intercept, z_va, lab_va, planted)
        rows.append({"n_codes": n_codes, "method": name, "fit_s": fit_s, "cosine": cos, "val_balanced_accuracy": bacc,
                     "n_train": int(n_train), "note": note})

    # baseline: InterFaceGAN's train_boundary (SVC linear on the top/bottom 2 % of the scores)
    k = int(round(len(tr) * 0.02))
    order = np.argsort(s[tr])
    sel = np.concatenate([order[:k], order[-k:]])

    def svc_extremes():
        return SVC(kernel="linear").fit(z_tr[sel], lab_tr[sel])

    clf, t = _timed(svc_extremes, 1)
    add(BASELINE, t, clf.coef_[0], clf.intercept_[0], 2 * k)
    # all-data SVC, subsampled to --svc-max
    m = min(len(tr), args.svc_max)
    sub = np.random.default_rng(1).choice(len(tr), size=m, replace=False)
    clf, t = _timed(lambda: SVC(kernel="linear").fit(z_tr[sub], lab_tr[sub]), 1)
    add("SVC(kernel='linear'), all labels", t, clf.coef_[0], clf.intercept_[0], m,
        "" if m == len(tr) else f"subsampled to {m} of {len(tr)} training codes (time grows ~quadratically)")
    for method, label, y in (("ridge", "BoundaryFitter ridge (continuous scores)", s),
                             ("logistic", "BoundaryFitter logistic (binarised at the median)", None),
                             ("svm", "BoundaryFitter svm (LinearSVC, top/bottom 2%)", s)):
        target = y if y is not None else (s > np.median(s)).astype(float)
        f, t = _timed(lambda: BoundaryFitter(method=method, random_state=args.seed).fit(z, target),
                      args.repeat if method != "logistic" or n_codes <= 10_000 else 1)
        add(label, t, f.normal_, f.intercept_, f.n_train_)
    base_t, full_t = rows[0]["fit_s"], rows[1]["fit_s"]
    for r in rows:
        r["speed_vs_baseline"] = base_t / r["fit_s"]
        r["speed_vs_all_data_svc"] = full_t / r["fit_s"]
    return rows


def run(args) -> int:
    """Run the benchmark; print a table; optionally write JSON."""
    if args.celeba:
        return run_celeba(args)
    torch.set_num_threads(min(2, os.cpu_count() or 1))

    warm = np.random.default_rng(0).standard_normal((500, args.dim)).astype(np.float32)
    for method in ("ridge", "logistic", "svm"):  # first calls pay for imports and BLAS start-up
        BoundaryFitter(method=method, ratio=0.2).fit(warm, warm[:, 0])
    rows = []
    for i, n in enumerate(args.sizes):
        rows.extend(bench_size(n, args, args.seed + i))
    header = (f"{'codes':>6}  {'method':<52} {'fit s':>8} {'speed×':>8} {'×allSVC':>8} {'cosine':>7} "
              f"{'val bacc':>8}  note")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['n_codes']:>6}  {r['method']:<52} {r['fit_s']:>8.3f} {r['speed_vs_baseline']:>8.2f} "
              f"{r['speed_vs_all_data_svc']:>8.1f} "
              f"{r['cosine']:>7.4f} {r['val_balanced_accuracy']:>8.4f}  {r['note']}")
    print(f"\nspeed× = baseline time / method time, baseline = {BASELINE} in the same run; ×allSVC = the same "
          f"against the all-data SVC. "
          f"Target: ridge cosine ≥ 0.99 in < 1 s at 10,000 × {args.dim}.")
    if args.json:
        atomic_write_json(args.json, {
            "benchmark": "boundaries",
            "description": f"fit time, cosine to a planted normal and held-out balanced accuracy on N×{args.dim} "
                           f"standard-normal codes with scores s = z·n + {args.noise}·ε (same split for all)",
            "machine": cpu_machine_info(),
            "settings": {"sizes": args.sizes, "dim": args.dim, "noise": args.noise, "svc_max": args.svc_max,
                         "repeat": args.repeat, "seed": args.seed, "val_fraction": 0.2},
            "baseline": BASELINE,
            "results": rows,
        })
        print(f"wrote {args.json}")
    return 0
