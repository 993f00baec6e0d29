#!/usr/bin/env python3
"""Put a GPU session's returned files back here and prepare the carry of the next session.

    python scripts/gpu_unpack.py /work/.device/.../files     # after a device-tool call (its files_at)
    python scripts/gpu_unpack.py --check                     # right before the next call

With a folder: reads the newest ``gpu_*.json`` in it, checks every part's sha256, joins and unpacks
the run's resume state into ``runs/<name>/`` (config.json, metrics.jsonl, the checkpoint, model/,
preview.png; refused if the local run is already further along, unless ``--force``), keeps the JSON
in ``runs/<name>/gpu_sessions/``, then writes ``gpu_carry/<name>.state``.

The state file holds the newest checkpoint of ``runs/<name>`` in the most exact form that fits what
is left of the device tool's 64 MiB once the tree and the rest of ``gpu_carry/`` are counted
(``gpu_state.STATE_FORMS``: exact, bf16 moments, bf16 second moment only, weights only), so the
next ``scripts/gpu_check.sh`` resumes the run. ``--check`` recounts the travel size and rebuilds the
state file if the tree grew since (a stale state is never sent: it fails loudly instead).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gpu_common as gc  # noqa: E402
import gpu_state as gs  # noqa: E402


def newest_json(folder: Path) -> Path:
    found = sorted(folder.glob("gpu_*.json"), key=lambda p: p.name.replace("gpu_dryrun_", "gpu_"))
    if not found:
        raise gc.GpuScriptError(f"{folder}: no gpu_*.json (the folder the device tool returned files to)")
    return found[-1]


def unpack_returned(folder: Path, run_root: Path, force: bool = False) -> tuple[Path, dict]:
    """Verify, join and install the returned resume state; returns ``(run folder, session JSON)``."""
    jpath = newest_json(folder)
    session = gc.load_json(jpath, "session JSON")
    rs = session.get("results", {}).get("resume_state")
    if not rs:
        raise gc.GpuScriptError(f"{jpath}: the session returned no resume state (failures: "
                                f"{session.get('failures', [])[:3] or 'none'})")
    run = run_root / rs["run"]
    with tempfile.TemporaryDirectory(prefix="gpu_unpack_") as tmp:
        tar = gc.join_parts(folder, rs["parts"], Path(tmp) / rs["file"], rs["sha256"])
        staged = Path(tmp) / "run"
        with tarfile.open(tar) as t:
            for m in t.getmembers():
                if m.name.startswith("/") or ".." in Path(m.name).parts or not (m.isfile() or m.isdir()):
                    raise gc.GpuScriptError(f"{tar.name}: unexpected member {m.name!r}")
            t.extractall(staged, filter="data") if hasattr(tarfile, "data_filter") else t.extractall(staged)
        ck = staged / "checkpoints" / rs["checkpoint"]
        payload = gc.load_checkpoint(ck)
        if int(payload["step"]) != int(rs["step"]):
            raise gc.GpuScriptError(f"{ck.name}: holds step {payload['step']}, the JSON says {rs['step']}")
        mine = gc.latest_checkpoint(run) if run.is_dir() else None
        if mine is not None and int(mine.name[5:13]) > int(rs["step"]) and not force:
            raise gc.GpuScriptError(f"{run} is already at {mine.name} (returned: step {rs['step']}); "
                                    f"pass --force to install the returned state anyway")
        if run.is_dir() and (run / "config.json").is_file() and not force:
            here_cfg = json.loads((run / "config.json").read_text(encoding="utf-8"))
            new_cfg = json.loads((staged / "config.json").read_text(encoding="utf-8"))
            if here_cfg.get("model") != new_cfg.get("model"):
                raise gc.GpuScriptError(f"{run} holds a run of another model config; pass --force to replace it")
        run.mkdir(parents=True, exist_ok=True)
        (run / "checkpoints").mkdir(exist_ok=True)
        gc.copy_tree_files(staged, run, ["config.json", "metrics.jsonl", "model", "preview.png",
                                        f"checkpoints/{rs['checkpoint']}"])
    (run / "gpu_sessions").mkdir(exist_ok=True)
    shutil.copy2(jpath, run / "gpu_sessions" / jpath.name)
    return run, session


def prepare_carry(run: Path, carry: Path, margin: int, form: str | None = None) -> dict:
    """Write ``carry/<run name>.state`` in the most exact form that fits the travel budget."""
    target = carry / f"{run.name}.state"
    others = sum(gc.path_bytes(p) for p in carry.iterdir() if p != target) if carry.is_dir() else 0
    t = gc.travel_bytes(gc.REPO)
    tree = t["tracked"] + t["untracked"]
    # a carry folder inside the repo that git does not ignore would be counted twice
    budget = gc.TRAVEL_LIMIT - margin - tree - others
    m = gs.write_state(run, target, budget=None if form else budget, form=form)
    m.update(tree_bytes=tree, other_carry_bytes=others, budget_bytes=budget,
             travel_total_bytes=tree + others + m["bytes"])
    if m["travel_total_bytes"] > gc.TRAVEL_LIMIT:
        raise gc.GpuScriptError(f"tree {tree / gc.MiB:.1f} + carry {(others + m['bytes']) / gc.MiB:.1f} MiB is over "
                                f"the device tool's {gc.TRAVEL_LIMIT / gc.MiB:.0f} MiB")
    return m


def check(carry: Path, run_root: Path, recipe: dict, margin: int) -> int:
    """Recount what the next call sends; rebuild the state in a smaller form if it no longer fits."""
    pack = gc.REPO / recipe["pack"] if carry == gc.REPO / "gpu_carry" else carry / Path(recipe["pack"]).name
    if not pack.is_file():
        raise gc.GpuScriptError(f"{pack}: data pack missing; build it with: python scripts/gpu_pack.py")
    gc.read_pack(pack)
    t = gc.travel_bytes(gc.REPO)
    tree = t["tracked"] + t["untracked"]
    total = tree + gc.path_bytes(carry)
    state = carry / f"{recipe['name']}.state"
    print(f"travel: tree {tree / gc.MiB:.1f} MiB + {carry.name} {gc.path_bytes(carry) / gc.MiB:.1f} MiB = "
          f"{total / gc.MiB:.1f} of {gc.TRAVEL_LIMIT / gc.MiB:.0f} MiB "
          f"(state: {state.name if state.is_file() else 'none: the run starts at step 0'})")
    if total + margin <= gc.TRAVEL_LIMIT:
        print("ok: the next device call fits")
        return 0
    run = run_root / recipe["name"]
    if not state.is_file() or gc.latest_checkpoint(run) is None:
        raise gc.GpuScriptError("over the travel limit and no local run to rebuild a smaller state from")
    m = prepare_carry(run, carry, margin)
    print(f"rebuilt {state.name} as form {m['form']} ({m['bytes'] / gc.MiB:.1f} MiB); travel now "
          f"{m['travel_total_bytes'] / gc.MiB:.1f} MiB")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("returned", nargs="?", type=Path, help="folder holding the returned files (gpu_*.json + parts)")
    p.add_argument("--run-root", type=Path, default=gc.REPO / "runs", help="where runs live (default runs/)")
    p.add_argument("--carry", type=Path, default=gc.REPO / "gpu_carry", help="carry folder (default gpu_carry/)")
    p.add_argument("--recipe", type=Path, default=gc.RECIPE, help="default-model recipe")
    p.add_argument("--from-run", type=Path, default=None, help="build the carried state from this run folder")
    p.add_argument("--form", choices=gs.STATE_FORMS, default=None, help="state form (default: the most exact that fits)")
    p.add_argument("--margin-mib", type=float, default=gc.DEFAULT_MARGIN / gc.MiB,
                   help="travel headroom kept free (default 1 MiB)")
    p.add_argument("--no-carry", action="store_true", help="only install the returned files")
    p.add_argument("--check", action="store_true", help="recount the next call's travel size (and fix the state)")
    p.add_argument("--to-docs", action="store_true", help="also copy the session JSON to docs/bench/ (GPU runs)")
    p.add_argument("--force", action="store_true", help="install even over a newer or different local run")
    p.add_argument("--data", type=Path, default=None,
                   help="also rebuild the pack's train/ and heldout/ FaceSets here and print the command that "
                        "continues the run on this machine")
    args = p.parse_args(argv)
    margin = int(args.margin_mib * gc.MiB)
    try:
        recipe = gc.load_recipe(args.recipe)
        if args.check:
            return check(args.carry, args.run_root, recipe, margin)
        run = args.from_run
        if args.returned is not None:
            run, session = unpack_returned(args.returned, args.run_root, args.force)
            rs = session["results"]["resume_state"]
            print(f"installed {run} at step {rs['step']} ({len(rs['parts'])} part(s) verified, "
                  f"{rs['bytes'] / gc.MiB:.1f} MiB){'' if 'model' in rs['members'] else '; model/ was not returned'}")
            if args.to_docs and not session.get("dry_run"):
                dst = gc.REPO / "docs" / "bench" / newest_json(args.returned).name
                shutil.copy2(newest_json(args.returned), dst)
                print(f"copied the session JSON to {dst}")
        if args.data is not None:
            pack = gc.read_pack(gc.REPO / recipe["pack"])
            got = gc.rebuild_facesets(pack, args.data, {"train": "train", "heldout": "heldout"})
            print(f"rebuilt {got['folders']['train']['faces']} training and {got['folders']['heldout']['faces']} "
                  f"held-out faces under {args.data} (pixel checksum {got['decoded_sha256_ok']})")
            target = run or args.run_root / recipe["name"]
            argv = gc.train_argv(recipe, str(args.data / "train"), str(target), False, gc.UNBOUNDED_STEPS, False)
            print("continue it here with: latentedit " + " ".join(argv) + " --resume")
        if args.no_carry:
            return 0
        if run is None:
            run = args.run_root / recipe["name"]
        if gc.latest_checkpoint(run) is None:
            raise gc.GpuScriptError(f"{run}: no checkpoint; nothing to carry (the next GPU run starts at step 0)")
        if args.carry.resolve().is_relative_to(gc.REPO.resolve()):  # ignored, so it travels only as carry
            gc.ensure_excluded("/" + args.carry.resolve().relative_to(gc.REPO.resolve()).as_posix() + "/")
        m = prepare_carry(run, args.carry, margin, args.form)
        sizes = ", ".join(f"{k} {v / gc.MiB:.1f}" for k, v in m["sizes_tried"].items())
        print(f"wrote {args.carry / (run.name + '.state')}: step {m['step']}, form {m['form']} "
              f"({m['bytes'] / gc.MiB:.1f} MiB; tried {sizes} MiB); discriminators {m['discriminators']}; "
              f"travel {m['travel_total_bytes'] / gc.MiB:.1f} of {gc.TRAVEL_LIMIT / gc.MiB:.0f} MiB")
    except gc.GpuScriptError as exc:
        print(f"gpu_unpack: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
