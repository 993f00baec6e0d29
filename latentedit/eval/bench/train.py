"""``latentedit bench train``: training throughput and peak memory of the default configs.

For each size, two measurements run in separate fresh processes (so peak RSS is per variant):

* **ours** — :class:`latentedit.train.Trainer` with the default ``TrainConfig`` (batched warp
  and colour augmentation, masked multi-scale DSSIM + L1 + mask losses with eyes/mouth
  weights, channels_last, bf16 autocast on CUDA);
* **baseline** — the same model trained by a straightforward PyTorch step (fp32, contiguous
  NCHW, no compile, no augmentation, plain L1 + MSE loss, AdamW).

Images/s counts A and B images. Speed is quoted as a ratio to the baseline of the same run,
because absolute numbers on a shared machine depend on its load (reported as ``loadavg``).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import time
from typing import Any

import numpy as np
import torch

from ..._io import atomic_write_json
from ...errors import LatentEditError
from ...models import SUPPORTED_RESOLUTIONS, ModelConfig, SwapAutoencoder
from ...train import TrainConfig, Trainer
from ...train.data import IdentityData, ellipse_mask
from ...train.distributed import DistInfo, resolve_device

#: Throughputs the brief quotes for peer projects on a 2-core machine (not measured here).
PEER_REFERENCE = {
    "faceswap Original (82 M params), 64 px": 9.5,
    "plain-PyTorch port of faceswap Original, 64 px": 13.7,
    "DeepFaceLab Quick96, 96 px": 7.9,
    "PyTorch DFL port SAEHD defaults (128 px, 82 M, batch 4)": 2.3,
}
TARGETS = {"64": 28.0, "128": 7.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the benchmark's options."""
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], choices=SUPPORTED_RESOLUTIONS,
                        help="resolutions to measure (default: 64 128)")
    parser.add_argument("--batch", type=int, default=16, help="images per identity per step (default 16)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per measurement (default 4)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: core count)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")


def _synthetic_data(size: int, n: int = 48):
    g = torch.Generator().manual_seed(0)
    face = torch.from_numpy(np.round(ellipse_mask(size) * 255).astype(np.uint8))
    out = {}
    for name in ("A", "B"):
        imgs = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
        out[name] = IdentityData(name, imgs, face[None, None].expand(n, 1, size, size).contiguous(),
                                 torch.zeros(n, 1, size, size, dtype=torch.uint8), "synthetic")
    return out


def _peak_mb(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _measure(kind: str, size: int, batch: int, steps: int, warmup: int, threads: int | None,
             device: str) -> dict[str, Any]:
    """One measurement (runs in a child process)."""
    dev = resolve_device(device)
    torch.set_num_threads(threads or os.cpu_count() or 1)
    data = _synthetic_data(size)
    if kind == "ours":
        cfg = TrainConfig(data={"A": "-", "B": "-"}, size=size, batch=batch, progress=False, device=str(dev),
                          threads=threads or os.cpu_count())
        tr = Trainer(cfg, data=data, dist_info=DistInfo(device=dev))
        model = tr.model

        def step(i: int) -> None:
            tr.train_step(i)
    else:
        torch.manual_seed(0)
        model = SwapAutoencoder(ModelConfig(resolution=size)).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=2e-4)
        imgs = {k: v.images.to(dev) for k, v in data.items()}

        def step(i: int) -> None:
            opt.zero_grad(set_to_none=True)
            loss = 0.0
            for name, im in imgs.items():
                idx = torch.randint(0, im.shape[0], (batch,))
                x = im[idx].float() / 127.5 - 1
                _, rgb, _ = model(x, name)
                loss = loss + (rgb - x).abs().mean() + ((rgb - x) ** 2).mean()
            loss.backward()
            opt.step()

    for i in range(warmup):
        step(i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    times = []
    for i in range(warmup, warmup + steps):
        t = time.perf_counter()
        step(i)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    per_step = sorted(times)[len(times) // 2]
    out = {"variant": kind, "size": size, "batch_per_identity": batch, "img_per_s": 2 * batch / per_step,
           "step_s_median": per_step, "step_s": times, "peak_mb": _peak_mb(dev),
           "params": sum(p.numel() for p in model.parameters())}
    if kind == "ours":
        out["params_discriminators"] = sum(p.numel() for p in tr.disc.parameters())
        out.update(_decode_latency(model, dev))
    return out


def _decode_latency(model, dev, reps: int = 15) -> dict[str, float]:
    """Median ms of one ``decode(z, "B")`` for a single face (the editor's slider path)."""
    model.eval()
    z = torch.randn(1, model.latent_dim, device=dev)
    res = {}
    for fmt, name in ((torch.contiguous_format, "decode_ms"), (torch.channels_last, "decode_ms_channels_last")):
        model.to(memory_format=fmt)
        with torch.no_grad():
            model.decode(z, "B")
            ts = []
            for _ in range(reps):
                t = time.perf_counter()
                model.decode(z, "B")
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                ts.append((time.perf_counter() - t) * 1000)
        res[name] = sorted(ts)[len(ts) // 2]
    return res


def _child(args: tuple, queue) -> None:
    try:
        queue.put(_measure(*args))
    except Exception as exc:  # report instead of hanging the parent
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def _run_isolated(*args) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(args, q))
    p.start()
    res = q.get()
    p.join()
    if "error" in res:
        raise LatentEditError(f"bench train ({args[0]}, {args[1]} px) failed: {res['error']}")
    return res


def run(args: argparse.Namespace) -> int:
    """Measure, print a table, optionally write JSON. Returns 0."""
    load_before = os.getloadavg()
    t0 = time.time()
    rows = []
    for size in args.sizes:
        base = _run_isolated("baseline", size, args.batch, args.steps, args.warmup, args.threads, args.device)
        ours = _run_isolated("ours", size, args.batch, args.steps, args.warmup, args.threads, args.device)
        ours["speedup_vs_baseline"] = ours["img_per_s"] / base["img_per_s"]
        base["speedup_vs_baseline"] = 1.0
        rows += [base, ours]
    load_after = os.getloadavg()
    print(f"bench train — batch {args.batch}/identity, {args.steps} timed steps, "
          f"loadavg {load_before[0]:.1f} → {load_after[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'size':>5} {'variant':<9} {'img/s':>7} {'× base':>7} {'peak MB':>8} {'params':>9} {'decode ms':>10}")
    for r in rows:
        dec = f"{r['decode_ms_channels_last']:.1f}" if "decode_ms_channels_last" in r else "-"
        print(f"{r['size']:>5} {r['variant']:<9} {r['img_per_s']:>7.1f} {r['speedup_vs_baseline']:>7.2f} "
              f"{r['peak_mb']:>8.0f} {r['params'] / 1e6:>8.2f}M {dec:>10}")
    result = {
        "benchmark": "train",
        "machine": {"cpu_count": os.cpu_count(), "torch": torch.__version__, "device": str(resolve_device(args.device)),
                    "threads": args.threads or os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "loadavg_before": list(load_before), "loadavg_after": list(load_after)},
        "settings": {"sizes": args.sizes, "batch_per_identity": args.batch, "steps": args.steps,
                     "warmup": args.warmup},
        "results": rows,
        "targets_img_per_s_unloaded_2_cores": TARGETS,
        "peer_reference_img_per_s_quoted_not_measured": PEER_REFERENCE,
        "notes": "img/s counts A and B images; 'ours' = the default TrainConfig step (augmentation + all "
                 "default losses + channels_last); 'baseline' = plain fp32 NCHW L1+MSE step of the same model. "
                 "Absolute numbers depend on the machine's load (loadavg); compare ratios.",
        "wall_s": time.time() - t0,
    }
    if args.json:
        atomic_write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0
