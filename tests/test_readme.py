"""The README's pipeline table chains as written: each command, top to bottom, run in one folder.

Only the sizes are scaled down (identities, faces per identity, steps) so the chain runs in
seconds; every option name, identity label, attribute name and path is the README's own.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentedit.app.samples import SAMPLES_DIR
from latentedit.cli.main import main

REPO = Path(__file__).resolve().parents[1]

#: README value -> test value; sizes only.
SCALE = {"--identities 64": "--identities 3", "--per-identity 60": "--per-identity 6",
         "--steps 4000": "--steps 2"}


def readme_table_commands() -> list[str]:
    """The ``latentedit ...`` commands of the README's pipeline table, in order (rows that are
    templates, such as ``[MODEL]`` or ``synth|train|...``, are left out)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| step | command | Python |"):]
    table = table[:table.index("\n\n")]
    commands = []
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        match = re.fullmatch(r"`(latentedit [^`]+)`", cells[1]) if len(cells) > 1 else None
        if match and "[" not in match.group(1) and "\\" not in match.group(1):
            commands.append(match.group(1))
    return commands


def _inputs(folder: Path) -> None:
    """The inputs the table assumes you have: a photo, a folder of photos and a clip."""
    av = pytest.importorskip(
        "av", reason="needs PyAV from the video extra; runs once `pip install -e '.[video]'` (or .[dev]) installed it")
    photo = np.asarray(Image.open(SAMPLES_DIR / "synth_smile.png").convert("RGB"))
    Image.fromarray(photo).save(folder / "photo.jpg", quality=95)
    (folder / "photos").mkdir()
    Image.fromarray(np.asarray(Image.open(SAMPLES_DIR / "synth_neutral.png").convert("RGB"))).save(
        folder / "photos" / "a.png")
    h, w = (s - s % 2 for s in photo.shape[:2])
    with av.open(str(folder / "clip.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for _ in range(3):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(photo[:h, :w]),
                                                             format="rgb24")))
        out.mux(stream.encode())


def test_readme_table_has_the_pipeline():
    commands = readme_table_commands()
    assert [c.split()[1] for c in commands] == ["synth", "extract", "train", "encode", "fit", "edit",
                                               "swap", "report", "export"]


@pytest.mark.slow
def test_readme_table_commands_chain(tmp_path, monkeypatch, capsys):
    _inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    for command in readme_table_commands():
        for big, small in SCALE.items():
            command = command.replace(big, small)
        argv = shlex.split(command)[1:]
        if argv[0] == "train":
            argv.append("--quiet")
        assert main(argv) == 0, f"README command failed: {command}\n{capsys.readouterr().err}"
    extracted = (tmp_path / "real" / "faces.jsonl").read_text().splitlines()
    assert len(extracted) >= 2 and all('"identity":"A"' in line.replace(" ", "") for line in extracted)
    assert sorted(p.stem for p in (tmp_path / "runs/ab/model/boundaries").glob("*.json")) == \
        ["eye_open", "mouth_open", "smile"]
    edited = np.asarray(Image.open(tmp_path / "edited" / "photo.jpg"))
    assert edited.shape == np.asarray(Image.open(tmp_path / "photo.jpg")).shape
    assert (tmp_path / "swapped" / "photo.jpg").is_file()
    assert (tmp_path / "report" / "report.json").is_file()
    assert (tmp_path / "onnx" / "manifest.json").is_file()
