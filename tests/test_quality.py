"""The quality suite end to end on a tiny model, its JSON schema, and BENCHMARKS.md generation."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from latentedit.cli.main import main
from tests.test_report import make_tiny_oracle

REQUIRED = ("benchmark", "description", "command", "machine", "settings", "baseline", "results", "tables")


def _make_model(root: Path):
    """A tiny untrained model with SynthFaces decoders id000/id001 and smile/mouth_open boundaries.

    An untrained encoder's codes barely vary (std ~0.004), so the boundaries' std (the unit of alpha) is
    set to 3 latent units: an edit then visibly changes the decoded face, which is what the suite measures.
    """
    from latentedit.faceset import FaceRecord, FaceSetWriter
    from latentedit.latent import BoundaryFitter, encode_faceset
    from latentedit.models import SwapAutoencoder, tiny_config
    from latentedit.synth.generate import expression_params, identity_params
    from latentedit.synth.render import render

    with FaceSetWriter(root / "faces") as w:
        for i in range(16):
            res = render(identity_params(0, i % 2), expression_params(0, i % 2, i), 64)
            w.add(res.image, FaceRecord(image=w.next_name(), identity=f"id{i % 2:03d}", size=64,
                                        landmarks=res.landmarks, attributes=res.attributes,
                                        attribute_sources={k: "ground_truth" for k in res.attributes}))
    fs = w.faceset()
    torch.manual_seed(0)
    model = SwapAutoencoder(tiny_config(64, ("id000", "id001"))).eval()
    model.save_pretrained(root / "model")
    table = encode_faceset(model, fs, progress=False)
    for attr in ("smile", "mouth_open"):
        b = BoundaryFitter(method="ridge").fit(table.z, table.column(attr)).to_boundary(attr, model.model_id)
        dataclasses.replace(b, std=3.0).save(root / "model" / "boundaries")
    return fs


def _check_schema(data: dict) -> None:
    for k in REQUIRED:
        assert k in data, k
    assert data["benchmark"] == "quality"
    assert {"cpu_count", "torch", "device"} <= set(data["machine"])
    for t in data["tables"]:
        assert set(t) >= {"title", "columns", "rows"}
        assert all(len(r) == len(t["columns"]) for r in t["rows"]), t["title"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("quality")
    _make_model(root)
    make_tiny_oracle(root / "oracle")
    bench = root / "bench"
    bench.mkdir()
    # Another benchmark's file, to be picked up by the speed summary and the markdown.
    (bench / "merge_cpu.json").write_text(json.dumps({
        "benchmark": "merge", "machine": {"cpu_count": 2, "torch": "x", "device": "cpu"},
        "baseline": "mean-colour paste", "results": [{"method": "rct", "ms_per_frame_median": 12.5,
                                                       "time_vs_baseline": 1.8}]}))
    out = root / "bench" / "quality_cpu.json"
    code = main(["bench", "quality", str(root / "model"), "--synth-pairs", "4", "--edit-n", "6",
                 "--oracle-dir", str(root / "oracle"), "--no-dlib", "--bench-dir", str(bench), "--json", str(out)])
    assert code == 0
    return root, json.loads(out.read_text())


def test_suite_runs_end_to_end_and_matches_schema(run_dir):
    root, data = run_dir
    _check_schema(data)
    res = data["results"]
    rec = res["reconstruction_synth"]["methods"]
    assert rec["model"]["psnr"] > 0 and 0 < rec["model"]["ssim"] <= 1
    # An untrained model is worse than blurring the input — the baselines are real measurements.
    assert rec["blurred input"]["psnr"] > rec["model"]["psnr"]
    if data["settings"]["lpips"]:
        assert rec["blurred input"]["lpips"] < rec["model"]["lpips"]
    sw = res["swap_synth"]
    assert sw["n"] == 8 and sw["directions"] == ["id000→id001", "id001→id000"]
    # The oracle's error on the ground truth is its floor; every error is a finite mean |Δ|/std.
    floor = sw["expression_error"]["ground truth (oracle floor)"]
    assert set(floor) >= {"smile", "mouth_open", "yaw"} and all(v >= 0 for v in floor.values())
    eq = res["edit_quality"]["attributes"]
    assert set(eq) == {"smile", "mouth_open", "random_direction"}
    assert 0 <= eq["smile"]["success_rate"] <= 1 and eq["smile"]["selectivity_vs_random"] > 0
    assert eq["smile"]["identity_drift"]["pixel_rmse_to_alpha0"] > 1e-3
    speed = res["speed"]
    assert speed["merge"]["headline"].startswith("rct: time_vs_baseline=1.8") and speed["train"] is None
    assert any("real-face swap not measured" in n for n in data["notes"])


def test_markdown_generation(run_dir, tmp_path):
    from latentedit.eval.bench.markdown import render_benchmarks

    root, data = run_dir
    text = render_benchmarks(root / "bench")
    assert "## quality" in text and "Reconstruction, held-out SynthFaces renders" in text
    assert "Reproduce: `latentedit bench merge --json docs/bench/merge_cpu.json`" in text
    assert "## train" in text and "Not measured yet" in text
    assert "hardware: cpu, 2 CPU cores" in text
    assert main(["bench", "markdown", "--bench-dir", str(root / "bench"), "--out", str(tmp_path / "B.md")]) == 0
    assert (tmp_path / "B.md").read_text() == text


def test_data_spec_errors(run_dir):
    root, _ = run_dir
    code = main(["bench", "quality", str(root / "model"), "--data", "nope=" + str(root / "faces"),
                 "--oracle-dir", str(root / "oracle")])
    assert code == 2
    code = main(["bench", "quality", str(root / "model"), "--data", "id000=" + str(root / "faces"),
                 "--oracle-dir", str(root / "oracle")])
    assert code == 2  # two people in that FaceSet: must name one with @LABEL


def test_real_face_parts_on_shared_frames(run_dir, tmp_path):
    """Swap and reconstruction on real frames (tiny untrained model: the numbers show the baselines work)."""
    from latentedit.eval.bench import quality_parts as qp
    from latentedit.edit.editor import Editor
    from latentedit.faces import extract
    from tests.conftest import shared_path

    pair = shared_path("data", "swap_pair")
    root, _ = run_dir
    editor = Editor.from_pretrained(root / "model", device="cpu")
    notes: list[str] = []
    res, tables = qp.swap_real(editor, pair, "id000,id001", 4, notes)
    r = res["A_KatieHill→id001"]
    # Two different people are further apart than two frames of the same person.
    assert r["source_to_target (different people)"] > r["target_to_target (same person)"]
    assert -1 <= r["corr_mouth_open_score"] <= 1 and len(tables[0]["rows"]) == 2
    assert qp.swap_real(editor, pair, "A,B", 4, notes) is None and "skipped" in notes[-1]
    frames = sorted((pair / "B_AlexandriaOcasioCortez").glob("*.jpg"))[:3]
    extract(frames, tmp_path / "real", size=64, descriptor=False, progress=False)
    res, _ = qp.reconstruction_real(editor, tmp_path / "real", 3, None)
    assert res["n"] == 3 and res["methods"]["blurred input"]["dlib_identity_distance"] < 0.6


def test_decoder_people_from_specs_and_run_config(tmp_path):
    from latentedit.eval.bench.quality_parts import run_data_specs, synth_people
    from latentedit.synth.generate import identity_params

    class M:
        identities = ("A", "B", "generic")

    notes: list[str] = []
    people = synth_people(M, ["A=synth:1:0", "B=synth:1:1"], 0, notes)
    assert people["A"] == identity_params(1, 0) and people["B"] == identity_params(1, 1)
    assert people["generic"] is None  # fresh people for the generic decoder
    (tmp_path / "model").mkdir()
    (tmp_path / "config.json").write_text(json.dumps({"train": {"data": {"A": "/x@id000", "B": "/x@id001"}}}))
    assert run_data_specs(tmp_path / "model") == ["A=/x@id000", "B=/x@id001"]
