"""`extract` and `latentedit extract` on real photos, odd image formats, bad inputs and videos."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentedit.faces import MEASURED_ATTRIBUTES, canonical_landmarks, extract, transform_points
from latentedit.faces.extract import REPORT_NAME
from latentedit.faceset import FaceSet
from latentedit.video_io import VideoReadError, iter_frames, video_info


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


def _write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def _png_header_only(path: Path, w: int, h: int) -> None:
    """A PNG whose header claims w×h pixels (a decompression bomb is refused before decoding)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory, astronaut) -> Path:
    d = tmp_path_factory.mktemp("photos")
    im = Image.fromarray(astronaut)
    im.save(d / "good.jpg", quality=92)
    im.convert("CMYK").save(d / "cmyk.jpg", quality=92)
    im.convert("L").save(d / "grey.png")
    rgba = im.convert("RGBA")
    rgba.putalpha(Image.fromarray(np.where(np.arange(512)[None, :] < 40, 0, 255).astype(np.uint8).repeat(512, 0)))
    rgba.save(d / "rgba.png")
    grey16 = (np.asarray(im.convert("L"), dtype=np.uint16) * 257)
    Image.fromarray(grey16).save(d / "deep16.png")
    assert Image.open(d / "deep16.png").mode.startswith("I")
    import cv2

    cv2.imwrite(str(d / "rgb16.png"), astronaut[..., ::-1].astype(np.uint16) * 257)  # 48-bit RGB PNG
    rotated = im.transpose(Image.Transpose.ROTATE_90)  # stored sideways ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... with "rotate 90° clockwise to display"
    rotated.save(d / "exif_rotated.jpg", exif=exif, quality=92)
    data = (d / "good.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (d / "notimage.png").write_text("this is not a picture\n")
    _png_header_only(d / "bomb.png", 40000, 40000)
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(d / "blank.png")
    im.resize((256, 256), Image.Resampling.LANCZOS).save(d / "tiny.webp", quality=95)
    (d / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    (d / "notes.txt").write_text("ignored inside folders\n")
    return d


EXPECT_OK = {"good.jpg", "cmyk.jpg", "grey.png", "rgba.png", "deep16.png", "rgb16.png", "exif_rotated.jpg"}
EXPECT_BAD = {"truncated.jpg": "unreadable", "notimage.png": "unreadable", "bomb.png": "unreadable",
              "blank.png": "no_face", "tiny.webp": "face_too_small", "broken.mp4": "video_error"}


def test_bad_inputs_reported_per_file_and_batch_continues(photo_dir, tmp_path):
    out = tmp_path / "fs"
    summary = extract([photo_dir], out, size=64, min_face=100, descriptor=False, progress=False)
    reasons = {Path(s.file).name: s.reason for s in summary.skipped}
    assert reasons == EXPECT_BAD, summary.format()
    details = {Path(s.file).name: s.detail for s in summary.skipped}
    assert "decompression bomb" in details["bomb.png"]
    assert "100 px minimum" in details["tiny.webp"]
    fs = FaceSet(out)
    got = {Path(r.source["file"]).name for r in fs.records}
    assert got == EXPECT_OK
    assert summary.n_faces == len(EXPECT_OK) and summary.n_files == 13
    # every good variant (colour modes, EXIF rotation) gives the same face geometry as the plain JPEG
    by_name = {Path(r.source["file"]).name: r for r in fs.records}
    ref = by_name["good.jpg"]
    for name in EXPECT_OK:
        rec = by_name[name]
        assert rec.extra["source_size"] == [512, 512], name
        assert np.abs(rec.landmarks - ref.landmarks).mean() < 1.5, name
        assert np.abs(rec.affine - ref.affine).max() < 0.05 * 64, name
    # the report in the FaceSet names every skipped file with its reason
    report = json.loads((out / REPORT_NAME).read_text())
    assert {Path(s["file"]).name: s["reason"] for s in report["runs"][-1]["skipped"]} == EXPECT_BAD


def test_record_contents(photo_dir, tmp_path, astronaut):
    out = tmp_path / "fs"
    summary = extract([photo_dir / "good.jpg"], out, size=96, progress=False, identity="eileen")
    assert summary.n_faces == 1 and summary.skipped == []
    fs = FaceSet(out)
    rec = fs.records[0]
    assert rec.identity == "eileen" and rec.size == 96
    assert rec.source == {"file": str((photo_dir / "good.jpg").resolve()), "frame": None}
    assert rec.descriptor.shape == (128,) and np.linalg.norm(rec.descriptor) > 0.5
    assert set(rec.attributes) == set(MEASURED_ATTRIBUTES)
    assert set(rec.attribute_sources.values()) == {"measured"}
    # smiling astronaut: the corners of her mouth are lifted
    assert rec.attributes["smile_score"] > 0
    # the affine maps the source eye (hand-checked at x≈205, y≈101) near the canonical right eye
    eye_crop = transform_points(np.array([[205.0, 101.0]]), rec.affine)[0]
    assert np.linalg.norm(eye_crop - canonical_landmarks(96)[36:42].mean(0)) < 4
    img = fs.read_image(0)
    assert img.shape == (96, 96, 3)


def test_rerun_skips_and_never_overwrites(photo_dir, tmp_path):
    out = tmp_path / "fs"
    (out / "images").mkdir(parents=True)
    user_file = out / "images" / "000000.png"
    user_file.write_bytes(b"user's own file")
    inputs = [photo_dir / "good.jpg", photo_dir / "grey.png"]
    first = extract(inputs, out, size=64, progress=False)
    assert first.n_faces == 2
    assert user_file.read_bytes() == b"user's own file"
    files_before = {p.name: p.read_bytes() for p in (out / "images").iterdir()}
    second = extract(inputs + [photo_dir / "cmyk.jpg"], out, size=64, progress=False)
    assert second.n_already == 2 and second.n_faces == 1
    files_after = {p.name: p.read_bytes() for p in (out / "images").iterdir()}
    assert all(files_after[k] == v for k, v in files_before.items())
    assert len(FaceSet(out)) == 3
    assert len(json.loads((out / REPORT_NAME).read_text())["runs"]) == 2


def test_video_every_k_and_info(tmp_path, astronaut):
    import cv2

    frames = [np.ascontiguousarray(cv2.resize(np.roll(astronaut, 4 * i, axis=1), (256, 256))) for i in range(6)]
    path = tmp_path / "clip.mp4"
    _write_video(path, frames)
    info = video_info(path)
    assert (info.width, info.height, info.n_frames, info.has_audio) == (256, 256, 6, False)
    assert info.fps == pytest.approx(10.0)
    got = list(iter_frames(path, every=2))
    assert [i for i, _ in got] == [0, 2, 4]
    assert got[0][1].shape == (256, 256, 3) and got[0][1].dtype == np.uint8
    assert np.abs(got[0][1].astype(int) - frames[0]).mean() < 12  # decoded RGB, not BGR
    out = tmp_path / "fs"
    summary = extract([path], out, size=64, every=2, progress=False)
    assert summary.n_faces == 3
    fs = FaceSet(out)
    assert sorted(r.source["frame"] for r in fs.records) == [0, 2, 4]
    assert {r.identity for r in fs.records} == {"clip"}
    again = extract([path], out, size=64, every=1, progress=False)
    assert again.n_already == 3 and again.n_faces == 3  # frames 1, 3, 5 are new


def test_truncated_video_keeps_decoded_frames_and_reports(tmp_path, astronaut):
    import av
    import cv2

    path = tmp_path / "cut.mp4"
    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:  # index first, so a cut file opens
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 128, 128, "yuv420p"
        for i in range(30):
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(np.roll(small, i, 1)), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert video_info(path).n_frames == 30
    got = []
    with pytest.raises(VideoReadError, match=r"cut.mp4: only \d+ of 30 frames"):
        for i, frame in iter_frames(path):
            got.append(i)
    assert got and got[0] == 0
    summary = extract([path], tmp_path / "fs", size=64, min_face=10, upscale=2, descriptor=False, progress=False)
    assert [s.reason for s in summary.skipped if s.frame is None] == ["video_error"]
    assert summary.n_frames == len(got)


def test_undecodable_video_raises_named_error(tmp_path):
    bad = tmp_path / "bad.mov"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(VideoReadError, match="bad.mov"):
        video_info(bad)
    with pytest.raises(VideoReadError, match="bad.mov"):
        list(iter_frames(bad))
    with pytest.raises(VideoReadError, match="not found"):
        video_info(tmp_path / "missing.mp4")


def test_cli_extract(photo_dir, tmp_path, capsys):
    from latentedit.cli.main import main

    out = tmp_path / "fs"
    code = main(["extract", str(photo_dir / "good.jpg"), str(photo_dir / "blank.png"), "--out", str(out),
                 "--size", "64", "--quiet", "--no-descriptor"])
    assert code == 0
    text = capsys.readouterr().out
    assert "1 face(s) written" in text and "blank.png: no_face" in text
    assert FaceSet(out).records[0].descriptor is None
    assert main(["extract", str(photo_dir / "blank.png"), "--out", str(tmp_path / "x"), "--quiet"]) == 1
    assert main(["extract", str(photo_dir), "--out", str(tmp_path / "y"), "--every", "0", "--quiet"]) == 2
    assert "--every" in capsys.readouterr().err


def test_missing_model_file_names_expected_path(monkeypatch, tmp_path, astronaut):
    from latentedit.errors import ModelFormatError
    from latentedit.faces import detect_faces

    monkeypatch.setenv("LATENTEDIT_DLIB_MODELS", str(tmp_path))
    with pytest.raises(ModelFormatError, match=str(tmp_path / "shape_predictor_68_face_landmarks.dat")):
        detect_faces(astronaut)
