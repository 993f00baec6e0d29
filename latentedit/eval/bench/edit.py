"""``latentedit bench edit``: latency of one slider move and batch edit throughput.

Slider move = :meth:`Editor.apply` on a prepared :class:`Face` (shift the code, decode, colour-
match and paste back into the 512-px photo). It is timed at each resolution with the default
architecture (``ModelConfig(resolution=r)``; weights do not change the cost, so they are random
unless ``--model`` is given) and reported as p50/p95 over ``--moves`` moves with changing alphas.
Baseline in the same run: the naive move that redoes detection, alignment and encoding
before decoding (what a stateless editor would do per slider event); speed× = baseline / fast path.

Batch throughput: :meth:`Editor.edit` on aligned crops, ``batch_size=32`` vs one face at a time
(``batch_size=1``), in images per second.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from ..._io import atomic_write_json, read_image
from ...edit import Editor, Recipe
from ...latent import Boundary
from ...merge import warp_to_crop
from ...models import SUPPORTED_RESOLUTIONS, ModelConfig, SwapAutoencoder
from .markdown import cpu_machine_info

DEFAULT_PHOTO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "swap_pair" / "A_KatieHill" / "0001.jpg"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the benchmark's options."""
    parser.add_argument("--resolutions", type=int, nargs="+", default=list(SUPPORTED_RESOLUTIONS))
    parser.add_argument("--model", default=None, help="a model folder to time instead of the default architecture")
    parser.add_argument("--photo", default=str(DEFAULT_PHOTO), help="photo to edit (a synthetic frame if absent)")
    parser.add_argument("--moves", type=int, default=40, help="timed slider moves per resolution (default 40)")
    parser.add_argument("--naive", type=int, default=5, help="timed naive moves (baseline; default 5)")
    parser.add_argument("--images", type=int, default=64, help="aligned crops for the throughput test (default 64)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size of the throughput test (default 32)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: 1 when the machine is oversubscribed — load average above "
                             "the core count, where extra intra-op threads spin against other processes and "
                             "made a 128-px decode 7× slower in our measurements — else min(2, cores))")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON")


def _pct(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times) * 1000.0, q))


def _editor(resolution: int, model_dir: str | None):
    if model_dir:
        ed = Editor.from_pretrained(model_dir, device="cpu")
        if ed.boundaries:
            return ed, "model"
        model = ed.model
    else:
        torch.manual_seed(0)
        model = SwapAutoencoder(ModelConfig(resolution=resolution, identities=("A", "B"))).eval()
    rng = np.random.default_rng(0)
    d, mid = model.config.latent_dim, model.model_id
    bs = {n: Boundary(n, rng.standard_normal(d), model_id=mid) for n in ("smile", "eye_open", "mouth_open")}
    return Editor(model, bs, device="cpu"), "random boundaries"


def _face(editor, photo: np.ndarray | None):
    if photo is not None:
        try:
            return editor.find_faces(photo, all_faces=False)[0], "detected"
        except Exception:  # no dlib models / no face: fall back to a fixed box
            pass
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8) if photo is None else photo
    s = editor.resolution
    scale = s / 300.0
    affine = np.array([[scale, 0, -106 * scale], [0, scale, -120 * scale]], np.float32)

    crop = warp_to_crop(frame, affine, s)
    face = editor.find_faces(crop, aligned=True)[0]
    face.image, face.affine = frame, affine
    return face, "fixed box"


def bench_resolution(res: int, args, photo) -> dict:
    """Slider latency and throughput at one resolution."""
    ed, bsrc = _editor(res, args.model)
    res = ed.resolution
    face, how = _face(ed, photo)
    names = ed.attributes
    alphas = np.linspace(-3, 3, max(args.moves, 2))
    recipes = [Recipe(edits={names[0]: float(a)}, hold=names[1:2]) for a in alphas]
    ed.apply(face, recipes[0])  # warm-up (allocations, cached conditioned normals)
    fast, decode = [], []
    for r in recipes:
        t = time.perf_counter()
        ed.apply(face, r)
        fast.append(time.perf_counter() - t)
        z = ed.shift(face.z[None], r)
        t = time.perf_counter()
        ed.decode(z, ed.default_identity)
        decode.append(time.perf_counter() - t)
    region = []
    for r in recipes[: max(5, args.moves // 2)]:
        r2 = Recipe(edits=r.edits, hold=r.hold, region="mouth")
        t = time.perf_counter()
        ed.apply(face, r2)
        region.append(time.perf_counter() - t)
    naive = []
    if face.image is not None:
        for r in recipes[: args.naive]:
            t = time.perf_counter()
            fresh = ed.find_faces(face.image, all_faces=False) if how == "detected" else [face]
            ed.apply(fresh[0], r)
            naive.append(time.perf_counter() - t)
    crops = [np.roll(face.crop, k, axis=1) for k in range(args.images)]
    recipe = recipes[-1]
    t = time.perf_counter()
    ed.edit(crops, recipe, batch_size=args.batch_size, aligned=True)
    batched = args.images / (time.perf_counter() - t)
    n1 = max(8, args.images // 4)
    t = time.perf_counter()
    ed.edit(crops[:n1], recipe, batch_size=1, aligned=True)
    single = n1 / (time.perf_counter() - t)
    row = {"resolution": res, "face": how, "boundaries": bsrc, "latent_dim": int(ed.model.config.latent_dim),
           "frame": list(face.image.shape[:2]) if face.image is not None else None,
           "move_ms_p50": _pct(fast, 50), "move_ms_p95": _pct(fast, 95),
           "decode_ms_p50": _pct(decode, 50), "region_move_ms_p50": _pct(region, 50),
           "region_move_ms_p95": _pct(region, 95),
           "naive_move_ms_p50": _pct(naive, 50) if naive else None,
           "batch_images_per_s": batched, "one_by_one_images_per_s": single,
           "batch_speedup": batched / single}
    row["move_speed_vs_naive"] = row["naive_move_ms_p50"] / row["move_ms_p50"] if naive else None
    return row


def run(args) -> int:
    """Run the benchmark; print a table; optionally write JSON."""
    cores = os.cpu_count() or 1
    threads = args.threads
    if threads is None:
        busy = hasattr(os, "getloadavg") and os.getloadavg()[0] > cores
        threads = 1 if busy else min(2, cores)
    torch.set_num_threads(max(1, min(threads, cores)))
    photo = read_image(args.photo) if args.photo and Path(args.photo).is_file() else None
    resolutions = [None] if args.model else args.resolutions
    rows = [bench_resolution(r, args, photo) for r in resolutions]
    header = (f"{'res':>4} {'move p50':>9} {'p95':>7} {'decode':>7} {'region p50':>10} {'naive p50':>9} "
              f"{'speed×':>7} {'batch img/s':>11} {'1-by-1':>7} {'batch×':>7}  face")
    print(header)
    print("-" * len(header))
    for r in rows:
        naive = f"{r['naive_move_ms_p50']:>9.1f}" if r["naive_move_ms_p50"] else f"{'-':>9}"
        sp = f"{r['move_speed_vs_naive']:>7.1f}" if r["move_speed_vs_naive"] else f"{'-':>7}"
        print(f"{r['resolution']:>4} {r['move_ms_p50']:>9.1f} {r['move_ms_p95']:>7.1f} {r['decode_ms_p50']:>7.1f} "
              f"{r['region_move_ms_p50']:>10.1f} {naive} {sp} {r['batch_images_per_s']:>11.1f} "
              f"{r['one_by_one_images_per_s']:>7.1f} {r['batch_speedup']:>7.2f}  {r['face']}")
    print("\nms per slider move (shift + decode + colour-match + paste into the photo); speed× = naive move "
          "(detect + align + encode + move) / fast move, same run; batch× = batch_size "
          f"{args.batch_size} vs 1. Target: p50 ≤ 15 ms at 128 px on 2 cores.")
    if args.json:
        atomic_write_json(args.json, {
            "benchmark": "edit",
            "description": "slider-move latency (Editor.apply: shift + decode + merge into a 512-px photo) p50/p95 "
                           "per resolution vs a naive move that re-detects and re-encodes; Editor.edit throughput "
                           "batched vs one by one",
            "machine": cpu_machine_info(),
            "settings": {"moves": args.moves, "naive": args.naive, "images": args.images,
                         "batch_size": args.batch_size, "threads": torch.get_num_threads(),
                         "model": args.model or "default ModelConfig(resolution=r), random weights",
                         "photo": Path(args.photo).name if photo is not None else "synthetic"},
            "baseline": "naive move: detect + align + encode + shift + decode + merge per slider event",
            "results": rows,
        })
        print(f"wrote {args.json}")
    return 0
