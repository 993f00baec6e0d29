"""The measuring stages of ``gpu_check.py``, each run in its own process (a CUDA fault or a hung
compile in one cannot take the others down) and each writing its results incrementally to a JSON
file, so what was measured before a kill at the stage's deadline is kept.

* :func:`stage_bench` — training throughput of the default ``TrainConfig`` step at 64 and 128 px
  (fp32 vs bf16 autocast, NCHW vs channels_last, eager vs ``torch.compile``; the plain-PyTorch
  baseline of ``latentedit bench train`` in the same run; batch sweep), then the editor: slider
  move (shift + decode + merge of one face into the 1024-px photo), decode alone, region move,
  ``Editor.edit`` batch throughput on aligned crops and the model-only ceiling.
* :func:`stage_train` — installs the carried resume state, runs ``latentedit train`` (the CLI's own
  ``main``) until SIGINT (the loop checkpoints and stops), then measures held-out reconstruction.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # latentedit from the source tree, not installed
import gpu_common as gc  # noqa: E402
import gpu_state as gs  # noqa: E402


class Recorder:
    """Holds a stage's results and rewrites them to ``path`` after every change."""

    def __init__(self, path: Path, **initial: Any) -> None:
        self.path = Path(path)
        self.data: dict[str, Any] = dict(initial, errors=[])
        self.save()

    def save(self) -> None:
        gc.write_json(self.path, self.data)

    def add(self, key: str, row: dict) -> None:
        self.data.setdefault(key, []).append(row)
        self.save()

    def set(self, **kv: Any) -> None:
        self.data.update(kv)
        self.save()

    def error(self, where: str, exc: BaseException) -> dict:
        msg = f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}"
        print(f"gpu_check: {where} failed: {msg}", flush=True)
        traceback.print_exc(limit=4)
        self.data["errors"].append({"where": where, "error": msg})
        self.save()
        return {"error": msg}


def _sync(dev) -> None:
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _pct(ts: list[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(ts) * 1000.0, q)) if ts else None


# -- training throughput ----------------------------------------------------------------------------
def measure_train(dev, size: int, batch: int, amp: bool, channels_last: bool, compile_: bool, steps: int,
                  warmup: int, n_images: int, threads: int | None = None) -> dict:
    """img/s of the default ``TrainConfig`` step (``latentedit bench train``'s "ours") with the given
    precision, memory format and compile choice, on its synthetic data."""
    import torch

    from latentedit.train import TrainConfig, Trainer
    from latentedit.train.distributed import DistInfo

    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    cfg = TrainConfig(data={"A": "-", "B": "-"}, size=size, batch=batch, progress=False, device=str(dev),
                      amp="bf16" if amp else "off", channels_last="on" if channels_last else "off",
                      compile=compile_, tensorboard=False, threads=threads)
    bt = gc.bench_module("train")
    tr = Trainer(cfg, data=bt._synthetic_data(size, n_images), dist_info=DistInfo(device=dev))
    t = time.perf_counter()
    tr.train_step(0)
    _sync(dev)
    first = time.perf_counter() - t
    for i in range(1, warmup):
        tr.train_step(i)
    _sync(dev)
    t = time.perf_counter()
    for i in range(warmup, warmup + steps):
        tr.train_step(i)
    _sync(dev)
    dt = time.perf_counter() - t
    row = {"size": size, "batch_per_identity": batch, "precision": "bf16 autocast" if amp else "fp32",
           "memory_format": "channels_last" if channels_last else "NCHW", "compile": compile_,
           "img_per_s": tr.images_per_step * steps / dt, "step_ms": 1000 * dt / steps,
           "first_step_s": first, "peak_mb": bt._peak_mb(dev),
           "params": sum(p.numel() for p in tr.model.parameters())}
    del tr
    if compile_:
        torch._dynamo.reset()
    return row


def measure_baseline(dev, size: int, batch: int, steps: int, warmup: int, threads: int | None = None) -> dict:
    """``latentedit bench train``'s plain-PyTorch baseline step (fp32, NCHW, L1 + MSE, AdamW)."""
    import torch

    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    r = gc.bench_module("train")._measure("baseline", size, batch, steps, warmup, threads, str(dev))
    return {"size": size, "batch_per_identity": batch, "precision": "fp32", "memory_format": "NCHW",
            "compile": False, "img_per_s": r["img_per_s"], "step_ms": 1000 * r["step_s_median"],
            "peak_mb": r["peak_mb"], "params": r["params"]}


def _variants(compile_: bool) -> list[tuple[str, bool, bool, bool]]:
    """(name, bf16, channels_last, compile): the default first, then one change at a time."""
    rows = [("default: bf16 + channels_last", True, True, False), ("fp32 + NCHW", False, False, False),
            ("bf16 + NCHW", True, False, False), ("fp32 + channels_last", False, True, False)]
    if compile_:
        rows.append(("bf16 + channels_last + compile", True, True, True))
    return rows


def bench_train(rec: Recorder, dev, a: dict, deadline: float) -> None:
    """Every variant at every size; ratios against the variant they change one thing of."""
    def run(name: str, fn: Callable[[], dict], key: str = "train") -> dict | None:
        if time.monotonic() > deadline:
            rec.add(key, {"variant": name, "skipped": "time budget"})
            return None
        try:
            row = dict(variant=name, **fn())
        except Exception as exc:  # noqa: BLE001 - record and go on with the next variant
            row = dict(variant=name, **rec.error(f"train bench {name}", exc))
        rec.add(key, row)
        if "img_per_s" in row:
            print(f"gpu_check: train {row['size']} px {name:<32} {row['img_per_s']:9.0f} img/s", flush=True)
        return row

    eager = [v for v in _variants(False)]
    for size in a["sizes"]:
        run("baseline: plain PyTorch fp32 step",
            lambda: measure_baseline(dev, size, a["batch"], a["steps"], a["warmup"], a.get("threads")))
        for name, bf16, cl, _ in eager:
            run(name, lambda: measure_train(dev, size, a["batch"], bf16, cl, False, a["steps"], a["warmup"], a["images"],
                                            a.get("threads")))
    return None


def bench_train_late(rec: Recorder, dev, a: dict, deadline: float) -> None:
    """After the editor benchmark: the batch sweep, then the slow ``torch.compile`` variants (128 px
    first: the throughput target is there), each only if its compile can finish before the deadline
    (estimated from the previous compile, else ``a["compile_estimate_s"]``)."""
    def run(name: str, fn: Callable[[], dict], key: str, need_s: float = 0.0) -> dict:
        left = deadline - time.monotonic()
        if left < need_s or left <= 0:
            row = {"variant": name, "skipped": f"time budget ({left:.0f} s left, ~{need_s:.0f} s needed)"}
            rec.add(key, row)
            return row
        try:
            row = dict(variant=name, **fn())
        except Exception as exc:  # noqa: BLE001
            row = dict(variant=name, **rec.error(f"train bench {name}", exc))
        rec.add(key, row)
        if "img_per_s" in row:
            print(f"gpu_check: train {row['size']} px {name:<32} {row['img_per_s']:9.0f} img/s "
                  f"(first step {row.get('first_step_s', 0):.1f} s)", flush=True)
        return row

    for b in a["sweep_batches"]:
        run(f"default, batch {b}", lambda: measure_train(dev, a["sweep_size"], b, True, True, False, a["steps"],
                                                          a["warmup"], max(a["images"], b), a.get("threads")),
            "train_batch_sweep")
    estimate = float(a.get("compile_estimate_s", 0.0))
    for size in sorted(a["sizes"], reverse=True):
        row = run("bf16 + channels_last + compile",
                  lambda: dict(measure_train(dev, size, a["batch"], True, True, True, a["steps"], a["warmup"] + 2,
                                             a["images"], a.get("threads")), compile_note=a.get("compile_note")),
                  "train",
                  need_s=estimate)
        if "first_step_s" in row:
            estimate = 1.3 * row["first_step_s"] + 10.0


# -- editor -----------------------------------------------------------------------------------------
def _photo_face(ed, photo: np.ndarray | None, meta: dict | None):
    """The benchmark photo's face, aligned with the landmarks detected when packing (no dlib here)."""
    from latentedit.faces import align_face

    s = ed.resolution
    if photo is None:  # no photo packed: a synthetic 1024-px frame with a fixed box, like bench edit
        rng = np.random.default_rng(0)
        photo = rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
        from latentedit.faces import canonical_landmarks
        lm = canonical_landmarks(s).astype(np.float64) * (600 / s) + 212
    else:
        lm = np.asarray(meta["landmarks"], np.float64)
    al = align_face(photo, lm, size=s)
    face = ed.find_faces(al.crop, aligned=True)[0]
    face.image, face.affine, face.landmarks = photo, al.affine, np.asarray(al.landmarks, np.float32)
    return face


def bench_edit_resolution(dev, res: int, a: dict, photo, meta) -> dict:
    """Slider move, decode, region move and batch throughput at one resolution."""
    import copy

    import torch

    from latentedit.edit import Editor, Recipe

    cpu_ed, _ = gc.bench_module("edit")._editor(res, None)
    ed = Editor(cpu_ed.model, cpu_ed.boundaries, device=dev)
    face = _photo_face(ed, photo, meta)
    names = ed.attributes
    alphas = np.linspace(-3, 3, max(a["moves"], 2))
    recipes = [Recipe(edits={names[0]: float(x)}, hold=names[1:2]) for x in alphas]
    aligned = copy.copy(face)
    aligned.image, aligned.affine, aligned._cache = None, None, {}
    for r in recipes[:3]:  # warm-up: allocations, cached normals, the paste plan, cuDNN algorithms
        ed.apply(face, r)
        ed.apply(aligned, r)
    move, move_aligned, decode, region = [], [], [], []
    for r in recipes:
        t = time.perf_counter()
        ed.apply(face, r)
        move.append(time.perf_counter() - t)
        t = time.perf_counter()
        ed.apply(aligned, r)
        move_aligned.append(time.perf_counter() - t)
        z = ed.shift(face.z[None], r)
        t = time.perf_counter()
        ed.decode(z, ed.default_identity)
        decode.append(time.perf_counter() - t)
        r2 = Recipe(edits=r.edits, hold=r.hold, region="mouth")
        t = time.perf_counter()
        ed.apply(face, r2)
        region.append(time.perf_counter() - t)
    detail = _detail_move(ed, face, recipes)
    crops = [np.roll(face.crop, k, axis=1) for k in range(a["images"])]
    recipe = recipes[-1]
    ed.edit(crops[: a["batch_size"]], recipe, batch_size=a["batch_size"], aligned=True)  # warm-up
    t = time.perf_counter()
    ed.edit(crops, recipe, batch_size=a["batch_size"], aligned=True)
    batched = len(crops) / (time.perf_counter() - t)
    n1 = max(4, min(64, a["images"] // 8))
    t = time.perf_counter()
    ed.edit(crops[:n1], recipe, batch_size=1, aligned=True)
    single = n1 / (time.perf_counter() - t)
    model_only = _model_only(ed, recipe, dev, a["model_batch"], a["model_reps"])
    return {"resolution": res, "frame": list(face.image.shape[:2]), "photo": (meta or {}).get("source", "synthetic"),
            "latent_dim": int(ed.model.config.latent_dim),
            "move_ms_p50": _pct(move, 50), "move_ms_p95": _pct(move, 95),
            "move_aligned_ms_p50": _pct(move_aligned, 50), "decode_ms_p50": _pct(decode, 50),
            "region_move_ms_p50": _pct(region, 50), **detail,
            "batch_edits_per_s": batched, "one_by_one_edits_per_s": single, "batch_speedup": batched / single,
            "batch_size": a["batch_size"], "batch_images": len(crops), **model_only}


def _detail_move(ed, face, recipes) -> dict:
    """The detail-mode move, if this checkout's Recipe has a ``mode`` with a ``detail`` choice."""
    from latentedit.edit import Recipe

    if "mode" not in {f.name for f in dataclasses.fields(Recipe)}:
        return {"detail_move_ms_p50": None, "detail_note": "no detail mode in this checkout's Recipe"}
    try:
        rs = [Recipe(edits=r.edits, hold=r.hold, mode="detail") for r in recipes]
        ed.apply(face, rs[0])
        ts = []
        for r in rs:
            t = time.perf_counter()
            ed.apply(face, r)
            ts.append(time.perf_counter() - t)
        return {"detail_move_ms_p50": _pct(ts, 50), "detail_move_ms_p95": _pct(ts, 95)}
    except Exception as exc:  # noqa: BLE001 - the mode exists but failed: say so, keep the rest
        return {"detail_move_ms_p50": None, "detail_note": f"{type(exc).__name__}: {exc}"[:300]}


def _model_only(ed, recipe, dev, batch: int, reps: int) -> dict:
    """Edits/s of the model alone (shift + decode + uint8 on the device, no per-face Python): the
    ceiling ``Editor.edit`` could reach. fp32 (what the Editor runs) and bf16 autocast."""
    import torch

    z = torch.randn(batch, int(ed.model.config.latent_dim), device=dev)
    delta = ed.direction(recipe).to(dev)
    out = {}
    for name, ctx in (("fp32", None), ("bf16", torch.bfloat16)):
        def once():
            with torch.inference_mode():
                if ctx is not None:
                    with torch.autocast(device_type=dev.type, dtype=ctx):
                        rgb, _ = ed.model.decode(z + delta, ed.default_identity)
                else:
                    rgb, _ = ed.model.decode(z + delta, ed.default_identity)
                return ((rgb.float() + 1) * 127.5).clamp_(0, 255).to(torch.uint8)
        once()
        _sync(dev)
        t = time.perf_counter()
        for _ in range(reps):
            once()
        _sync(dev)
        out[f"model_only_edits_per_s_{name}"] = batch * reps / (time.perf_counter() - t)
    out["model_only_batch"] = batch
    return out


def bench_edit(rec: Recorder, dev, a: dict, deadline: float, photo, meta) -> None:
    for res in a["resolutions"]:
        if time.monotonic() > deadline:
            rec.add("edit", {"resolution": res, "skipped": "time budget"})
            continue
        try:
            row = bench_edit_resolution(dev, res, a, photo, meta)
            print(f"gpu_check: edit {res} px move p50 {row['move_ms_p50']:.2f} ms (aligned "
                  f"{row['move_aligned_ms_p50']:.2f}), batch {row['batch_edits_per_s']:.0f} edits/s, "
                  f"model only {row['model_only_edits_per_s_fp32']:.0f}/s", flush=True)
        except Exception as exc:  # noqa: BLE001
            row = {"resolution": res, **rec.error(f"edit bench {res} px", exc)}
        rec.add("edit", row)


def stage_bench(args: dict, out: Path) -> int:
    """The benchmark stage: training throughput, editor latency/throughput, then the slow parts."""
    import torch

    machine_info = gc.bench_module("markdown").machine_info
    deadline = time.monotonic() + args["budget_s"]
    dev = torch.device(args["device"])
    if dev.type == "cpu":
        # one thread: on a shared 2-core machine a second intra-op thread spinning against other jobs made
        # these tiny models 30x slower in our runs (latentedit bench edit documents the same effect)
        torch.set_num_threads(1)
    else:
        torch.backends.cudnn.benchmark = True
    rec = Recorder(out, machine=machine_info(str(dev)))
    photo = meta = None
    if args.get("pack"):
        try:
            got = gc.pack_photo(gc.read_pack(args["pack"]))
            if got:
                photo, meta = got
        except Exception as exc:  # noqa: BLE001 - edit bench falls back to a synthetic frame
            rec.error("reading the benchmark photo", exc)
    t0 = time.monotonic()
    bench_train(rec, dev, args["train"], deadline - args["edit_reserve_s"])
    rec.set(train_eager_s=time.monotonic() - t0)
    t0 = time.monotonic()
    bench_edit(rec, dev, args["edit"], deadline, photo, meta)
    rec.set(edit_s=time.monotonic() - t0)
    t0 = time.monotonic()
    bench_train_late(rec, dev, args["train"], deadline)
    rec.set(train_late_s=time.monotonic() - t0, done=True)
    return 0


# -- training ---------------------------------------------------------------------------------------
def stage_train(args: dict, out: Path) -> int:
    """Install the carried state (if any), train until SIGINT or the step limit, measure held-out PSNR."""
    import torch

    run = Path(args["run"])
    rec = Recorder(out, run=run.name, started=False)
    try:
        if args.get("state") and Path(args["state"]).is_file():
            m = gs.install_state(Path(args["state"]), run)
            rec.set(resumed={"step": m["step"], "form": m["form"], "checkpoint": m["checkpoint"]})
            print(f"gpu_check: resuming {run.name} from step {m['step']} (carried state, form {m['form']})", flush=True)
        else:
            rec.set(resumed=None)
            print(f"gpu_check: no carried state: {run.name} starts at step 0", flush=True)
        start = rec.data["resumed"]["step"] if rec.data["resumed"] else 0
        steps = start + args["max_steps"] if args.get("max_steps") else gc.UNBOUNDED_STEPS
        argv = gc.train_argv(args["recipe"], args["data"], str(run), args["dry_run"], steps, args["compile"])
        if rec.data["resumed"]:
            argv.append("--resume")
        if args["device"] == "cpu":
            argv += ["--device", "cpu", "--threads", "1"]
        rec.set(argv=argv, start_step=start, started=True)
        print("gpu_check: latentedit " + " ".join(argv), flush=True)
        from latentedit.cli.main import main as cli_main

        t = time.perf_counter()
        try:
            rc = cli_main(argv)
        except KeyboardInterrupt:  # SIGINT before the loop's handler was installed (still loading)
            rc = "interrupted before the first step"
        rec.set(cli_rc=rc, train_wall_s=time.perf_counter() - t)
    except Exception as exc:  # noqa: BLE001
        rec.error("training", exc)
    try:
        rec.set(**summarize_run(run, rec.data.get("start_step", 0)))
    except Exception as exc:  # noqa: BLE001
        rec.error("reading the run", exc)
    if args.get("heldout") and (run / "model" / "config.json").is_file():
        try:
            rec.set(heldout=heldout_psnr(run / "model", Path(args["heldout"])))
            print(f"gpu_check: held-out PSNR {rec.data['heldout']['psnr_db']:.2f} dB on "
                  f"{rec.data['heldout']['faces']} faces", flush=True)
        except Exception as exc:  # noqa: BLE001
            rec.error("held-out reconstruction", exc)
    rec.set(done=True)
    return 0 if not rec.data["errors"] else 1


def summarize_run(run: Path, start_step: int) -> dict:
    """Step reached, this session's steps and img/s (from ``metrics.jsonl``), last losses, model id."""
    ck = gc.latest_checkpoint(run)
    lines = []
    if (run / "metrics.jsonl").is_file():
        for ln in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
            try:
                lines.append(json.loads(ln))
            except json.JSONDecodeError:
                continue
    mine = [r for r in lines if r.get("step", 0) > start_step]
    rates = [r["img_per_s"] for r in mine if "img_per_s" in r]
    model_cfg = {}
    if (run / "model" / "config.json").is_file():
        model_cfg = json.loads((run / "model" / "config.json").read_text(encoding="utf-8"))
    return {"end_step": int(ck.name[5:13]) if ck else None, "steps_this_session": (int(ck.name[5:13]) - start_step) if ck else 0,
            "img_per_s_median": float(np.median(rates)) if rates else None,
            "img_per_s_last": rates[-1] if rates else None,
            "last_metrics": {k: v for k, v in (mine or lines or [{}])[-1].items() if k != "time"},
            "model_id": model_cfg.get("model_id"), "model_config": model_cfg.get("model")}


def heldout_psnr(model_dir: Path, faceset: Path) -> dict:
    """Held-out reconstruction PSNR, the definition ``latentedit bench boundaries --celeba`` reports."""
    import torch

    from latentedit.faceset import FaceSet
    from latentedit.models import load_model

    model = load_model(model_dir, "cpu")
    fs = FaceSet(faceset)
    s = int(model.config.resolution)
    crops = fs.load_images(size=s)  # uint8 N×3×S×S
    t = time.perf_counter()
    with torch.no_grad():
        psnr = gc.bench_module("celeba_boundaries").heldout_psnr(model, crops)
    return {"psnr_db": psnr, "faces": len(fs), "seconds": time.perf_counter() - t,
            "params": sum(p.numel() for p in model.parameters())}


STAGES = {"bench": stage_bench, "train": stage_train}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in STAGES:
        print(f"usage: gpu_stages.py {{{','.join(STAGES)}}} ARGS.json OUT.json (run by gpu_check.py)", file=sys.stderr)
        return 2
    name, args_file, out = argv
    args = json.loads(Path(args_file).read_text(encoding="utf-8"))
    if name in os.environ.get("GPU_CHECK_INJECT_FAILURE", "").split(","):  # tests: a stage that dies
        raise RuntimeError(f"injected failure of stage {name} (GPU_CHECK_INJECT_FAILURE)")
    return STAGES[name](args, Path(out))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
