"""sha256 manifests for shipped model folders (``MANIFEST.sha256``, ``sha256sum`` format)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ._io import atomic_write_text
from .errors import ModelFormatError

MANIFEST_NAME = "MANIFEST.sha256"


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: str | os.PathLike) -> Path:
    """Write ``MANIFEST.sha256`` listing every file under ``folder`` (recursively, sorted).

    Returns:
        The manifest path.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_NAME
                   and not p.name.startswith("."))
    lines = [f"{file_sha256(p)}  {p.relative_to(folder).as_posix()}\n" for p in files]
    atomic_write_text(folder / MANIFEST_NAME, "".join(lines))
    return folder / MANIFEST_NAME


def verify_manifest(folder: str | os.PathLike, required: bool = False) -> bool:
    """Check every file listed in ``folder/MANIFEST.sha256`` against its hash.

    Args:
        folder: a model folder.
        required: raise if there is no manifest (otherwise return False).

    Returns:
        True if a manifest was found and every file matched, False if there is no manifest.

    Raises:
        ModelFormatError: naming the first missing or modified file.
    """
    folder = Path(folder)
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        if required:
            raise ModelFormatError(f"{folder}: no {MANIFEST_NAME}; cannot verify the model files")
        return False
    for lineno, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            digest, name = line.split(None, 1)
        except ValueError:
            raise ModelFormatError(f"{manifest} line {lineno}: expected '<sha256>  <file>'") from None
        name = name.strip().lstrip("*")
        path = folder / name
        if not path.is_file():
            raise ModelFormatError(f"{path}: listed in {MANIFEST_NAME} but missing; reinstall the model")
        if file_sha256(path) != digest:
            raise ModelFormatError(f"{path}: sha256 does not match {MANIFEST_NAME} (file modified or corrupt); "
                                   f"reinstall the model or re-run `latentedit export`/training to regenerate it")
    return True
