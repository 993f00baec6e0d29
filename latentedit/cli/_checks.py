"""Checks of command-line input made before any work starts: numeric option ranges (as argparse
types, so a bad value is reported like any other argparse error: ``argument --size: must be an
integer in 16..1024, got 100000``) and output locations that cannot be created or written.

Everything here raises :class:`~latentedit.errors.LatentEditError` (or argparse's
``ArgumentTypeError``) with one line naming the option and the value; ``latentedit.cli.main``
prints it and exits with status 2.
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from ..errors import LatentEditError

#: Seeds are passed to NumPy and PyTorch generators: non-negative and below 2**32.
SEED_MAX = 2 ** 32 - 1


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def range_text(lo: float | None, hi: float | None) -> str:
    """``"16..1024"``, ``"≥ 1"`` or ``"≤ 5"`` for help texts and messages."""
    if lo is not None and hi is not None:
        return f"{_fmt(lo)}..{_fmt(hi)}"
    if lo is not None:
        return f"≥ {_fmt(lo)}"
    return f"≤ {_fmt(hi)}" if hi is not None else "any value"


def bounded_int(lo: int | None, hi: int | None) -> Callable[[str], int]:
    """An argparse ``type=`` accepting an integer in ``lo..hi`` (inclusive; None = unbounded).

    Example: ``p.add_argument("--size", type=bounded_int(16, 1024))`` reports
    ``argument --size: must be an integer in 16..1024, got 100000`` and exits with status 2.
    """
    span = range_text(lo, hi)

    def parse(text: str) -> int:
        try:
            value = int(str(text).strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer {_span_words(span)}, got {text!r}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be an integer {_span_words(span)}, got {value}")
        return value

    parse.__name__ = f"integer {span}"
    parse.lo, parse.hi = lo, hi  # type: ignore[attr-defined]
    return parse


def bounded_float(lo: float | None, hi: float | None, lo_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type=`` accepting a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    span = ("> " + _fmt(lo) + (f" and ≤ {_fmt(hi)}" if hi is not None else "")) if lo_open and lo is not None \
        else range_text(lo, hi)

    def parse(text: str) -> float:
        try:
            value = float(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number {_span_words(span)}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number {_span_words(span)}, got {text!r}")
        below = lo is not None and (value <= lo if lo_open else value < lo)
        if below or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be a number {_span_words(span)}, got {_fmt(value)}")
        return value

    parse.__name__ = f"number {span}"
    parse.lo, parse.hi = lo, hi  # type: ignore[attr-defined]
    return parse


def _span_words(span: str) -> str:
    return f"in {span}" if ".." in span else span


def seed_arg() -> Callable[[str], int]:
    """The argparse type of every ``--seed`` option: an integer in ``0..2**32-1``."""
    return bounded_int(0, SEED_MAX)


# ------------------------------------------------------------------------------------- outputs

def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (lexically; ``.`` for a relative path)."""
    p = path
    while True:
        try:
            if p.exists() or p.is_symlink():
                return p
        except OSError:  # e.g. EACCES while looking inside an unreadable folder: report that one
            return p
        if p.parent == p:
            return p
        p = p.parent


def _write_problem(folder: Path) -> str | None:
    """Why nothing can be created inside the existing ``folder`` (None when it can).

    Probes by creating and removing a temporary sub-folder: permission bits, read-only mounts
    and pseudo file systems (``/proc``) are all covered, and root's permission bypass is not
    mistaken for writability.
    """
    try:
        probe = tempfile.mkdtemp(prefix=".latentedit-probe-", dir=folder)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    try:
        os.rmdir(probe)
    except OSError:
        pass
    return None


def check_output_dir(path: str | os.PathLike, what: str = "--out") -> Path:
    """Check that ``path`` is, or can be created as, a folder that can be written to.

    Creates nothing (a probe sub-folder is made and removed again in the nearest existing
    folder). Call it before long work so that a typo in ``--out`` costs nothing.

    Args:
        path: the output folder.
        what: the option name used in messages.

    Returns:
        ``path`` as a Path.

    Raises:
        LatentEditError: ``path`` exists and is not a folder, lies below a file, or its nearest
            existing folder cannot be written to (naming ``what``, the path and the reason).
    """
    path = Path(path)
    base = _nearest_existing(path)
    if base == path:
        try:
            is_dir = path.is_dir()
        except OSError as exc:
            raise LatentEditError(f"{what} {path}: cannot be used as a folder ({exc.strerror})") from None
        if not is_dir:
            raise LatentEditError(f"{what} {path}: exists and is not a folder")
    elif not base.is_dir():
        raise LatentEditError(f"{what} {path}: cannot create a folder there, {base} is a file")
    problem = _write_problem(base)
    if problem:
        where = "it" if base == path else str(base)
        raise LatentEditError(f"{what} {path}: cannot create files in {where} ({problem})")
    return path


def check_output_file(path: str | os.PathLike, what: str = "--out", overwrite: bool = False,
                      suffixes: Iterable[str] = (), overwrite_flag: str = "--overwrite") -> Path:
    """Check that the file ``path`` can be written: right suffix, not an existing file (unless
    ``overwrite``), not a folder, and its folder can be created and written to.

    Raises:
        LatentEditError: naming ``what``, the path and the reason.
    """
    path = Path(path)
    suffixes = tuple(suffixes)
    if suffixes and path.suffix.lower() not in suffixes:
        names = suffixes[0] if len(suffixes) == 1 else f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"
        raise LatentEditError(f"{what} {path}: use a {names} file name")
    if path.is_dir():
        raise LatentEditError(f"{what} {path}: is a folder; give a file name")
    if path.exists() and not overwrite:
        hint = f" (pass {overwrite_flag})" if overwrite_flag else ""
        raise LatentEditError(f"{what} {path}: already exists; refusing to overwrite it{hint}")
    parent = path.parent
    base = _nearest_existing(parent)
    if not base.is_dir():
        raise LatentEditError(f"{what} {path}: cannot create its folder, {base} is a file")
    problem = _write_problem(base)
    if problem:
        raise LatentEditError(f"{what} {path}: cannot create files in {base} ({problem})")
    return path


__all__ = ["SEED_MAX", "bounded_float", "bounded_int", "check_output_dir", "check_output_file", "range_text",
           "seed_arg"]
