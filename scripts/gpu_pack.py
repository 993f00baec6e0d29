#!/usr/bin/env python3
"""Pack the training data a GPU session needs into one small file (runs here, on CPU, with dlib).

    python scripts/gpu_pack.py                       # CelebA 10k at 64 px -> gpu_carry/celeba64.pack
    python scripts/gpu_pack.py --faceset DIR --no-photo --out PACK   # an existing FaceSet instead

The CelebA folder is imported exactly as the CPU CelebA experiments did
(``prepare_celeba`` of latentedit's ``celeba_boundaries`` benchmark: the import affine, 68 dlib landmarks
fitted in the aligned box, the measured ``*_score`` attributes) into a temporary FaceSet. The pack
then holds that FaceSet's ``faces.jsonl`` byte for byte (xz), every crop encoded once (WebP by
default: about 40 % smaller than JPEG at the same PSNR, which matters because everything that
travels shares 64 MiB with a ~36 MiB tree), an identity-disjoint train/held-out split, and one
benchmark photo with its landmarks detected here, so the GPU side needs only Pillow (or OpenCV)
and numpy to rebuild an identical FaceSet folder (``gpu_common.rebuild_facesets``).
"""
from __future__ import annotations

import argparse
import io
import json
import lzma
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gpu_common as gc  # noqa: E402

DEFAULT_CELEBA = gc.REPO.parent / "shared" / "data" / "celeba10k"
DEFAULT_PHOTO = gc.REPO.parent / "shared" / "data" / "london_dev" / "neutral" / "001.jpg"
DEFAULT_OUT = gc.REPO / "gpu_carry" / "celeba64.pack"


def encode(img: np.ndarray, fmt: str, quality: int) -> bytes:
    """Encode one uint8 RGB crop."""
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(img)
    if fmt == "webp":
        im.save(buf, "WEBP", quality=quality, method=6)
    elif fmt == "jpeg":
        im.save(buf, "JPEG", quality=quality, subsampling=2)
    else:
        im.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def identity_split(identities: list[str], fraction: float, seed: int) -> list[int]:
    """Indices of the held-out faces: whole identities, drawn in a seeded order until at least
    ``fraction`` of the faces are held out (no identity is in both parts)."""
    if fraction <= 0:
        return []
    names = sorted(set(identities))
    order = np.random.default_rng(seed).permutation(len(names))
    count: dict[str, int] = {}
    for name in identities:
        count[name] = count.get(name, 0) + 1
    held, n = set(), 0
    for j in order:
        if n >= fraction * len(identities):
            break
        held.add(names[j])
        n += count[names[j]]
    if len(held) == len(names):
        raise gc.GpuScriptError(f"--heldout {fraction} leaves no training identity")
    return [i for i, name in enumerate(identities) if name in held]


def detect_photo(path: Path, landmarks_json: Path | None) -> dict:
    """The photo's largest face: 68 landmarks and box (dlib here, or given in a JSON file)."""
    from latentedit._io import read_image

    img = read_image(path)
    if landmarks_json is not None:
        obj = json.loads(landmarks_json.read_text(encoding="utf-8"))
        lm = np.asarray(obj["landmarks"] if isinstance(obj, dict) else obj, np.float64)
        box = [float(lm[:, 0].min()), float(lm[:, 1].min()), float(lm[:, 0].max()), float(lm[:, 1].max())]
        how = f"given ({landmarks_json.name})"
    else:
        from latentedit.faces import detect_faces

        dets = detect_faces(img)
        if not dets:
            raise gc.GpuScriptError(f"{path}: no face found in the benchmark photo")
        lm, box, how = np.asarray(dets[0].landmarks, np.float64), [float(v) for v in dets[0].box], "dlib (hog)"
    if lm.shape != (68, 2):
        raise gc.GpuScriptError(f"{path}: expected 68 landmarks, got shape {lm.shape}")
    return {"source": path.name, "width": int(img.shape[1]), "height": int(img.shape[0]),
            "landmarks": np.round(lm, 3).tolist(), "box": box, "detector": how}


def build_pack(faceset_dir: Path, out: Path, fmt: str = "webp", quality: int = 90, heldout: float = 0.2,
               seed: int = 0, heldout_in_pack: int | None = 256, photo: Path | None = None,
               photo_landmarks: Path | None = None, source: dict | None = None, progress: bool = True) -> dict:
    """Write the pack of FaceSet ``faceset_dir`` to ``out``; returns its manifest.

    Args:
        heldout: fraction of the faces held out, as whole identities (seeded by ``seed``).
        heldout_in_pack: how many of the held-out faces go into the pack (a seeded sample; the GPU
            side only tracks reconstruction on them, the full held-out evaluation runs here); None = all.
    """
    import hashlib

    from latentedit.faceset import FaceSet

    t0 = time.perf_counter()
    fs = FaceSet(faceset_dir)
    lines = (faceset_dir / "faces.jsonl").read_text(encoding="utf-8").splitlines()
    if len(lines) != len(fs):
        raise gc.GpuScriptError(f"{faceset_dir}: faces.jsonl has {len(lines)} lines but {len(fs)} valid records")
    sizes = {r.size for r in fs.records}
    if len(sizes) != 1:
        raise gc.GpuScriptError(f"{faceset_dir}: crops of several sizes {sorted(sizes)}; pack one size")
    held_all = identity_split([r.identity for r in fs.records], heldout, seed)
    held_kept = held_all
    if heldout_in_pack is not None and heldout_in_pack < len(held_all):
        pick = np.random.default_rng([seed, 1]).permutation(len(held_all))[:heldout_in_pack]
        held_kept = sorted(held_all[j] for j in pick)
    held_set, kept_held = set(held_all), set(held_kept)
    keep = [i for i in range(len(fs)) if i not in held_set or i in kept_held]
    blobs, digests, mse = [], [], []
    it = keep
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(keep, desc=f"encoding ({fmt} q{quality})", unit="img")
    for i in it:
        img = fs.read_image(i)
        data = encode(img, fmt, quality)
        back = gc.decode_image(data)
        blobs.append(data)
        digests.append(gc.image_digest(back))
        mse.append(float(((back.astype(np.float64) - img) ** 2).mean()))
    offsets = np.zeros(len(blobs) + 1, "<i8")
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    mse_arr = np.maximum(np.asarray(mse), 1e-10)
    pos = {i: k for k, i in enumerate(keep)}
    manifest = {
        "format": gc.PACK_FORMAT, "format_version": gc.FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "source": source or {"faceset": str(faceset_dir)},
        "source_faces": len(fs), "faces": len(keep), "size": sizes.pop(),
        "identities": len({fs.records[i].identity for i in keep}),
        "image_format": fmt, "quality": quality,
        "psnr_db_vs_source": {"mean_per_image": float(np.mean(10 * np.log10(255 ** 2 / mse_arr))),
                              "aggregate": float(10 * np.log10(255 ** 2 / mse_arr.mean()))},
        "image_bytes": int(offsets[-1]), "bytes_per_face": float(offsets[-1] / max(1, len(keep))),
        "decoded_sha256": hashlib.sha256(b"".join(digests)).hexdigest(),
        "split": {"kind": "identity-disjoint", "heldout_fraction": heldout, "seed": seed,
                  "train_faces": len(fs) - len(held_all), "heldout_faces": len(held_all),
                  "heldout_faces_in_pack": len(held_kept),
                  "heldout_identity_names": sorted({fs.records[i].identity for i in held_all}),
                  "heldout_indices": [pos[i] for i in held_kept]},
        "source_indices": keep,
        "photo": None,
    }
    if photo is not None:
        manifest["photo"] = dict(detect_photo(photo, photo_landmarks), member="photo" + photo.suffix.lower())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        z.writestr("pack.json", json.dumps(manifest), compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("faces.jsonl.xz", lzma.compress("".join(lines[i] + "\n" for i in keep).encode("utf-8"),
                                                   preset=9 | lzma.PRESET_EXTREME))
        z.writestr("images.idx", offsets.tobytes())
        z.writestr("images.bin", b"".join(blobs))
        if photo is not None:
            z.write(photo, manifest["photo"]["member"])
    tmp.replace(out)
    manifest["pack_bytes"] = out.stat().st_size
    manifest["seconds"] = time.perf_counter() - t0
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--celeba", type=Path, default=DEFAULT_CELEBA, help=f"CelebA-style folder (default {DEFAULT_CELEBA})")
    src.add_argument("--faceset", type=Path, help="pack this FaceSet (with landmarks) instead of importing CelebA")
    p.add_argument("--size", type=int, default=64, help="crop size of the CelebA import (default 64)")
    p.add_argument("--limit", type=int, default=None, help="import only the first N CelebA images")
    p.add_argument("--keep-faceset", type=Path, default=None, help="import CelebA here (kept; reused if it already holds the import) instead of a temp folder")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"pack file (default {DEFAULT_OUT.relative_to(gc.REPO)})")
    p.add_argument("--format", choices=("webp", "jpeg", "png"), default="webp", help="crop encoding (default webp)")
    p.add_argument("--quality", type=int, default=90, help="WebP/JPEG quality (default 90)")
    p.add_argument("--heldout", type=float, default=0.2, help="held-out fraction, whole identities (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the identity split (default 0)")
    p.add_argument("--heldout-in-pack", default="256",
                   help="held-out faces to include (a seeded sample, for the GPU side's reconstruction check; "
                        "'all' = every face; default 256: the full held-out evaluation runs here)")
    p.add_argument("--photo", type=Path, default=DEFAULT_PHOTO, help="benchmark photo (default london_dev 001.jpg)")
    p.add_argument("--photo-landmarks", type=Path, default=None,
                   help="JSON with the photo's 68 landmarks (skips dlib detection)")
    p.add_argument("--no-photo", action="store_true", help="pack no benchmark photo")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    try:
        if args.out.exists():
            raise gc.GpuScriptError(f"{args.out} exists; remove it first (packs are not overwritten)")
        photo = None if args.no_photo else args.photo
        if photo is not None and not photo.is_file():
            raise gc.GpuScriptError(f"{photo}: benchmark photo not found (give --photo or --no-photo)")
        with tempfile.TemporaryDirectory(prefix="gpu_pack_") as tmp:
            if args.faceset is not None:
                faceset, source = args.faceset, {"faceset": str(args.faceset)}
            else:
                from latentedit.celeba import import_celeba

                cb = gc.bench_module("celeba_boundaries")

                faceset = args.keep_faceset or Path(tmp) / f"celeba{args.size}"
                t = time.perf_counter()
                if (faceset / "faces.jsonl").is_file():  # --keep-faceset from an earlier run: reuse it
                    print(f"reusing the CelebA import in {faceset}")
                elif args.limit:
                    import_celeba(args.celeba, faceset, size=args.size, limit=args.limit, progress=not args.quiet)
                    cb.add_celeba_landmarks(faceset, progress=not args.quiet)
                else:
                    cb.prepare_celeba(args.celeba, faceset, size=args.size, progress=not args.quiet)
                source = {"celeba": str(args.celeba), "size": args.size, "limit": args.limit,
                          "import": f"{cb.__name__}.prepare_celeba (import affine, dlib "
                                    "landmarks in the aligned box, measured scores)",
                          "import_seconds": round(time.perf_counter() - t, 1),
                          "licence": "CelebA: non-commercial research use only"}
            hip = None if args.heldout_in_pack == "all" else int(args.heldout_in_pack)
            m = build_pack(faceset, args.out, args.format, args.quality, args.heldout, args.seed, hip, photo,
                           args.photo_landmarks, source, progress=not args.quiet)
    except gc.GpuScriptError as exc:
        print(f"gpu_pack: error: {exc}", file=sys.stderr)
        return 2
    if args.out.resolve().is_relative_to(gc.REPO / "gpu_carry"):
        if gc.ensure_excluded("/gpu_carry/"):
            print("added /gpu_carry/ to .git/info/exclude")
    print(f"wrote {args.out}: {m['faces']} of {m['source_faces']} faces at {m['size']} px ({m['identities']} identities), "
          f"{m['pack_bytes'] / gc.MiB:.2f} MiB ({m['bytes_per_face']:.0f} B/face, {m['image_format']} q{m['quality']}, "
          f"PSNR vs source {m['psnr_db_vs_source']['mean_per_image']:.1f} dB); split {m['split']['train_faces']} train / "
          f"{m['split']['heldout_faces']} held out ({len(m['split']['heldout_identity_names'])} identities; "
          f"{m['split']['heldout_faces_in_pack']} of them packed); "
          f"photo: {m['photo']['source'] + ' ' + m['photo']['detector'] if m['photo'] else 'none'}; {m['seconds']:.0f} s")
    if args.out.resolve().is_relative_to(gc.REPO):
        try:
            t = gc.travel_bytes(gc.REPO, ["gpu_carry"])
            print(f"travel now: tree {(t['tracked'] + t['untracked']) / gc.MiB:.1f} MiB + gpu_carry "
                  f"{t['carry'] / gc.MiB:.1f} MiB = {t['total'] / gc.MiB:.1f} of {gc.TRAVEL_LIMIT / gc.MiB:.0f} MiB")
        except Exception as exc:  # noqa: BLE001 - informational only
            print(f"(travel size not measured: {exc})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
