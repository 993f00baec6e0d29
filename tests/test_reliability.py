"""No traceback from any user input: every bad input to the CLI gives one line on stderr that names
the input and the problem, exit status 2, and leaves every file the user had untouched.

The cases are listed in docs/RELIABILITY.md (``test_the_reliability_table_lists_every_case`` keeps the
table and the tests in step). The CLI runs in-process (``latentedit.cli.main.main``) on a tiny model;
two subprocess tests prove that nothing else reaches a real terminal.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from latentedit.cli.main import build_parser, main

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "docs" / "RELIABILITY.md"
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA, and the case is a run without it; runs on any machine without a GPU (CI)")


# ----------------------------------------------------------------------------------------- world

@dataclass
class World:
    """Everything the cases need, built once per module (a few seconds)."""

    root: Path
    model: Path      # tiny 64 px model with boundaries eye_open, mouth_open, smile
    fs: Path         # FaceSet of 4 random 64 px crops with a 'smile' attribute
    photo: Path      # a SynthFaces face on a larger canvas (dlib finds it)
    crop: Path       # a 64 px aligned face crop
    media: Path      # broken and unusual image and video files
    afile: Path      # a regular file, to put outputs "below"

    def m(self, name: str) -> Path:
        return self.media / name


def _png_with_size(path: Path, width: int, height: int) -> None:
    """A tiny valid PNG whose header claims ``width × height`` (a decompression bomb's signature)."""
    from PIL import Image

    Image.new("L", (4, 4)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = 8 + 8  # signature, then length + b"IHDR"
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def _make_media(d: Path, photo: Path, crop: np.ndarray) -> None:
    import av
    from PIL import Image

    d.mkdir()
    im = Image.fromarray(crop)
    im.convert("CMYK").save(d / "cmyk.jpg")
    Image.fromarray(crop[..., 0].astype(np.uint16) * 257).save(d / "gray16.png")
    im.convert("RGBA").save(d / "rgba.png")
    im.convert("P").save(d / "palette.png")
    rotated = Image.fromarray(np.ascontiguousarray(np.rot90(crop, 1)))  # stored sideways, EXIF says "rotate"
    exif = rotated.getexif()
    exif[0x0112] = 6
    rotated.save(d / "exif.jpg", exif=exif, quality=98)
    Image.open(photo).save(d / "photo.gif")
    Image.open(photo).save(d / "photo.tiff")
    im.save(d / "crop.gif")
    im.save(d / "crop.tiff")
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(d / "tiny.png")
    (d / "trunc.png").write_bytes(photo.read_bytes()[:200])
    (d / "notimage.png").write_text("hello, I am not a PNG")
    (d / "empty.png").write_bytes(b"")
    (d / "notes.txt").write_text("not an image")
    _png_with_size(d / "bomb.png", 20000, 20000)  # PIL itself refuses it (over 2 × its 89 MP bomb limit)
    _png_with_size(d / "large.png", 9000, 8000)    # 72 MP: over latentedit's 64 MP limit, under PIL's warning
    (d / "empty.mp4").write_bytes(b"")
    (d / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 200)
    with av.open(str(d / "audio.mp4"), "w") as c:  # an audio stream and no video stream
        s = c.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for pkt in list(s.encode(frame)) + list(s.encode(None)):
            c.mux(pkt)
    (d / "empty_dir").mkdir()


@pytest.fixture(scope="module")
def world(tmp_path_factory, model_dir) -> World:
    from latentedit._io import write_image
    from latentedit.faceset import FaceRecord, FaceSetWriter
    from latentedit.synth.params import ExpressionParams, IdentityParams
    from latentedit.synth.render import render
    from tests.test_app_fixtures import sample_photo

    root = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    with FaceSetWriter(root / "fs") as w:
        for i in range(4):
            img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
            w.add(img, FaceRecord(image=f"images/{i:06d}.png", identity="A", size=64,
                                  attributes={"smile": float(i)}, attribute_sources={"smile": "ground_truth"}))
    photo = sample_photo(root / "photo.png")
    crop = render(IdentityParams.sample(rng), ExpressionParams.neutral(), 64).image
    write_image(root / "crop.png", crop)
    _make_media(root / "media", photo, crop)
    (root / "afile").write_text("a regular file\n")
    model = root / "model"
    shutil.copytree(model_dir, model)
    return World(root=root, model=model, fs=root / "fs", photo=photo, crop=root / "crop.png",
                 media=root / "media", afile=root / "afile")


# --------------------------------------------------------------------------------------- helpers

def _snapshot(*roots: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for r in roots if r.exists() for p in sorted(r.rglob("*")) if p.is_file()}


def _error_lines(err: str, command: str | None = None) -> list[str]:
    prefix = f"latentedit {command}: error: " if command else "latentedit"
    return [line for line in err.splitlines() if line.startswith(prefix) and ": error: " in line]


def assert_one_line_error(code: int, err: str, command: str, needles, status: int = 2) -> str:
    """Exit ``status``, no traceback, exactly one error line (progress bars aside) holding every needle."""
    assert "Traceback" not in err, err
    assert code == status, (code, err)
    lines = _error_lines(err)
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith(f"latentedit {command}: error: ") or line.startswith("latentedit: error: "), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def _copy_model(w: World, t: Path, name: str = "m") -> Path:
    dst = t / name
    shutil.copytree(w.model, dst)
    return dst


def _config(model: Path, **model_fields) -> Path:
    cfg = json.loads((model / "config.json").read_text())
    cfg["model"].update(model_fields)
    (model / "config.json").write_text(json.dumps(cfg))
    return model


def _top(model: Path, **fields) -> Path:
    cfg = json.loads((model / "config.json").read_text())
    cfg.update(fields)
    (model / "config.json").write_text(json.dumps(cfg))
    return model


def _text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _faceset(w: World, t: Path, edit_line: Callable[[list[str]], list[str]]) -> Path:
    dst = t / "fs"
    shutil.copytree(w.fs, dst)
    lines = (dst / "faces.jsonl").read_text().splitlines()
    (dst / "faces.jsonl").write_text("\n".join(edit_line(lines)) + "\n")
    return dst


def _field(line: str, **fields) -> str:
    return json.dumps(dict(json.loads(line), **fields))


def _boundary(w: World, t: Path, mutate: Callable[[dict], dict | str]) -> Path:
    m = _copy_model(w, t)
    p = m / "boundaries" / "smile.json"
    out = mutate(json.loads(p.read_text()))
    p.write_text(out if isinstance(out, str) else json.dumps(out))
    return m


def _existing(path: Path, content: bytes = b"precious user data\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _unwritable(t: Path) -> Path:
    d = t / "locked"
    d.mkdir()
    d.chmod(0o500)
    return d


ROOT_SKIP = pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                               reason="runs as root, where chmod 0o500 does not stop writes (the /proc and "
                                      "below-a-file cases cover unwritable outputs as root); runs as any "
                                      "non-root user")


# ------------------------------------------------------------------------------------------ cases

@dataclass
class Case:
    """One bad input: the command line (built from the world and a fresh tmp folder) and the
    substrings the one error line must contain (the input's name first, then the problem)."""

    id: str
    argv: Callable[[World, Path], list]
    expect: Callable[[World, Path], list[str]] | list[str]
    marks: tuple = ()


def C(id, argv, expect, *marks) -> pytest.param:
    case = Case(id, argv, expect, marks)
    return pytest.param(case, id=id, marks=list(marks))


def _edit(w, t, *extra, inputs=None):
    return ["edit", w.model, *(inputs if inputs is not None else [w.crop]), "--aligned", "--out", t / "out", *extra]


CASES = [
    # -- image files ------------------------------------------------------------------------------
    C("image-truncated", lambda w, t: _edit(w, t, inputs=[w.m("trunc.png")]),
      ["trunc.png", "cannot read image", "truncated"]),
    C("image-not-an-image", lambda w, t: _edit(w, t, inputs=[w.m("notimage.png")]),
      ["notimage.png", "cannot read image"]),
    C("image-empty-file", lambda w, t: _edit(w, t, inputs=[w.m("empty.png")]), ["empty.png", "cannot read image"]),
    C("image-wrong-extension", lambda w, t: _edit(w, t, inputs=[w.m("notes.txt")]),
      ["INPUT", "notes.txt", "not an image or video file name", ".gif", ".mp4"]),
    C("image-missing", lambda w, t: _edit(w, t, inputs=[t / "nope.png"]), ["INPUT", "nope.png", "no such file"]),
    C("image-1x1", lambda w, t: ["edit", w.model, w.m("tiny.png"), "--out", t / "out"],
      ["tiny.png", "image is 1×1 pixels, too small to hold a face", "minimum is 16×16"]),
    C("image-1x1-aligned", lambda w, t: _edit(w, t, inputs=[w.m("tiny.png")]),
      ["tiny.png", "too small to hold a face", "16×16"]),
    C("image-decompression-bomb", lambda w, t: _edit(w, t, inputs=[w.m("bomb.png")]),
      ["bomb.png", "decompression bomb"]),
    C("image-over-pixel-limit", lambda w, t: _edit(w, t, inputs=[w.m("large.png")]),
      ["large.png", "9000x8000 (72 MP), over the 64 MP limit"]),
    C("image-folder-without-images", lambda w, t: _edit(w, t, inputs=[w.m("empty_dir")]),
      ["empty_dir", "folder holds no images, videos or faces.jsonl"]),
    C("extract-image-truncated", lambda w, t: ["extract", w.m("trunc.png"), "--out", t / "fs", "--quiet"],
      ["trunc.png", "cannot read image"]),
    C("extract-image-over-pixel-limit", lambda w, t: ["extract", w.m("large.png"), "--out", t / "fs", "--quiet"],
      ["large.png", "64 MP limit"]),
    C("extract-wrong-extension", lambda w, t: ["extract", w.m("notes.txt"), "--out", t / "fs", "--quiet"],
      ["INPUT", "notes.txt", "extension '.txt' is not one of", ".gif", ".tiff"]),
    C("extract-missing-input", lambda w, t: ["extract", t / "nope.jpg", "--out", t / "fs", "--quiet"],
      ["INPUT", "nope.jpg", "no such file or folder"]),
    C("extract-empty-folder", lambda w, t: ["extract", w.m("empty_dir"), "--out", t / "fs", "--quiet"],
      ["INPUT", "empty_dir", "no images", "found in it"]),
    # -- video files ------------------------------------------------------------------------------
    C("video-empty-file", lambda w, t: ["edit", w.model, w.m("empty.mp4"), "--out", t / "out"],
      ["empty.mp4", "cannot open video"]),
    C("video-broken-bytes", lambda w, t: ["edit", w.model, w.m("broken.mp4"), "--out", t / "out"],
      ["broken.mp4", "cannot open video"]),
    C("video-audio-only", lambda w, t: ["edit", w.model, w.m("audio.mp4"), "--out", t / "out"],
      ["audio.mp4", "no video stream"]),
    C("extract-video-empty-file", lambda w, t: ["extract", w.m("empty.mp4"), "--out", t / "fs", "--quiet"],
      ["empty.mp4", "cannot open video"]),
    C("extract-video-broken-bytes", lambda w, t: ["extract", w.m("broken.mp4"), "--out", t / "fs", "--quiet"],
      ["broken.mp4", "cannot open video"]),
    C("extract-video-audio-only", lambda w, t: ["extract", w.m("audio.mp4"), "--out", t / "fs", "--quiet"],
      ["audio.mp4", "no video stream"]),
    # -- FaceSet indexes --------------------------------------------------------------------------
    C("faceset-missing", lambda w, t: ["encode", w.model, t / "nofs", "--out", t / "z.safetensors"],
      ["nofs", "FaceSet folder not found"]),
    C("faceset-no-index", lambda w, t: ["encode", w.model, w.m("empty_dir"), "--out", t / "z.safetensors"],
      ["empty_dir", "not a FaceSet (no faces.jsonl)"]),
    C("faceset-bad-json-line", lambda w, t: ["encode", w.model,
                                             _faceset(w, t, lambda ls: ls[:2] + ['{"image": '] + ls[2:]),
                                             "--out", t / "z.safetensors"],
      ["faces.jsonl line 3", "malformed JSON"]),
    C("faceset-size-is-a-string", lambda w, t: ["encode", w.model,
                                                _faceset(w, t, lambda ls: [_field(ls[0], size="64")] + ls[1:]),
                                                "--out", t / "z.safetensors"],
      ["faces.jsonl line 1", "field 'size'", "'64'"]),
    C("faceset-attribute-not-a-number", lambda w, t: [
        "fit", w.model, _faceset(w, t, lambda ls: ls[:1] + [_field(ls[1], attributes={"smile": "big"})] + ls[2:]),
        "--attribute", "smile", "--out", t / "b"],
      ["faces.jsonl line 2", "field 'attributes'", "'big'"]),
    C("faceset-landmarks-wrong-shape", lambda w, t: [
        "edit", w.model, _faceset(w, t, lambda ls: [_field(ls[0], landmarks=[[1, 2]] * 3)] + ls[1:]),
        "--out", t / "out"],
      ["faces.jsonl line 1", "field 'landmarks'", "68 points"]),
    C("faceset-image-missing", lambda w, t: ["encode", w.model, _faceset(w, t, lambda ls: ls[:1] + [
        _field(ls[1], image="images/gone.png")] + ls[2:]), "--out", t / "z.safetensors"],
      ["gone.png", "not found"]),
    C("train-faceset-bad-field", lambda w, t: ["train", "--data",
                                               f"A={_faceset(w, t, lambda ls: [_field(ls[0], size=True)] + ls[1:])}",
                                               "--out", t / "run", "--steps", "1", "--quiet"],
      ["faces.jsonl line 1", "field 'size'"]),
    # -- recipes ----------------------------------------------------------------------------------
    C("recipe-bad-json", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", '{"edits": {"smile": ')),
      ["r.json", "malformed JSON", "line 1 column"]),
    C("recipe-unknown-attribute", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", '{"edits": {"beard": 1}}')),
      ["r.json", "unknown attribute(s) 'beard'", "known: eye_open, mouth_open, smile"]),
    C("recipe-alpha-nan", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", '{"edits": {"smile": NaN}}')),
      ["r.json", "edits.smile", "alpha must be finite"]),
    C("recipe-alpha-huge", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", '{"edits": {"smile": 1e30}}')),
      ["r.json", "edits.smile", "alpha must be in -10..10", "1e+30"]),
    C("recipe-alpha-400-digit-integer", lambda w, t: _edit(w, t, "--recipe", _text(
        t / "r.json", '{"edits": {"smile": 1' + "0" * 400 + '}}')), ["r.json", "edits.smile", "alpha must be finite"]),
    C("recipe-alpha-string", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", '{"edits": {"smile": "1"}}')),
      ["r.json", "edits.smile", "alpha must be a number"]),
    C("recipe-hold-not-a-list", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", '{"hold": "smile"}')),
      ["r.json", "field 'hold' must be a list"]),
    C("recipe-unknown-field", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", '{"strength": 2}')),
      ["r.json", "unknown field(s) ['strength']"]),
    C("recipe-erode-huge", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", '{"merge": {"erode": 100000}}')),
      ["r.json", "erode", "must be in -128..128", "100000"]),
    C("recipe-newer-format", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", '{"format_version": 9}')),
      ["r.json", "format_version", "9"]),
    C("recipe-unknown-merge-mode", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", '{"merge": {"mode": "warp"}}')),
      ["r.json", "'merge'.mode", "unknown merge mode 'warp'", "detail, replace"]),
    C("recipe-v1-with-mode", lambda w, t: _edit(w, t, "--recipe", _text(
        t / "r.json", '{"format_version": 1, "merge": {"mode": "detail"}}')), ["r.json", "merge.mode", "format_version 2"]),
    C("recipe-appearance-out-of-range", lambda w, t: _edit(w, t, "--recipe", _text(
        t / "r.json", '{"merge": {"appearance": 2}}')), ["r.json", "appearance", "0..1"]),
    C("edit-mode-unknown", lambda w, t: _edit(w, t, "--mode", "warp"), ["--mode", "invalid choice: 'warp'"]),
    C("recipe-deeply-nested", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", "[" * 100000)),
      ["r.json", "malformed JSON", "nested too deeply"]),
    C("recipe-missing-file", lambda w, t: _edit(w, t, "--recipe", t / "nope.json"), ["nope.json", "recipe file not found"]),
    C("recipe-is-a-folder", lambda w, t: _edit(w, t, "--recipe", t), ["is a folder; give a recipe .json file"]),
    C("recipe-unknown-region", lambda w, t: _edit(w, t, "--recipe", _text(t / "r.json", '{"region": "ears"}')),
      ["r.json", "field 'region'", "'ears'"]),
    C("set-alpha-huge", lambda w, t: _edit(w, t, "--set", "smile=1e30"),
      ["--set 'smile=1e30'", "alpha must be in -10..10"]),
    C("set-without-equals", lambda w, t: _edit(w, t, "--set", "smile"), ["--set 'smile'", "expected NAME=ALPHA"]),
    C("set-not-a-number", lambda w, t: _edit(w, t, "--set", "smile=lots"), ["--set 'smile=lots'", "not a number"]),
    C("set-unknown-attribute", lambda w, t: _edit(w, t, "--set", "beard=1"),
      ["command line", "unknown attribute(s) 'beard'"]),
    C("identity-unknown", lambda w, t: _edit(w, t, "--identity", "Z"), ["field 'identity'", "unknown identity 'Z'"]),
    C("swap-identity-unknown", lambda w, t: ["swap", w.model, w.crop, "--aligned", "--identity", "Z", "--out",
                                             t / "o"], ["unknown identity 'Z'", "A, B"]),
    # -- options ----------------------------------------------------------------------------------
    C("extract-size-huge", lambda w, t: ["extract", w.photo, "--out", t / "fs", "--size", "100000"],
      ["argument --size: must be an integer in 16..1024, got 100000"]),
    C("extract-every-zero", lambda w, t: ["extract", w.photo, "--out", t / "fs", "--every", "0"],
      ["argument --every: must be an integer in 1..100000, got 0"]),
    C("extract-upscale-huge", lambda w, t: ["extract", w.photo, "--out", t / "fs", "--upscale", "9"],
      ["argument --upscale", "0..4", "9"]),
    C("edit-erode-huge", lambda w, t: _edit(w, t, "--erode", "100000"),
      ["argument --erode: must be an integer in -128..128, got 100000"]),
    C("edit-feather-negative", lambda w, t: _edit(w, t, "--feather", "-1"), ["argument --feather", "0..128", "-1"]),
    C("edit-batch-zero", lambda w, t: _edit(w, t, "--batch", "0"), ["argument --batch", "1..1024", "got 0"]),
    C("edit-smooth-nan", lambda w, t: _edit(w, t, "--smooth", "nan"), ["argument --smooth", "finite", "'nan'"]),
    C("synth-identities-zero", lambda w, t: ["synth", "--out", t / "s", "--identities", "0"],
      ["argument --identities", "1..100000", "got 0"]),
    C("synth-size-not-a-number", lambda w, t: ["synth", "--out", t / "s", "--size", "big"],
      ["argument --size", "integer in 32..512", "'big'"]),
    C("synth-too-many-faces", lambda w, t: ["synth", "--out", t / "s", "--identities", "100000", "--per-identity",
                                            "10000"], ["--identities 100000 × --per-identity 10000", "over the"]),
    C("synth-seed-negative", lambda w, t: ["synth", "--out", t / "s", "--seed", "-1"],
      ["argument --seed", "0..4294967295", "-1"]),
    C("train-steps-zero", lambda w, t: ["train", "--data", f"A={w.fs}", "--out", t / "run", "--steps", "0"],
      ["argument --steps", "got 0"]),
    C("train-latent-dim-huge", lambda w, t: ["train", "--data", f"A={w.fs}", "--out", t / "run", "--latent-dim",
                                             "100000"], ["argument --latent-dim", "1..4096", "100000"]),
    C("train-lr-zero", lambda w, t: ["train", "--data", f"A={w.fs}", "--out", t / "run", "--lr", "0"],
      ["argument --lr", "> 0", "got 0"]),
    C("fit-ratio-zero", lambda w, t: ["fit", w.model, w.fs, "--attribute", "smile", "--ratio", "0"],
      ["argument --ratio", "> 0 and ≤ 0.5"]),
    C("fit-val-fraction-one", lambda w, t: ["fit", w.model, w.fs, "--attribute", "smile", "--val-fraction", "1"],
      ["argument --val-fraction", "0.01..0.9", "got 1"]),
    C("report-alpha-huge", lambda w, t: ["report", w.model, w.fs, "--attribute", "smile", "--out", t / "r",
                                         "--alphas=1e30"], ["argument --alphas", "each alpha must be in -10..10"]),
    C("report-n-zero", lambda w, t: ["report", w.model, w.fs, "--attribute", "smile", "--out", t / "r", "--n", "0"],
      ["argument --n", "got 0"]),
    C("encode-workers-huge", lambda w, t: ["encode", w.model, w.fs, "--out", t / "z.safetensors", "--workers", "999"],
      ["argument --workers", "0..64", "999"]),
    C("export-atol-zero", lambda w, t: ["export", w.model, "--onnx", t / "onnx", "--atol", "0"],
      ["argument --atol", "> 0"]),
    C("app-port-out-of-range", lambda w, t: ["app", w.model, "--port", "70000"],
      ["argument --port", "0..65535", "70000"]),
    C("app-concurrency-zero", lambda w, t: ["app", w.model, "--concurrency", "0"], ["argument --concurrency", "1..64"]),
    C("app-max-file-size-zero", lambda w, t: ["app", w.model, "--max-file-size", "0kb"],
      ["--max-file-size: '0kb' is outside 1kb..10gb"]),
    C("unknown-option", lambda w, t: _edit(w, t, "--colour", "rct"), ["unrecognized arguments: --colour"]),
    C("missing-required-option", lambda w, t: ["edit", w.model, w.crop], ["required", "--out"]),
    C("device-cuda-without-gpu", lambda w, t: _edit(w, t, "--device", "cuda"),
      ["--device cuda: CUDA is not available on this machine (torch.cuda.is_available() is False); "
       "use --device cpu"], NO_CUDA),
    C("train-device-cuda-without-gpu", lambda w, t: ["train", "--data", f"A={w.fs}", "--out", t / "run",
                                                     "--device", "cuda"],
      ["--device cuda: CUDA is not available"], NO_CUDA),
    C("device-unknown", lambda w, t: _edit(w, t, "--device", "foo"), ["--device foo: not a device name", "cpu"]),
    C("device-cuda-index", lambda w, t: ["encode", w.model, w.fs, "--out", t / "z.safetensors", "--device", "cuda:7"],
      ["--device cuda:7:"]),
    # -- output paths -----------------------------------------------------------------------------
    C("edit-out-below-a-file", lambda w, t: _edit(w, t)[:-1] + [w.afile / "sub"],
      ["--out", "afile/sub", "cannot create a folder there", "is a file"]),
    C("edit-out-is-a-file", lambda w, t: _edit(w, t)[:-1] + [w.afile], ["--out", "afile", "exists and is not a folder"]),
    C("edit-out-in-proc", lambda w, t: _edit(w, t)[:-1] + ["/proc/latentedit_out"],
      ["--out /proc/latentedit_out", "cannot create files in /proc"]),
    C("edit-out-unwritable-folder", lambda w, t: _edit(w, t)[:-1] + [_unwritable(t) / "out"],
      ["--out", "locked", "cannot create files in", "Permission denied"], ROOT_SKIP),
    C("swap-out-below-a-file", lambda w, t: ["swap", w.model, w.crop, "--identity", "B", "--out", w.afile / "x"],
      ["--out", "is a file"]),
    C("extract-out-below-a-file", lambda w, t: ["extract", w.photo, "--out", w.afile / "fs"],
      ["--out", "afile/fs", "is a file"]),
    C("extract-out-in-proc", lambda w, t: ["extract", w.photo, "--out", "/proc/latentedit_fs"],
      ["--out /proc/latentedit_fs", "cannot create files in /proc"]),
    C("train-out-below-a-file", lambda w, t: ["train", "--data", f"A={w.fs}", "--out", w.afile / "run"],
      ["--out", "afile/run", "is a file"]),
    C("train-out-in-proc", lambda w, t: ["train", "--data", f"A={w.fs}", "--out", "/proc/latentedit_run"],
      ["--out /proc/latentedit_run", "cannot create files in /proc"]),
    C("synth-out-below-a-file", lambda w, t: ["synth", "--out", w.afile / "s"], ["--out", "afile/s", "is a file"]),
    C("synth-out-in-proc", lambda w, t: ["synth", "--out", "/proc/latentedit_s"], ["--out /proc/latentedit_s"]),
    C("synth-preview-in-proc", lambda w, t: ["synth", "--preview-only", "/proc/latentedit.png"],
      ["--preview-only /proc/latentedit.png", "cannot create files in /proc"]),
    C("synth-preview-exists", lambda w, t: ["synth", "--preview-only", _existing(t / "grid.png")],
      ["--preview-only", "grid.png", "already exists; refusing to overwrite it"]),
    C("synth-preview-bad-suffix", lambda w, t: ["synth", "--preview-only", t / "grid.gif"],
      ["--preview-only", "grid.gif", "use a .png, .jpg, .jpeg or .webp file name"]),
    C("encode-out-below-a-file", lambda w, t: ["encode", w.model, w.fs, "--out", w.afile / "z.safetensors"],
      ["--out", "z.safetensors", "is a file"]),
    C("encode-out-in-proc", lambda w, t: ["encode", w.model, w.fs, "--out", "/proc/z.safetensors"],
      ["--out /proc/z.safetensors", "cannot create files in /proc"]),
    C("encode-out-exists", lambda w, t: ["encode", w.model, w.fs, "--out", _existing(t / "z.safetensors")],
      ["--out", "z.safetensors", "already exists; refusing to overwrite it (pass --overwrite)"]),
    C("encode-out-wrong-suffix", lambda w, t: ["encode", w.model, w.fs, "--out", t / "z.npz"],
      ["--out", "z.npz", "use a .safetensors file name"]),
    C("encode-out-is-a-folder", lambda w, t: ["encode", w.model, w.fs, "--out", w.m("empty_dir")],
      ["--out", "empty_dir", "use a .safetensors file name"]),
    C("fit-out-below-a-file", lambda w, t: ["fit", w.model, w.fs, "--attribute", "smile", "--out", w.afile / "b"],
      ["--out", "afile/b", "is a file"]),
    C("fit-out-in-proc", lambda w, t: ["fit", w.model, w.fs, "--attribute", "smile", "--out", "/proc/latentedit_b"],
      ["--out /proc/latentedit_b"]),
    C("fit-nothing-to-fit", lambda w, t: ["fit", w.model, w.fs], ["nothing to fit", "--landmark-head"]),
    C("fit-landmark-head-from-latents", lambda w, t: ["fit", w.model, "--latents", t / "z.safetensors",
                                                      "--landmark-head"], ["--landmark-head needs FACESET"]),
    C("fit-boundaries-exist", lambda w, t: ["fit", w.model, w.fs, "--attribute", "smile"],
      ["boundaries for smile already exist; pass --overwrite"]),
    C("report-out-below-a-file", lambda w, t: ["report", w.model, w.fs, "--attribute", "smile", "--out",
                                               w.afile / "r"], ["--out", "afile/r", "is a file"]),
    C("report-out-in-proc", lambda w, t: ["report", w.model, w.fs, "--attribute", "smile", "--out",
                                          "/proc/latentedit_r"], ["--out /proc/latentedit_r"]),
    C("export-out-below-a-file", lambda w, t: ["export", w.model, "--onnx", w.afile / "onnx"],
      ["--onnx", "afile/onnx", "is a file"]),
    C("export-out-in-proc", lambda w, t: ["export", w.model, "--onnx", "/proc/latentedit_onnx"],
      ["--onnx /proc/latentedit_onnx"]),
    # -- model folders ----------------------------------------------------------------------------
    C("model-missing-folder", lambda w, t: _edit(w, t)[:1] + [t / "nomodel"] + _edit(w, t)[2:],
      ["nomodel", "no such model folder"]),
    C("model-missing-config", lambda w, t: ["encode", (lambda m: (m / "config.json").unlink() or m)(_copy_model(w, t)),
                                            w.fs, "--out", t / "z.safetensors"],
      ["not a model folder (no config.json)"]),
    C("model-config-bad-json", lambda w, t: ["encode", (lambda m: _text(m / "config.json", "{nope") and m)(
        _copy_model(w, t)), w.fs, "--out", t / "z.safetensors"], ["config.json", "malformed JSON"]),
    C("model-latent-dim-string", lambda w, t: _edit(w, t)[:1] + [_config(_copy_model(w, t), latent_dim="256")]
      + _edit(w, t)[2:], ["config.json", "field 'latent_dim' must be an integer, got '256' (a string)"]),
    C("model-resolution-string", lambda w, t: ["export", _config(_copy_model(w, t), resolution="64"), "--onnx",
                                               t / "onnx"], ["config.json", "field 'resolution'", "got '64' (a string)"]),
    C("model-latent-dim-bool", lambda w, t: ["encode", _config(_copy_model(w, t), latent_dim=True), w.fs,
                                             "--out", t / "z.safetensors"], ["config.json", "got True (a boolean)"]),
    C("model-res-blocks-huge", lambda w, t: ["encode", _config(_copy_model(w, t), enc_res_blocks=10 ** 7), w.fs,
                                             "--out", t / "z.safetensors"],
      ["config.json", "field 'enc_res_blocks' must be ≤ 16, got 10000000"]),
    C("model-too-many-weights", lambda w, t: ["encode", _config(_copy_model(w, t), latent_dim=4096, enc_channels=1024,
                                                                inter_channels=1024, resolution=256), w.fs,
                                              "--out", t / "z.safetensors"],
      ["config.json", "billion weights", "1 billion limit"]),
    C("model-too-many-identities", lambda w, t: ["encode", _config(_copy_model(w, t),
                                                                   identities=[f"p{i}" for i in range(100)]), w.fs,
                                                 "--out", t / "z.safetensors"],
      ["config.json", "at most 64 decoders, got 100"]),
    C("model-identities-string", lambda w, t: ["encode", _config(_copy_model(w, t), identities="AB"), w.fs,
                                               "--out", t / "z.safetensors"],
      ["config.json", "field 'identities' must be a list", "(a string)"]),
    C("model-unknown-field", lambda w, t: ["encode", _config(_copy_model(w, t), depth=3), w.fs,
                                           "--out", t / "z.safetensors"], ["config.json", "unknown", "'depth'"]),
    C("model-wrong-class", lambda w, t: ["encode", _top(_copy_model(w, t), **{"class": "UNet"}), w.fs,
                                         "--out", t / "z.safetensors"], ["config.json", "field 'class' is 'UNet'"]),
    C("model-newer-format-version", lambda w, t: ["encode", _top(_copy_model(w, t), format_version=99), w.fs,
                                                  "--out", t / "z.safetensors"],
      ["config.json", "format_version 99 is newer", "upgrade latentedit"]),
    C("model-weights-missing", lambda w, t: ["encode", (lambda m: (m / "model.safetensors").unlink() or m)(
        _copy_model(w, t)), w.fs, "--out", t / "z.safetensors"], ["model.safetensors: missing"]),
    C("model-weights-truncated", lambda w, t: ["encode", (lambda m: os.truncate(m / "model.safetensors", 100) or m)(
        _copy_model(w, t)), w.fs, "--out", t / "z.safetensors"], ["model.safetensors", "not a readable safetensors"]),
    C("model-alignment-template-malformed", lambda w, t: _edit(w, t)[:1] + [
        (lambda m: _text(m / "alignment_template.json", '{"landmarks": "x", "size": 64}') and m)(_copy_model(w, t))]
      + _edit(w, t)[2:], ["alignment_template.json", "field 'landmarks' must be a list, got 'x' (a string)"]),
    C("model-is-a-faceset", lambda w, t: ["app", w.fs], ["fs", "not a model folder (no config.json)"]),
    # -- boundaries -------------------------------------------------------------------------------
    C("boundary-wrong-model", lambda w, t: _edit(w, t)[:1] + [_boundary(w, t, lambda b: dict(
        b, model_id="ffffffffffff"))] + _edit(w, t)[2:],
      ["smile.json", "fitted on model 'ffffffffffff'", "refit it"]),
    C("boundary-bad-json", lambda w, t: _edit(w, t)[:1] + [_boundary(w, t, lambda b: "{nope")] + _edit(w, t)[2:],
      ["smile.json", "malformed JSON"]),
    C("boundary-field-wrong-type", lambda w, t: _edit(w, t)[:1] + [_boundary(w, t, lambda b: dict(
        b, latent_dim="32"))] + _edit(w, t)[2:], ["smile.json", "field 'latent_dim' must be an integer, got '32' (a string)"]),
    C("boundary-normal-missing", lambda w, t: _edit(w, t)[:1] + [
        (lambda m: (m / "boundaries" / "smile.safetensors").unlink() or m)(_copy_model(w, t))] + _edit(w, t)[2:],
      ["smile.safetensors", "boundary normal file not found"]),
    C("boundaries-folder-missing", lambda w, t: _edit(w, t, "--boundaries", t / "nob"),
      ["nob", "boundaries folder not found"]),
]


@pytest.mark.parametrize("case", CASES)
def test_cli_user_error(case: Case, world, tmp_path, capsys):
    argv = [str(a) for a in case.argv(world, tmp_path)]
    before = _snapshot(world.root, tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    expect = case.expect(world, tmp_path) if callable(case.expect) else case.expect
    command = argv[0]
    assert_one_line_error(code, err, command, expect)
    after = _snapshot(world.root, tmp_path)
    changed = [str(p) for p, data in before.items() if after.get(p) != data]
    assert not changed, f"files the user had were changed or removed: {changed}"


# ------------------------------------------------------------- accepted inputs (same list everywhere)

@pytest.mark.parametrize("name", ["cmyk.jpg", "gray16.png", "rgba.png", "palette.png", "exif.jpg", "crop.gif",
                                  "crop.tiff"])
def test_unusual_but_valid_images_are_edited(name, world, tmp_path, capsys):
    code = main(["edit", str(world.model), str(world.m(name)), "--aligned", "--set", "smile=1", "--out",
                 str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err, err
    assert "1 input(s) edited, 0 failed" in out
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["n_ok"] == 1 and len(summary["results"][0]["outputs"]) == 1


def test_exif_rotation_and_gif_tiff_are_read_upright(world):
    from latentedit._io import read_image

    crop = read_image(world.crop).astype(int)
    assert np.abs(read_image(world.m("exif.jpg")).astype(int) - crop).mean() < 4  # stored sideways, read upright
    assert np.array_equal(read_image(world.m("crop.tiff")), crop)
    assert read_image(world.m("crop.gif")).shape == crop.shape  # the first (only) frame, palette-quantised


def test_one_list_of_extensions_everywhere():
    import importlib

    from latentedit import media, video_io
    from latentedit.app import callbacks

    batch, editor, extract = (importlib.import_module(f"latentedit.{m}")
                              for m in ("edit.batch", "edit.editor", "faces.extract"))

    assert {".gif", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".webp", ".bmp"} <= set(media.IMAGE_EXTENSIONS)
    assert extract.IMAGE_EXTENSIONS is media.IMAGE_EXTENSIONS
    assert batch.IMAGE_SUFFIXES is media.IMAGE_EXTENSIONS and callbacks.IMAGE_SUFFIXES is media.IMAGE_EXTENSIONS
    assert video_io.VIDEO_EXTENSIONS is media.VIDEO_EXTENSIONS and extract.VIDEO_EXTENSIONS is media.VIDEO_EXTENSIONS
    assert editor.VIDEO_SUFFIXES is media.VIDEO_EXTENSIONS and batch.VIDEO_SUFFIXES is media.VIDEO_EXTENSIONS
    assert media.is_image("A.GIF") and media.is_image("x.tiff") and media.is_video("clip.MOV")
    assert not media.is_image("clip.mp4") and not media.is_video("x.png") and not media.is_image("notes.txt")


def test_extract_accepts_gif_and_tiff_like_edit(world, tmp_path, capsys):
    from latentedit.faceset import FaceSet

    code = main(["extract", str(world.m("photo.gif")), str(world.m("photo.tiff")), "--out", str(tmp_path / "fs"),
                 "--size", "64", "--no-descriptor", "--no-refine", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err, err
    sources = sorted(Path(r.source["file"]).name for r in FaceSet(tmp_path / "fs").records)
    assert sources == ["photo.gif", "photo.tiff"]


# --------------------------------------------------------------------------------- partial batches

def test_a_bad_input_among_good_ones_fails_alone(world, tmp_path, capsys):
    """Batch semantics: one unreadable file does not stop the others; exit 1, one stderr line for it."""
    code = main(["edit", str(world.model), str(world.crop), str(world.m("trunc.png")), "--aligned", "--out",
                 str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    failed = [line for line in err.splitlines() if line.startswith("latentedit edit: failed: ")]
    assert len(failed) == 1 and "trunc.png: cannot read image" in failed[0]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["n_ok"] == 1 and summary["n_failed"] == 1


def test_edit_never_overwrites_earlier_outputs(world, tmp_path, capsys):
    out = tmp_path / "o"
    old = _existing(out / "crop.png")
    old_summary = _existing(out / "summary.json", b'{"mine": true}\n')
    assert main(["edit", str(world.model), str(world.crop), "--aligned", "--out", str(out)]) == 0
    capsys.readouterr()
    assert old.read_bytes() == b"precious user data\n" and old_summary.read_bytes() == b'{"mine": true}\n'
    assert (out / "crop_1.png").is_file() and (out / "summary_1.json").is_file()


# ------------------------------------------------------------------------ every numeric option bounded

def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _numeric_options():
    for name, sub in _subparsers(build_parser()).items():
        if name == "bench":  # benchmark options live in latentedit/eval/bench (see docs/RELIABILITY.md)
            continue
        for action in sub._actions:
            if action.option_strings and not action.choices and (action.type in (int, float)
                                                                  or hasattr(action.type, "lo")):
                yield name, action


def test_every_numeric_option_has_a_documented_range():
    unbounded = [f"{cmd} {a.option_strings[0]}" for cmd, a in _numeric_options() if not hasattr(a.type, "lo")]
    assert not unbounded, f"numeric options without a range: {unbounded}"
    undocumented = []
    for cmd, a in _numeric_options():
        lo, hi = a.type.lo, a.type.hi
        shown = [f"{lo:g}" if isinstance(lo, float) else str(lo), f"{hi:g}" if isinstance(hi, float) else str(hi)]
        if not all(s in (a.help or "").replace("2^32-1", str(2 ** 32 - 1)) for s in shown if s != "None"):
            undocumented.append(f"{cmd} {a.option_strings[0]}: {a.help!r}")
    assert not undocumented, "ranges missing from --help: " + "; ".join(undocumented)
    assert len(list(_numeric_options())) >= 60  # every command's numbers, train's included


def test_every_numeric_option_refuses_out_of_range_values(capsys):
    problems = []
    for cmd, a in _numeric_options():
        lo, hi = a.type.lo, a.type.hi
        bad = (hi * 10 + 1) if hi is not None else (lo - 1)
        flag = a.option_strings[0]
        code = main([cmd, f"{flag}={bad}"])
        err = capsys.readouterr().err
        lines = _error_lines(err, cmd)
        if code != 2 or len(lines) != 1 or f"argument {flag}" not in lines[0] or "must be" not in lines[0]:
            problems.append(f"{cmd} {flag}={bad}: exit {code}, {err!r}")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------ app start-up

def test_app_port_already_in_use(world, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code = main(["app", str(world.model), "--port", str(port)])
    assert_one_line_error(code, capsys.readouterr().err, "app",
                          [f"--port {port}: already in use; pick another with --port or --port 0"])


def test_app_host_that_does_not_exist(world, capsys):
    code = main(["app", str(world.model), "--host", "no-such-host.invalid"])
    assert_one_line_error(code, capsys.readouterr().err, "app", ["--host no-such-host.invalid", "not a known address"])


def test_app_port_taken_while_loading_is_reported_like_a_busy_port(world, monkeypatch, capsys):
    import latentedit.app

    def busy(*args, **kwargs):  # what gradio raises when the port was taken between check and bind
        raise OSError("Cannot find empty port in range: 7861-7861. You can specify a different port by ...")

    monkeypatch.setattr(latentedit.app, "launch", busy, raising=False)
    code = main(["app", str(world.model), "--port", "7861"])
    assert_one_line_error(code, capsys.readouterr().err, "app", ["--port 7861: already in use"])


# ---------------------------------------------------------------------------------- error boundary

@pytest.mark.parametrize("exc, status, needles", [
    (MemoryError(), 2, ["out of memory", "lower --batch"]),
    (RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB"), 2, ["out of memory", "CUDA out of memory"]),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:83] DefaultCPUAllocator: can't allocate memory: you tried to "
                  "allocate 40003600081 bytes."), 2, ["out of memory", "40003600081 bytes"]),
    (RuntimeError("CUDA error: device-side assert triggered\nCUDA kernel errors might be asynchronously reported"),
     2, ["CUDA error: device-side assert triggered CUDA kernel", "use --device cpu"]),
    (OSError(errno.ENOSPC, "No space left on device", "/data/out/summary.json"), 2,
     ["/data/out/summary.json: No space left on device", "free some space"]),
    (PermissionError(errno.EACCES, "Permission denied", "/data/in.png"), 2, ["/data/in.png: Permission denied"]),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/data/photos"), 2, ["/data/photos: Is a directory"]),
    (FileExistsError("/data/out.png already exists; refusing to overwrite it"), 2, ["out.png already exists"]),
    (ValueError("feather: expected >= 0 pixels, got -3"), 2, ["feather: expected >= 0 pixels"]),
    (TypeError("unsupported operand type(s) for +: 'int' and 'str'"), 1,
     ["internal error: TypeError: unsupported operand", "(run with LATENTEDIT_DEBUG=1 for the traceback)"]),
], ids=["MemoryError", "cuda-oom", "cpu-oom", "cuda-error", "disk-full", "permission", "is-a-folder",
        "exists", "ValueError", "internal-bug"])
def test_error_boundary_maps_every_exception_to_one_line(exc, status, needles, monkeypatch, capsys):
    import latentedit.cli.synth as synth

    def boom(args):
        raise exc

    monkeypatch.setattr(synth, "run", boom)
    monkeypatch.delenv("LATENTEDIT_DEBUG", raising=False)
    code = main(["synth", "--preview-only", "x.png"])
    assert_one_line_error(code, capsys.readouterr().err, "synth", needles, status=status)


def test_debug_env_reraises_with_the_traceback(monkeypatch):
    import latentedit.cli.synth as synth

    def boom(args):
        raise TypeError("a bug")

    monkeypatch.setattr(synth, "run", boom)
    monkeypatch.setenv("LATENTEDIT_DEBUG", "1")
    with pytest.raises(TypeError, match="a bug"):
        main(["synth", "--preview-only", "x.png"])


def _cli(*args, env=None) -> subprocess.CompletedProcess:
    code = "import sys; from latentedit.cli.main import main; sys.exit(main())"
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    full_env.pop("LATENTEDIT_DEBUG", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_a_real_terminal_sees_one_line_and_status_2(world, tmp_path):
    r = _cli("edit", world.model, world.m("trunc.png"), "--aligned", "--out", "/proc/latentedit_out")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "latentedit edit: error: --out /proc/latentedit_out: cannot create files in /proc (No such file or directory)"]
    r = _cli("extract", world.photo, "--out", tmp_path / "fs", "--size", "100000")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "latentedit extract: error: argument --size: must be an integer in 16..1024, got 100000 "
        "(see latentedit extract --help)"]
    assert not (tmp_path / "fs").exists()


def test_a_real_terminal_gets_the_traceback_with_latentedit_debug(tmp_path):
    r = _cli("synth", "--out", "/proc/latentedit_s", env={"LATENTEDIT_DEBUG": "1"})
    assert r.returncode == 1 and "Traceback" in r.stderr and "LatentEditError" in r.stderr


# ----------------------------------------------------------------------------------- model config

def test_model_config_checks_types_and_limits_before_building():
    from latentedit.errors import ModelFormatError
    from latentedit.models.config import LIMITS, MAX_IDENTITIES, ModelConfig

    with pytest.raises(ModelFormatError, match=r"^c\.json: field 'latent_dim' must be an integer, got '256' \(a "
                                               r"string\)$"):
        ModelConfig.from_dict({"latent_dim": "256"}, where="c.json")
    with pytest.raises(ModelFormatError, match=r"field 'dec_channels' must be an integer or null, got 2\.5"):
        ModelConfig.from_dict({"dec_channels": 2.5}, where="c.json")
    with pytest.raises(ModelFormatError, match="decoder names must be strings, got 1"):
        ModelConfig.from_dict({"identities": [1, "B"]}, where="c.json")
    for name, hi in LIMITS.items():
        with pytest.raises(ModelFormatError, match=f"field '{name}' must be ≤ {hi}, got {hi + 1}"):
            ModelConfig.from_dict({name: hi + 1}, where="c.json")
    assert MAX_IDENTITIES == 64
    with pytest.raises(ValueError, match="field 'enc_res_blocks' must be ≤ 16"):  # the Python API, too
        ModelConfig(enc_res_blocks=10 ** 7)


def test_parameter_estimate_matches_the_built_model():
    from latentedit.models import SwapAutoencoder
    from latentedit.models.config import ModelConfig, tiny_config

    for cfg in (tiny_config(64), tiny_config(128, identities=("A", "B", "generic")), ModelConfig()):
        model = SwapAutoencoder(cfg)
        assert cfg.approx_parameters() == sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------- the table

def _collected_ids() -> set[str]:
    ids = {f"test_cli_user_error[{p.id}]" for p in CASES}
    for name, obj in globals().items():
        if name.startswith("test_") and callable(obj):
            ids.add(name)
    return ids


def test_the_reliability_table_lists_every_case():
    """docs/RELIABILITY.md names a test for every row, and every CLI case has a row."""
    text = TABLE.read_text(encoding="utf-8").split("\n## Cases\n", 1)[1]
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| case")]
    assert len(rows) >= 60
    named = set()
    for row in rows:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]
        assert len(cells) == 4 and all(cells), row  # case, command, expected message, test
        tests = re.findall(r"`([\w\[\].\-:/]+)`", cells[3])
        assert tests, row
        named.update(tests)
    known = _collected_ids() | _app_test_ids()

    def exists(ref: str) -> bool:
        if "::" in ref and not ref.split("::")[0].endswith(("test_reliability.py", "test_reliability_app.py")):
            file, name = ref.split("::")  # a test elsewhere in tests/ that checks the same message
            return f"def {name.split('[')[0]}(" in (REPO / file).read_text(encoding="utf-8")
        name = ref.split("::")[-1]
        exact = name.startswith(("test_cli_user_error[", "test_app_callback_error["))
        return name in known if exact else name.split("[")[0] in known

    unknown = sorted(n for n in named if not exists(n))
    assert not unknown, f"the table names tests that do not exist: {unknown}"
    missing = sorted(i for i in (f"test_cli_user_error[{p.id}]" for p in CASES)
                     if not any(n.split("::")[-1] == i for n in named))
    assert not missing, f"CLI cases without a row in docs/RELIABILITY.md: {missing}"


def _app_test_ids() -> set[str]:
    import tests.test_reliability_app as app_tests

    ids = {name for name in dir(app_tests) if name.startswith("test_")}
    ids |= {f"test_app_callback_error[{p.id}]" for p in app_tests.APP_CASES}
    return ids
