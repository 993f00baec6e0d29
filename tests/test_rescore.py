"""`latentedit extract --rescore`: measured scores recomputed from stored landmarks, labels kept."""
from __future__ import annotations

import numpy as np
import pytest

from latentedit.cli.main import main
from latentedit.faces import MEASURED_ATTRIBUTES
from latentedit.faces.rescore import rescore_faceset
from latentedit.faces.scores import landmark_scores
from latentedit.faceset import FaceSet, write_index


@pytest.fixture()
def stale_faces(tmp_path):
    """A SynthFaces FaceSet whose measured scores are stale (all 0), with one labelled score and one
    face without landmarks."""
    from latentedit.synth import synth_faceset

    fs = synth_faceset(tmp_path / "faces", identities=2, per_identity=3, size=64, seed=0, progress=False)
    for rec in fs.records:
        for name in MEASURED_ATTRIBUTES:
            rec.attributes[name] = 0.0
            rec.attribute_sources[name] = "measured"
    fs.records[1].attributes["eye_open_score"] = 9.0
    fs.records[1].attribute_sources["eye_open_score"] = "ground_truth"
    fs.records[2].landmarks = None
    write_index(fs.root, fs.records)
    return fs.root


def test_cli_rescore_recomputes_measured_scores_only(stale_faces, capsys):
    assert main(["extract", "--rescore", "--out", str(stale_faces)]) == 0
    out = capsys.readouterr().out
    assert "rescored 5 of 6 faces" in out and "1 have no landmarks" in out and "kept on 1 faces" in out
    fs = FaceSet(stale_faces)
    for i, rec in enumerate(fs.records):
        if i == 2:  # no landmarks: left exactly as it was
            assert all(rec.attributes[n] == 0.0 for n in MEASURED_ATTRIBUTES)
            continue
        want = landmark_scores(rec.landmarks)
        for name in MEASURED_ATTRIBUTES:
            if i == 1 and name == "eye_open_score":
                assert rec.attributes[name] == 9.0 and rec.attribute_sources[name] == "ground_truth"
            else:
                assert rec.attributes[name] == pytest.approx(want[name], rel=1e-6)
                assert rec.attribute_sources[name] == "measured"
    assert fs.records[0].attributes["smile"] == FaceSet(stale_faces).records[0].attributes["smile"]  # labels kept


def test_rescore_summary_reports_the_change(stale_faces):
    summary = rescore_faceset(stale_faces)
    assert summary.n_rescored == 5 and summary.n_without_landmarks == 1
    assert summary.kept_labels == {"eye_open_score": 1}
    assert set(summary.mean_abs_change) == set(MEASURED_ATTRIBUTES)
    assert summary.mean_abs_change["mouth_open_score"] > 0
    again = rescore_faceset(stale_faces)  # idempotent: a second pass changes nothing
    assert max(again.mean_abs_change.values()) < 1e-9


def test_rescore_bad_uses_are_clear_errors(tmp_path, stale_faces, capsys):
    assert main(["extract", "--rescore", "--out", str(stale_faces), "photo.jpg"]) == 2
    assert "takes no INPUT" in capsys.readouterr().err
    assert main(["extract", "--out", str(stale_faces)]) == 2
    assert "no INPUT given" in capsys.readouterr().err
    assert main(["extract", "--rescore", "--out", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    fs = FaceSet(stale_faces)
    for rec in fs.records:
        rec.landmarks = None
    write_index(stale_faces, fs.records)
    assert main(["extract", "--rescore", "--out", str(stale_faces)]) == 2
    assert "no face in this FaceSet has 68 landmarks" in capsys.readouterr().err


def test_rescore_skips_a_degenerate_face_and_scores_the_rest(stale_faces):
    fs = FaceSet(stale_faces)
    fs.records[3].landmarks = np.zeros((68, 2), np.float32)  # both eyes at one point: no score exists
    write_index(stale_faces, fs.records)
    summary = rescore_faceset(stale_faces)
    assert summary.n_degenerate == 1 and summary.n_rescored == 4 and "1 have degenerate landmarks" in summary.format()
    after = FaceSet(stale_faces).records
    assert all(after[3].attributes[n] == 0.0 for n in MEASURED_ATTRIBUTES)
    assert after[0].attributes["smile_score"] == pytest.approx(landmark_scores(after[0].landmarks)["smile_score"])
