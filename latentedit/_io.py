"""Atomic file writes and safe image reading shared by every stage."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import ImageReadError

#: Refuse images with more pixels than this (decompression bombs).
MAX_IMAGE_PIXELS = 64_000_000


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success.

    A crash or exception leaves any existing ``path`` untouched and removes the temp file.

    Raises:
        FileExistsError: if ``overwrite`` is False and ``path`` exists.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} already exists; refusing to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600 files; give outputs the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename)."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: str | os.PathLike, text: str, overwrite: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def atomic_write_json(path: str | os.PathLike, obj: Any, overwrite: bool = True) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", overwrite=overwrite)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB uint8 ``H×W×3``.

    Handles EXIF rotation, greyscale, RGBA (composited on black), CMYK, palette and 16-bit images.

    Raises:
        ImageReadError: naming the file and the reason (missing, not an image, truncated,
            larger than :data:`MAX_IMAGE_PIXELS`).
    """
    from PIL import Image, ImageOps

    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: file not found")
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise ImageReadError(
                    f"{path}: image is {w}x{h} ({w * h / 1e6:.0f} MP), over the "
                    f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP limit (possible decompression bomb)")
            im.load()
            im = ImageOps.exif_transpose(im)
            return pil_to_rgb(im)
    except ImageReadError:
        raise
    except Exception as exc:  # PIL raises many types for bad files
        raise ImageReadError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from None


def pil_to_rgb(im) -> np.ndarray:
    """Convert any PIL image mode to RGB uint8 ``H×W×3`` (16-bit scaled down, alpha on black)."""
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        arr = np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (0, 0, 0, 255))
        im = Image.alpha_composite(bg, im)
    return np.array(im.convert("RGB"), dtype=np.uint8)


def write_image(path: str | os.PathLike, image: np.ndarray, overwrite: bool = True) -> None:
    """Write an RGB uint8 ``H×W×3`` image atomically; the format follows the suffix."""
    from PIL import Image

    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 HxWx3 RGB, got {image.dtype} {image.shape}")
    path = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")
    with atomic_path(path, overwrite=overwrite) as tmp:
        kwargs = {"quality": 95} if fmt in ("JPEG", "WEBP") else {"compress_level": 1}
        Image.fromarray(image).save(tmp, format=fmt, **kwargs)
