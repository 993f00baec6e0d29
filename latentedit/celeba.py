"""Import CelebA-style folders (images + official annotation files) as a FaceSet."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ._io import read_image
from .errors import FaceSetError, ImageReadError
from .faces.align import canonical_landmarks, similarity_transform
from .faceset import FaceRecord, FaceSet, FaceSetWriter
from .preprocess import warp


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


#: Mean positions of CelebA's five aligned landmarks (left eye, right eye, nose tip, left and right
#: mouth corner) in the 178×218 ``img_align_celeba`` framing; they scale with the image width.
CELEBA_MEAN_POINTS_178 = np.array([[69.0, 111.0], [108.0, 111.0], [88.0, 135.0], [72.0, 152.0], [105.0, 152.0]],
                                  dtype=np.float64)


def celeba_affine(height: int, width: int, size: int) -> np.ndarray:
    """Source→crop affine putting a CelebA-aligned image in latentedit's canonical framing.

    CelebA's aligned images place the eyes, nose and mouth corners at nearly fixed positions; this
    maps those mean positions onto the same points of :func:`latentedit.faces.canonical_landmarks`
    (the framing :func:`latentedit.faces.align_face` uses), so a model trained on imported CelebA
    faces sees the same framing as faces detected in photos.
    """
    canon = canonical_landmarks(size).astype(np.float64)
    dst = np.stack([canon[36:42].mean(0), canon[42:48].mean(0), canon[30], canon[48], canon[54]])
    src = CELEBA_MEAN_POINTS_178 * (width / 178.0)
    src[:, 1] += (height - 218.0 * width / 178.0) / 2  # other aspect ratios: keep the face centred
    return np.asarray(similarity_transform(src, dst), dtype=np.float32)


def import_celeba(celeba_dir: str | os.PathLike, out: str | os.PathLike, size: int = 64,
                  limit: int | None = None, progress: bool = True) -> FaceSet:
    """Build a FaceSet from a CelebA-style folder.

    The folder holds ``list_attr_celeba.txt`` and optionally ``identity_CelebA.txt``, with the
    images either beside them or in ``images/`` or ``img_align_celeba/``. Each image is warped into
    latentedit's canonical whole-face framing at ``size`` (see :func:`celeba_affine`) by the
    preprocessing contract's resampler (:func:`latentedit.preprocess.warp`, as ``extract`` and the
    Editor do); the source→crop affine is recorded. Attributes are stored as 0/1 with source
    ``celeba``. Unreadable images are skipped and reported.

    Raises:
        FaceSetError: if the annotation file is missing or malformed, or ``out`` exists.
    """
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
            affine = celeba_affine(h, wd, size)
            crop = warp(img, affine, size)
            attrs = {n: float(v) for n, v in zip(names, rows[name])}
            rec = FaceRecord(image=f"images/{Path(name).stem}.png", identity=ids.get(name, Path(name).stem),
                             size=size, source={"file": str(img_dir / name), "frame": None}, affine=affine,
                             attributes=attrs, attribute_sources={n: "celeba" for n in attrs})
            w.add(np.ascontiguousarray(crop, dtype=np.uint8), rec)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image(s): " + "; ".join(skipped[:5]))
    return FaceSet(out)
