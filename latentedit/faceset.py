"""The FaceSet folder format: aligned square face crops plus ``faces.jsonl``.

See ``docs/ARCHITECTURE.md`` for the record schema. A FaceSet is also a torch ``Dataset``
whose items are ``{"image": float32 3×S×S in [0, 1], "index", "identity", "attributes"}``.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ._io import atomic_write_text, fsync_dir, read_image, remove_stale_temps, write_image
from .errors import FaceSetError, ImageReadError
from .face_record import ATTRIBUTE_SOURCES, FaceRecord  # noqa: F401  (ATTRIBUTE_SOURCES re-exported)
from .formats import FileFormat

INDEX_NAME = "faces.jsonl"
#: ``faceset.json`` beside the index: the FaceSet format's kind and version (FaceSets written before
#: it existed have none and are version 1). Each line of the index is one :class:`FaceRecord`.
HEADER_NAME = "faceset.json"
FACESET_FORMAT = FileFormat("latentedit.faceset", 1, error=FaceSetError, what="FaceSet header",
                            required={"index": (str,)})


class FaceSet:
    """A folder of aligned faces, readable as a torch ``Dataset``.

    Args:
        root: the FaceSet folder (holding ``faces.jsonl``).
        records: records to use instead of reading the index (used by :meth:`filter`).
        transform: optional callable applied to the float image tensor of each item.

    Raises:
        FaceSetError: if the folder or index is missing or a record is malformed.
    """

    def __init__(self, root: str | os.PathLike, records: Sequence[FaceRecord] | None = None,
                 transform: Callable | None = None) -> None:
        self.root = Path(root)
        self.transform = transform
        if records is None:
            records = read_index(self.root)
        self.records: list[FaceRecord] = list(records)

    # -- Dataset protocol ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rec = self.records[index]
        img = self.read_image(index)
        tensor = torch.from_numpy(img).permute(2, 0, 1).float().div_(255.0)
        if self.transform is not None:
            tensor = self.transform(tensor)
        return {"image": tensor, "index": index, "identity": rec.identity,
                "attributes": dict(rec.attributes)}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"FaceSet({str(self.root)!r}, {len(self)} faces, identities={self.identities})"

    # -- reading -------------------------------------------------------------------------------
    def image_path(self, index: int) -> Path:
        """Absolute path of the image of record ``index``."""
        return self.root / self.records[index].image

    def read_image(self, index: int) -> np.ndarray:
        """Read record ``index``'s crop as RGB uint8 ``S×S×3``.

        Raises:
            FaceSetError: naming the file, if it is missing, corrupt or of the wrong size.
        """
        rec = self.records[index]
        try:
            img = read_image(self.root / rec.image)
        except ImageReadError as exc:
            raise FaceSetError(f"{self.root / INDEX_NAME}: record {index} ({rec.image}): {exc}") from None
        if img.shape[:2] != (rec.size, rec.size):
            raise FaceSetError(f"{self.root / rec.image}: image is {img.shape[1]}x{img.shape[0]} but its "
                               f"record says size {rec.size}")
        return img

    def load_images(self, size: int | None = None, progress: bool = False):
        """Decode every crop into one ``uint8`` tensor ``N×3×S×S`` (resized to ``size`` if given).

        Training keeps this in memory so decoding never bottlenecks a step.

        Raises:
            FaceSetError: if the set is empty or a crop cannot be read.
        """
        if not self.records:
            raise FaceSetError(f"{self.root}: FaceSet is empty")
        out = None
        it: Iterable[int] = range(len(self))
        if progress:
            it = tqdm(it, desc=f"loading {self.root.name}", unit="img")
        for i in it:
            img = torch.from_numpy(self.read_image(i)).permute(2, 0, 1)
            if size is not None and img.shape[-1] != size:
                img = F.interpolate(img[None].float(), size=(size, size), mode="area" if size < img.shape[-1]
                                    else "bilinear", align_corners=None if size < img.shape[-1] else False)[0]
                img = img.round().clamp_(0, 255).to(torch.uint8)
            if out is None:
                out = torch.empty((len(self),) + tuple(img.shape), dtype=torch.uint8)
            out[i] = img
        return out

    @property
    def identities(self) -> list[str]:
        """Sorted distinct identity labels."""
        return sorted({r.identity for r in self.records})

    @property
    def attribute_names(self) -> list[str]:
        """Sorted attribute names present in at least one record."""
        return sorted({k for r in self.records for k in r.attributes})

    def attribute_matrix(self, names: Sequence[str]) -> np.ndarray:
        """Return an ``N×len(names)`` float32 array of attribute values (NaN where missing).

        Raises:
            FaceSetError: if a name is not an attribute of this FaceSet.
        """
        self._check_attributes(names)
        out = np.full((len(self), len(names)), np.nan, dtype=np.float32)
        for i, r in enumerate(self.records):
            for j, n in enumerate(names):
                if n in r.attributes:
                    out[i, j] = r.attributes[n]
        return out

    def _check_attributes(self, names: Iterable[str]) -> None:
        known = set(self.attribute_names)
        for n in names:
            if n not in known:
                raise FaceSetError(f"{self.root}: unknown attribute {n!r}; this FaceSet has: "
                                   f"{', '.join(sorted(known)) or '(none)'}")

    # -- selection -----------------------------------------------------------------------------
    def filter(self, identity: str | Sequence[str] | None = None,
               where: Callable[[FaceRecord], bool] | None = None,
               **attribute_ranges: tuple[float | None, float | None]) -> "FaceSet":
        """Return a FaceSet view with the records that match every condition.

        Args:
            identity: one identity label or several.
            where: an arbitrary predicate on records.
            **attribute_ranges: ``name=(low, high)`` inclusive bounds; ``None`` leaves a side open.

        Raises:
            FaceSetError: for an identity or attribute name the set does not have.
        """
        recs = self.records
        if identity is not None:
            wanted = {identity} if isinstance(identity, str) else set(identity)
            missing = wanted - set(self.identities)
            if missing:
                raise FaceSetError(f"{self.root}: unknown identity {sorted(missing)}; has: "
                                   f"{', '.join(self.identities[:20])}{' ...' if len(self.identities) > 20 else ''}")
            recs = [r for r in recs if r.identity in wanted]
        self._check_attributes(attribute_ranges)
        for name, (lo, hi) in attribute_ranges.items():
            recs = [r for r in recs if name in r.attributes
                    and (lo is None or r.attributes[name] >= lo) and (hi is None or r.attributes[name] <= hi)]
        if where is not None:
            recs = [r for r in recs if where(r)]
        return FaceSet(self.root, records=recs, transform=self.transform)

    def split(self, val_fraction: float, seed: int = 0) -> tuple["FaceSet", "FaceSet"]:
        """Split into (train, held-out) views with a seeded permutation."""
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(self))
        n_val = int(round(len(self) * val_fraction))
        val = sorted(perm[:n_val].tolist())
        train = sorted(perm[n_val:].tolist())
        return (FaceSet(self.root, [self.records[i] for i in train], self.transform),
                FaceSet(self.root, [self.records[i] for i in val], self.transform))

    # -- writing ----------------------------------------------------------------------
    @staticmethod
    def writer(root: str | os.PathLike, mode: str = "new") -> "FaceSetWriter":
        """Open a :class:`FaceSetWriter` on ``root`` (``mode`` ``"new"`` or ``"append"``)."""
        return FaceSetWriter(root, mode=mode)


def _lock(fd: int, root: Path) -> None:
    """Take an exclusive, non-blocking ``flock`` on the open index (released when it is closed or
    the process dies, even by ``kill -9``), so two writers never interleave in one FaceSet."""
    if fcntl is None:  # Windows: no advisory locks; one writer at a time is the user's job
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise FaceSetError(f"{root}: another process is writing this FaceSet ({INDEX_NAME} is locked); "
                           f"wait for it to finish") from None
    except OSError:  # a filesystem without flock: go on unlocked
        return


def _parse_index(index: Path) -> tuple[list[FaceRecord], int, bool]:
    """Parse ``faces.jsonl``; returns ``(records, bytes of complete lines, last line unterminated)``.

    An unterminated last line that is not valid JSON is what a writer killed mid-line leaves
    behind: it is dropped with a warning (never a complete line, never a line in the middle).
    """
    records: list[FaceRecord] = []
    seen: dict[str, int] = {}
    good = 0
    open_tail = False
    with open(index, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            where = f"{index} line {lineno}"
            complete = raw.endswith(b"\n")
            try:
                text = raw.decode("utf-8")
                obj = json.loads(text) if text.strip() else None
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                if not complete:
                    warnings.warn(f"{where}: dropped a half-written last line ({len(raw)} bytes, left by an "
                                  f"interrupted write); re-run the extraction to redo that face",
                                  RuntimeWarning, stacklevel=3)
                    break
                if isinstance(exc, UnicodeDecodeError):
                    raise FaceSetError(f"{where}: not UTF-8 text") from None
                raise FaceSetError(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from None
            good += len(raw)
            open_tail = not complete
            if obj is None:
                continue
            rec = FaceRecord.from_json(obj, where=where)
            if rec.image in seen:
                raise FaceSetError(f"{where}: field 'image': {rec.image!r} already used on line {seen[rec.image]}")
            seen[rec.image] = lineno
            records.append(rec)
    return records, good, open_tail


def read_index(root: Path) -> list[FaceRecord]:
    """Read and validate ``root/faces.jsonl``.

    A half-written last line (a writer killed mid-line) is dropped with a ``RuntimeWarning``.

    Raises:
        FaceSetError: naming the file, line and field of the first bad record.
    """
    index = Path(root) / INDEX_NAME
    if not Path(root).is_dir():
        raise FaceSetError(f"{root}: FaceSet folder not found")
    if not index.is_file():
        raise FaceSetError(f"{root}: not a FaceSet (no {INDEX_NAME})")
    if (Path(root) / HEADER_NAME).exists():
        FACESET_FORMAT.read(Path(root) / HEADER_NAME)
    return _parse_index(index)[0]


def write_index(root: str | os.PathLike, records: Sequence[FaceRecord]) -> None:
    """Rewrite ``root/faces.jsonl`` atomically (temp file + rename) from ``records``.

    Raises:
        FaceSetError: if a :class:`FaceSetWriter` (in any process) is writing the FaceSet.
    """
    root = Path(root)
    remove_stale_temps(root)  # a rewrite killed earlier left its temp file
    text = "".join(json.dumps(r.to_json(), separators=(",", ":")) + "\n" for r in records)
    index = root / INDEX_NAME
    fd = os.open(index, os.O_RDONLY) if index.is_file() else None
    try:
        if fd is not None:
            _lock(fd, root)
        atomic_write_text(index, text)
    finally:
        if fd is not None:
            os.close(fd)


#: Names of images a writer is about to write; after a hard kill, the ones without a record
#: (orphans: image in place, index line never written) are deleted by the next writer.
PENDING_NAME = ".faces.pending"


class FaceSetWriter:
    """Adds faces to a FaceSet folder, crash-safely; use as a context manager.

    The index is append-only while writing: each :meth:`add` writes the image (temp file +
    rename), then appends its record as one line to ``faces.jsonl`` (one ``write`` call, flushed to
    the OS at once, so a killed process loses at most the face it was writing). Before the image,
    its name goes into ``.faces.pending``; the next writer opening the folder deletes the images
    named there that never got a record, drops a half-written last index line (with a warning)
    and removes temp files left by the killed writer, so a re-run starts from a clean, complete
    FaceSet. The index is locked (``flock``) while a writer is open.

    Args:
        root: FaceSet folder.
        mode: ``"new"`` (the folder must not hold a FaceSet yet) or ``"append"`` (keep existing
            records; adding an image path that exists is an error).
        flush_every: unused, kept for compatibility (every record reaches the index as it is added).
        durable: also ``fsync`` each image and index line (survives a power cut, not only a killed
            process; a few ms per face).

    Raises:
        FaceSetError: if ``mode="new"`` and ``root`` already holds a FaceSet, another writer has it
            open, or on a clash.
    """

    def __init__(self, root: str | os.PathLike, mode: str = "new", flush_every: int = 256,
                 durable: bool = False) -> None:
        if mode not in ("new", "append"):
            raise ValueError(f"mode must be 'new' or 'append', got {mode!r}")
        self.root = Path(root)
        self.flush_every = flush_every
        self.durable = durable
        self._fd: int | None = None
        self._pending = None
        index = self.root / INDEX_NAME
        if index.exists() and mode == "new":
            raise FaceSetError(f"{self.root} already holds a FaceSet; refusing to overwrite it "
                               f"(choose another --out or append to it)")
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(index, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
        try:
            _lock(fd, self.root)
            self.records, good, self._open_tail = _parse_index(index)
            if os.fstat(fd).st_size > good:  # drop the half-written last line
                os.ftruncate(fd, good)
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        os.lseek(fd, 0, os.SEEK_END)
        self._images = {r.image for r in self.records}
        header = self.root / HEADER_NAME
        if header.exists():
            FACESET_FORMAT.read(header)  # a FaceSet of a newer format is not appended to
        else:
            FACESET_FORMAT.write(header, {"index": INDEX_NAME})
        (self.root / "images").mkdir(exist_ok=True)
        self._clear_pending()
        remove_stale_temps(self.root)
        remove_stale_temps(self.root / "images")

    def __enter__(self) -> "FaceSetWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _clear_pending(self) -> None:
        """Delete images named in ``.faces.pending`` that have no record, then forget the list."""
        path = self.root / PENDING_NAME
        if self._pending is not None:
            self._pending.close()
            self._pending = None
        if not path.is_file():
            return
        for name in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not name or name in self._images or os.path.isabs(name) or ".." in Path(name).parts:
                continue
            orphan = self.root / name
            if orphan.is_file() and not orphan.is_symlink():
                orphan.unlink()
        path.unlink()

    def has(self, image: str) -> bool:
        """Whether a record with this relative image path exists."""
        return image in self._images

    def next_name(self, ext: str = ".png") -> str:
        """A fresh ``images/NNNNNN.png`` path not used yet."""
        n = len(self.records)
        while True:
            name = f"images/{n:06d}{ext}"
            if name not in self._images and not (self.root / name).exists():
                return name
            n += 1

    def add(self, image: np.ndarray, record: FaceRecord) -> FaceRecord:
        """Write ``image`` (uint8 S×S×3 RGB) to ``record.image`` and append ``record`` to the index.

        Raises:
            FaceSetError: if the image path is taken or the image does not match ``record.size``.
        """
        if self._fd is None:
            raise FaceSetError(f"{self.root}: the writer is closed")
        if record.image in self._images:
            raise FaceSetError(f"{self.root}: image {record.image!r} already has a record")
        if image.shape != (record.size, record.size, 3) or image.dtype != np.uint8:
            raise FaceSetError(f"{record.image}: image {image.dtype} {image.shape} does not match size {record.size}")
        FaceRecord.from_json(record.to_json(), where=f"new record {record.image}")  # validate before writing
        target = self.root / record.image
        if target.exists():
            raise FaceSetError(f"{target}: exists; refusing to overwrite it")
        if self._pending is None:
            self._pending = open(self.root / PENDING_NAME, "a", encoding="utf-8")
        self._pending.write(record.image + "\n")
        self._pending.flush()
        if self.durable:
            os.fsync(self._pending.fileno())
        write_image(target, image, overwrite=False, fsync=self.durable)
        line = json.dumps(record.to_json(), separators=(",", ":")) + "\n"
        data = (b"\n" if self._open_tail else b"") + line.encode("utf-8")
        while data:  # one write for a record in practice; loop for short writes
            data = data[os.write(self._fd, data):]
        self._open_tail = False
        if self.durable:
            fsync_dir(target.parent)
            os.fsync(self._fd)
        self.records.append(record)
        self._images.add(record.image)
        return record

    def flush(self) -> None:
        """Make every record added so far durable (``fsync`` the index)."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        """Sync the index, forget the pending list, release the lock. Safe to call twice."""
        if self._fd is None:
            return
        try:
            os.fsync(self._fd)
            self._clear_pending()
        finally:
            os.close(self._fd)
            self._fd = None

    def faceset(self) -> FaceSet:
        """Flush and return the written FaceSet."""
        self.flush()
        return FaceSet(self.root)
