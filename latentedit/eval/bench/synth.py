"""``latentedit bench synth``: SynthFaces render speed (images/s) at 64 and 128 px.

Baseline (measured in the same run): :func:`latentedit.synth.render` in one process with its
region masks, i.e. the public API's default. Compared with it:

* ``render, no masks`` — ``render(..., masks=False)``, what ``synth_faceset`` uses;
* ``batch, P processes`` — :func:`latentedit.synth.render_batch` on a warm process pool
  (the pool start-up, ~1 s, is reported separately);
* ``PNG decode`` — reading the same images back from PNG files (what loading a pre-rendered
  FaceSet costs per image), for context: rendering on the fly vs reading from disk.

The machine's load average is recorded: on a shared machine other work slows every row alike,
so the ratios are more trustworthy than the absolute rates. ``CPU ms/img`` (this process's CPU
time per image, for the in-process rows) is what an image costs regardless of that load;
``1000 / CPU ms`` is the rate one free core reaches.
"""
from __future__ import annotations

import argparse
import multiprocessing
import io
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np
import torch
from PIL import Image

from ..._io import atomic_write_json
from ...errors import LatentEditError
from ...synth import expression_params, identity_params, render, render_batch
from ...synth.render import MAX_SIZE, MIN_SIZE

BASELINE = "render (1 process, masks)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the benchmark's options."""
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="crop sizes (default 64 128)")
    parser.add_argument("--n", type=int, default=200, help="images per measurement (default 200)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes for the batch path (default: CPU count)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed of the rendered faces")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON")


def _machine() -> dict:
    return {"cpu_count": os.cpu_count(), "torch": torch.__version__, "device": "cpu",
            "opencv": cv2.__version__, "cv2_threads": cv2.getNumThreads(), "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine()}


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None


def _rate(fn, n: int) -> tuple[float, float]:
    """(images per wall-clock second, CPU ms per image of this process)."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return n / (time.perf_counter() - t), (time.process_time() - c) * 1000.0 / n


def run(args) -> int:
    """Run the benchmark, print a table, optionally write JSON. Returns 0.

    Raises:
        LatentEditError: for bad sizes, counts or worker numbers.
    """
    if args.n < 4:
        raise LatentEditError(f"--n must be at least 4, got {args.n}")
    if args.workers < 1:
        raise LatentEditError(f"--workers must be at least 1, got {args.workers}")
    for s in args.sizes:
        if not MIN_SIZE <= s <= MAX_SIZE:
            raise LatentEditError(f"--sizes: {s} is outside [{MIN_SIZE}, {MAX_SIZE}]")
    n = args.n
    ids = [identity_params(args.seed, i // 10) for i in range(n)]
    exs = [expression_params(args.seed, i // 10, i % 10) for i in range(n)]
    load_start = _load()
    rows: list[dict] = []
    pool_start_s = None
    pool = None
    if args.workers > 1:
        t = time.perf_counter()
        # spawned, as render_batch's own pool is (forking a parent that holds torch/cv2 threads is unsafe)
        pool = ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn"))
        render_batch(ids[:args.workers * 2], exs[:args.workers * 2], min(args.sizes), args.workers, pool=pool)
        pool_start_s = time.perf_counter() - t
    try:
        for size in args.sizes:
            render(ids[0], exs[0], size)  # warm caches
            base, base_cpu = _rate(lambda: [render(i, e, size) for i, e in zip(ids, exs)], n)
            results = [(BASELINE, base, base_cpu)]
            results.append(("render, no masks", *_rate(
                lambda: [render(i, e, size, masks=False) for i, e in zip(ids, exs)], n)))
            if pool is not None:
                r, _ = _rate(lambda: render_batch(ids, exs, size, args.workers, masks=False, pool=pool), n)
                results.append((f"batch, {args.workers} processes", r, None))  # CPU time is in the workers
            pngs = []
            for i, e in zip(ids, exs):
                buf = io.BytesIO()
                Image.fromarray(render(i, e, size, masks=False).image).save(buf, format="PNG", compress_level=1)
                pngs.append(buf.getvalue())

            def decode():
                for b in pngs:
                    np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))
            results.append(("PNG decode (context)", *_rate(decode, n)))
            for name, r, cpu in results:
                rows.append({"size": size, "method": name, "images_per_s": round(r, 1),
                             "ms_per_image": round(1000.0 / r, 2), "speed_vs_baseline": round(r / base, 2),
                             "cpu_ms_per_image": None if cpu is None else round(cpu, 2)})
    finally:
        if pool is not None:
            pool.shutdown()
    load_end = _load()

    print(f"SynthFaces render speed ({n} images per row, seed {args.seed}; load average "
          f"{load_start} → {load_end} on {os.cpu_count()} CPUs)")
    print(f"{'size':>5}  {'method':<28} {'img/s':>8} {'ms/img':>8} {'× baseline':>10} {'CPU ms/img':>10}")
    for r in rows:
        cpu = "-" if r["cpu_ms_per_image"] is None else f"{r['cpu_ms_per_image']:.2f}"
        print(f"{r['size']:>5}  {r['method']:<28} {r['images_per_s']:>8.1f} {r['ms_per_image']:>8.2f} "
              f"{r['speed_vs_baseline']:>10.2f} {cpu:>10}")
    if pool_start_s is not None:
        print(f"process pool start-up: {pool_start_s:.2f} s (once per synth_faceset call)")
    if args.json:
        atomic_write_json(args.json, {
            "benchmark": "synth",
            "description": "SynthFaces images/s per crop size: render() with masks (baseline, same run), "
                           "without masks, the multi-process batch path, and PNG decoding of the same "
                           "images for context; cpu_ms_per_image is this process's CPU time per image "
                           "(load-independent)",
            "machine": _machine(),
            "settings": {"n": n, "sizes": list(args.sizes), "workers": args.workers, "seed": args.seed},
            "load_average_start": load_start, "load_average_end": load_end,
            "baseline": BASELINE,
            "pool_start_s": None if pool_start_s is None else round(pool_start_s, 2),
            "results": rows,
        })
        print(f"wrote {args.json}")
    return 0
