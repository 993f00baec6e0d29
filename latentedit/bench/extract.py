"""``latentedit bench extract``: face extraction speed (faces/s, ms per frame) and face-finding rate.

Ours: :func:`latentedit.faces.detect_faces` (adaptive upscale) + :func:`align_face` + descriptor.
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

import numpy as np

from ..errors import LatentEditError

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
    import torch

    return {"cpu_count": os.cpu_count(), "torch": torch.__version__, "device": "cpu", "python": platform.python_version(),
            "platform": platform.platform(), "processor": platform.processor() or platform.machine()}


def _frames(data: Path, n: int) -> list[np.ndarray]:
    from .._io import read_image

    folders = sorted(p for p in data.iterdir() if p.is_dir() and p.name != "videos")
    if not folders:
        raise LatentEditError(f"{data}: expected frame folders (e.g. A_*/0001.jpg)")
    frames = []
    for f in folders:
        files = sorted(f.glob("*.jpg"))
        step = max(1, len(files) // n)
        frames += [read_image(p) for p in files[::step][:n]]
    return frames


def _ours(frames: list[np.ndarray], size: int) -> tuple[float, dict]:
    from ..faces import align_face, compute_descriptors, detect_faces

    t = {"detect+landmarks": 0.0, "align": 0.0, "descriptor": 0.0}
    faces = 0
    for img in frames:
        t0 = time.perf_counter()
        dets = detect_faces(img)[:1]
        t1 = time.perf_counter()
        for d in dets:
            align_face(img, d.landmarks, size)
        t2 = time.perf_counter()
        compute_descriptors(img, [d.landmarks for d in dets])
        t3 = time.perf_counter()
        t["detect+landmarks"] += t1 - t0
        t["align"] += t2 - t1
        t["descriptor"] += t3 - t2
        faces += len(dets)
    return faces, t


def _baseline(frames: list[np.ndarray], size: int) -> tuple[float, dict]:
    import dlib

    from ..faces.models import get_model

    det, sp, net = get_model("hog"), get_model("landmarks68"), get_model("descriptor")
    t = {"detect+landmarks": 0.0, "align": 0.0, "descriptor": 0.0}
    faces = 0
    for img in frames:
        t0 = time.perf_counter()
        rects = det(img, 1)
        shapes = [sp(img, r) for r in rects][:1]
        t1 = time.perf_counter()
        for s in shapes:
            dlib.get_face_chip(img, s, size=size, padding=0.6)
        t2 = time.perf_counter()
        for s in shapes:
            net.compute_face_descriptor(img, s)
        t3 = time.perf_counter()
        t["detect+landmarks"] += t1 - t0
        t["align"] += t2 - t1
        t["descriptor"] += t3 - t2
        faces += len(shapes)
    return faces, t


def _face_rate(data: Path, size: int) -> list[dict]:
    from ..faces import extract

    rows = []
    inputs = sorted(p for p in data.iterdir() if p.is_dir() and p.name != "videos")
    inputs += sorted((data / "videos").glob("*.mp4")) if (data / "videos").is_dir() else []
    with tempfile.TemporaryDirectory() as tmp:
        for i, inp in enumerate(inputs):
            s = extract([inp], Path(tmp) / f"fs{i}", size=size, progress=True, descriptor=False)
            rows.append({"input": inp.name, "frames": s.n_frames, "with_face": s.n_frames_with_face,
                         "face_rate": round(s.face_rate, 4), "seconds": s.seconds,
                         "ms_per_frame": round(1000 * s.seconds / max(1, s.n_frames), 1),
                         "skipped": s.reason_counts()})
    return rows


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print a table, optionally write JSON. Returns 0."""
    import cv2
    import torch

    from .._io import atomic_write_json

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    cv2.setNumThreads(1)
    data = Path(args.data)
    if not data.is_dir():
        raise LatentEditError(f"{data}: benchmark data not found (pass --data)")
    frames = _frames(data, args.frames)
    from ..faces.models import get_model

    for name in ("hog", "landmarks68", "descriptor"):  # load outside the timings
        get_model(name)
    _ours(frames[:2], args.size)
    _baseline(frames[:2], args.size)
    n_ours, t_ours = _ours(frames, args.size)
    n_base, t_base = _baseline(frames, args.size)
    total_ours, total_base = sum(t_ours.values()), sum(t_base.values())
    h, w = frames[0].shape[:2]
    rows = []
    for stage in t_ours:
        rows.append({"stage": stage, "ours_ms_per_frame": 1000 * t_ours[stage] / len(frames),
                     "baseline_ms_per_frame": 1000 * t_base[stage] / len(frames),
                     "speedup": t_base[stage] / max(t_ours[stage], 1e-9)})
    rows.append({"stage": "total", "ours_ms_per_frame": 1000 * total_ours / len(frames),
                 "baseline_ms_per_frame": 1000 * total_base / len(frames), "speedup": total_base / total_ours})
    print(f"extract speed on {len(frames)} frames of {w}x{h} from {data} (crop {args.size}px, 1 face per frame)")
    print(f"{'stage':18s} {'ours ms/frame':>14s} {'baseline ms/frame':>18s} {'speed-up':>9s}")
    for r in rows:
        print(f"{r['stage']:18s} {r['ours_ms_per_frame']:14.1f} {r['baseline_ms_per_frame']:18.1f} {r['speedup']:8.2f}x")
    print(f"faces/s: ours {n_ours / total_ours:.1f} ({n_ours} faces), baseline {n_base / total_base:.1f} ({n_base} faces)")
    result = {"benchmark": "extract", "machine": _machine(),
              "settings": {"frames": len(frames), "frame_size": [w, h], "crop_size": args.size, "data": str(data)},
              "baseline": "plain dlib: HOG upscale 1 + shape predictor + dlib.get_face_chip + descriptor",
              "ours": "detect_faces (adaptive upscale 0 then 1) + align_face + compute_descriptors",
              "faces_per_s": {"ours": n_ours / total_ours, "baseline": n_base / total_base},
              "faces_found": {"ours": n_ours, "baseline": n_base},
              "rows": rows}
    if args.face_rate:
        rate_rows = _face_rate(data, args.size)
        print(f"{'input':40s} {'frames':>7s} {'with face':>10s} {'rate':>7s} {'ms/frame':>9s}")
        for r in rate_rows:
            print(f"{r['input']:40s} {r['frames']:7d} {r['with_face']:10d} {100 * r['face_rate']:6.1f}% "
                  f"{r['ms_per_frame']:9.1f}")
        result["face_rate"] = rate_rows
    if args.json:
        atomic_write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0
