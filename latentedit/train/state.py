"""Resume state: ``RUN/checkpoints/step_XXXXXXXX.pt`` written atomically, read with
``torch.load(weights_only=True)``. Only tensors, numbers, strings, lists and dicts are stored
(RNG states included), so loading a checkpoint never runs code.

After a hard kill (``kill -9``, power cut) at any moment, ``--resume`` continues exactly: it removes
the temp files the killed process left (:func:`latentedit._io.remove_stale_temps`), finishes or
undoes an interrupted ``RUN/model`` swap (:func:`latentedit._io.recover_dir`), and resumes from the
newest checkpoint that reads back (an unreadable one is named in a warning and skipped)."""
from __future__ import annotations

import json
import os
import random
import re
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import atomic_path, atomic_write_text, fsync_dir, recover_dir, remove_stale_temps
from ..errors import LatentEditError
from ..formats import FileFormat
from ..models.hub import CONFIG_NAME, DISC_NAME, WEIGHTS_NAME
from .config import config_differences

CKPT_DIR = "checkpoints"
_CKPT_RE = re.compile(r"^step_(\d{8})\.pt$")
#: Keys every checkpoint written by :func:`save_checkpoint` (via ``Trainer.state_payload``) has.
CHECKPOINT_KEYS = ("model", "disc", "opt", "opt_d", "step", "rng")


def capture_rng() -> dict[str, Any]:
    """The global torch / numpy / python RNG states as weights_only-loadable values."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    out: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": {"version": int(py_state[0]), "state": list(py_state[1]),
                   "gauss_next": py_state[2]},
    }
    if torch.cuda.is_available():
        out["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    return out


def restore_rng(state: dict[str, Any]) -> None:
    """Restore what :func:`capture_rng` returned."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_path(run: Path, step: int) -> Path:
    """``RUN/checkpoints/step_XXXXXXXX.pt``."""
    return Path(run) / CKPT_DIR / f"step_{step:08d}.pt"


def list_checkpoints(run: Path) -> list[tuple[int, Path]]:
    """``[(step, path)]`` of a run's checkpoints, oldest first."""
    d = Path(run) / CKPT_DIR
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _CKPT_RE.match(p.name))]
    return sorted(found)


def save_checkpoint(run: Path, step: int, payload: dict[str, Any], keep: int) -> Path:
    """Write ``payload`` (plus RNG states) as the step's checkpoint; keep the newest ``keep``.

    The file is fsync'd before it is renamed into place, so the checkpoints kept are complete even
    after a power cut. Only checkpoints up to ``step`` count towards ``keep``: a newer one (an
    unreadable file skipped on resume) is left alone and replaced when training reaches its step.

    Returns:
        The checkpoint path.
    """
    path = checkpoint_path(run, step)
    payload = dict(payload, step=step, rng=capture_rng())
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
    fsync_dir(path.parent)
    older = [p for n, p in list_checkpoints(run) if n <= step]
    for old in older[:-keep]:
        try:
            old.unlink()
        except FileNotFoundError:  # another process pruned it first
            pass
    return path


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` and check it has the keys a resume needs.

    Raises:
        LatentEditError: naming the file (one line) if it cannot be read or is not a checkpoint.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types on corrupt / foreign files
        raise LatentEditError(f"{path}: cannot read checkpoint ({_one_line(exc)})") from None
    if not isinstance(payload, dict):
        raise LatentEditError(f"{path}: not a latentedit checkpoint (holds a {type(payload).__name__})")
    missing = [k for k in CHECKPOINT_KEYS if k not in payload]
    if missing:
        raise LatentEditError(f"{path}: not a latentedit checkpoint (no {', '.join(missing)})")
    return payload


def latest_checkpoint(run: Path) -> Path | None:
    """Newest checkpoint of a run (by file name; see :func:`load_latest_checkpoint`), or None."""
    found = list_checkpoints(run)
    return found[-1][1] if found else None


def load_latest_checkpoint(run: Path, warn: bool = True) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint of a run that reads back, and its payload.

    A truncated or garbage newer file (a disk fault: writes are atomic, so a kill cannot make one)
    is skipped with a ``RuntimeWarning`` naming it and the checkpoint used instead.

    Args:
        run: the run folder.
        warn: issue the warnings (rank 0 only under DDP).

    Returns:
        ``(path, payload)``, or None if the run has no checkpoint yet.

    Raises:
        LatentEditError: (one line) if there are checkpoints and none of them can be read.
    """
    found = list_checkpoints(run)
    bad: list[str] = []
    for _, path in reversed(found):
        try:
            payload = load_checkpoint(path)
        except LatentEditError as exc:
            bad.append(str(exc))
            continue
        if warn:
            for msg in bad:
                warnings.warn(f"{msg}; using the previous good checkpoint {path.name} instead",
                              RuntimeWarning, stacklevel=2)
        return path, payload
    if bad:
        raise LatentEditError(f"{Path(run) / CKPT_DIR}: none of the {len(bad)} checkpoint(s) can be read (newest: "
                              f"{bad[0]}); restore them from a backup or start a new run with another --out")
    return None


# -- run folder ------------------------------------------------------------------------------------
RUN_CONFIG = "config.json"
#: ``RUN/config.json``: the resolved options of a training run (compared on ``--resume``).
RUN_CONFIG_FORMAT = FileFormat("latentedit.train_run", 1, error=LatentEditError, what="training run config",
                               required={"train": (dict,), "model": (dict,)})
METRICS = "metrics.jsonl"
RUN_MODEL = "model"


def prepare_run(run: Path, resolved: dict[str, Any], resume: bool) -> Path | None:
    """Check the run folder (every rank, before anyone writes; see :func:`write_run_config`).

    Args:
        run: the run folder.
        resolved: the resolved config of this invocation.
        resume: continue an existing run.

    Returns:
        The checkpoint to resume from, or None to start at step 0.

    Raises:
        LatentEditError: if a new run would overwrite a non-empty folder, ``--resume`` finds no
            run, or the saved config differs in anything but the resumable options.
    """
    run = Path(run)
    cfg_path = run / RUN_CONFIG
    if not resume:
        if run.is_dir():  # a run killed while writing its first file left only a temp file
            remove_stale_temps(run)
        if run.exists() and (not run.is_dir() or any(run.iterdir())):
            what = "holds a training run" if cfg_path.is_file() else "exists and is not empty"
            raise LatentEditError(f"{run} {what}; pass --resume to continue it or choose another --out")
        return None
    if not cfg_path.is_file():
        raise LatentEditError(f"--resume: {run} is not a training run (no {RUN_CONFIG})")
    saved = RUN_CONFIG_FORMAT.read(cfg_path, default_version=1)
    diffs = [f"--{k.replace('_', '-')}: saved {saved.get('train', {}).get(k)!r}, now "
             f"{resolved['train'].get(k)!r}" for k in config_differences(saved.get("train", {}), resolved["train"])]
    if saved.get("model") != resolved["model"]:
        sm, cm = saved.get("model") or {}, resolved["model"]
        diffs += [f"model {k}: saved {sm.get(k)!r}, now {cm.get(k)!r}" for k in sorted(set(sm) | set(cm))
                  if sm.get(k) != cm.get(k)]
    if diffs:
        raise LatentEditError(f"--resume: {cfg_path} was written with different options; refusing to mix "
                              f"them ({'; '.join(diffs)})")
    return latest_checkpoint(run)


def clean_run(run: Path) -> None:
    """Remove what a hard-killed run left behind: finish or undo an interrupted ``RUN/model`` swap,
    then delete stale temp files anywhere in the run folder. Only the exact temp / staging names
    of :mod:`latentedit._io` whose process is gone are touched. Rank 0 calls it on ``--resume``,
    after :func:`prepare_run` accepted the folder and before anyone writes into it."""
    run = Path(run)
    recover_dir(run / RUN_MODEL, carry=lambda name: name not in (CONFIG_NAME, WEIGHTS_NAME, DISC_NAME))
    remove_stale_temps(run, recursive=True)


def write_run_config(run: Path, resolved: dict[str, Any], resumed_from: Path | None) -> None:
    """Write ``RUN/config.json`` (rank 0, after every rank passed :func:`prepare_run`)."""
    RUN_CONFIG_FORMAT.write(Path(run) / RUN_CONFIG,
                            dict(resolved, resumed_from=resumed_from.name if resumed_from else None))


def save_run_model(run: Path, model, disc, step: int) -> None:
    """Save the current model as ``RUN/model``, replacing the previous one as a whole (see
    :func:`latentedit.models.save_pretrained`)."""
    model.save_pretrained(Path(run) / RUN_MODEL, discriminators=disc, overwrite=True,
                          extra={"train_step": step, "run": str(Path(run).resolve().name)})


def run_model_step(run: Path) -> int | None:
    """The training step ``RUN/model`` was saved at (``extra.train_step`` of its config), or None."""
    try:
        obj = json.loads((Path(run) / RUN_MODEL / "config.json").read_text(encoding="utf-8"))
        step = obj["extra"]["train_step"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return step if isinstance(step, int) else None


class MetricsLog:
    """Append-only ``RUN/metrics.jsonl`` (+ TensorBoard when installed); rank 0 only.

    On resume, lines after the resumed step are dropped first so the log matches the state.
    """

    def __init__(self, run: Path, enabled: bool = True, tensorboard: bool = True, after_step: int = 0) -> None:
        self._json = json
        self.enabled = enabled
        self.path = Path(run) / METRICS
        self.tb = None
        if not enabled:
            return
        if self.path.is_file():
            keep = []
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line).get("step", 0) <= after_step:
                        keep.append(line + "\n")
                except json.JSONDecodeError:  # a torn last line from a crash
                    continue
            atomic_write_text(self.path, "".join(keep))
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(Path(run) / "tensorboard"))
            except Exception:  # tensorboard not installed: the JSONL log is enough
                self.tb = None
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, step: int, values: dict[str, float]) -> None:
        """Append one record ``{"step", "time", **values}``."""
        if not self.enabled:
            return

        self._f.write(self._json.dumps({"step": step, "time": round(time.time(), 3), **values}) + "\n")
        self._f.flush()
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        """Close the files."""
        if self.enabled:
            self._f.close()
            if self.tb is not None:
                self.tb.close()
