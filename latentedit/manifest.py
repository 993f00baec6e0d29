"""sha256 manifests for model folders (``MANIFEST.sha256``, ``sha256sum`` format).

A folder with a manifest is *closed*: the manifest is the only list of its files that loading
trusts. :func:`verify_manifest` refuses

* an entry that is absolute, contains ``..``, resolves (through a symlink, the entry's own or a
  parent folder's) outside the folder, is not a regular file (folder, FIFO, device, socket) or is
  larger than :data:`MAX_FILE_BYTES` — all before anything is hashed, so an entry can never make a
  load read ``/dev/zero`` or a 1 TB file;
* a file in the folder that the manifest does not list (a boundary dropped into ``boundaries/``
  is refused, not loaded);
* a listed file that is missing or whose sha256 differs.

Ignored (neither listed nor refused): the manifest itself, ``__pycache__`` folders and hidden
names (``.*``) at any depth. Nothing in latentedit loads a hidden file, and the temporary files of
an atomic write (``.NAME.xxxx.tmp``) are hidden, so one left behind by a crash does not brick the
model. A folder without a manifest (your own models) is not checked.

``latentedit manifest write|verify FOLDER`` writes or checks a manifest by hand.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Iterable, Iterator, Sequence

from ._io import atomic_write_text
from .errors import ModelFormatError

MANIFEST_NAME = "MANIFEST.sha256"
#: Largest file a manifest may list (refused before hashing).
MAX_FILE_BYTES = 2 << 30
#: Largest manifest read, in bytes and in lines.
MAX_MANIFEST_BYTES = 1 << 20
MAX_MANIFEST_LINES = 10_000
#: Most folder entries walked when looking for unlisted files.
MAX_WALK_ENTRIES = 100_000

_LINE_RE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")
_REWRITE_HINT = "latentedit manifest write"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"), (stat.S_ISLNK, "symlink")):
        if test(mode):
            return name
    return "special file"


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.3g} GiB"


def _open_regular(path: str | os.PathLike, limit: int):
    """Open ``path`` for reading without following a final symlink or blocking on a FIFO, and
    return it only if it is a regular file of at most ``limit`` bytes (else OSError/ValueError)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"is a {_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise ValueError(f"is {st.st_size} bytes, more than the {_gib(limit)} limit")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20, limit: int | None = None) -> str:
    """Hex sha256 of a file.

    Args:
        path: the file.
        chunk: read size.
        limit: if given, refuse to read more than this many bytes (a file that grows while
            being hashed is refused too).

    Raises:
        OSError: unreadable; ValueError: not a regular file, or larger than ``limit``.
    """
    h = hashlib.sha256()
    read = 0
    with (open(path, "rb") if limit is None else _open_regular(path, limit)) as f:
        for block in iter(lambda: f.read(chunk), b""):
            read += len(block)
            if limit is not None and read > limit:
                raise ValueError(f"grew past the {_gib(limit)} limit while being hashed")
            h.update(block)
    return h.hexdigest()


def _ignored(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__"


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


@dataclass
class _Entry:
    name: str       # normalised relative posix name, as listed
    digest: str     # lower-case hex
    real: str       # resolved path (inside the folder)
    lineno: int


class _Folder:
    """A model folder as the user named it (for messages) and resolved (for every check)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.shown = Path(folder)
        self.root = os.path.realpath(self.shown)
        self.manifest = self.shown / MANIFEST_NAME

    def path(self, name: str) -> Path:
        return self.shown / name

    def rel(self, path: str | os.PathLike) -> str:
        """Relative posix name of ``path`` (resolved) in the folder; ModelFormatError if outside."""
        real = os.path.realpath(path)
        if not _inside(real, self.root):
            raise ModelFormatError(f"{path}: resolves to {real}, outside the model folder {self.shown}")
        return PurePosixPath(Path(os.path.relpath(real, self.root))).as_posix()

    # -- the manifest ---------------------------------------------------------------------------
    def read_text(self) -> str | None:
        where = os.path.join(self.root, MANIFEST_NAME)
        try:
            st = os.lstat(where)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(st.st_mode):
            raise ModelFormatError(f"{self.manifest}: is a symlink; a manifest must be a regular file in its folder")
        if not stat.S_ISREG(st.st_mode):
            raise ModelFormatError(f"{self.manifest}: is a {_kind(st.st_mode)}, not a regular file")
        if st.st_size > MAX_MANIFEST_BYTES:
            raise ModelFormatError(f"{self.manifest}: {st.st_size} bytes, larger than the {MAX_MANIFEST_BYTES} "
                                   "bytes a manifest may have")
        try:
            with _open_regular(where, MAX_MANIFEST_BYTES) as f:
                data = f.read(MAX_MANIFEST_BYTES + 1)
        except ValueError as exc:
            raise ModelFormatError(f"{self.manifest}: {exc}") from None
        except OSError as exc:
            raise ModelFormatError(f"{self.manifest}: cannot read ({exc.strerror or exc})") from None
        if len(data) > MAX_MANIFEST_BYTES:
            raise ModelFormatError(f"{self.manifest}: larger than the {MAX_MANIFEST_BYTES} bytes a manifest may have")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ModelFormatError(f"{self.manifest}: not UTF-8 text") from None

    def entries(self) -> list[_Entry] | None:
        """Parse the manifest and check every entry on disk (no hashing). None without a manifest."""
        text = self.read_text()
        if text is None:
            return None
        lines = text.split("\n")
        if len(lines) > MAX_MANIFEST_LINES + 1:
            raise ModelFormatError(f"{self.manifest}: {len(lines)} lines, more than the {MAX_MANIFEST_LINES} "
                                   "a manifest may have")
        out: list[_Entry] = []
        seen: dict[str, int] = {}
        for lineno, line in enumerate(lines, start=1):
            line = line.rstrip("\r")
            if not line.strip():
                continue
            m = _LINE_RE.fullmatch(line)
            if not m:
                raise ModelFormatError(f"{self.manifest} line {lineno}: expected '<sha256>  <file>' "
                                       "(64 hex digits, two spaces, a relative file name)")
            digest, name = m.group(1).lower(), m.group(2)
            where = f"{self.manifest} line {lineno}: entry {name!r}"
            norm = self._check_name(name, where)
            if norm in seen:
                raise ModelFormatError(f"{where} is listed twice (also line {seen[norm]})")
            seen[norm] = lineno
            out.append(_Entry(norm, digest, self._check_file(norm, where), lineno))
        return out

    def _check_name(self, name: str, where: str) -> str:
        if "\x00" in name:
            raise ModelFormatError(f"{where} contains a NUL byte")
        if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or PureWindowsPath(name).drive:
            raise ModelFormatError(f"{where} is an absolute path; a manifest lists only files inside its folder")
        parts = re.split(r"[\\/]", name)
        if ".." in parts:
            raise ModelFormatError(f"{where} contains '..'; a manifest lists only files inside its folder")
        norm = "/".join(p for p in parts if p not in ("", "."))
        if not norm:
            raise ModelFormatError(f"{where} names no file")
        if norm == MANIFEST_NAME:
            raise ModelFormatError(f"{where} is the manifest itself, which cannot list its own hash")
        return norm

    def _check_file(self, norm: str, where: str) -> str:
        real = os.path.realpath(os.path.join(self.root, *norm.split("/")))
        if not _inside(real, self.root):
            raise ModelFormatError(f"{where} resolves through a symlink to {real}, outside the model folder "
                                   f"{self.shown}; refused without reading it")
        try:
            st = os.stat(real)
        except FileNotFoundError:
            raise ModelFormatError(f"{self.path(norm)}: listed in {MANIFEST_NAME} but missing; "
                                   "reinstall the model") from None
        except OSError as exc:
            raise ModelFormatError(f"{where} cannot be examined ({exc.strerror or exc})") from None
        if not stat.S_ISREG(st.st_mode):
            raise ModelFormatError(f"{where} is a {_kind(st.st_mode)}, not a regular file; refused without reading it")
        if st.st_size > MAX_FILE_BYTES:
            raise ModelFormatError(f"{where} is {st.st_size} bytes, more than the {_gib(MAX_FILE_BYTES)} a model "
                                   "file may have; refused without hashing it")
        return real

    # -- the folder -----------------------------------------------------------------------------
    def walk(self, start: str = "") -> Iterator[tuple[str, str]]:
        """``(relative name, resolved path)`` of every non-folder entry under ``start`` (a
        relative name), skipping ignored names; folder symlinks inside the folder are followed
        once, any symlink resolving outside it is refused."""
        first = os.path.join(self.root, *start.split("/")) if start else self.root
        stack = [(first, start)]
        seen = {os.path.realpath(first)}
        count = 0
        while stack:
            folder, rel = stack.pop()
            try:
                with os.scandir(folder) as it:
                    found = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                raise ModelFormatError(f"{self.path(rel)}: cannot list the folder ({exc.strerror or exc})") from None
            subfolders: list[tuple[str, str]] = []
            for e in found:
                count += 1
                if count > MAX_WALK_ENTRIES:
                    raise ModelFormatError(f"{self.shown}: more than {MAX_WALK_ENTRIES} entries; not a model folder")
                name = f"{rel}/{e.name}" if rel else e.name
                if _ignored(e.name) or name == MANIFEST_NAME:
                    continue
                real = os.path.realpath(e.path)
                if e.is_symlink() and not _inside(real, self.root):
                    raise ModelFormatError(f"{self.path(name)}: symlink to {real}, outside the model folder "
                                           f"{self.shown}; a folder with a {MANIFEST_NAME} holds only its own files")
                if os.path.isdir(real):
                    if real not in seen:
                        seen.add(real)
                        subfolders.append((e.path, name))
                    continue
                yield name, real
            stack.extend(reversed(subfolders))  # files first, then sub-folders in name order


def manifest_owners(path: str | os.PathLike) -> list[Path]:
    """The manifested folders a folder's files belong to: ``path`` itself and its parent (``path``
    is then e.g. a model folder's ``boundaries/``), those that hold a ``MANIFEST.sha256``, innermost
    first. Reading or writing files in ``path`` must satisfy every one of them."""
    path = Path(path)
    return [folder for folder in (path, path.parent) if os.path.lexists(folder / MANIFEST_NAME)]


def record_written(path: str | os.PathLike, written: Iterable[str | os.PathLike]) -> None:
    """After writing ``written`` into the folder ``path``, update every manifest it belongs to
    (see :func:`manifest_owners`; an inner manifest re-written is itself recorded in the outer)."""
    written = list(written)
    for owner in manifest_owners(path):
        written.append(update_manifest(owner, written))


def write_manifest(folder: str | os.PathLike) -> Path:
    """Write ``MANIFEST.sha256`` listing every file under ``folder`` (recursively, sorted; hidden
    names and ``__pycache__`` are skipped), atomically.

    Returns:
        The manifest path.

    Raises:
        ModelFormatError: a symlink resolving outside the folder, a special or oversized file, or
            a file name a manifest cannot hold (line breaks).
    """
    f = _Folder(folder)
    lines = []
    for name, real in sorted(f.walk()):
        if "\n" in name or "\r" in name:
            raise ModelFormatError(f"{f.path(name)!r}: a file name with a line break cannot be listed in a manifest")
        try:
            digest = file_sha256(real, limit=MAX_FILE_BYTES)
        except (OSError, ValueError) as exc:
            raise ModelFormatError(f"{f.path(name)}: {exc}; not listed") from None
        lines.append(f"{digest}  {name}\n")
    atomic_write_text(f.manifest, "".join(lines))
    return f.manifest


def verify_manifest(folder: str | os.PathLike, required: bool = False,
                    only: Sequence[str | os.PathLike] | None = None) -> bool:
    """Check ``folder`` against its ``MANIFEST.sha256`` (see the module docstring for the rules).

    Args:
        folder: a model folder (may be reached through a symlink).
        required: raise if there is no manifest (otherwise return False).
        only: files or sub-folders of ``folder``: look for unlisted files and compare hashes only
            there (every entry is still checked to be a safe, regular file). None = everything.

    Returns:
        True if a manifest was found and everything checked matched, False if there is no manifest.

    Raises:
        ModelFormatError: one line naming the first bad entry or file and why (unsafe entry,
            unlisted file, missing or modified file, malformed manifest).
    """
    f = _Folder(folder)
    entries = f.entries()
    if entries is None:
        if required:
            raise ModelFormatError(f"{f.shown}: no {MANIFEST_NAME}; cannot verify the model files")
        return False
    names = {e.name for e in entries}
    reals = {e.real for e in entries}
    scopes = [""] if only is None else [f.rel(p) for p in only if os.path.lexists(p)]
    scopes = ["" if s == "." else s for s in scopes]
    real_scopes = [os.path.join(f.root, *s.split("/")) if s else f.root for s in scopes]
    hint = f"remove it, or re-write the manifest with `{_REWRITE_HINT} {f.shown}` if you trust it"
    for scope, real_scope in zip(scopes, real_scopes):
        if os.path.isdir(real_scope):
            for name, real in f.walk(scope):
                if name not in names and real not in reals:
                    raise ModelFormatError(f"{f.path(name)}: not listed in {MANIFEST_NAME}; {hint}")
        elif real_scope not in reals:
            raise ModelFormatError(f"{f.path(scope)}: not listed in {MANIFEST_NAME}; {hint}")

    def in_scope(e: _Entry) -> bool:
        return any(_inside(e.real, s) for s in real_scopes)

    for e in entries:
        if not in_scope(e):
            continue
        try:
            digest = file_sha256(e.real, limit=MAX_FILE_BYTES)
        except (OSError, ValueError) as exc:
            raise ModelFormatError(f"{f.path(e.name)}: cannot be hashed ({exc}); reinstall the model") from None
        if digest != e.digest:
            raise ModelFormatError(f"{f.path(e.name)}: sha256 does not match {MANIFEST_NAME} (file modified or "
                                   f"corrupt); reinstall the model, or re-write the manifest with "
                                   f"`{_REWRITE_HINT} {f.shown}` if you changed it yourself")
    return True


def update_manifest(folder: str | os.PathLike, written: Iterable[str | os.PathLike]) -> Path:
    """Record the files just written into a manifested folder: hash them and re-write the
    manifest atomically. Every other entry keeps its recorded digest, so nothing else is blessed
    (a file modified behind the manifest's back stays refused). Call :func:`verify_manifest`
    before writing the files.

    Args:
        folder: the manifested folder.
        written: files inside it that this process has just written (or removed: their
            entries are dropped).

    Returns:
        The manifest path.

    Raises:
        ModelFormatError: no manifest, a malformed one, or a written file outside the folder.
    """
    f = _Folder(folder)
    entries = f.entries()
    if entries is None:
        raise ModelFormatError(f"{f.shown}: no {MANIFEST_NAME} to update")
    digests = {e.name: e.digest for e in entries}
    by_real = {e.real: e.name for e in entries}
    for p in written:
        if not os.path.lexists(p):  # written as "removed" (e.g. stale critics): drop its entry
            digests.pop(f.rel(p), None)
            continue
        rel = f.rel(p)
        name = by_real.get(os.path.realpath(p), rel)
        if "\n" in name or "\r" in name or _ignored(PurePosixPath(name).name):
            raise ModelFormatError(f"{p!r}: cannot be listed in a manifest (hidden name or line break)")
        try:
            digests[name] = file_sha256(os.path.realpath(p), limit=MAX_FILE_BYTES)
        except (OSError, ValueError) as exc:
            raise ModelFormatError(f"{p}: {exc}; not listed") from None
    atomic_write_text(f.manifest, "".join(f"{d}  {n}\n" for n, d in sorted(digests.items())))
    return f.manifest
