"""The boundaries and edit benchmarks run end to end at tiny sizes and report what they measure."""
from __future__ import annotations

import json

from latentedit.cli.main import main


def test_bench_boundaries_tiny(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "boundaries", "--sizes", "3000", "--dim", "32", "--svc-max", "500", "--repeat", "1",
                 "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["benchmark"] == "boundaries" and data["machine"]["cpu_count"] >= 1
    rows = {r["method"].split(" (")[0]: r for r in data["results"]}
    ridge = rows["BoundaryFitter ridge"]
    assert ridge["cosine"] > 0.99 and ridge["val_balanced_accuracy"] > 0.85
    assert rows["SVC(kernel='linear'), all labels"]["note"].startswith("subsampled to 500")
    base = data["results"][0]
    assert base["speed_vs_baseline"] == 1.0
    assert "speed×" in capsys.readouterr().out


def test_bench_edit_tiny(tmp_path, capsys):
    out = tmp_path / "e.json"
    assert main(["bench", "edit", "--resolutions", "64", "--moves", "4", "--naive", "1", "--images", "4",
                 "--batch-size", "4", "--photo", str(tmp_path / "none.jpg"), "--json", str(out)]) == 0
    r = json.loads(out.read_text())["results"][0]
    assert r["resolution"] == 64 and r["face"] == "fixed box"
    assert 0 < r["move_ms_p50"] <= r["move_ms_p95"] and r["batch_images_per_s"] > 0


def test_bench_boundaries_celeba_mode_compares_latent_pca_and_reconstruction(tmp_path, model_dir, capsys):
    """The CelebA experiment's code path on a SynthFaces FaceSet (continuous attributes split at the median)."""
    from latentedit.synth import synth_faceset

    faces = tmp_path / "faces"
    synth_faceset(faces, identities=8, per_identity=8, size=64, seed=0, progress=False)
    out = tmp_path / "c.json"
    assert main(["bench", "boundaries", "--celeba", str(faces), "--model", str(model_dir), "--attributes", "smile",
                 "mouth_open", "--train", "48", "--cnn-reference", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["command"].startswith("latentedit bench boundaries --celeba") and "--cnn-reference 1" in data["command"]
    assert data["settings"]["cnn_reference_epochs"] == 1 and data["settings"]["cnn_reference_s"] > 0
    assert data["headline"].startswith(f"{model_dir.name}: mean ") and "supervised CNN" in data["headline"]
    run, = data["models"]
    assert run["latent_dim"] == run["pca_dims"] and 0 < run["pca_explained_variance"] <= 1
    assert 5 < run["heldout_psnr_db"] < 40
    rows = {r["attribute"]: r for r in data["results"]}
    assert set(rows) == {"smile", "mouth_open"}
    for r in rows.values():
        assert r["n_train"] == 48 and r["n_val"] == 16
        assert 0 <= r["latent_bacc"] <= 1 and 0 <= r["pca_bacc"] <= 1
        assert abs(r["delta_points"] - 100 * (r["latent_bacc"] - r["pca_bacc"])) < 1e-9
        assert 0 <= r["landmarks_bacc"] <= 1 and 0 <= r["pca_plus_landmarks_bacc"] <= 1  # SynthFaces have landmarks
        assert 0 <= r["supervised_cnn_bacc"] <= 1
    assert "held-out reconstruction" in capsys.readouterr().out


def test_supervised_cnn_reference_learns_a_planted_visual_label():
    """The supervised reference learns what the pixels show: a bright left half (label 0) and a bright
    mouth-sized patch (label 1, with missing labels masked out), far above chance on held-out images."""
    import numpy as np

    from latentedit.eval.bench.cnn_reference import supervised_cnn_bacc

    rng = np.random.default_rng(0)
    n = 240
    x = rng.uniform(0.2, 0.5, (n, 3, 16, 16)).astype(np.float32)
    y = rng.integers(0, 2, (n, 2)).astype(np.float64)
    x[y[:, 0] == 1, :, :, :8] += 0.4
    x[y[:, 1] == 1, :, 10:14, 4:12] += 0.4
    y[::7, 1] = np.nan  # missing labels are masked, not read as negatives
    bacc = supervised_cnn_bacc(x, y, np.arange(180), np.arange(180, n), epochs=6, batch=16, progress=False)
    assert len(bacc) == 2 and min(bacc) > 0.9
