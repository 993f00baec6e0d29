"""Shared pieces of the GPU-session scripts (``gpu_pack.py``, ``gpu_check.py``, ``gpu_unpack.py``).

Why these exist: a GPU session gets the git working tree plus at most 8 ignored ``carry`` paths,
**64 MiB in all** (the tracked tree alone is ~36 MiB), and returns at most 8 files of ≤ 16 MiB from
``$OUT``. So the training data travels as one compact *pack* and the run's resume state as one
compact *state file*, both in ``gpu_carry/`` (ignored through ``.git/info/exclude``), and what comes
back is split into parts with their sha256s recorded in the run's JSON. The state file's forms
live in ``gpu_state.py``.

Nothing here imports torch at module level (the orchestrator stays light); functions that need it
import it themselves. Only the standard library, numpy and Pillow (cv2 as a fallback decoder) are
used to read a pack, so a pack rebuilds on a machine without dlib.
"""
from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MiB = 2 ** 20

# -- limits of the device tool (see scripts/README.md) ------------------------------------------------
#: What travels to the GPU machine: tracked + untracked-not-ignored files + carried paths.
TRAVEL_LIMIT = 64 * MiB
#: Files back from $OUT: count, bytes each, bytes together; names of letters, digits, '.', '_', '-'.
RETURN_MAX_FILES = 8
RETURN_MAX_FILE = 16 * MiB
RETURN_MAX_TOTAL = 64 * MiB
RETURN_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
#: Part size used when splitting returned files: under 16 MiB and under 16 MB, whichever is meant.
PART_BYTES = 15 * MiB
#: Headroom kept below the travel limit (``gpu_unpack.py --check`` recounts right before a call).
DEFAULT_MARGIN = 1 * MiB

PACK_FORMAT = "latentedit.gpu_pack"
FORMAT_VERSION = 1


class GpuScriptError(RuntimeError):
    """A problem the user can fix (missing pack, over a size limit, bad checksum): one clear line."""


# -- small helpers ------------------------------------------------------------------------------------
def sha256_file(path: str | os.PathLike, chunk: int = MiB) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def load_json(path: str | os.PathLike, what: str) -> dict:
    """Read a JSON object, naming the file in the error."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GpuScriptError(f"{path}: {what} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GpuScriptError(f"{path}: {what} is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise GpuScriptError(f"{path}: {what} must be a JSON object")
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically (temp file + rename); NaN/inf become null."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_finite(obj), indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return _finite(obj.item())
    return obj


def ensure_excluded(pattern: str, repo: Path = REPO) -> bool:
    """Add ``pattern`` to ``.git/info/exclude`` (not ``.gitignore``) if missing; True if added."""
    git_dir = repo / ".git"
    if not git_dir.is_dir():  # a worktree or no git: nothing to do
        return False
    exclude = git_dir / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    text = exclude.read_text(encoding="utf-8") if exclude.is_file() else ""
    if pattern in text.splitlines():
        return False
    exclude.write_text(text + ("" if not text or text.endswith("\n") else "\n") + pattern + "\n", encoding="utf-8")
    return True


def path_bytes(path: str | os.PathLike) -> int:
    """Size of a file, or of every file under a folder (links not followed)."""
    p = Path(path)
    if p.is_symlink() or p.is_file():
        return p.lstat().st_size
    return sum(f.lstat().st_size for f in p.rglob("*") if f.is_file() or f.is_symlink())


def travel_bytes(repo: Path = REPO, carry: Sequence[str] = ()) -> dict[str, int]:
    """What a device-tool call would send: tracked files, untracked files git does not ignore, and
    the carried paths (bytes of each part and the total)."""
    def listed(*args: str) -> list[str]:
        out = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", *args], check=True,
                             capture_output=True).stdout
        return [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]

    def size(names: Iterable[str]) -> int:
        total = 0
        for n in names:
            p = repo / n
            if p.is_symlink() or p.is_file():
                total += p.lstat().st_size
        return total

    tracked = size(listed())
    untracked = size(listed("--others", "--exclude-standard"))
    carried = {c: path_bytes(repo / c) for c in carry if (repo / c).exists()}
    return {"tracked": tracked, "untracked": untracked, "carry": sum(carried.values()),
            "total": tracked + untracked + sum(carried.values()), **{f"carry:{k}": v for k, v in carried.items()}}


def bench_module(name: str):
    """``latentedit``'s benchmark module ``name`` (``latentedit.eval.bench.NAME``, or
    ``latentedit.bench.NAME`` in checkouts from before evaluation moved out of the product)."""
    import importlib

    try:
        return importlib.import_module(f"latentedit.eval.bench.{name}")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("latentedit.eval"):
            raise
        return importlib.import_module(f"latentedit.bench.{name}")


# -- recipe -------------------------------------------------------------------------------------------
RECIPE = REPO / "scripts" / "default_model.json"


def load_recipe(path: str | os.PathLike = RECIPE) -> dict:
    """The default-model recipe (``scripts/default_model.json``), checked."""
    r = load_json(path, "recipe")
    for key in ("name", "decoder", "train", "runtime", "dry_run"):
        if key not in r:
            raise GpuScriptError(f"{path}: recipe has no {key!r}")
    if not RETURN_NAME_RE.match(r["name"]):
        raise GpuScriptError(f"{path}: recipe name {r['name']!r} must be letters, digits, '.', '_', '-'")
    return r


def run_name(recipe: dict, dry_run: bool) -> str:
    """The run folder's name: the recipe's, with ``_dryrun`` for dry runs (their models are tiny)."""
    return recipe["name"] + ("_dryrun" if dry_run else "")


#: ``--steps`` for a run that stops at its deadline, not at a step count: the largest value
#: ``latentedit train --steps`` accepts (``latentedit.cli.train._STEPS_MAX``; a test keeps them equal).
UNBOUNDED_STEPS = 100_000_000


def train_argv(recipe: dict, data_dir: str, out: str, dry_run: bool, steps: int, compile_: bool) -> list[str]:
    """``latentedit train`` arguments of the recipe (dry runs: the recipe's tiny overrides)."""
    opts = dict(recipe["train"], **recipe["runtime"])
    if dry_run:
        opts.update(recipe["dry_run"])
    argv = ["train", "--data", f"{recipe['decoder']}={data_dir}", "--out", out, "--steps", str(steps),
            "--quiet", "--no-tensorboard"]
    for k, v in sorted(opts.items()):
        if k in ("data", "out", "steps", "compile", "progress", "tensorboard", "resume", "dry_run"):
            raise GpuScriptError(f"recipe option {k!r} is set by gpu_check itself")
        if isinstance(v, bool):
            if k == "flip" and not v:
                argv.append("--no-flip")
            continue
        argv += ["--" + k.replace("_", "-"), str(v)]
    if compile_:
        argv.append("--compile")
    return argv


# -- the data pack ------------------------------------------------------------------------------------
@dataclass
class PackInfo:
    path: Path
    manifest: dict
    lines: list[str]          # faces.jsonl lines (without newline), byte for byte as in the source FaceSet
    offsets: np.ndarray       # (N + 1,) int64 into images.bin

    @property
    def n(self) -> int:
        return len(self.lines)


def read_pack(path: str | os.PathLike) -> PackInfo:
    """Open a pack written by ``gpu_pack.py`` and check its format.

    Raises:
        GpuScriptError: if the file is missing or not a pack.
    """
    path = Path(path)
    if not path.is_file():
        raise GpuScriptError(f"{path}: data pack not found (build it with: python scripts/gpu_pack.py)")
    try:
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read("pack.json"))
            text = lzma.decompress(z.read("faces.jsonl.xz")).decode("utf-8")
            offsets = np.frombuffer(z.read("images.idx"), dtype="<i8").copy()
    except (zipfile.BadZipFile, KeyError, lzma.LZMAError, ValueError) as exc:
        raise GpuScriptError(f"{path}: not a readable data pack ({type(exc).__name__}: {exc})") from None
    if manifest.get("format") != PACK_FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise GpuScriptError(f"{path}: not a {PACK_FORMAT} v{FORMAT_VERSION} file")
    lines = text.splitlines()
    if len(lines) != manifest["faces"] or len(offsets) != len(lines) + 1:
        raise GpuScriptError(f"{path}: index has {len(lines)} records and {len(offsets) - 1} images; "
                             f"the manifest says {manifest['faces']}")
    return PackInfo(path, manifest, lines, offsets)


def decode_image(data: bytes) -> np.ndarray:
    """Decode one packed crop to uint8 RGB (Pillow; OpenCV if this Pillow lacks the codec)."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as pil_error:  # noqa: BLE001 - try the second decoder, then report both
        try:
            import cv2

            arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if arr is None:
                raise ValueError("cv2.imdecode returned None")
            return np.ascontiguousarray(arr[:, :, ::-1])  # BGR only inside cv2
        except Exception as cv_error:  # noqa: BLE001
            raise GpuScriptError(f"cannot decode a packed image: Pillow: {pil_error}; OpenCV: {cv_error}") from None


def image_digest(img: np.ndarray) -> bytes:
    """sha256 of one decoded crop's pixels (the pack's checksum is the sha256 of these, in order)."""
    return hashlib.sha256(np.ascontiguousarray(img, np.uint8).tobytes()).digest()


def _rebuild_chunk(args: tuple) -> tuple[int, list[bytes]]:
    """Worker: decode images ``[lo, hi)`` of the pack and write the wanted ones as PNG; returns the
    per-image pixel digests for the pack's integrity check."""
    pack_path, lo, hi, offsets, targets = args
    from PIL import Image

    with open(pack_path, "rb") as f, zipfile.ZipFile(f) as z:
        info = z.getinfo("images.bin")  # stored uncompressed: read the byte range directly
        f.seek(info.header_offset)
        header = f.read(30)
        start = info.header_offset + 30 + int.from_bytes(header[26:28], "little") + \
            int.from_bytes(header[28:30], "little")
        f.seek(start + int(offsets[0]))
        chunk = f.read(int(offsets[-1] - offsets[0]))
    digests = []
    for k in range(hi - lo):
        a, b = int(offsets[k] - offsets[0]), int(offsets[k + 1] - offsets[0])
        img = decode_image(chunk[a:b])
        digests.append(image_digest(img))
        for dst in targets[k]:
            Image.fromarray(img).save(dst, format="PNG", compress_level=1)
    return lo, digests


def rebuild_facesets(pack: PackInfo, out_dir: str | os.PathLike, splits: dict[str, str],
                     max_faces: int | None = None, workers: int | None = None) -> dict[str, Any]:
    """Write FaceSet folders from a pack: ``splits`` maps a folder name under ``out_dir`` to the
    records it holds (``"all"``, ``"train"`` or ``"heldout"``).

    Each folder gets ``faces.jsonl`` with the source's own lines (byte for byte) and the crops as
    PNG at the records' paths, so it is the FaceSet the pack was made from, pixels decoded from
    the pack's lossy copy. With ``max_faces`` only the first that many of each split are written
    (dry runs).

    Returns:
        ``{"folders": {name: {"path", "faces"}}, "decoded_sha256_ok": bool | None, "seconds"}``
        (the checksum is verified only when every image was decoded).
    """
    import time
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    heldout = set(pack.manifest.get("split", {}).get("heldout_indices", []))
    wanted: dict[str, list[int]] = {}
    for folder, which in splits.items():
        if which not in ("all", "train", "heldout"):
            raise GpuScriptError(f"unknown split {which!r}")
        idx = [i for i in range(pack.n) if which == "all" or (i in heldout) == (which == "heldout")]
        wanted[folder] = idx[:max_faces] if max_faces else idx
    targets: list[list[str]] = [[] for _ in range(pack.n)]
    images = [json.loads(line)["image"] for line in pack.lines]
    for folder, idx in wanted.items():
        root = out_dir / folder
        if (root / "faces.jsonl").exists():
            raise GpuScriptError(f"{root} already holds a FaceSet")
        (root / "images").mkdir(parents=True, exist_ok=True)
        for i in idx:
            targets[i].append(str(root / images[i]))
    # decode everything when nothing is capped (the checksum covers the whole pack), else only what is needed
    last = pack.n if not max_faces else max((i for idx in wanted.values() for i in idx), default=-1) + 1
    workers = workers or max(1, min(16, os.cpu_count() or 1))
    step = max(1, -(-last // (workers * 4)))
    jobs = [(str(pack.path), lo, min(lo + step, last), pack.offsets[lo:min(lo + step, last) + 1],
             targets[lo:min(lo + step, last)]) for lo in range(0, last, step)]
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as ex:
            digests = dict(ex.map(_rebuild_chunk, jobs))
    else:
        digests = dict(map(_rebuild_chunk, jobs))
    ok = None
    if last == pack.n and pack.manifest.get("decoded_sha256"):
        h = hashlib.sha256(b"".join(d for lo in sorted(digests) for d in digests[lo]))
        ok = h.hexdigest() == pack.manifest["decoded_sha256"]
    for folder, idx in wanted.items():
        text = "".join(pack.lines[i] + "\n" for i in idx)
        (out_dir / folder / "faces.jsonl").write_text(text, encoding="utf-8")
    return {"folders": {f: {"path": str(out_dir / f), "faces": len(idx)} for f, idx in wanted.items()},
            "decoded_sha256_ok": ok, "seconds": time.perf_counter() - t0}


def pack_photo(pack: PackInfo) -> tuple[np.ndarray, dict] | None:
    """The benchmark photo of a pack (uint8 RGB) and its record (landmarks, box, source), or None."""
    meta = pack.manifest.get("photo")
    if not meta:
        return None
    with zipfile.ZipFile(pack.path) as z:
        img = decode_image(z.read(meta["member"]))
    return img, meta


# -- checkpoints ------------------------------------------------------------------------------------
def latest_checkpoint(run: Path) -> Path | None:
    """Newest ``RUN/checkpoints/step_XXXXXXXX.pt`` by step."""
    found = sorted((run / "checkpoints").glob("step_*.pt")) if (run / "checkpoints").is_dir() else []
    found = [p for p in found if re.fullmatch(r"step_\d{8}\.pt", p.name)]
    return found[-1] if found else None


def load_checkpoint(path: Path) -> dict:
    """``torch.load(weights_only=True)``, naming the file on failure."""
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types on a corrupt file
        raise GpuScriptError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or "step" not in payload or "model" not in payload:
        raise GpuScriptError(f"{path}: not a latentedit checkpoint")
    return payload


# -- returned files: one tar, split into parts --------------------------------------------------------
def make_tar(out: Path, root: Path, members: Sequence[str]) -> Path:
    """An uncompressed tar of ``members`` (paths relative to ``root``; folders recursively)."""
    with tarfile.open(out, "w") as tar:
        for m in members:
            if (root / m).exists():
                tar.add(root / m, arcname=m)
    return out


def split_file(path: Path, out_dir: Path, part_bytes: int = PART_BYTES) -> list[dict]:
    """Split ``path`` into ``NAME.partNN`` files in ``out_dir``; returns ``[{name, bytes, sha256}]``."""
    parts = []
    with open(path, "rb") as f:
        k = 0
        while True:
            block = f.read(part_bytes)
            if not block and k:
                break
            name = f"{path.name}.part{k:02d}"
            (out_dir / name).write_bytes(block)
            parts.append({"name": name, "bytes": len(block), "sha256": hashlib.sha256(block).hexdigest()})
            k += 1
            if len(block) < part_bytes:
                break
    return parts


def join_parts(src_dir: Path, parts: Sequence[dict], out: Path, sha256: str) -> Path:
    """Join parts written by :func:`split_file` after checking every checksum.

    Raises:
        GpuScriptError: naming a missing or damaged part, or a joined file that does not match.
    """
    h = hashlib.sha256()
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as w:
        for p in parts:
            f = Path(src_dir) / p["name"]
            if not f.is_file():
                raise GpuScriptError(f"{f}: part missing")
            data = f.read_bytes()
            if len(data) != p["bytes"] or hashlib.sha256(data).hexdigest() != p["sha256"]:
                raise GpuScriptError(f"{f}: checksum mismatch (damaged or from another run)")
            h.update(data)
            w.write(data)
    if h.hexdigest() != sha256:
        tmp.unlink()
        raise GpuScriptError(f"{out.name}: joined file does not match its recorded sha256")
    os.replace(tmp, out)
    return out


def check_returned(out_dir: Path) -> list[str]:
    """Problems with ``out_dir`` as the device tool's return folder (empty list: it obeys the limits)."""
    files = [p for p in Path(out_dir).rglob("*") if p.is_file()]
    problems = []
    if len(files) > RETURN_MAX_FILES:
        problems.append(f"{len(files)} files (limit {RETURN_MAX_FILES})")
    total = 0
    for p in files:
        rel = p.relative_to(out_dir)
        total += p.stat().st_size
        if p.stat().st_size > RETURN_MAX_FILE:
            problems.append(f"{rel}: {p.stat().st_size / MiB:.1f} MiB (limit 16 MiB)")
        if not all(RETURN_NAME_RE.match(part) for part in rel.parts):
            problems.append(f"{rel}: name has characters other than letters, digits, '.', '_', '-'")
        if len(rel.parts) > 3:
            problems.append(f"{rel}: more than 2 folders deep")
    if total > RETURN_MAX_TOTAL:
        problems.append(f"{total / MiB:.1f} MiB in all (limit 64 MiB)")
    return problems


def copy_tree_files(src: Path, dst: Path, names: Iterable[str]) -> None:
    """Copy files/folders ``names`` from ``src`` into ``dst`` (replacing them)."""
    for n in names:
        s, d = src / n, dst / n
        if not s.exists():
            continue
        if d.is_dir() and not d.is_symlink():
            shutil.rmtree(d)
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir():
            shutil.copytree(s, d)
        else:
            shutil.copy2(s, d)
