"""Temporal smoothing, atomic mp4 writing with audio, and merge_video round trips."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from latentedit.errors import LatentEditError
from latentedit.merge import (VideoWriteError, merge_video, smooth_affines, smooth_landmarks, smooth_sequence,
                              warp_to_crop, write_video)

FPS = 10
N_FRAMES = 10
H, W = 96, 128


# ----------------------------------------------------------------------------- smoothing

def test_smoothing_leaves_constant_sequences_unchanged():
    a = np.tile(np.array([[1.2, 0.1, -30], [-0.1, 1.2, 15]], np.float32), (25, 1, 1))
    np.testing.assert_allclose(smooth_affines(a, 2.0), a, rtol=1e-6)
    lm = np.tile(np.random.default_rng(0).random((68, 2)).astype(np.float32) * 100, (12, 1, 1))
    np.testing.assert_allclose(smooth_landmarks(lm, 3.0), lm, rtol=1e-6)
    # A linear trend survives too (centred kernel, symmetric away from the ends).
    ramp = np.arange(30, dtype=np.float32)[:, None]
    np.testing.assert_allclose(smooth_sequence(ramp, 1.5)[6:-6], ramp[6:-6], atol=1e-4)


def test_smoothing_reduces_jitter_variance():
    rng = np.random.default_rng(1)
    t = np.arange(200)
    base = np.stack([np.sin(t / 30.0) * 20, np.cos(t / 40.0) * 10], 1)[:, None, :]  # slow motion
    base = np.repeat(base, 68, axis=1)
    noisy = base + rng.normal(0, 1.0, base.shape)
    smoothed = smooth_landmarks(noisy, 2.0)
    before = np.var(noisy - base)
    after = np.var(smoothed - base)
    assert after < before / 4, (before, after)
    affines = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (200, 1, 1)) + rng.normal(0, 0.01, (200, 2, 3))
    assert np.var(smooth_affines(affines, 2.0) - [[1, 0, 0], [0, 1, 0]]) < np.var(affines - [[1, 0, 0], [0, 1, 0]]) / 4


def test_smoothing_skips_missing_frames():
    x = np.ones((9, 2, 3), np.float32)
    x[4] = np.nan
    out = smooth_affines(x, 1.0)
    assert np.isnan(out[4]).all()
    np.testing.assert_allclose(np.delete(out, 4, axis=0), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(smooth_sequence(x[:3], 0), x[:3])
    with pytest.raises(ValueError, match="T×2×3"):
        smooth_affines(np.zeros((5, 3, 3)))
    with pytest.raises(ValueError, match="T×N×2"):
        smooth_landmarks(np.zeros((5, 68)))


# ----------------------------------------------------------------------------- helpers

def _frames(n: int = N_FRAMES) -> list[np.ndarray]:
    """Smooth moving colour gradients (compress well, so codec error stays small)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    out = []
    for i in range(n):
        r = 128 + 100 * np.sin((xx + 6 * i) / 20.0)
        g = 128 + 100 * np.cos((yy - 4 * i) / 15.0)
        b = np.full_like(r, 40 + 15 * i)
        out.append(np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8))
    return out


def _make_input(path: Path, frames: list[np.ndarray], fps: int = FPS, sine_hz: float = 440.0) -> None:
    """Write an mp4 with H.264 video and an AAC sine-tone track, with PyAV directly."""
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.options = {"crf": "12"}
        sr = 16000
        aus = out.add_stream("aac", rate=sr)
        aus.layout = "mono"
        tone = (0.3 * np.sin(2 * np.pi * sine_hz * np.arange(int(sr * len(frames) / fps)) / sr)).astype(np.float32)
        for start in range(0, len(tone), 1024):
            af = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
            af.sample_rate, af.pts = sr, start
            for p in aus.encode(af):
                out.mux(p)
        for p in aus.encode(None):
            out.mux(p)
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)


def _read(path: Path) -> tuple[list[np.ndarray], Fraction, dict]:
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        rate = v.average_rate
        info = {"audio": [(a.codec_context.name, a.codec_context.sample_rate) for a in c.streams.audio]}
        if c.streams.audio:
            a = c.streams.audio[0]
            info["audio_seconds"] = float(a.duration * a.time_base) if a.duration else None
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return frames, rate, info


def _tone_frequency(path: Path) -> float:
    import av

    with av.open(str(path)) as c:
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
        sr = c.streams.audio[0].codec_context.sample_rate
    spec = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / sr)[spec.argmax()])


# ----------------------------------------------------------------------------- write_video

def test_write_video_round_trip_without_audio(tmp_path):
    frames = _frames()
    out = tmp_path / "plain.mp4"
    res = write_video(frames, out, fps=FPS)
    assert res.n_frames == N_FRAMES and res.fps == FPS and res.audio_codec is None
    got, rate, info = _read(out)
    assert len(got) == N_FRAMES and rate == FPS and info["audio"] == []
    for a, b in zip(frames, got):
        assert np.abs(a.astype(int) - b).mean() < 3.0  # codec error only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.mp4"]  # no temp file left


def test_write_video_copies_audio_and_trims_it(tmp_path):
    src = tmp_path / "src.mp4"
    _make_input(src, _frames(20), sine_hz=440)  # 2 s of audio
    res = write_video(_frames(10), tmp_path / "short.mp4", fps=FPS, audio_from=src)  # 1 s of video
    assert res.audio_codec == "aac" and res.audio_copied
    _, _, info = _read(tmp_path / "short.mp4")
    assert info["audio"] == [("aac", 16000)]
    assert 0.9 < info["audio_seconds"] < 1.15
    assert abs(_tone_frequency(tmp_path / "short.mp4") - 440) < 10


def test_write_video_keeps_exact_ntsc_rate_and_odd_sizes(tmp_path):
    frames = [f[:45, :61].copy() for f in _frames(4)]
    res = write_video(frames, tmp_path / "ntsc.mp4", fps=30000 / 1001)
    assert res.fps == Fraction(30000, 1001)
    got, rate, _ = _read(tmp_path / "ntsc.mp4")
    assert rate == Fraction(30000, 1001) and got[0].shape == (45, 61, 3) and len(got) == 4


def test_write_video_refuses_to_overwrite_and_is_atomic(tmp_path):
    out = tmp_path / "exists.mp4"
    out.write_bytes(b"user data")
    with pytest.raises(VideoWriteError, match="already exists"):
        write_video(_frames(2), out, fps=FPS)
    assert out.read_bytes() == b"user data"

    def broken():
        yield from _frames(3)
        yield np.zeros((10, 10, 3), np.uint8)  # wrong size half-way through

    with pytest.raises(VideoWriteError, match="frame 3: size 10x10 differs"):
        write_video(broken(), out, fps=FPS, overwrite=True)
    assert out.read_bytes() == b"user data"  # the failed write left the old file alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.mp4"]
    write_video(_frames(2), out, fps=FPS, overwrite=True)
    assert len(_read(out)[0]) == 2


def test_write_video_errors_are_latentedit_errors(tmp_path):
    with pytest.raises(LatentEditError, match="no frames"):
        write_video([], tmp_path / "a.mp4", fps=FPS)
    with pytest.raises(LatentEditError, match="unsupported video suffix '.gif'"):
        write_video(_frames(1), tmp_path / "a.gif", fps=FPS)
    with pytest.raises(LatentEditError, match="fps"):
        write_video(_frames(1), tmp_path / "a.mp4", fps=0)
    with pytest.raises(LatentEditError, match="frame 0: expected uint8"):
        write_video([np.zeros((8, 8, 3), np.float32)], tmp_path / "a.mp4", fps=FPS)
    with pytest.raises(LatentEditError, match="audio_from: .*nope.wav: file not found"):
        write_video(_frames(1), tmp_path / "a.mp4", fps=FPS, audio_from=tmp_path / "nope.wav")


# ----------------------------------------------------------------------------- merge_video

def _affine(cx: float, cy: float, box: float, size: int) -> np.ndarray:
    s = size / box
    c = (size - 1) / 2
    return np.array([[s, 0, c - s * cx], [0, s, c - s * cy]], np.float32)


def test_merge_video_unedited_round_trip_keeps_frames_fps_and_audio(tmp_path):
    src = tmp_path / "in.mp4"
    _make_input(src, _frames(), sine_hz=660)
    decoded, _, _ = _read(src)
    size = 48
    faces = {}
    for i, frame in enumerate(decoded):
        if i % 3 == 1:
            continue  # frames without a face pass through
        a = _affine(64 + i, 48, 60, size)
        faces[i] = (warp_to_crop(frame, a, size), a, None)
    out = tmp_path / "out.mp4"
    res = merge_video(src, faces, out, color="none")
    assert res.n_frames == N_FRAMES and res.merged == len(faces) and res.missing_frames == ()
    assert res.audio_codec == "aac" and res.audio_copied
    got, rate, info = _read(out)
    assert len(got) == N_FRAMES and rate == FPS
    assert info["audio"] == [("aac", 16000)] and abs(_tone_frequency(out) - 660) < 10
    for a, b in zip(decoded, got):
        assert np.abs(a.astype(int) - b).mean() < 3.0


def test_merge_video_pastes_edited_faces_where_asked(tmp_path):
    src = tmp_path / "in.mp4"
    frames = _frames()
    _make_input(src, frames)
    size = 32
    a = _affine(64, 48, 40, size)
    white = np.full((size, size, 3), 255, np.uint8)
    res = merge_video(src, {2: (white, a, None), 99: (white, a, None)}, tmp_path / "out.mp4",
                      color="none", feather=2, audio=False)
    assert res.merged == 1 and res.missing_frames == (99,) and res.audio_codec is None
    got, _, info = _read(tmp_path / "out.mp4")
    assert info["audio"] == []
    assert got[2][40:56, 56:72].mean() > 245  # the white face is there
    assert got[1][40:56, 56:72].mean() < 230 and got[3][40:56, 56:72].mean() < 230


def test_merge_video_reports_bad_entries_by_frame(tmp_path):
    src = tmp_path / "in.mp4"
    _make_input(src, _frames(3))
    with pytest.raises(ValueError, match=r"frame 1, face 0: affine: expected a 2×3"):
        merge_video(src, {1: (np.zeros((8, 8, 3), np.uint8), np.eye(3) * 2, None)}, tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()
    with pytest.raises(VideoWriteError, match="frame indices"):
        merge_video(src, {-1: None}, tmp_path / "o.mp4")


def test_faces_from_faceset_feeds_merge_video(tmp_path):
    from latentedit.faceset import FaceRecord, FaceSetWriter
    from latentedit.merge import faces_from_faceset

    src = tmp_path / "in.mp4"
    _make_input(src, _frames(4))
    decoded, _, _ = _read(src)
    size = 32
    with FaceSetWriter(tmp_path / "fs") as w:
        for i in (0, 2, 2):  # two faces in frame 2
            a = _affine(50 + 10 * len(w.records), 48, 40, size)
            w.add(warp_to_crop(decoded[i], a, size), FaceRecord(
                image=w.next_name(), identity="x", size=size, source={"file": str(src), "frame": i}, affine=a))
        w.add(np.zeros((size, size, 3), np.uint8), FaceRecord(  # another video: ignored
            image=w.next_name(), identity="x", size=size, source={"file": "other.mp4", "frame": 1},
            affine=_affine(60, 48, 40, size)))
    faces = faces_from_faceset(tmp_path / "fs", video=src)
    assert sorted(faces) == [0, 2] and isinstance(faces[0], tuple) and len(faces[2]) == 2
    assert faces[0][0].shape == (size, size, 3) and faces[0][1].shape == (2, 3) and faces[0][2] is None
    res = merge_video(src, faces, tmp_path / "out.mp4", color="rct")
    assert res.merged == 3 and res.n_frames == 4
    with pytest.raises(LatentEditError, match="no face record from .*nothing.mp4"):
        faces_from_faceset(tmp_path / "fs", video=tmp_path / "nothing.mp4")
