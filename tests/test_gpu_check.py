"""scripts/gpu_check.sh end to end on CPU (``--dry-run``) on a tiny SynthFaces pack: every stage
records numbers, the returned files obey the device tool's limits, and ``gpu_unpack.py`` + a second
dry run resume the first run's checkpoint (the step count continues) even when the benchmark
stage of the second run dies."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
sys.path.insert(0, str(SCRIPTS))

import gpu_common as gc  # noqa: E402

pytestmark = pytest.mark.slow


def _dry_run(tmp: Path, name: str, *extra: str, env: dict | None = None) -> tuple[int, dict, Path, str]:
    out = tmp / name
    e = dict(os.environ, OUT=str(out), PYTHON=sys.executable, **(env or {}))
    proc = subprocess.run(["bash", str(SCRIPTS / "gpu_check.sh"), "--dry-run", "--pack", str(tmp / "carry" / "celeba64.pack"),
                           "--carry", str(tmp / "carry"), "--work", str(tmp / f"work_{name}"), "--budget-s", "110",
                           *extra], env=e, capture_output=True, text=True, timeout=240)
    found = sorted(out.glob("gpu_dryrun_*.json"))
    assert found, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads(found[-1].read_text()), out, proc.stdout + proc.stderr


def _returned_files_ok(out: Path) -> None:
    files = [p for p in out.rglob("*") if p.is_file()]
    assert 3 <= len(files) <= gc.RETURN_MAX_FILES
    assert sum(p.stat().st_size for p in files) <= gc.RETURN_MAX_TOTAL
    for p in files:
        assert p.stat().st_size <= gc.RETURN_MAX_FILE
        assert gc.RETURN_NAME_RE.match(p.name), p.name
    assert gc.check_returned(out) == []


def test_dry_run_end_to_end_and_resume(tmp_path):
    from latentedit.faceset import FaceSet
    from latentedit.synth import synth_faceset

    import gpu_pack
    import gpu_unpack

    faces = synth_faceset(tmp_path / "faces", identities=8, per_identity=6, size=64, seed=1, progress=False)
    photo = synth_faceset(tmp_path / "photo", identities=1, per_identity=1, size=256, seed=2, progress=False)
    (tmp_path / "photo.json").write_text(json.dumps({"landmarks": photo.records[0].landmarks.tolist()}))
    assert gpu_pack.main(["--faceset", str(faces.root), "--out", str(tmp_path / "carry" / "celeba64.pack"),
                          "--photo", str(photo.image_path(0)), "--photo-landmarks", str(tmp_path / "photo.json"),
                          "--heldout", "0.25", "--heldout-in-pack", "all", "--quiet"]) == 0

    # -- first dry run: every stage, fresh run -------------------------------------------------------
    rc, js, out1, log = _dry_run(tmp_path, "out1")
    assert rc == 0, log[-4000:]
    res, stages = js["results"], js["results"]["stages"]
    assert js["dry_run"] and js["benchmark"] == "gpu" and js["failures"] == [] and not stages["bench"]["errors"]
    # the GPU machine's missing modules were really missing (dlib is installed here)
    assert res["probe"]["modules"]["dlib"] is None and res["probe"]["modules"]["gradio"] is None
    # data: the rebuilt FaceSet is the packed one (index lines byte for byte, pixels by checksum)
    data = stages["data"]
    assert data["decoded_sha256_ok"] is True
    train_dir = Path(data["folders"]["train"]["path"])
    src = (faces.root / "faces.jsonl").read_text().splitlines()
    rebuilt = (train_dir / "faces.jsonl").read_text().splitlines()
    assert rebuilt and set(rebuilt) <= set(src) and len(FaceSet(train_dir)) == len(rebuilt)
    held = FaceSet(data["folders"]["heldout"]["path"])
    assert not set(held.identities) & set(FaceSet(train_dir).identities)  # identity-disjoint
    # bench: every training variant, the baseline, compile, the sweep, the editor, with numbers
    rows = stages["bench"]["train"] + stages["bench"]["train_batch_sweep"]
    variants = {r["variant"] for r in rows}
    assert {"baseline: plain PyTorch fp32 step", "default: bf16 + channels_last", "fp32 + NCHW", "bf16 + NCHW",
            "fp32 + channels_last", "bf16 + channels_last + compile"} <= variants
    assert all(r["img_per_s"] > 0 and r["peak_mb"] > 0 for r in rows)
    (edit,) = stages["bench"]["edit"]
    for key in ("move_ms_p50", "move_aligned_ms_p50", "decode_ms_p50", "region_move_ms_p50", "batch_edits_per_s",
                "one_by_one_edits_per_s", "model_only_edits_per_s_fp32", "model_only_edits_per_s_bf16"):
        assert edit[key] > 0, key
    assert edit["frame"] == [256, 256]  # merged into the packed photo, aligned from its packed landmarks
    assert [t["px"] for t in res["targets"]] == [64, 64, 64] and all(t["measured"] > 0 for t in res["targets"])
    assert all(v > 0 for v in res["ratios"]["64px"].values())  # bf16/fp32, channels_last/NCHW, compile/eager
    assert any(t["title"].startswith("Training throughput") for t in js["tables"])
    # train: a fresh run to the dry run's step limit, measured on the held-out faces
    tr = stages["train"]
    assert tr["resumed"] is None and tr["start_step"] == 0 and tr["end_step"] == 6
    assert tr["heldout"]["faces"] == len(held) and 0 < tr["heldout"]["psnr_db"] < 60
    assert tr["img_per_s_median"] > 0 and tr["model_config"]["enc_channels"] == 4
    # returned files
    rs = res["resume_state"]
    assert rs["step"] == 6 and "model" in rs["members"] and len(rs["parts"]) >= 1
    json_name = sorted(out1.glob("gpu_*.json"))[-1].name
    assert {p["name"] for p in rs["parts"]} | {"gpu_check.log", json_name} == {p.name for p in out1.iterdir()}
    _returned_files_ok(out1)

    # -- unpack here: verified parts -> runs/<name>, state for the next call in its compact form -------
    runs = tmp_path / "runs"
    assert gpu_unpack.main([str(out1), "--run-root", str(runs), "--carry", str(tmp_path / "carry"),
                            "--form", "bf16_v"]) == 0
    run = runs / "celeba64_gpu_dryrun"
    assert gc.latest_checkpoint(run).name == "step_00000006.pt" and (run / "model" / "config.json").is_file()
    state = tmp_path / "carry" / "celeba64_gpu_dryrun.state"
    assert state.is_file()
    # a damaged part is refused with a clear error
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in out1.iterdir():
        bad.joinpath(p.name).write_bytes(p.read_bytes())
    part = bad / rs["parts"][0]["name"]
    damaged = bytearray(part.read_bytes())
    damaged[len(damaged) // 3] ^= 0xFF
    part.write_bytes(bytes(damaged))
    assert gpu_unpack.main([str(bad), "--run-root", str(tmp_path / "runs_bad"), "--no-carry"]) == 2

    # -- second dry run: its benchmark stage dies, training still resumes and continues --------------
    rc, js2, out2, log2 = _dry_run(tmp_path, "out2", env={"GPU_CHECK_INJECT_FAILURE": "bench"})
    assert rc == 1, log2[-4000:]  # a stage failed: loud, but the rest ran
    stages2 = js2["results"]["stages"]
    assert stages2["bench"]["exit_code"] == 1
    assert [f["stage"] for f in js2["failures"]] == ["bench", "bench"]  # exited with 1; did not finish
    tr2 = stages2["train"]
    assert tr2["resumed"] == {"step": 6, "form": "bf16_v", "checkpoint": "step_00000006.pt"}
    assert tr2["start_step"] == 6 and tr2["end_step"] == 12 and "--resume" in tr2["argv"]
    assert js2["results"]["resume_state"]["step"] == 12
    # the metrics log continues the first session's
    metrics = tmp_path / "work_out2" / "runs" / "celeba64_gpu_dryrun" / "metrics.jsonl"
    steps = [json.loads(ln)["step"] for ln in metrics.read_text().splitlines()]
    assert steps == sorted(steps) and steps[0] <= 6 < steps[-1] == 12
    _returned_files_ok(out2)


def test_unbounded_steps_is_accepted_by_train():
    """The GPU run passes ``--steps UNBOUNDED_STEPS``: the CLI must accept it (1e9 was refused)."""
    from latentedit.cli.train import _STEPS_MAX

    assert gc.UNBOUNDED_STEPS == _STEPS_MAX
