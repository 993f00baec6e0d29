"""The demos run end to end (``main([...])`` in-process) on a tiny model and tiny inputs."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from latentedit._io import read_image, write_image
from tests.test_app_fixtures import sample_photo

DEMOS = Path(__file__).resolve().parents[1] / "demos"


def load_demo(name: str):
    spec = importlib.util.spec_from_file_location(f"demo_{name}", DEMOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_swap_then_edit_on_two_folders(model_dir, editor, tmp_path):
    from latentedit.edit import Recipe

    demo = load_demo("swap_then_edit")
    a, b = demo.render_people(tmp_path / "in", n=3, seed=1, size=64)
    out = tmp_path / "out"
    assert demo.main([str(a), str(b), "--model", str(model_dir), "--aligned", "--edit", "smile=2.5",
                      "--region", "mouth", "--out", str(out)]) == 0
    a_files = sorted(a.glob("*.png"))
    written = sorted((out / "A_to_B").glob("A_*[0-9].png"))
    assert [p.name for p in written] == [p.name for p in a_files]
    assert len(list((out / "B_to_A").glob("B_*_compare.png"))) == 3
    recipe = Recipe(edits={"smile": 2.5}, region="mouth")
    expected = editor.swap(a_files, "B", recipe, aligned=True)
    plain = editor.swap(a_files, "B", Recipe(region="mouth"), aligned=True)
    for path, exp, pl in zip(written, expected, plain):
        got = read_image(path)
        assert np.array_equal(got, exp.image)               # what the public API computes
        assert np.abs(got.astype(int) - pl.image).sum() > 0  # and the edit did something
    assert demo.main([str(a), "--model", str(model_dir), "--out", str(out)]) == 2   # never overwrites


def test_swap_then_edit_defaults_render_synthfaces(model_dir, tmp_path, capsys):
    demo = load_demo("swap_then_edit")
    out = tmp_path / "o"
    assert demo.main(["--model", str(model_dir), "--n", "2", "--out", str(out)]) == 0
    assert len(list((out / "A_to_B").glob("*_compare.png"))) == 2
    assert "rendered 2 SynthFaces" in capsys.readouterr().out
    assert demo.main(["--model", str(model_dir), "--edit", "frown=1", "--out", str(tmp_path / "x")]) == 2
    assert "unknown attribute" in capsys.readouterr().err


def test_swap_then_edit_on_videos(model_dir, tmp_path):
    from latentedit.merge import write_video
    from latentedit.video_io import video_info

    demo = load_demo("swap_then_edit")
    videos = []
    for person, seed in (("a", 3), ("b", 4)):
        frame = read_image(sample_photo(tmp_path / f"{person}.png", size=128, seed=seed))
        frame = frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2]
        path = tmp_path / f"{person}.mp4"
        write_video([frame] * 4, path, fps=10)
        videos.append(path)
    out = tmp_path / "out"
    assert demo.main([str(videos[0]), str(videos[1]), "--model", str(model_dir), "--out", str(out)]) == 0
    info = video_info(out / "A_to_B" / "a_to_B.mp4")
    assert info.n_frames == 4 and (info.width, info.height) == (frame.shape[1], frame.shape[0])
    assert (out / "B_to_A" / "b_to_A.mp4").is_file()


def test_batch_edit_folder_with_recipe(model_dir, editor, tmp_path):
    from latentedit.edit import Recipe

    demo = load_demo("batch_edit")
    photos = tmp_path / "photos"
    photos.mkdir()
    sample_photo(photos / "one.png", seed=5)
    sample_photo(photos / "two.png", seed=6)
    write_image(photos / "wall.png", np.full((90, 90, 3), 128, np.uint8))   # no face: reported, not fatal
    recipe = Recipe(edits={"smile": 2.0}, hold=["eye_open"], region="mouth")
    recipe.save(tmp_path / "r.json")
    out = tmp_path / "out"
    assert demo.main([str(photos), "--recipe", str(tmp_path / "r.json"), "--model", str(model_dir),
                      "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["edited"] == 2 and summary["failed"] == ["wall.png"] and summary["recipe"]["hold"] == ["eye_open"]
    assert sorted(p.name for p in out.glob("*.png")) == ["one.png", "two.png"]
    expected = editor.edit(photos / "one.png", recipe)[0].image
    assert np.array_equal(read_image(out / "one.png"), expected)
    assert not np.array_equal(expected, read_image(photos / "one.png"))


def test_batch_edit_defaults_and_bad_recipe(model_dir, tmp_path, capsys):
    demo = load_demo("batch_edit")
    assert demo.main(["--model", str(model_dir), "--n", "2", "--out", str(tmp_path / "o")]) == 0
    assert len(list((tmp_path / "o").glob("photo_*.png"))) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"edits": {"smile": }')
    assert demo.main(["--model", str(model_dir), "--recipe", str(bad), "--out", str(tmp_path / "p")]) == 2
    assert "bad.json" in capsys.readouterr().err and not (tmp_path / "p").exists()
