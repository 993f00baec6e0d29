#!/usr/bin/env python3
"""One GPU session's work, unattended, inside a time budget (run it through ``scripts/gpu_check.sh``).

1. probe: torch, CUDA, the GPU (a clear error line and exit 3 when CUDA is missing);
2. data: rebuild the training and held-out FaceSets from the pack (``gpu_carry/celeba64.pack``);
3. bench: training img/s at 64 and 128 px (fp32 vs bf16, NCHW vs channels_last, eager vs compile,
   against the plain-PyTorch baseline), slider move p50 and batch edits/s (own process, own deadline);
4. train: the default model (``scripts/default_model.json``) from its carried state
   (``gpu_carry/<name>.state``) for the rest of the budget, then held-out PSNR (own process);
5. export: the run's resume state (newest checkpoint, config, metrics, model) as one tar split into
   ≤ 15 MiB parts, their sha256s and everything measured in ``$OUT/gpu_<date>.json``.

A stage that fails is recorded in the JSON and the next one still runs; the exit status is 0 only
when every stage succeeded. ``--dry-run`` runs every stage on CPU with tiny sizes (seconds each)
and makes dlib, gradio, av and lpips unimportable, as on the GPU machine.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # latentedit from the source tree, not installed
import gpu_common as gc  # noqa: E402

#: Issue 16's GPU targets.
TARGETS = {"train_img_per_s_128": 2000.0, "slider_move_ms_p50_128": 1.0, "batch_edits_per_s_128": 20000.0}
#: Modules the GPU machine does not have (the dry run makes them unimportable too).
MISSING_ON_GPU = ("dlib", "face_recognition_models", "gradio", "av", "lpips")
PROBE = r"""
import json, platform, sys
info = {"python": platform.python_version(), "executable": sys.executable}
try:
    import torch
    info.update(torch=torch.__version__, cuda_build=torch.version.cuda, cuda=torch.cuda.is_available())
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(gpu=torch.cuda.get_device_name(0), gpu_memory_gib=round(p.total_memory / 2**30, 1),
                    capability=f"{p.major}.{p.minor}", multiprocessors=p.multi_processor_count,
                    cudnn=torch.backends.cudnn.version(), bf16=torch.cuda.is_bf16_supported(),
                    gpu_count=torch.cuda.device_count())
except Exception as exc:
    info["torch_error"] = f"{type(exc).__name__}: {exc}"
for m in ("numpy", "PIL", "cv2", "safetensors", "sklearn", "scipy", "tqdm", "dlib", "gradio", "av", "lpips"):
    try:
        mod = __import__(m)
        info.setdefault("modules", {})[m] = getattr(mod, "__version__", "yes")
    except Exception:
        info.setdefault("modules", {})[m] = None
try:
    from PIL import features
    info["pil_webp"] = bool(features.check("webp"))
except Exception:
    info["pil_webp"] = None
print(json.dumps(info))
"""


def log(msg: str) -> None:
    print(f"gpu_check: {msg}", flush=True)


class Budget:
    """Wall-clock budget from the start of the run."""

    def __init__(self, seconds: float) -> None:
        self.t0 = time.monotonic()
        self.end = self.t0 + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0


def blocked_modules_dir(work: Path) -> Path:
    """A folder of stub packages that raise ModuleNotFoundError, put first on PYTHONPATH by the dry run."""
    d = work / "missing_on_gpu"
    for m in MISSING_ON_GPU:
        (d / m).mkdir(parents=True, exist_ok=True)
        (d / m / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{m}' (gpu_check --dry-run: the GPU machine has none)\", "
            f"name={m!r})\n", encoding="utf-8")
    return d


def run_stage(name: str, stage_args: dict, work: Path, env: dict, deadline_s: float, grace_s: float,
              sigint_first: bool = False) -> dict:
    """Run one stage of ``gpu_stages.py`` in its own process; stop it at its deadline (SIGINT first
    for training, so it checkpoints), and return what it recorded plus how it ended."""
    args_file = work / f"stage_{name}.args.json"
    out = work / f"stage_{name}.json"
    gc.write_json(args_file, stage_args)
    cmd = [sys.executable, str(Path(__file__).resolve().parent / "gpu_stages.py"), name, str(args_file), str(out)]
    t = time.monotonic()
    proc = subprocess.Popen(cmd, env=env)
    ended = "exited"
    try:
        proc.wait(timeout=max(1.0, deadline_s))
    except subprocess.TimeoutExpired:
        if sigint_first:
            log(f"{name}: time budget reached, asking it to checkpoint and stop (SIGINT)")
            proc.send_signal(signal.SIGINT)
            ended = "stopped at its deadline (SIGINT)"
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                ended = "killed (no exit after SIGINT)"
        else:
            ended = "killed at its deadline"
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rec = {}
    if out.is_file():
        try:
            rec = json.loads(out.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            rec = {"errors": [{"where": name, "error": f"unreadable stage output: {exc}"}]}
    rec.update(exit_code=proc.returncode, ended=ended, wall_s=time.monotonic() - t)
    if proc.returncode not in (0, None) and ended == "exited":
        rec.setdefault("errors", []).append({"where": name, "error": f"stage process exited with {proc.returncode}"})
    return rec


def settings(args) -> dict:
    """Sizes of every stage: the real run, or the dry run's tiny ones."""
    if args.dry_run:
        return {"device": "cpu", "budget_s": args.budget_s,
                "train": {"sizes": [64], "batch": 2, "steps": 1, "warmup": 1, "images": 8, "sweep_size": 64, "threads": 1,
                          "sweep_batches": [4], "compile_note": "dry run: TORCH_COMPILE_DISABLE=1 (eager)"},
                "edit": {"resolutions": [64], "moves": 3, "images": 8, "batch_size": 4, "model_batch": 8,
                         "model_reps": 2},
                "bench_budget_s": 60.0, "edit_reserve_s": 10.0, "max_faces": 48, "max_steps": args.train_steps or 6,
                "train_grace_s": 30.0, "export_reserve_s": 5.0}
    return {"device": "cuda", "budget_s": args.budget_s,
            "train": {"sizes": [64, 128], "batch": 64, "steps": 20, "warmup": 5, "images": 512, "sweep_size": 128,
                      "sweep_batches": [16, 128, 256], "compile_estimate_s": 60.0},
            "edit": {"resolutions": [64, 128, 256], "moves": 100, "images": 4096, "batch_size": 512,
                     "model_batch": 1024, "model_reps": 20},
            "bench_budget_s": args.bench_s, "edit_reserve_s": 45.0, "max_faces": None,
            "max_steps": args.train_steps, "train_grace_s": 45.0, "export_reserve_s": 15.0}


def export_run(run: Path, out: Path, step: int | None, reserve: int, work: Path) -> dict:
    """Tar the run's resume state and split it into parts in ``out``."""
    members = ["config.json", "metrics.jsonl", "model", "preview.png"]
    ck = gc.latest_checkpoint(run)
    if ck is None:
        raise gc.GpuScriptError(f"{run}: no checkpoint to return")
    members.insert(0, f"checkpoints/{ck.name}")
    tar = Path(f"{run.name}_s{step or 0:08d}.tar")
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        tar = gc.make_tar(Path(tmp) / tar.name, run, members)
        size = tar.stat().st_size
        room = gc.RETURN_MAX_TOTAL - reserve
        n_parts = -(-size // gc.PART_BYTES)
        if size > room or n_parts > gc.RETURN_MAX_FILES - 2:
            members.remove("model")  # rebuilt from the checkpoint by gpu_unpack if it must go
            tar = gc.make_tar(Path(tmp) / tar.name, run, members)
            size = tar.stat().st_size
            n_parts = -(-size // gc.PART_BYTES)
            if size > room or n_parts > gc.RETURN_MAX_FILES - 2:
                raise gc.GpuScriptError(f"the run's state is {size / gc.MiB:.1f} MiB: more than the "
                                        f"{room / gc.MiB:.0f} MiB / {gc.RETURN_MAX_FILES - 2} parts that can come back")
        digest = gc.sha256_file(tar)
        parts = gc.split_file(tar, out)
    return {"file": tar.name, "bytes": size, "sha256": digest, "parts": parts, "members": members,
            "checkpoint": ck.name, "step": step, "run": run.name}


def targets(bench: dict) -> list[dict]:
    """Issue 16's targets, met or not, from what this run measured (at 128 px; a dry run, which
    measures 64 px only, reports its largest size and says so)."""
    train = [r for r in bench.get("train", []) if "img_per_s" in r and not r["variant"].startswith("baseline")]
    edit = [r for r in bench.get("edit", []) if "move_ms_p50" in r]
    px_t = 128 if any(r["size"] == 128 for r in train) else max((r["size"] for r in train), default=None)
    px_e = 128 if any(r["resolution"] == 128 for r in edit) else max((r["resolution"] for r in edit), default=None)
    best = max((r for r in train if r["size"] == px_t), key=lambda r: r["img_per_s"], default=None)
    e = next((r for r in edit if r["resolution"] == px_e), None)

    def row(what: str, goal: str, px, value, ok, **kw) -> dict:
        return {"target": what, "goal": goal, "px": px, "measured": value,
                "met": None if value is None else (bool(ok(value)) if px == 128 else None), **kw}

    return [row("train img/s (best variant of the default TrainConfig)", ">= 2000 at 128 px", px_t,
                best["img_per_s"] if best else None, lambda v: v >= TARGETS["train_img_per_s_128"],
                variant=best["variant"] if best else None),
            row("slider move p50 (shift + decode + merge into the photo)", "<= 1 ms at 128 px", px_e,
                e["move_ms_p50"] if e else None, lambda v: v <= TARGETS["slider_move_ms_p50_128"]),
            row("batch edits/s (Editor.edit on aligned crops)", ">= 20000 at 128 px", px_e,
                e["batch_edits_per_s"] if e else None, lambda v: v >= TARGETS["batch_edits_per_s_128"])]


def ratios(bench: dict) -> dict:
    """Speed ratios per size, each between two variants of the same run that differ in one choice."""
    pairs = {"bf16_vs_fp32 (NCHW)": ("bf16 + NCHW", "fp32 + NCHW"),
             "bf16_vs_fp32 (channels_last)": ("default: bf16 + channels_last", "fp32 + channels_last"),
             "channels_last_vs_nchw (bf16)": ("default: bf16 + channels_last", "bf16 + NCHW"),
             "channels_last_vs_nchw (fp32)": ("fp32 + channels_last", "fp32 + NCHW"),
             "compile_vs_eager (bf16 + channels_last)": ("bf16 + channels_last + compile", "default: bf16 + channels_last"),
             "default_vs_baseline": ("default: bf16 + channels_last", "baseline: plain PyTorch fp32 step")}
    out: dict[str, dict] = {}
    rows = [r for r in bench.get("train", []) if "img_per_s" in r]
    for size in sorted({r["size"] for r in rows}):
        speed = {r["variant"]: r["img_per_s"] for r in rows if r["size"] == size}
        out[f"{size}px"] = {k: (speed[a] / speed[b] if a in speed and b in speed else None) for k, (a, b) in pairs.items()}
    return out


def tables(bench: dict, train: dict, tgt: list[dict]) -> list[dict]:
    """Pre-formatted tables for BENCHMARKS.md (docs/BENCHMARK_SCHEMA.md)."""
    out = []
    rows = []
    for r in bench.get("train", []):
        if "img_per_s" not in r:
            rows.append([r.get("size"), r["variant"], None, None, None, None, r.get("skipped") or r.get("error")])
            continue
        base = next((b for b in bench["train"] if b.get("size") == r["size"] and b["variant"].startswith("baseline")
                     and "img_per_s" in b), None)
        rows.append([r["size"], r["variant"], round(r["img_per_s"], 1),
                     round(r["img_per_s"] / base["img_per_s"], 3) if base else None,
                     round(r.get("peak_mb", 0)), round(r.get("first_step_s", 0), 2), ""])
    if rows:
        out.append({"title": "Training throughput (img/s; A + B images; batch per identity in settings)",
                    "columns": ["px", "variant", "img/s", "× baseline", "peak MB", "first step s", "note"],
                    "rows": rows, "note": "ratios against the plain-PyTorch fp32 step measured in the same run"})
    rat = ratios(bench)
    if rat:
        names = list(next(iter(rat.values())))
        out.append({"title": "Speed ratios (img/s ÷ img/s, same run, one choice changed)",
                    "columns": ["ratio"] + list(rat), "rows": [[n] + [rat[k][n] for k in rat] for n in names]})
    erows = [[r.get("resolution"), r.get("move_ms_p50"), r.get("move_aligned_ms_p50"), r.get("decode_ms_p50"),
              r.get("region_move_ms_p50"), r.get("batch_edits_per_s"), r.get("one_by_one_edits_per_s"),
              r.get("model_only_edits_per_s_fp32"), r.get("model_only_edits_per_s_bf16")]
             for r in bench.get("edit", []) if "move_ms_p50" in r]
    if erows:
        out.append({"title": "Editor: slider move and batch edits",
                    "columns": ["px", "move p50 ms (photo)", "move p50 ms (aligned)", "decode p50 ms",
                                "region move p50 ms", "Editor.edit /s", "one by one /s", "model only /s fp32",
                                "model only /s bf16"], "rows": erows,
                    "note": "random weights of the default architecture (cost does not depend on them); photo = "
                            "the packed 1024-px photo, landmarks detected when packing"})
    out.append({"title": "Targets (issue 16)", "columns": ["target", "goal", "px", "measured", "met"],
                "rows": [[t["target"], t["goal"], t["px"], t["measured"], t["met"]] for t in tgt]})
    if train.get("end_step") is not None:
        out.append({"title": "Default-model training this session",
                    "columns": ["run", "from step", "to step", "img/s (median)", "held-out PSNR dB", "compile",
                                "resumed form"],
                    "rows": [[train.get("run"),
                              train.get("start_step"), train.get("end_step"), train.get("img_per_s_median"),
                              (train.get("heldout") or {}).get("psnr_db"), train.get("compile"),
                              (train.get("resumed") or {}).get("form")]]})
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the check; every failure ends in one ``gpu_check: error:`` line (the JSON keeps what ran)."""
    try:
        return _main(argv)
    except gc.GpuScriptError as exc:
        log(f"error: {exc}")
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug here: say so loudly, with the traceback
        import traceback

        traceback.print_exc()
        log(f"error: internal error {type(exc).__name__}: {exc}")
        return 1


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the returned files ($OUT)")
    p.add_argument("--dry-run", action="store_true", help="every stage on CPU at tiny sizes (seconds each)")
    p.add_argument("--budget-s", type=float, default=None,
                   help="wall-clock budget of the whole run (default 450 s = 7.5 min; dry run 120 s)")
    p.add_argument("--bench-s", type=float, default=170.0, help="most seconds the benchmark stage may take (default 170)")
    p.add_argument("--train-steps", type=int, default=None, help="train at most this many steps (default: until the budget)")
    p.add_argument("--train-compile", choices=("auto", "on", "off"), default="auto",
                   help="torch.compile the training run (auto: if the benchmark measured ≥ 1.2× and its compile "
                        "took < 20 %% of the training time)")
    p.add_argument("--skip", default="", help="comma-separated stages to skip: bench, train")
    p.add_argument("--pack", type=Path, default=None, help="data pack (default: the recipe's, gpu_carry/celeba64.pack)")
    p.add_argument("--carry", type=Path, default=gc.REPO / "gpu_carry", help="carried folder (default gpu_carry)")
    p.add_argument("--recipe", type=Path, default=gc.RECIPE, help="default-model recipe")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp folder)")
    p.add_argument("--copy-to", type=Path, default=None, help="also copy the JSON here (real GPU runs only)")
    args = p.parse_args(argv)
    if args.budget_s is None:
        args.budget_s = 120.0 if args.dry_run else 450.0
    budget = Budget(args.budget_s)
    skip = {s for s in args.skip.split(",") if s}
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    json_path = args.out / (f"gpu_dryrun_{stamp}.json" if args.dry_run else f"gpu_{stamp}.json")
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_check_"))
    work.mkdir(parents=True, exist_ok=True)
    cfg = settings(args)
    result: dict[str, Any] = {
        "benchmark": "gpu", "description": "one GPU session (scripts/gpu_check.sh): training throughput at 64 and "
        "128 px by precision, memory format and compile against a plain-PyTorch baseline; slider move and batch "
        "edit throughput; then training of the default real-face model from its last checkpoint",
        "command": "scripts/gpu_check.sh" + (" --dry-run" if args.dry_run else ""),
        "dry_run": args.dry_run, "machine": None, "settings": cfg, "baseline": "training: the plain-PyTorch fp32 "
        "NCHW step of the same model (latentedit bench train's baseline), same run; precision/format/compile "
        "ratios: the variant that differs in that one choice", "failures": [], "notes": [],
        # raw measurements (BENCHMARKS.md shows the "tables" instead of these)
        "results": {"probe": None, "stages": {}, "targets": None, "ratios": None, "resume_state": None}}
    res = result["results"]
    status = {"ok": True}

    def save() -> None:
        result["elapsed_s"] = budget.elapsed()
        gc.write_json(json_path, result)

    def fail(stage: str, msg: str) -> None:
        status["ok"] = False
        result["failures"].append({"stage": stage, "error": msg})
        log(f"error: {stage}: {msg}")
        save()

    log(f"{'dry run (CPU, tiny sizes)' if args.dry_run else 'GPU run'}; budget {args.budget_s:.0f} s; work {work}")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(gc.REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONUNBUFFERED"] = "1"
    if args.dry_run:
        env["PYTHONPATH"] = str(blocked_modules_dir(work)) + os.pathsep + env["PYTHONPATH"]
        env["TORCH_COMPILE_DISABLE"] = "1"
        result["notes"].append(f"dry run: {', '.join(MISSING_ON_GPU)} made unimportable, as on the GPU machine")

    # -- 1. probe ----------------------------------------------------------------------------------
    try:
        pr = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
        info = json.loads(pr.stdout.strip().splitlines()[-1])
    except Exception as exc:  # noqa: BLE001
        info = {"probe_error": f"{type(exc).__name__}: {exc}"}
    res["probe"] = info
    try:
        gc.bench_module("markdown")  # the source tree imports (and has its benchmarks)
    except Exception as exc:  # noqa: BLE001
        fail("probe", f"latentedit does not import from {gc.REPO} ({type(exc).__name__}: {exc})")
        return 2
    if "torch" not in info:
        fail("probe", f"torch does not import with {sys.executable}: {info.get('torch_error') or info}")
        return 3
    log(f"torch {info['torch']} (CUDA build {info.get('cuda_build')}), python {info['python']}, "
        f"GPU: {info.get('gpu', 'none')}")
    if not args.dry_run and not info.get("cuda"):
        fail("probe", "CUDA is not available (torch.cuda.is_available() is False): this is the GPU check; "
                      "run it on the GPU machine, or use --dry-run to test it on CPU")
        return 3
    save()

    # -- 2. data -----------------------------------------------------------------------------------
    recipe = gc.load_recipe(args.recipe)
    name = gc.run_name(recipe, args.dry_run)
    pack_path = args.pack or (gc.REPO / recipe["pack"])
    data = {}
    try:
        pack = gc.read_pack(pack_path)
        if info.get("pil_webp") is False and pack.manifest["image_format"] == "webp" and \
                not info.get("modules", {}).get("cv2"):
            raise gc.GpuScriptError("the pack is WebP but neither Pillow nor OpenCV here decodes WebP")
        data = gc.rebuild_facesets(pack, work / "data", {"train": "train", "heldout": "heldout"},
                                   max_faces=cfg["max_faces"])
        data["pack"] = {k: pack.manifest[k] for k in ("faces", "source_faces", "size", "image_format", "quality",
                                                     "psnr_db_vs_source", "created")}
        data["pack"]["bytes"] = pack_path.stat().st_size
        data["pack"]["sha256"] = gc.sha256_file(pack_path)
        res["stages"]["data"] = data
        log(f"data: {data['folders']['train']['faces']} training + {data['folders']['heldout']['faces']} held-out "
            f"faces rebuilt in {data['seconds']:.1f} s (pixel checksum {data['decoded_sha256_ok']})")
        if data["decoded_sha256_ok"] is False:
            fail("data", "decoded pixels differ from the pack's checksum (another codec build); training goes on")
    except Exception as exc:  # noqa: BLE001
        fail("data", f"{exc}" if isinstance(exc, gc.GpuScriptError) else f"{type(exc).__name__}: {exc}")
        pack_path = None
    save()

    # -- 3. bench ----------------------------------------------------------------------------------
    bench: dict = {}
    if "bench" not in skip:
        bench_s = min(cfg["bench_budget_s"], budget.left() - 90.0 if not args.dry_run else budget.left() * 0.5)
        sa = {"device": cfg["device"], "budget_s": bench_s, "edit_reserve_s": cfg["edit_reserve_s"],
              "train": cfg["train"], "edit": cfg["edit"], "pack": str(pack_path) if pack_path else None}
        log(f"bench: up to {bench_s:.0f} s")
        bench = run_stage("bench", sa, work, env, bench_s + 20, 0)
        result["machine"] = bench.get("machine")
        res["stages"]["bench"] = bench
        for e in bench.get("errors", []):
            fail("bench", f"{e['where']}: {e['error']}")
        if not bench.get("done"):
            fail("bench", f"did not finish ({bench.get('ended')}); what it measured is kept")
    save()

    # -- 4. train ----------------------------------------------------------------------------------
    train: dict = {}
    if "train" not in skip and data.get("folders"):
        compile_ = args.train_compile == "on"
        left = budget.left() - cfg["export_reserve_s"] - cfg["train_grace_s"]
        if args.train_compile == "auto" and not args.dry_run:
            size = recipe["train"]["size"]  # the recipe's size, else the other measured one as a proxy
            comp = sorted((r for r in bench.get("train", []) if r.get("compile") and "img_per_s" in r),
                          key=lambda r: r["size"] != size)
            eager = [r for r in bench.get("train", []) if r.get("variant", "").startswith("default") and
                     comp and r.get("size") == comp[0]["size"] and "img_per_s" in r]
            if comp and eager and comp[0]["img_per_s"] >= 1.2 * eager[0]["img_per_s"] and \
                    comp[0]["first_step_s"] < 0.2 * left:
                compile_ = True
        state = args.carry / f"{name}.state"
        ta = {"device": cfg["device"], "recipe": recipe, "run": str(work / "runs" / name),
              "data": data["folders"]["train"]["path"], "heldout": data["folders"]["heldout"]["path"],
              "state": str(state) if state.is_file() else None, "dry_run": args.dry_run,
              "max_steps": cfg["max_steps"], "compile": compile_}
        log(f"train: {name} for up to {max(left, 0):.0f} s (compile {compile_}); carried state: "
            f"{state.name if state.is_file() else 'none'}")
        train = run_stage("train", ta, work, env, max(left, 10.0), cfg["train_grace_s"], sigint_first=True)
        train["compile"] = compile_
        res["stages"]["train"] = train
        for e in train.get("errors", []):
            fail("train", f"{e['where']}: {e['error']}")
        if train.get("end_step") is None:
            fail("train", f"no checkpoint was written ({train.get('ended')})")
        else:
            log(f"train: step {train.get('start_step')} -> {train['end_step']} "
                f"({train.get('steps_this_session')} steps, median {train.get('img_per_s_median') or 0:.0f} img/s)")
            # -- 5. export -----------------------------------------------------------------------
            try:
                exp = export_run(Path(ta["run"]), args.out, train["end_step"], reserve=3 * gc.MiB, work=work)
                res["resume_state"] = exp
                log(f"export: {exp['file']} ({exp['bytes'] / gc.MiB:.1f} MiB) in {len(exp['parts'])} part(s)")
            except Exception as exc:  # noqa: BLE001
                fail("export", f"{type(exc).__name__}: {exc}")
    elif "train" not in skip:
        fail("train", "skipped: no training data (see the data stage)")
    res["targets"] = targets(bench)
    res["ratios"] = ratios(bench)
    result["tables"] = tables(bench, train, res["targets"])
    if result["machine"] is None:
        try:
            machine_info = gc.bench_module("markdown").machine_info
            result["machine"] = dict(machine_info(cfg["device"]), note="from the orchestrator (no bench stage)")
        except Exception:  # noqa: BLE001
            pass
    save()
    problems = gc.check_returned(args.out)
    result["return_check"] = problems or "ok: within the device tool's return limits (the log is capped at 2 MiB)"
    if problems:
        fail("export", "returned files break the limits: " + "; ".join(problems))
    save()
    if args.copy_to and not args.dry_run and status["ok"]:
        args.copy_to.mkdir(parents=True, exist_ok=True)
        shutil.copy2(json_path, args.copy_to / json_path.name)
        log(f"copied {json_path.name} to {args.copy_to}")
    for t in res["targets"]:
        log(f"target {t['target']}: {t['goal']}, measured {t['measured']} at {t['px']} px, met {t['met']}")
    log(f"{'done' if status['ok'] else 'FAILED (see errors above; partial results kept)'} in {budget.elapsed():.0f} s; "
        f"wrote {json_path}")
    if args.work is None and status["ok"]:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if status["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
