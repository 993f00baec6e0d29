"""``latentedit bench extract``: face extraction speed (faces/s, ms per frame) and face-finding rate.

Ours (what ``latentedit extract`` does per frame): :func:`latentedit.faces.detect_faces` (adaptive upscale) +
:func:`refine_landmarks` + :func:`align_face` + descriptor.
Baseline, measured in the same run on the same frames: the plain dlib recipe — HOG detector at upscale 1,
the 68-point predictor, ``dlib.get_face_chip`` for the crop and the ResNet descriptor.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ..._io import atomic_write_json, read_image
from ...errors import LatentEditError
from ...faces import align_face, compute_descriptors, detect_faces, extract, refine_landmarks
from ...faces.models import get_model

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "swap_pair"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the benchmark's options."""
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="swap_pair folder (two frame folders + videos/)")
    parser.add_argument("--frames", type=int, default=30, help="frames per identity for the speed test (default 30)")
    parser.add_argument("--size", type=int, default=256, help="aligned crop size (default 256)")
    parser.add_argument("--face-rate", action="store_true",
                        help="also run the full extraction over every frame folder and video and report the "
                             "fraction of frames with a face (slow: ~800 frames)")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON")


def _machine() -> dict:
    return {"cpu_count": os.cpu_count(), "torch": torch.__version__, "device": "cpu", "python": platform.python_version(),
            "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            # other processes share the CPU; ratios (interleaved, same frames) stay comparable, absolute times do not
            "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}


def _frames(data: Path, n: int) -> list[np.ndarray]:
    folders = sorted(p for p in data.iterdir() if p.is_dir() and p.name != "videos")
    if not folders:
        raise LatentEditError(f"{data}: expected frame folders (e.g. A_*/0001.jpg)")
    frames = []
    for f in folders:
        files = sorted(f.glob("*.jpg"))
        step = max(1, len(files) // n)
        frames += [read_image(p) for p in files[::step][:n]]
    return frames


def _ours(img: np.ndarray, size: int) -> tuple[int, dict[str, float]]:
    """What ``latentedit extract`` does per frame (largest face)."""
    t0 = time.perf_counter()
    dets = detect_faces(img)[:1]
    t1 = time.perf_counter()
    lms = [refine_landmarks(img, d.landmarks) for d in dets]
    t2 = time.perf_counter()
    for lm in lms:
        align_face(img, lm, size)
    t3 = time.perf_counter()
    compute_descriptors(img, lms)
    t4 = time.perf_counter()
    return len(dets), {"detect+landmarks": t1 - t0, "refine": t2 - t1, "align": t3 - t2, "descriptor": t4 - t3}


def _baseline(img: np.ndarray, size: int) -> tuple[int, dict[str, float]]:
    import dlib

    det, sp, net = get_model("hog"), get_model("landmarks68"), get_model("descriptor")
    t0 = time.perf_counter()
    shapes = [sp(img, r) for r in det(img, 1)][:1]
    t1 = time.perf_counter()
    for s in shapes:
        dlib.get_face_chip(img, s, size=size, padding=0.6)
    t2 = time.perf_counter()
    for s in shapes:
        net.compute_face_descriptor(img, s)
    t3 = time.perf_counter()
    return len(shapes), {"detect+landmarks": t1 - t0, "refine": 0.0, "align": t2 - t1, "descriptor": t3 - t2}


def _timed(frames: list[np.ndarray], size: int) -> dict[str, dict]:
    """Run both pipelines frame by frame, alternating which goes first, so that load from other processes
    falls on both alike; per-stage medians over frames are robust to bursts."""
    runs = {"ours": [], "baseline": []}
    faces = {"ours": 0, "baseline": 0}
    for i, img in enumerate(frames):
        order = (("ours", _ours), ("baseline", _baseline))
        for name, fn in order if i % 2 == 0 else order[::-1]:
            n, t = fn(img, size)
            faces[name] += n
            t["total"] = sum(t.values())
            runs[name].append(t)
    out = {}
    for name, rows in runs.items():
        out[name] = {"faces": faces[name],
                     "median_s": {k: float(np.median([r[k] for r in rows])) for k in rows[0]},
                     "mean_s": {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}}
    return out


def _face_rate(data: Path, size: int) -> list[dict]:
    rows = []
    inputs = sorted(p for p in data.iterdir() if p.is_dir() and p.name != "videos")
    inputs += sorted((data / "videos").glob("*.mp4")) if (data / "videos").is_dir() else []
    with tempfile.TemporaryDirectory() as tmp:
        for i, inp in enumerate(inputs):
            s = extract([inp], Path(tmp) / f"fs{i}", size=size, progress=True)
            rows.append({"input": inp.name, "frames": s.n_frames, "with_face": s.n_frames_with_face,
                         "face_rate": round(s.face_rate, 4), "seconds": s.seconds,
                         "ms_per_frame": round(1000 * s.seconds / max(1, s.n_frames), 1),
                         "skipped": s.reason_counts()})
    return rows


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print a table, optionally write JSON. Returns 0."""
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    cv2.setNumThreads(1)
    data = Path(args.data)
    if not data.is_dir():
        raise LatentEditError(f"{data}: benchmark data not found (pass --data)")
    frames = _frames(data, args.frames)

    for name in ("hog", "landmarks68", "descriptor"):  # load outside the timings
        get_model(name)
    for img in frames[:2]:  # warm-up
        _ours(img, args.size)
        _baseline(img, args.size)
    res = _timed(frames, args.size)
    med_o, med_b = res["ours"]["median_s"], res["baseline"]["median_s"]
    h, w = frames[0].shape[:2]
    rows = [{"stage": k, "ours_ms_per_frame": 1000 * med_o[k], "baseline_ms_per_frame": 1000 * med_b[k],
             "speedup": med_b[k] / med_o[k] if med_b[k] > 0 else None} for k in med_o]
    print(f"extract speed on {len(frames)} frames of {w}x{h} from {data} (crop {args.size}px, 1 face per frame; "
          f"median per frame, ours and baseline interleaved)")
    print(f"{'stage':18s} {'ours ms/frame':>14s} {'baseline ms/frame':>18s} {'speed-up':>9s}")
    for r in rows:
        ratio = f"{r['speedup']:8.2f}x" if r["speedup"] is not None else "  (ours only)"
        print(f"{r['stage']:18s} {r['ours_ms_per_frame']:14.1f} {r['baseline_ms_per_frame']:18.1f} {ratio}")
    fps_o, fps_b = 1.0 / med_o["total"], 1.0 / med_b["total"]
    print(f"faces/s (1 face per frame, from the median frame time): ours {fps_o:.1f}, baseline {fps_b:.1f}; "
          f"faces found: ours {res['ours']['faces']}/{len(frames)}, baseline {res['baseline']['faces']}/{len(frames)}")
    result = {"benchmark": "extract", "machine": _machine(),
              "settings": {"frames": len(frames), "frame_size": [w, h], "crop_size": args.size, "data": str(data),
                           "timing": "per-frame medians; ours and baseline interleaved frame by frame"},
              "baseline": "plain dlib: HOG upscale 1 + shape predictor + dlib.get_face_chip + descriptor",
              "ours": "what `latentedit extract` does: detect_faces (adaptive upscale 0 then 1) + refine_landmarks "
                      "(mirrored + 7 jittered predictor runs; the baseline has no such step) + align_face + "
                      "compute_descriptors",
              "faces_per_s": {"ours": fps_o, "baseline": fps_b, "speedup": fps_o / fps_b},
              "faces_found": {"ours": res["ours"]["faces"], "baseline": res["baseline"]["faces"]},
              "rows": rows, "mean_ms_per_frame": {k: {s_: 1000 * v for s_, v in res[k]["mean_s"].items()} for k in res}}
    if args.face_rate:
        rate_rows = _face_rate(data, args.size)
        print(f"{'input':40s} {'frames':>7s} {'with face':>10s} {'rate':>7s} {'ms/frame':>9s}")
        for r in rate_rows:
            print(f"{r['input']:40s} {r['frames']:7d} {r['with_face']:10d} {100 * r['face_rate']:6.1f}% "
                  f"{r['ms_per_frame']:9.1f}")
        result["face_rate"] = rate_rows
    result["machine"]["load_avg_1min_end"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    if args.json:
        atomic_write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0
