"""Atomic file writes and safe image reading shared by every stage."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image, ImageOps

from .errors import ImageReadError

#: Refuse images with more pixels than this (decompression bombs).
MAX_IMAGE_PIXELS = 64_000_000


#: ``atomic_path`` temp files: ``.NAME.PID-XXXXXXXX.tmp.SUFFIX`` (``PID-`` absent in files from
#: latentedit ≤ 0.1, ``.SUFFIX`` absent when NAME has none); XXXXXXXX is :func:`tempfile.mkstemp`'s.
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?:(?P<pid>\d+)-)?[a-z0-9_]{8}\.tmp(?P<suffix>\.[^.]*)?$")
#: ``atomic_dir`` siblings: ``.NAME.PID-XXXXXXXX.tmpdir`` (being built) / ``.olddir`` (being replaced).
_DIR_RE = re.compile(r"^\.(?P<name>.+)\.(?P<token>(?P<pid>\d+)-[a-z0-9_]{8})\.(?P<kind>tmpdir|olddir)$")
#: Where a process cannot be probed (Windows), a temp file this old (seconds) counts as stale.
_STALE_AGE_S = 600.0


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` may still be writing (errs on the side of "alive")."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success.

    The temp file is ``.NAME.PID-XXXXXXXX.tmp.SUFFIX`` in the same folder. An exception removes it
    and leaves any existing ``path`` untouched; after a hard kill (``kill -9``, power loss) it is
    left behind, and :func:`remove_stale_temps` (called when a run, extraction or FaceSet writer
    starts again) removes it. The file gets the permissions a plain ``open()`` would give
    (``0o666 & ~umask``), also when the writer recreated it (safetensors' ``save_file`` does).

    Raises:
        FileExistsError: if ``overwrite`` is False and ``path`` exists.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} already exists; refusing to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp" + path.suffix,
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600 files; give outputs the permissions a plain open() would.
    mode = 0o666 & ~_umask()
    os.chmod(tmp_path, mode)
    try:
        yield tmp_path
        os.chmod(tmp_path, mode)  # again: a writer may have replaced the file (with mode 0600)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def is_stale_temp(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a temp file :func:`atomic_path` left behind (its writer is gone).

    Only exact matches of the temp-name pattern count (``.NAME.PID-XXXXXXXX.tmp.SUFFIX`` where
    SUFFIX is NAME's own suffix), and only when process PID no longer runs.
    """
    path = Path(path)
    m = _TEMP_RE.match(path.name)
    if m is None or Path(m["name"]).suffix != (m["suffix"] or ""):
        return False
    if not path.is_file() or path.is_symlink():
        return False
    if m["pid"] is not None and _pid_alive(int(m["pid"])):
        if os.name != "nt":
            return False
        try:
            return time.time() - path.stat().st_mtime > _STALE_AGE_S
        except OSError:
            return False
    return True


def remove_stale_temps(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Delete the temp files :func:`atomic_path` left in ``folder`` after a hard kill.

    Nothing else is touched: a file is removed only if :func:`is_stale_temp` says so. Call it when
    a job that writes into ``folder`` starts again (training ``--resume``, ``extract`` into the
    same ``--out``, a FaceSet writer opening its folder).

    Args:
        folder: the folder to clean; a missing folder is fine.
        recursive: also clean its sub-folders (symlinked folders are not followed).

    Returns:
        The removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed: list[Path] = []
    walk = os.walk(folder) if recursive else [(str(folder), [], os.listdir(folder))]
    for dirpath, _, files in walk:
        for name in files:
            p = Path(dirpath) / name
            if is_stale_temp(p):
                try:
                    p.unlink()
                except FileNotFoundError:  # another process cleaned it first
                    continue
                removed.append(p)
    return removed


def fsync_dir(path: str | os.PathLike) -> None:
    """Best-effort fsync of a directory (makes renames inside it durable)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _link_entries(src: Path, dst: Path, top_level_filter=None) -> None:
    """Hard-link (copy where links are impossible) every entry of ``src`` missing in ``dst``."""
    for entry in os.scandir(src):
        if top_level_filter is not None and not top_level_filter(entry.name):
            continue
        if is_stale_temp(entry.path):  # a killed writer's leftover is not worth keeping
            continue
        target = dst / entry.name
        if os.path.lexists(target):
            if entry.is_dir(follow_symlinks=False) and target.is_dir() and not target.is_symlink():
                _link_entries(Path(entry.path), target)
            continue
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif entry.is_dir():
            target.mkdir()
            shutil.copystat(entry.path, target)
            _link_entries(Path(entry.path), target)
        else:
            try:
                os.link(entry.path, target)
            except OSError:  # no hard links here (FAT, some network filesystems)
                shutil.copy2(entry.path, target)


def _move_missing(src: Path, dst: Path, top_level_filter=None) -> None:
    """Move entries of ``src`` that ``dst`` lacks into ``dst`` (recursively into shared folders)."""
    for entry in os.scandir(src):
        if top_level_filter is not None and not top_level_filter(entry.name):
            continue
        target = dst / entry.name
        if not os.path.lexists(target):
            os.rename(entry.path, target)
        elif entry.is_dir(follow_symlinks=False) and target.is_dir() and not target.is_symlink():
            _move_missing(Path(entry.path), target)


def _sibling(path: Path, token: str, kind: str) -> Path:
    return path.parent / f".{path.name}.{token}.{kind}"


def recover_dir(path: str | os.PathLike, carry=None) -> list[str]:
    """Finish or undo :func:`atomic_dir` swaps of ``path`` that a hard kill interrupted.

    For every ``.NAME.PID-XXXXXXXX.*`` sibling of a process that no longer runs:

    * a ``.olddir`` (the previous folder, renamed away) with no ``path``: the swap stopped between
      its two renames, and the ``.tmpdir`` beside it is complete, so it is renamed into place
      (with no ``.tmpdir`` the old folder is put back);
    * a ``.olddir`` with ``path`` in place: entries ``path`` lacks (and ``carry`` accepts, as in
      :func:`atomic_dir`) are moved into it, then it is deleted;
    * a ``.tmpdir`` otherwise is an unfinished new version and is deleted.

    Returns:
        One line per action taken (empty if there was nothing to do).
    """
    path = Path(os.path.realpath(path))
    if not path.parent.is_dir():
        return []
    actions = []
    if path.is_dir():  # staging folders of the in-place fallback
        for name in os.listdir(path):
            m = _DIR_RE.match(name)
            if m and m["name"] == path.name and m["kind"] == "tmpdir" and not _pid_alive(int(m["pid"])):
                shutil.rmtree(path / name)
                actions.append(f"{path}: removed the unfinished version {name}")
    found: dict[str, set[str]] = {}
    for name in os.listdir(path.parent):
        m = _DIR_RE.match(name)
        if m and m["name"] == path.name and not _pid_alive(int(m["pid"])):
            found.setdefault(m["token"], set()).add(m["kind"])
    for token, kinds in sorted(found.items()):
        stage, old = _sibling(path, token, "tmpdir"), _sibling(path, token, "olddir")
        if "olddir" in kinds:
            if not os.path.lexists(path):
                src = stage if "tmpdir" in kinds else old
                os.rename(src, path)
                actions.append(f"{path}: finished an interrupted update from {src.name}")
                if src is old:
                    continue
                kinds.discard("tmpdir")
            _move_missing(old, path, carry)
            shutil.rmtree(old)
            actions.append(f"{path}: removed the replaced version {old.name}")
        if "tmpdir" in kinds and stage.exists():
            shutil.rmtree(stage)
            actions.append(f"{path}: removed the unfinished version {stage.name}")
    if actions:
        fsync_dir(path.parent)
    return actions


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, carry=None) -> Iterator[Path]:
    """Build a new version of folder ``path`` in a staging folder and swap it in on success.

    Yields an empty staging folder ``.NAME.PID-XXXXXXXX.tmpdir`` beside ``path``. After the body
    returns, every entry of the current ``path`` that the body did not write (and ``carry(name)``
    accepts, for top-level names) is hard-linked into the staging folder, then ``path`` is renamed
    to ``.NAME.PID-XXXXXXXX.olddir``, the staging folder is renamed to ``path``, anything written to
    the old folder meanwhile is moved over, and the old folder is deleted. A reader therefore sees
    either the whole old folder or the whole new one; a hard kill leaves siblings that
    :func:`recover_dir` (called here first, and by the jobs that rewrite such folders) resolves
    without losing either version. An exception removes the staging folder and leaves ``path``
    untouched. A symlinked ``path`` is resolved (its target is swapped, the link stays).

    When ``path`` cannot be renamed (a mount point, the working directory, a parent folder that
    cannot be written), the staging folder goes inside ``path`` and the new entries are renamed
    into it one by one, ``config.json`` last (each rename atomic, the set not).

    Args:
        path: the folder to (re)write.
        carry: ``carry(name) -> bool`` for top-level entries of the current folder to keep
            (default: keep every entry the body did not write).
    """
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path}: exists and is not a folder")
    recover_dir(path, carry)
    prefix = f".{path.name}.{os.getpid()}-"
    in_place = False
    try:
        stage = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmpdir", dir=path.parent))
    except PermissionError:  # the folder is ours, its parent is not
        if not path.is_dir():
            raise
        stage, in_place = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmpdir", dir=path)), True
    os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
    old = _sibling(path, stage.name[len(path.name) + 2:-len(".tmpdir")], "olddir")
    try:
        yield stage
        for dirpath, _, files in os.walk(stage):
            for name in files:
                with open(Path(dirpath) / name, "rb") as f:
                    os.fsync(f.fileno())
        written = set(os.listdir(stage))
        cwd = Path.cwd()
        if path.exists() and (path == cwd or path in cwd.parents):
            in_place = True
        if not in_place and path.exists():
            _link_entries(path, stage, carry)
        fsync_dir(stage)
        if not in_place and path.exists():
            try:
                os.rename(path, old)  # from here to the next rename there is no `path`: keep it short
            except OSError:  # a busy mount point, permissions: file by file instead
                in_place = True
        if in_place:
            _replace_entries(stage, path, carry, written)
            shutil.rmtree(stage)
            fsync_dir(path)
            return
        try:
            os.rename(stage, path)
        except BaseException:
            if old.exists() and not os.path.lexists(path):
                os.rename(old, path)
            raise
        fsync_dir(path.parent)
        if old.exists():
            _move_missing(old, path, carry)
            shutil.rmtree(old)
    except BaseException:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
        raise


def _replace_entries(stage: Path, path: Path, carry, names: set[str]) -> None:
    """Fallback of :func:`atomic_dir`: rename the staged ``names`` over ``path``'s, ``config.json``
    last; then drop top-level files of ``path`` that ``carry`` rejects and the body did not write."""
    for name in sorted(names, key=lambda n: (n == "config.json", n)):
        src, dst = stage / name, path / name
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        os.replace(src, dst)
    if carry is not None:
        for entry in os.scandir(path):
            if entry.name not in names and not carry(entry.name) and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)


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
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: file not found")
    too_big = f"over the {MAX_IMAGE_PIXELS / 1e6:.0f} MP limit (possible decompression bomb)"
    try:
        with warnings.catch_warnings():  # PIL's own bomb warning: our limit below is the one reported
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise ImageReadError(f"{path}: image is {w}x{h} ({w * h / 1e6:.0f} MP), {too_big}")
                im.load()
                im = ImageOps.exif_transpose(im)
                return pil_to_rgb(im)
    except ImageReadError:
        raise
    except Image.DecompressionBombError:  # PIL refuses before the size is known to us
        raise ImageReadError(f"{path}: image is {too_big}") from None
    except Exception as exc:  # PIL raises many types for bad files
        raise ImageReadError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from None


def pil_to_rgb(im) -> np.ndarray:
    """Convert any PIL image mode to RGB uint8 ``H×W×3`` (16-bit scaled down, alpha on black)."""
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


def write_image(path: str | os.PathLike, image: np.ndarray, overwrite: bool = True, fsync: bool = False) -> None:
    """Write an RGB uint8 ``H×W×3`` image atomically; the format follows the suffix.

    Args:
        path: target file.
        image: the image.
        overwrite: allow replacing an existing file.
        fsync: flush the file to disk before it is renamed into place (survives a power cut).
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 HxWx3 RGB, got {image.dtype} {image.shape}")
    path = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")
    with atomic_path(path, overwrite=overwrite) as tmp:
        kwargs = {"quality": 95} if fmt in ("JPEG", "WEBP") else {"compress_level": 1}
        Image.fromarray(image).save(tmp, format=fmt, **kwargs)
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
