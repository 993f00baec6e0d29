"""Video merge: temporal smoothing of alignments, atomic mp4 writing with the audio kept, and
``merge_video`` which pastes per-frame faces back into a clip."""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from .._io import atomic_path
from .._optional import require
from ..errors import LatentEditError
from ..faceset import FaceSet
from ..video_io import iter_frames, video_info
from .paste import paste_back

#: Output containers by suffix (PyAV/FFmpeg format names).
VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
#: Audio codecs copied as-is into the output; anything else is re-encoded to AAC.
_COPY_AUDIO = {"mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
               "mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le"},
               "matroska": {"aac", "mp3", "opus", "vorbis", "flac", "ac3", "eac3", "pcm_s16le"}}


class VideoWriteError(LatentEditError):
    """A video cannot be written (existing file, unsupported container, bad frames)."""


@dataclass(frozen=True)
class VideoWriteResult:
    """What :func:`write_video` / :func:`merge_video` wrote.

    Attributes:
        path: the output file.
        n_frames: frames written.
        fps: frame rate (exact rational).
        width: frame width.
        height: frame height.
        video_codec: encoder used (``libx264`` unless unavailable).
        audio_codec: codec of the audio track written, or None when there is none.
        audio_copied: True when the audio packets were copied unchanged (no re-encode).
        merged: faces pasted (merge_video; 0 for write_video).
        missing_frames: ``faces`` keys that matched no decoded frame (merge_video).
    """

    path: Path
    n_frames: int
    fps: Fraction
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    audio_copied: bool
    merged: int = 0
    missing_frames: tuple[int, ...] = ()


# ----------------------------------------------------------------------------- smoothing

def smooth_sequence(x: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Centred Gaussian smoothing along axis 0, ignoring NaN entries.

    Weights are renormalised over the frames that exist (sequence ends, NaN gaps), so a constant
    sequence is returned unchanged and there is no pull towards zero at the ends.

    Args:
        x: ``T×...`` float array; a frame whose entries are NaN counts as missing.
        sigma: standard deviation in frames (``<= 0`` returns a copy).

    Returns:
        float32 array of the same shape; NaN stays NaN.

    Raises:
        ValueError: if ``x`` is empty or ``sigma`` is not finite.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"smooth: expected a non-empty T×... sequence, got shape {arr.shape}")
    sigma = float(sigma)
    if not np.isfinite(sigma):
        raise ValueError(f"smooth: sigma must be finite, got {sigma}")
    if sigma <= 0 or arr.shape[0] == 1:
        return arr.astype(np.float32)
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    valid = np.isfinite(arr)
    vals = np.where(valid, arr, 0.0)
    t = arr.shape[0]
    num = np.zeros_like(vals)
    den = np.zeros_like(vals)
    for k, w in zip(range(-radius, radius + 1), kernel):
        lo, hi = max(0, -k), min(t, t - k)  # out[i] gathers arr[i + k]
        if lo >= hi:
            continue
        num[lo:hi] += w * vals[lo + k:hi + k]
        den[lo:hi] += w * valid[lo + k:hi + k]
    out = np.where(valid, num / np.maximum(den, 1e-12), np.nan)
    return out.astype(np.float32)


def smooth_affines(affines: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Temporally smooth per-frame ``2×3`` source→crop affines to remove alignment jitter.

    Entries are averaged element-wise with a centred Gaussian (for the small frame-to-frame
    changes of a tracked face this stays a near-similarity transform).

    Args:
        affines: ``T×2×3``; a frame without a face may be all NaN (it is skipped and stays NaN).
        sigma: smoothing strength in frames (standard deviation; 0 = off).

    Returns:
        float32 ``T×2×3``.

    Raises:
        ValueError: on a wrong shape.
    """
    a = np.asarray(affines, dtype=np.float64)
    if a.ndim != 3 or a.shape[1:] != (2, 3):
        raise ValueError(f"affines: expected shape T×2×3, got {a.shape}")
    return smooth_sequence(a, sigma)


def smooth_landmarks(landmarks: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Temporally smooth per-frame landmarks (``T×68×2``, or any ``T×N×2``).

    Args:
        landmarks: ``T×N×2``; NaN frames are skipped and stay NaN.
        sigma: smoothing strength in frames (standard deviation; 0 = off).

    Returns:
        float32 array of the same shape.

    Raises:
        ValueError: on a wrong shape.
    """
    p = np.asarray(landmarks, dtype=np.float64)
    if p.ndim != 3 or p.shape[2] != 2:
        raise ValueError(f"landmarks: expected shape T×N×2, got {p.shape}")
    return smooth_sequence(p, sigma)


# ----------------------------------------------------------------------------- writing

def _as_fraction(fps: float | Fraction) -> Fraction:
    try:
        rate = Fraction(fps).limit_denominator(1001)
    except (TypeError, ValueError):
        raise VideoWriteError(f"fps: expected a positive number, got {fps!r}") from None
    if rate <= 0:
        raise VideoWriteError(f"fps: expected a positive number, got {fps!r}")
    return rate


def _check_frame(frame: np.ndarray, index: int, size: tuple[int, int] | None) -> np.ndarray:
    f = np.asarray(frame)
    if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
        raise VideoWriteError(f"frame {index}: expected uint8 H×W×3 RGB, got {f.dtype} {f.shape}")
    if size is not None and f.shape[:2] != size:
        raise VideoWriteError(f"frame {index}: size {f.shape[1]}x{f.shape[0]} differs from the first "
                              f"frame's {size[1]}x{size[0]}")
    return np.ascontiguousarray(f)


class _AudioPump:
    """Feeds the first audio track of a file into an output container, interleaved with the video.

    Packets are copied when the container accepts the codec, otherwise decoded and re-encoded to
    AAC. The output stream is created in ``__init__`` (before anything is muxed: the header is
    written with the first packet), and :meth:`until` muxes audio up to a given time, so the
    audio stays interleaved with the video and is cut where the video ends.
    """

    def __init__(self, out, fmt: str, src_path: Path):
        av = require("av", "copying audio")

        if not src_path.is_file():
            raise VideoWriteError(f"audio_from: {src_path}: file not found")
        try:
            self.inp = av.open(str(src_path))
        except Exception as exc:
            raise VideoWriteError(f"audio_from: {src_path}: cannot open ({type(exc).__name__}: {exc})") from None
        self.out = out
        self.stream = self.inp.streams.audio[0] if self.inp.streams.audio else None
        self.codec: str | None = None
        self.copied = False
        self._pending: list = []  # (seconds, packet) read but not yet muxed
        self._source = None
        if self.stream is None:
            self.inp.close()
            return
        name = self.stream.codec_context.name
        if name in _COPY_AUDIO[fmt]:
            self.ostream = out.add_stream_from_template(self.stream)
            self.codec, self.copied = name, True
            self._source = self._copy_packets()
        else:
            ctx = self.stream.codec_context
            self.ostream = out.add_stream("aac", rate=ctx.sample_rate or 48000)
            if ctx.layout is not None and ctx.layout.name:
                self.ostream.layout = ctx.layout.name
            self.codec = "aac"
            self._source = self._encoded_packets()

    def _copy_packets(self):
        for packet in self.inp.demux(self.stream):
            if packet.dts is None:  # the demuxer's final flush packet
                continue
            t = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
            packet.stream = self.ostream
            yield t, packet

    def _encoded_packets(self):
        for frame in self.inp.decode(self.stream):
            t = float(frame.time) if frame.time is not None else 0.0
            frame.pts = None
            for packet in self.ostream.encode(frame):
                yield t, packet

    def until(self, seconds: float) -> None:
        """Mux every audio packet that starts before ``seconds``."""
        if self._source is None:
            return
        while True:
            if not self._pending:
                nxt = next(self._source, None)
                if nxt is None:
                    self._source = None
                    return
                self._pending.append(nxt)
            t, packet = self._pending[0]
            if t >= seconds:
                return
            self._pending.pop(0)
            self.out.mux(packet)

    def close(self) -> None:
        """Flush a re-encoder and release the input (remaining packets are dropped: trimmed)."""
        if self.stream is None:
            return
        try:
            if not self.copied:
                self._source = None
                for packet in self.ostream.encode(None):
                    self.out.mux(packet)
        finally:
            self.inp.close()


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float | Fraction,
                audio_from: str | os.PathLike | None = None, *, overwrite: bool = False, crf: int = 18,
                progress: bool = False, total: int | None = None) -> VideoWriteResult:
    """Encode RGB frames to an H.264 video file, atomically, optionally with another file's audio.

    The file is written under a temporary name beside ``path`` and renamed only once complete.
    Audio from ``audio_from`` is copied packet for packet when the container accepts its codec
    (re-encoded to AAC otherwise) and trimmed to the video's duration.

    Args:
        frames: iterable of uint8 ``H×W×3`` RGB frames, all the same size.
        path: output file (``.mp4``, ``.m4v``, ``.mov`` or ``.mkv``).
        fps: frame rate (a float or an exact ``Fraction`` such as 30000/1001).
        audio_from: a video/audio file whose first audio track is kept; None or a file without
            audio gives a silent video.
        overwrite: replace an existing ``path`` (default: refuse).
        crf: H.264 constant rate factor (lower = better; 18 is visually lossless).
        progress: show a tqdm progress bar.
        total: number of frames, for the progress bar only.

    Returns:
        :class:`VideoWriteResult`.

    Raises:
        VideoWriteError: ``path`` exists and ``overwrite`` is False, unsupported suffix, no frames,
            a malformed frame (named by index), bad fps, or an unreadable ``audio_from``.
    """
    av = require("av", "writing video")

    path = Path(path)
    fmt = VIDEO_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise VideoWriteError(f"{path}: unsupported video suffix {path.suffix!r}; use one of "
                              f"{', '.join(VIDEO_FORMATS)}")
    if path.exists() and not overwrite:
        raise VideoWriteError(f"{path} already exists; refusing to overwrite it")
    rate = _as_fraction(fps)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        raise VideoWriteError(f"{path}: no frames to write") from None
    first = _check_frame(first, 0, None)
    h, w = first.shape[:2]
    n = 0
    audio_codec, copied = None, False
    with atomic_path(path, overwrite=overwrite) as tmp:
        options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
        with av.open(str(tmp), mode="w", format=fmt, options=options) as out:
            stream = out.add_stream(codec, rate=rate)
            stream.width, stream.height = w, h
            # 4:2:0 needs even sizes; odd-sized frames keep full chroma instead of being cropped.
            stream.pix_fmt = "yuv420p" if (w % 2 == 0 and h % 2 == 0) else "yuv444p"
            if codec == "libx264":
                stream.options = {"crf": str(int(crf)), "preset": "medium"}
            else:
                stream.bit_rate = max(2_000_000, w * h * 8)
            time_base = 1 / rate
            pump = _AudioPump(out, fmt, Path(audio_from)) if audio_from is not None else None
            bar = tqdm(total=total, desc=f"writing {path.name}", unit="frame", disable=not progress)
            try:
                frame = first
                while frame is not None:
                    vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
                    vf.pts, vf.time_base = n, time_base
                    for packet in stream.encode(vf):
                        out.mux(packet)
                    n += 1
                    bar.update(1)
                    if pump is not None:
                        pump.until(n / float(rate))
                    nxt = next(it, None)
                    frame = None if nxt is None else _check_frame(nxt, n, (h, w))
                for packet in stream.encode(None):
                    out.mux(packet)
            finally:
                bar.close()
                if pump is not None:
                    pump.close()
            if pump is not None:
                audio_codec, copied = pump.codec, pump.copied
    return VideoWriteResult(path=path, n_frames=n, fps=rate, width=w, height=h, video_codec=codec,
                            audio_codec=audio_codec, audio_copied=copied)


# ----------------------------------------------------------------------------- merge

FaceEntry = tuple  # (face crop S×S×3, affine 2×3, mask S×S or None)


def _entries(value) -> Sequence[FaceEntry]:
    """One ``(face, affine, mask)`` tuple or a list of them (several faces in one frame)."""
    if isinstance(value, list):
        return value
    return [value]


def faces_from_faceset(faceset, video: str | os.PathLike | None = None) -> dict[int, FaceEntry | list[FaceEntry]]:
    """Collect the aligned crops and affines that extraction stored for a video's frames.

    The result plugs straight into :func:`merge_video` (an unedited round trip), or serves as the
    list of crops to edit before merging.

    Args:
        faceset: a :class:`~latentedit.faceset.FaceSet` or its folder.
        video: keep only records extracted from this file (compared after resolving paths, falling
            back to the file name); None keeps every record that has a frame index.

    Returns:
        frame index → ``(crop uint8 S×S×3, affine 2×3, None)``, or a list of such tuples when a
        frame has several faces (in the FaceSet's order).

    Raises:
        FaceSetError: unreadable FaceSet or crop.
        LatentEditError: no record matches ``video`` or has an affine.
    """
    fs = faceset if isinstance(faceset, FaceSet) else FaceSet(faceset)
    want = Path(video).resolve() if video is not None else None
    out: dict[int, list[FaceEntry]] = {}
    for i, rec in enumerate(fs.records):
        frame = rec.source.get("frame") if isinstance(rec.source, dict) else None
        if frame is None or rec.affine is None:
            continue
        if want is not None:
            file = rec.source.get("file")
            if not file or (Path(file).resolve() != want and Path(file).name != want.name):
                continue
        out.setdefault(int(frame), []).append((fs.read_image(i), np.asarray(rec.affine, np.float32), None))
    if not out:
        where = f" from {video}" if video is not None else ""
        raise LatentEditError(f"{fs.root}: no face record{where} has a video frame index and an affine")
    return {k: v[0] if len(v) == 1 else v for k, v in sorted(out.items())}


def merge_video(video_path: str | os.PathLike, faces: Mapping[int, FaceEntry | list[FaceEntry]],
                out_path: str | os.PathLike, *, audio: bool = True, overwrite: bool = False,
                crf: int = 18, progress: bool = False, **paste_kwargs) -> VideoWriteResult:
    """Paste faces back into the frames of a video and write the result with the same fps and audio.

    Args:
        video_path: the source video.
        faces: frame index (0-based, decode order) → ``(face, affine, mask)`` as taken by
            :func:`paste_back` (``mask`` may be None), or a list of such tuples for several faces.
            Frames without an entry are written unchanged.
        out_path: output video (see :func:`write_video`).
        audio: keep the source's audio track (when it has one).
        overwrite: replace an existing ``out_path``.
        crf: H.264 quality (see :func:`write_video`).
        progress: show a progress bar.
        **paste_kwargs: passed to :func:`paste_back` (``color``, ``erode``, ``feather``, ``blend``, ``seed``).

    Returns:
        :class:`VideoWriteResult` with ``merged`` (faces pasted) and ``missing_frames`` (keys of
        ``faces`` beyond the end of the video).

    Raises:
        VideoReadError: the source cannot be read (from :mod:`latentedit.video_io`).
        VideoWriteError: see :func:`write_video`; also a negative or non-integer frame index.
        ValueError: a face entry is malformed (the message names the frame).
    """
    bad = [k for k in faces if not isinstance(k, (int, np.integer)) or k < 0]
    if bad:
        raise VideoWriteError(f"faces: frame indices must be integers >= 0, got {bad[:5]!r}")
    unknown = set(paste_kwargs) - {"color", "erode", "feather", "blend", "seed"}
    if unknown:
        raise TypeError(f"merge_video: unexpected paste_back options {sorted(unknown)}")
    info = video_info(video_path)
    seen: set[int] = set()
    merged = 0

    def merged_frames():
        nonlocal merged
        for index, frame in iter_frames(video_path):
            if index in faces:
                seen.add(index)
                for j, entry in enumerate(_entries(faces[index])):
                    if len(entry) != 3:
                        raise ValueError(f"faces[{index}]: expected (face, affine, mask), got {len(entry)} items")
                    face, affine, mask = entry
                    try:
                        frame = paste_back(frame, face, affine, mask, **paste_kwargs)
                    except ValueError as exc:
                        raise ValueError(f"{video_path}: frame {index}, face {j}: {exc}") from None
                    merged += 1
            yield frame

    result = write_video(merged_frames(), out_path, info.fps, audio_from=video_path if audio else None,
                         overwrite=overwrite, crf=crf, progress=progress, total=info.n_frames or None)
    missing = tuple(sorted(int(k) for k in faces if int(k) not in seen))
    return VideoWriteResult(**{**result.__dict__, "merged": merged, "missing_frames": missing})
