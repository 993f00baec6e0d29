"""encode / fit / edit / swap in-process through latentedit.cli.main on a tiny saved model."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latentedit._io import read_image, write_image
from latentedit.cli.main import main
from latentedit.faceset import FaceRecord, FaceSet, FaceSetWriter
from latentedit.latent import Boundary, LatentTable, load_boundaries
from latentedit.models import SwapAutoencoder, tiny_config


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    model = SwapAutoencoder(tiny_config(64))
    model.save_pretrained(root / "model")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    with FaceSetWriter(root / "fs") as w:
        for i in range(80):
            bright = rng.uniform(0, 1)
            tilt = rng.uniform(-1, 1)
            img = 40 + 150 * bright + 40 * tilt * (xx - 0.5) + rng.normal(0, 8, (64, 64))
            img = np.clip(np.repeat(img[..., None], 3, axis=2) * [1.0, 0.9, 0.8], 0, 255).astype(np.uint8)
            attrs = {"bright": float(bright), "Smiling": float(bright > 0.5), "tilt": float(tilt)}
            if i % 10 == 0:
                attrs.pop("tilt")
            w.add(img, FaceRecord(image=f"images/{i:06d}.png", identity="A", size=64, attributes=attrs,
                                  attribute_sources={k: "ground_truth" if k != "Smiling" else "celeba" for k in attrs}))
    return root, model


def test_encode_fit_edit_swap(setup, tmp_path, capsys):
    root, model = setup
    lat = tmp_path / "lat.safetensors"
    assert main(["encode", str(root / "model"), str(root / "fs"), "--out", str(lat), "--batch", "16"]) == 0
    table = LatentTable.load(lat)
    fs = FaceSet(root / "fs")
    assert table.z.shape == (80, 32) and table.model_id == model.model_id
    assert table.attribute_names == ["Smiling", "bright", "tilt"]
    np.testing.assert_array_equal(np.isnan(table.column("tilt")), np.arange(80) % 10 == 0)
    np.testing.assert_allclose(table.attributes, fs.attribute_matrix(table.attribute_names))
    assert table.image_paths[3] == "images/000003.png" and table.identities[0] == "A"
    assert table.attribute_sources["Smiling"] == "celeba"
    # the codes are the model's own encodings of the crops
    x = torch.from_numpy(fs.read_image(5)).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        np.testing.assert_allclose(table.z[5].numpy(), model.encode(x)[0].numpy(), atol=1e-4)
    assert main(["encode", str(root / "model"), str(root / "fs"), "--out", str(lat)]) == 2  # no overwrite

    bdir = tmp_path / "b"
    assert main(["fit", str(root / "model"), "--latents", str(lat), "--attribute", "bright", "Smiling",
                 "--condition", "tilt", "--out", str(bdir), "--val-fraction", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "bright" in out and "ridge" in out and "logistic" in out
    bs = load_boundaries(bdir, model)
    assert set(bs) == {"bright", "Smiling"}
    assert bs["bright"].method == "ridge" and bs["Smiling"].method == "logistic"
    assert bs["bright"].conditioned_on == ["tilt"] and bs["bright"].n_val == 20
    assert bs["bright"].val_accuracy > 0.8  # brightness is linear in a random conv encoder's code
    assert main(["fit", str(root / "model"), "--latents", str(lat), "--attribute", "bright", "--out", str(bdir)]) == 2
    assert "already exist" in capsys.readouterr().err

    crop = tmp_path / "in" / "face.png"
    write_image(crop, fs.read_image(7))
    args = ["edit", str(root / "model"), str(crop), str(tmp_path / "in" / "nope.png"), "--aligned",
            "--set", "bright=2", "--hold", "Smiling", "--boundaries", str(bdir), "--out", str(tmp_path / "o")]
    assert main(args) == 1  # one input failed
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["n_ok"] == 1 and summary["n_failed"] == 1 and "nope.png" in summary["failures"][0]["error"]
    assert summary["recipe"]["edits"] == {"bright": 2.0} and summary["model_id"] == model.model_id
    written = read_image(tmp_path / "o" / "face.png")
    from latentedit.edit import Editor, Recipe

    ed = Editor.from_pretrained(root / "model", boundaries=bdir, device="cpu")
    expected = ed.edit([fs.read_image(7)], Recipe(edits={"bright": 2.0}, hold=["Smiling"]), aligned=True)[0]
    np.testing.assert_array_equal(written, expected.face)
    # running again never overwrites: fresh names
    assert main(args) == 1
    assert (tmp_path / "o" / "face_1.png").is_file() and (tmp_path / "o" / "summary_1.json").is_file()
    np.testing.assert_array_equal(read_image(tmp_path / "o" / "face.png"), written)

    # swap-then-edit in one line; recipe file + flags
    recipe = tmp_path / "r.json"
    Recipe(edits={"bright": -1.0}, merge={"color": "none"}).save(recipe)
    assert main(["swap", str(root / "model"), str(crop), "--aligned", "--identity", "B", "--recipe", str(recipe),
                 "--boundaries", str(bdir), "--out", str(tmp_path / "s")]) == 0
    swapped = read_image(tmp_path / "s" / "face.png")
    exp = ed.swap([fs.read_image(7)], "B", Recipe(edits={"bright": -1.0}), aligned=True)[0]
    np.testing.assert_array_equal(swapped, exp.face)


def test_cli_user_errors(setup, tmp_path, capsys):
    root, model = setup
    Boundary("bright", np.ones(32), model_id=model.model_id).save(tmp_path / "b")
    base = ["edit", str(root / "model"), str(root / "fs"), "--boundaries", str(tmp_path / "b"), "--out",
            str(tmp_path / "o")]
    assert main(base + ["--set", "beard=1"]) == 2
    assert "unknown attribute(s) 'beard'; known: bright" in capsys.readouterr().err
    assert main(base + ["--set", "bright=nan"]) == 2
    assert "finite" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"edits": {"bright": 1}, "region": "ears"}')
    assert main(base + ["--recipe", str(bad)]) == 2
    assert "bad.json: field 'region'" in capsys.readouterr().err
    Boundary("bright", np.ones(32), model_id="ffffffffffff").save(tmp_path / "b2")
    assert main(["edit", str(root / "model"), str(root / "fs"), "--boundaries", str(tmp_path / "b2"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "ffffffffffff" in err and model.model_id in err
    assert main(["fit", str(root / "model"), str(root / "fs"), "--attribute", "nope", "--out",
                 str(tmp_path / "b3")]) == 2
    assert "unknown attribute 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_fit_encodes_faceset_into_model_boundaries(setup, tmp_path):
    import shutil

    root, model = setup
    shutil.copytree(root / "model", tmp_path / "m")
    assert main(["fit", str(tmp_path / "m"), str(root / "fs"), "--attribute", "Smiling", "--method", "svm",
                 "--ratio", "0.5"]) == 0
    from latentedit.edit import Editor

    ed = Editor.from_pretrained(tmp_path / "m", device="cpu")
    assert ed.attributes == ["Smiling"] and ed.boundaries["Smiling"].method == "svm"
    assert ed.boundaries["Smiling"].n_positive + ed.boundaries["Smiling"].n_negative == 80


def test_video_edit_frame_by_frame(setup, tmp_path):
    from tests.conftest import shared_path

    photo = read_image(shared_path("data", "swap_pair", "A_KatieHill", "0001.jpg"))
    from latentedit.merge import write_video
    from latentedit.video_io import iter_frames, video_info

    frames = [np.roll(photo[::2, ::2], (k, 2 * k), axis=(0, 1)) for k in range(5)]
    frames[2] = np.zeros_like(frames[2])  # a frame without a face passes through unchanged
    write_video(frames, tmp_path / "clip.mp4", fps=10)
    root, model = setup
    Boundary("bright", np.ones(32), model_id=model.model_id).save(root / "model" / "boundaries", overwrite=True)
    assert main(["edit", str(root / "model"), str(tmp_path / "clip.mp4"), "--set", "bright=1", "--out",
                 str(tmp_path / "o")]) == 0
    out = tmp_path / "o" / "clip.mp4"
    info = video_info(out)
    assert info.n_frames == 5 and (info.width, info.height) == (256, 256)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["results"][0]["frames_with_face"] == 4
    got = [f for _, f in iter_frames(out)]
    src = [f for _, f in iter_frames(tmp_path / "clip.mp4")]
    assert np.abs(got[2].astype(int) - src[2].astype(int)).mean() < 2  # no face: unchanged (codec noise only)
    assert np.abs(got[0].astype(int) - src[0].astype(int)).mean() > 0.5  # the face was edited
    # the corners, far from the face, are untouched (up to codec noise)
    assert np.abs(got[0][:20, :20].astype(int) - src[0][:20, :20].astype(int)).mean() < 3
