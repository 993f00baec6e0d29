"""Import CelebA-style folders (images + official annotation files) as a FaceSet."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._io import read_image
from .errors import FaceSetError, ImageReadError
from .faceset import FaceRecord, FaceSet, FaceSetWriter


def read_attr_file(path: Path) -> tuple[list[str], dict[str, list[int]]]:
    """Parse the official ``list_attr_celeba.txt`` (count line, names line, ``file ±1 ...`` rows).

    Returns:
        (attribute names, {file name: values as 0/1}).

    Raises:
        FaceSetError: naming the file and line of a malformed row.
    """
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if len(lines) < 2:
        raise FaceSetError(f"{path}: expected a count line and an attribute-name line")
    try:
        int(lines[0].strip())
    except ValueError:
        raise FaceSetError(f"{path} line 1: expected the number of images, got {lines[0][:40]!r}") from None
    names = lines[1].split()
    rows: dict[str, list[int]] = {}
    for lineno, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(names) + 1:
            raise FaceSetError(f"{path} line {lineno}: expected {len(names)} attribute values, got {len(parts) - 1}")
        try:
            vals = [int(v) for v in parts[1:]]
        except ValueError:
            raise FaceSetError(f"{path} line {lineno}: attribute values must be -1 or 1") from None
        if any(v not in (-1, 1) for v in vals):
            raise FaceSetError(f"{path} line {lineno}: attribute values must be -1 or 1")
        rows[parts[0]] = [1 if v == 1 else 0 for v in vals]
    return names, rows


def read_identity_file(path: Path) -> dict[str, str]:
    """Parse the official ``identity_CelebA.txt`` (``file identity`` rows)."""
    ids: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise FaceSetError(f"{path} line {lineno}: expected 'file identity', got {line.strip()[:60]!r}")
            ids[parts[0]] = parts[1]
    return ids


def celeba_square_crop(h: int, w: int) -> tuple[int, int, int]:
    """The square window (x0, y0, side) used on CelebA's aligned 178×218 framing (any scale).

    The window is the full width, placed so the eyes (at ~0.46 of the height in CelebA's
    aligned images) sit at the same height as in a centred whole-face crop.
    """
    side = min(h, w)
    y0 = int(round((h - side) * 0.6))
    return (w - side) // 2, y0, side


def import_celeba(celeba_dir: str | os.PathLike, out: str | os.PathLike, size: int = 64,
                  limit: int | None = None, progress: bool = True) -> FaceSet:
    """Build a FaceSet from a CelebA-style folder.

    The folder holds ``list_attr_celeba.txt`` and optionally ``identity_CelebA.txt``, with the
    images either beside them or in ``images/`` or ``img_align_celeba/``. Each image is cropped to a
    square (see :func:`celeba_square_crop`) and resized to ``size``; the source→crop affine is
    recorded. Attributes are stored as 0/1 with source ``celeba``. Unreadable images are skipped
    and reported.

    Raises:
        FaceSetError: if the annotation file is missing or malformed, or ``out`` exists.
    """
    from PIL import Image

    src = Path(celeba_dir)
    attr_path = src / "list_attr_celeba.txt"
    if not attr_path.is_file():
        raise FaceSetError(f"{src}: no list_attr_celeba.txt (the official CelebA attribute file) found")
    names, rows = read_attr_file(attr_path)
    id_path = src / "identity_CelebA.txt"
    ids = read_identity_file(id_path) if id_path.is_file() else {}
    img_dir = next((d for d in (src / "images", src / "img_align_celeba", src) if d.is_dir()
                    and any(d.glob("*.jpg"))), None)
    if img_dir is None:
        raise FaceSetError(f"{src}: no .jpg images found (looked in images/, img_align_celeba/ and the folder)")
    files = sorted(p.name for p in img_dir.glob("*.jpg") if p.name in rows)
    if not files:
        raise FaceSetError(f"{img_dir}: none of the images are listed in {attr_path.name}")
    if limit is not None:
        files = files[:limit]
    it = files
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(files, desc="importing CelebA", unit="img")
    skipped: list[str] = []
    with FaceSetWriter(out, mode="new") as w:
        for name in it:
            try:
                img = read_image(img_dir / name)
            except ImageReadError as exc:
                skipped.append(str(exc))
                continue
            h, wd = img.shape[:2]
            x0, y0, side = celeba_square_crop(h, wd)
            crop = Image.fromarray(img[y0:y0 + side, x0:x0 + side]).resize((size, size), Image.LANCZOS)
            s = size / side
            affine = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], dtype=np.float32)
            attrs = {n: float(v) for n, v in zip(names, rows[name])}
            rec = FaceRecord(image=f"images/{Path(name).stem}.png", identity=ids.get(name, Path(name).stem),
                             size=size, source={"file": str(img_dir / name), "frame": None}, affine=affine,
                             attributes=attrs, attribute_sources={n: "celeba" for n in attrs})
            w.add(np.asarray(crop, dtype=np.uint8), rec)
    if skipped:
        import warnings
        warnings.warn(f"skipped {len(skipped)} unreadable image(s): " + "; ".join(skipped[:5]))
    return FaceSet(out)
