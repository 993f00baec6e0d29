"""The edit report on a tiny model: outputs, and values that respond to the sweep."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from latentedit.errors import LatentEditError


def make_synth_faceset(root: Path, n: int = 24, size: int = 64, seed: int = 0, identities=("A", "B")):
    """A small SynthFaces FaceSet (two identities, varied expressions, ground-truth attributes)."""
    from latentedit import synth
    from latentedit.faceset import FaceRecord, FaceSetWriter

    rng = np.random.default_rng(seed)
    people = {name: synth.IdentityParams.sample(rng) for name in identities}
    with FaceSetWriter(root) as w:
        for i in range(n):
            name = identities[i % len(identities)]
            res = synth.render(people[name], synth.ExpressionParams.sample(rng), size)
            attrs = {k: float(v) for k, v in res.attributes.items()}
            w.add(res.image, FaceRecord(image=w.next_name(), identity=name, size=size, landmarks=res.landmarks,
                                        attributes=attrs, attribute_sources={k: "ground_truth" for k in attrs}))
    return w.faceset()


def make_tiny_model(root: Path, faceset, attributes=("smile", "mouth_open")):
    """An (untrained) tiny SwapAutoencoder saved with boundaries fitted on its codes of ``faceset``.

    An untrained encoder's codes barely vary, so each boundary's std (the unit of alpha) is set to 3
    latent units: alpha then moves the decoded faces visibly, which is what a report measures.
    """
    from latentedit.latent import BoundaryFitter, encode_faceset
    from latentedit.models import SwapAutoencoder, tiny_config

    torch.manual_seed(0)
    model = SwapAutoencoder(tiny_config(64, ("A", "B"))).eval()
    model.save_pretrained(root)
    table = encode_faceset(model, faceset, progress=False)
    for attr in attributes:
        fitter = BoundaryFitter(method="ridge", random_state=0).fit(table.z, table.column(attr))
        dataclasses.replace(fitter.to_boundary(attr, model.model_id), std=3.0).save(root / "boundaries")
    return model


def make_tiny_oracle(root: Path):
    from latentedit.eval.oracle_train import train_oracle

    return train_oracle(root, n_images=32, size=32, seed=5, steps=3, batch_size=16, n_heldout=8, progress=False)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("report")
    fs = make_synth_faceset(base / "faces")
    make_tiny_model(base / "model", fs)
    make_tiny_oracle(base / "oracle")
    return base, fs


def test_report_values_respond_to_the_sweep(setup):
    from latentedit.eval.report import edit_report

    base, fs = setup
    rep = edit_report(base / "model", None, fs, "smile", alphas=[-3, -1, 1, 3], n=10,
                      oracle_dir=base / "oracle", progress=False)
    assert rep.oracle == "synth" and rep.oracle_attribute == "smile" and rep.sign == 1.0
    assert rep.alphas == [-3.0, -1.0, 0.0, 1.0, 3.0]  # 0 added
    i0 = rep.alphas.index(0.0)
    assert rep.target_delta[i0] == 0.0 and rep.target_delta_std[i0] == 0.0
    assert rep.success_rate[i0] is None and all(0 <= s <= 1 for s in rep.success_rate if s is not None)
    assert all(v[i0] == 0.0 for v in rep.leakage.values())
    assert "smile" not in rep.leakage and "mouth_open" in rep.leakage and "nose_length" in rep.leakage
    drift = rep.identity_drift["pixel_rmse_to_alpha0"]
    assert drift[i0] == 0.0
    # Moving further along the normal moves the decoded face further from the alpha-0 decode.
    assert drift[0] > drift[1] > 0 and drift[4] > drift[3] > 0
    assert rep.identity_drift["identity_attributes"][0] > 0
    assert any(abs(d) > 0 for d in rep.target_delta)
    assert rep.n_faces == 10


def test_report_hold_changes_the_direction_and_outputs(setup, tmp_path):
    from latentedit.eval.report import edit_report

    base, fs = setup
    plain = edit_report(base / "model", None, fs, "smile", alphas=[2], n=6, oracle_dir=base / "oracle",
                        progress=False)
    held = edit_report(base / "model", None, fs, "smile", alphas=[2], n=6, hold=["mouth_open"],
                       oracle_dir=base / "oracle", progress=False)
    assert held.hold == ["mouth_open"]
    assert held.identity_drift["pixel_rmse_to_alpha0"][1] != plain.identity_drift["pixel_rmse_to_alpha0"][1]
    paths = held.save(tmp_path / "out")
    data = json.loads(paths[0].read_text())
    assert data["format"] == "latentedit.edit_report" and data["alphas"] == [0.0, 2.0]
    assert data["summary"]["alpha"] == 2.0 and data["success_rate"][0] is None
    md = paths[1].read_text()
    assert "| +0 | +0.000 |" in md and "| +2 |" in md and "mouth_open" in md
    from PIL import Image

    with Image.open(paths[2]) as im:
        assert im.format == "PNG" and im.size[0] > 500
    with pytest.raises(LatentEditError, match="refusing to overwrite"):
        held.save(tmp_path / "out")


def test_report_landmark_oracle_on_real_face_path(setup):
    from latentedit.eval.report import edit_report

    base, fs = setup
    rep = edit_report(base / "model", None, fs, "smile", alphas=[-2, 2], n=2, oracle="landmarks", progress=False)
    assert rep.oracle == "landmarks" and rep.oracle_attribute == "smile_score"
    i0 = rep.alphas.index(0.0)
    assert rep.identity_drift["dlib_to_alpha0"][i0] == pytest.approx(0.0, abs=1e-6)
    assert rep.identity_drift["dlib_to_input"][i0] > 0
    assert "eye_open_score" in rep.leakage


def test_report_errors_name_the_problem(setup):
    from latentedit.eval.report import edit_report, resolve_oracle_attribute

    base, fs = setup
    with pytest.raises(LatentEditError, match="no boundary for 'Smiling'"):
        edit_report(base / "model", None, fs, "Smiling", oracle_dir=base / "oracle", progress=False)
    with pytest.raises(LatentEditError, match="unknown identity"):
        edit_report(base / "model", None, fs, "smile", identity="Z", oracle_dir=base / "oracle", progress=False)
    assert resolve_oracle_attribute("Narrow_Eyes", "landmarks", ["eye_open_score"]) == ("eye_open_score", -1.0)
    assert resolve_oracle_attribute("x", "synth", ["smile"], explicit="-smile") == ("smile", -1.0)
    with pytest.raises(LatentEditError, match="--oracle-attribute"):
        resolve_oracle_attribute("Wavy_Hair", "landmarks", ["smile_score"])


def test_report_cli(setup, tmp_path, capsys):
    from latentedit.cli.main import main

    base, fs = setup
    argv = ["report", str(base / "model"), str(fs.root), "--attribute", "mouth_open", "--alphas=-2,2",
            "--n", "4", "--hold", "smile", "--oracle-dir", str(base / "oracle"), "--out", str(tmp_path / "r"),
            "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "# Edit report: `mouth_open`" in out
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["attribute"] == "mouth_open" and data["hold"] == ["smile"] and data["n_faces"] == 4
    assert main(argv) == 2  # refuses to overwrite
    assert "refusing to overwrite" in capsys.readouterr().err
