"""``latentedit bench merge``: paste-back speed per colour mode and blend, and seam quality.

Setup: person B's face is pasted into person A's frame. With the swap_pair frames and the dlib
models present, both faces are found with :func:`latentedit.faces.detect_faces` and aligned to
the same canonical frame (A's affine is the paste target, B's aligned crop is the "swapped" face,
the mask is the landmark face hull of both); otherwise a hand-made affine from a fixed face box
and an oval mask stand in (``alignment`` in the JSON says which). Detection is not timed.

Speed: ms per 512-px frame for :func:`~latentedit.merge.paste_back` with each colour mode
(alpha blend) and with seamless cloning, quoted as a ratio against the baseline measured in
the same run: a plain paste with a mean-colour shift (the face's mean RGB moved to the frame's
mean under the mask, then the same warp and feathered blend, no other colour matching).

Seam quality, per angular sector around the face (CIE76 ΔE, averaged over sectors and frames),
with a thin ring just inside the fully blended region and one just outside the feathered edge:
``seam ΔE`` is the colour difference inside vs outside in the output (the same figure on the
unedited frame, the natural contrast across that line, is printed for reference); ``step error``
is how much the colour step across that line differs from the unedited frame's step (0 = the
pasted face meets its surroundings exactly as the original face did); ``tone ΔE`` is the
difference between the mean colour of the whole pasted region and of the original face there
(what colour transfer aims at). Lower is better.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..._io import atomic_write_json, read_image
from ...errors import LatentEditError
from ...faces import align_face, alignment_affine, detect_faces, transform_points
from ...masks import region_mask
from ...merge import crop_mask, default_feather, paste_back, rgb_to_lab, warp_to_crop
from ...preprocess import to_unit

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "swap_pair"

#: (label, paste_back kwargs) in table order; "baseline" is handled separately.
METHODS: tuple[tuple[str, dict], ...] = (
    ("none (plain paste)", {"color": "none"}),
    ("rct", {"color": "rct"}),
    ("lct", {"color": "lct"}),
    ("mkl", {"color": "mkl"}),
    ("idt", {"color": "idt"}),
    ("sot", {"color": "sot"}),
    ("seamless + none", {"color": "none", "blend": "seamless"}),
    ("seamless + rct", {"color": "rct", "blend": "seamless"}),
)
BASELINE = "baseline: mean-colour shift"

_RING = 6  # ring width in frame pixels
_SECTORS = 36


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the benchmark's options."""
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="swap_pair folder (A_*/ and B_*/ frame folders); a synthetic pair is used "
                             "when it is absent")
    parser.add_argument("--frames", type=int, default=12, help="frame pairs to paste (default 12)")
    parser.add_argument("--size", type=int, default=256, help="aligned crop size (default 256)")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per frame and method (default 3)")
    parser.add_argument("--synthetic", action="store_true", help="use the synthetic pair even if --data exists")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON")


def _machine() -> dict:
    return {"cpu_count": os.cpu_count(), "torch": torch.__version__, "device": "cpu",
            "opencv": cv2.__version__, "cv2_threads": cv2.getNumThreads(), "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            # The CPU is shared: absolute times move with the load, the interleaved ratios much less.
            "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}


# ----------------------------------------------------------------------------- data

def _affine(cx: float, cy: float, box: float, size: int) -> np.ndarray:
    """Source→crop similarity: a ``box``-px square centred on (cx, cy) onto a ``size``-px crop."""
    s = size / box
    c = (size - 1) / 2
    return np.array([[s, 0, c - s * cx], [0, s, c - s * cy]], np.float32)


def _oval_mask(size: int) -> np.ndarray:
    """A face-shaped oval in crop coordinates (hand-made: landmark masks are another module's)."""
    m = np.zeros((size, size), np.float32)
    centre = (int(round(size * 0.5)), int(round(size * 0.52)))
    axes = (int(round(size * 0.25)), int(round(size * 0.35)))
    cv2.ellipse(m, centre, axes, 0, 0, 360, 1.0, -1)
    return m


def _real_pairs(data: Path, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    a_dirs = sorted(data.glob("A_*"))
    b_dirs = sorted(data.glob("B_*"))
    if not a_dirs or not b_dirs:
        raise LatentEditError(f"{data}: expected frame folders A_*/ and B_*/ (swap_pair layout)")
    a_files = sorted(a_dirs[0].glob("*.jpg"))
    b_files = sorted(b_dirs[0].glob("*.jpg"))
    if not a_files or not b_files:
        raise LatentEditError(f"{data}: no .jpg frames in {a_dirs[0].name}/ or {b_dirs[0].name}/")
    step_a = max(1, len(a_files) // n)
    step_b = max(1, len(b_files) // n)
    return [(read_image(fa), read_image(fb)) for fa, fb in zip(a_files[::step_a][:n], b_files[::step_b][:n])]


def _detected_setups(pairs, size: int):
    """Per pair: (A frame, B's aligned crop, A's affine, mask) from detected landmarks, or None
    when the face pipeline (dlib models) is unavailable or a face is missed."""
    setups = []
    try:
        for frame_a, frame_b in pairs:
            det_a, det_b = detect_faces(frame_a)[:1], detect_faces(frame_b)[:1]
            if not det_a or not det_b:
                return None
            affine_a = alignment_affine(det_a[0].landmarks, size).astype(np.float32)
            face_b = align_face(frame_b, det_b[0].landmarks, size)
            lm_a = transform_points(det_a[0].landmarks, affine_a)
            mask = np.minimum(region_mask(lm_a, size, "face", feather=0),
                              region_mask(face_b.landmarks, size, "face", feather=0))
            setups.append((frame_a, face_b.crop, affine_a, mask))
    except LatentEditError:  # dlib model files missing
        return None
    return setups


def _box_setups(pairs, size: int):
    """Fallback: a fixed face box (the clips are face-centred talking heads) and an oval mask."""
    h, w = pairs[0][0].shape[:2]
    affine = _affine(w / 2, h * 0.585, 0.66 * min(h, w), size)
    mask = _oval_mask(size)
    return [(fa, warp_to_crop(fb, affine, size), affine, mask) for fa, fb in pairs]


def _synthetic_pairs(n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two 512-px "people": textured background + oval face of a different skin tone each."""
    yy, xx = np.mgrid[0:512, 0:512].astype(np.float32)
    pairs = []
    for i in range(n):
        out = []
        for skin, bg in (((200, 150, 120), (60, 80, 110)), ((140, 95, 70), (150, 140, 120))):
            img = np.empty((512, 512, 3), np.float32)
            img[:] = bg
            img += (20 * np.sin(xx / 23.0 + i) * np.cos(yy / 31.0))[..., None]
            face = np.zeros((512, 512), np.float32)
            cv2.ellipse(face, (256, 300), (110, 150), 0, 0, 360, 1.0, -1)  # where _box_setups looks
            face = cv2.GaussianBlur(face, (0, 0), 4)[..., None]
            shade = (1 - 0.25 * ((xx - 256) / 120) ** 2)[..., None]
            img = img * (1 - face) + np.array(skin, np.float32) * shade * face
            img += rng.normal(0, 4, img.shape)
            out.append(np.clip(img, 0, 255).astype(np.uint8))
        pairs.append((out[0], out[1]))
    return pairs


# ----------------------------------------------------------------------------- methods

def _baseline_paste(frame, face, affine, mask, feather):
    """Plain paste with a mean-colour shift under the mask (RGB), then the same warp + blend."""
    size = face.shape[0]
    original = to_unit(warp_to_crop(frame, affine, size))
    f = to_unit(face)
    inside = mask > 0.5
    shifted = np.clip(f + (original[inside].mean(0) - f[inside].mean(0)), 0, 1)
    return paste_back(frame, shifted, affine, mask, color="none", feather=feather)


def _seam_rings(soft_frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inner ring (mask ≥ 0.99, within _RING px of its edge), outer ring (mask == 0, within _RING px
    of the blended region) and each pixel's angular sector around the region's centroid."""
    core = (soft_frame >= 0.99).astype(np.uint8)
    touched = (soft_frame > 0).astype(np.uint8)
    d_in = cv2.distanceTransform(core, cv2.DIST_L2, 3)
    d_out = cv2.distanceTransform(1 - touched, cv2.DIST_L2, 3)
    inner = (core > 0) & (d_in <= _RING)
    outer = (touched == 0) & (d_out <= _RING)
    ys, xs = np.nonzero(core)
    cy, cx = ys.mean(), xs.mean()
    yy, xx = np.mgrid[0:soft_frame.shape[0], 0:soft_frame.shape[1]]
    sector = ((np.arctan2(yy - cy, xx - cx) + np.pi) / (2 * np.pi) * _SECTORS).astype(int) % _SECTORS
    return inner, outer, sector


def _sector_steps(image: np.ndarray, rings) -> np.ndarray:
    """Per sector: mean L*a*b* inside minus mean outside (NaN where a ring part is too small)."""
    inner, outer, sector = rings
    lab = rgb_to_lab(to_unit(image))
    steps = np.full((_SECTORS, 3), np.nan)
    for s in range(_SECTORS):
        a = inner & (sector == s)
        b = outer & (sector == s)
        if a.sum() >= 5 and b.sum() >= 5:
            steps[s] = lab[a].mean(0) - lab[b].mean(0)
    return steps


def _tone_delta_e(out: np.ndarray, original: np.ndarray, core: np.ndarray) -> float:
    """CIE76 ΔE between the mean L*a*b* of ``out`` and ``original`` over ``core``."""
    a = rgb_to_lab(to_unit(out[core])).mean(0)
    b = rgb_to_lab(to_unit(original[core])).mean(0)
    return float(np.linalg.norm(a - b))


def _seam_scores(out: np.ndarray, original_steps: np.ndarray, rings) -> tuple[float, float]:
    """(seam ΔE inside vs outside, step error vs the unedited frame), averaged over sectors."""
    steps = _sector_steps(out, rings)
    return (float(np.nanmean(np.linalg.norm(steps, axis=1))),
            float(np.nanmean(np.linalg.norm(steps - original_steps, axis=1))))


# ----------------------------------------------------------------------------- run

def run(args) -> int:
    """Run the benchmark, print the table, optionally write JSON. Returns 0."""
    if args.frames < 1 or args.repeat < 1 or args.size < 16:
        raise LatentEditError("--frames and --repeat must be ≥ 1 and --size ≥ 16")
    rng = np.random.default_rng(0)
    data = Path(args.data)
    synthetic = args.synthetic or not data.is_dir()
    pairs = _synthetic_pairs(args.frames, rng) if synthetic else _real_pairs(data, args.frames)
    size = args.size
    h, w = pairs[0][0].shape[:2]
    setups = None if synthetic else _detected_setups(pairs, size)
    alignment = "detected (dlib landmarks → canonical alignment)" if setups else "fixed box"
    if setups is None:
        setups = _box_setups(pairs, size)
    feather = default_feather(size)

    def baseline(frame, face, affine, mask):
        return _baseline_paste(frame, face, affine, mask, feather)

    calls = {BASELINE: baseline}
    for label, kw in METHODS:
        calls[label] = (lambda kw: lambda fr, fc, af, m: paste_back(fr, fc, af, m, feather=feather, **kw))(kw)
    labels = list(calls)
    times: dict[str, list[float]] = {k: [] for k in labels}
    seams: dict[str, list[float]] = {k: [] for k in labels}
    step_errors: dict[str, list[float]] = {k: [] for k in labels}
    tones: dict[str, list[float]] = {k: [] for k in labels}
    natural = []
    for label in labels:  # warm-up (imports, cv2 first-call costs) outside the timings
        calls[label](*setups[0])
    for frame_a, face_b, affine, mask in tqdm(setups, desc="bench merge", unit="pair"):
        soft_frame = cv2.warpAffine(crop_mask(size, mask, 0, feather), affine, (w, h),
                                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        rings = _seam_rings(soft_frame)
        core = soft_frame >= 0.99
        original_steps = _sector_steps(frame_a, rings)
        natural.append(float(np.nanmean(np.linalg.norm(original_steps, axis=1))))
        for label in labels:  # interleaved so machine-load drift hits every method alike
            best = None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                out = calls[label](frame_a, face_b, affine, mask)
                dt = time.perf_counter() - t0
                best = dt if best is None else min(best, dt)
            times[label].append(best * 1e3)
            seam, step_err = _seam_scores(out, original_steps, rings)
            seams[label].append(seam)
            step_errors[label].append(step_err)
            tones[label].append(_tone_delta_e(out, frame_a, core))

    base_ms = float(np.median(times[BASELINE]))
    nat = float(np.nanmean(natural))
    rows = []
    for label in labels:
        ms = float(np.median(times[label]))
        kw = dict(METHODS)[label] if label != BASELINE else {"color": "mean-shift", "blend": "alpha"}
        rows.append({"method": label, "color": kw.get("color"), "blend": kw.get("blend", "alpha"),
                     "ms_per_frame_median": round(ms, 2),
                     "ms_per_frame_p90": round(float(np.percentile(times[label], 90)), 2),
                     "time_vs_baseline": round(ms / base_ms, 2),
                     "seam_delta_e": round(float(np.nanmean(seams[label])), 2),
                     "seam_step_error": round(float(np.nanmean(step_errors[label])), 2),
                     "tone_delta_e": round(float(np.mean(tones[label])), 2)})

    src = "synthetic pair (swap_pair not found)" if synthetic else f"{data} (A_* frames, B_* faces)"
    print(f"merge benchmark: {len(pairs)} frame pairs, {w}x{h} frames, {size}-px crop, feather {feather} px, "
          f"best of {args.repeat} calls per frame, median over frames\ndata: {src}; alignment: {alignment}")
    print(f"seam ΔE of the unedited frames across the same line (natural contrast): {nat:.2f}\n")
    header = (f"{'method':<28} {'ms/frame':>9} {'p90':>7} {'× baseline':>11} {'seam ΔE':>8} {'step err':>9} "
              f"{'tone ΔE':>8}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['method']:<28} {r['ms_per_frame_median']:>9.1f} {r['ms_per_frame_p90']:>7.1f} "
              f"{r['time_vs_baseline']:>11.2f} {r['seam_delta_e']:>8.2f} {r['seam_step_error']:>9.2f} "
              f"{r['tone_delta_e']:>8.2f}")
    if args.json:
        atomic_write_json(args.json, {
            "benchmark": "merge",
            "description": "paste_back ms per frame by colour mode/blend vs a mean-colour-shift paste "
                           "(same run); seam ΔE (CIE76, inner vs outer ring, per sector), seam step error "
                           "(vs the unedited frame's step) and tone ΔE (mean colour of the pasted region vs "
                           "the original face), lower is better",
            "machine": _machine(),
            "settings": {"frames": len(pairs), "frame_size": [w, h], "crop_size": size, "feather": feather,
                         "repeat": args.repeat, "ring_px": _RING, "sectors": _SECTORS,
                         "data": "synthetic" if synthetic else "swap_pair", "alignment": alignment},
            "baseline": BASELINE,
            "natural_seam_delta_e": round(nat, 2),
            "results": rows,
        })
        print(f"\nwrote {args.json}")
    return 0
