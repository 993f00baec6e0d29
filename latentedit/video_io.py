"""Reading video files frame by frame (PyAV), as RGB uint8 arrays."""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ._optional import require
from .errors import ImageReadError
from .media import VIDEO_EXTENSIONS  # noqa: F401  (re-exported: the one list lives in latentedit.media)


class VideoReadError(ImageReadError):
    """A video file is missing, not a video, or cannot be decoded."""


@dataclass(frozen=True)
class VideoInfo:
    """Basic facts about a video.

    Attributes:
        fps: average frame rate.
        n_frames: number of frames (from the container; estimated from the duration when it has none).
        width: frame width in pixels.
        height: frame height in pixels.
        has_audio: whether the file has an audio stream.
    """

    fps: float
    n_frames: int
    width: int
    height: int
    has_audio: bool


def _open(path: Path):
    av = require("av", "reading video")

    if not path.is_file():
        raise VideoReadError(f"{path}: file not found")
    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises InvalidDataError, FFmpegError, OSError ...
        raise VideoReadError(f"{path}: cannot open video ({type(exc).__name__}: {exc})") from None
    if not container.streams.video:
        container.close()
        raise VideoReadError(f"{path}: no video stream")
    return container


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Read a video's frame rate, frame count, size and whether it has audio.

    Raises:
        VideoReadError: naming the file if it is missing or not a readable video.
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        fps = float(rate)
        n = int(stream.frames or 0)
        if n <= 0:
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / 1_000_000
            else:
                seconds = 0.0
            n = int(round(seconds * fps))
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        if width <= 0 or height <= 0:
            raise VideoReadError(f"{path}: video stream has no frame size")
        return VideoInfo(fps=fps, n_frames=n, width=width, height=height, has_audio=bool(container.streams.audio))
    finally:
        container.close()


def iter_frames(path: str | os.PathLike, every: int = 1, start: int = 0,
                check_length: bool = True) -> Iterator[tuple[int, np.ndarray]]:
    """Decode a video and yield every ``every``-th frame.

    Args:
        path: video file.
        every: keep frames whose index is a multiple of ``every`` (≥ 1).
        start: skip frames before this index.
        check_length: after the last frame, raise :class:`VideoReadError` if the container declared clearly
            more frames than could be decoded (a truncated file decodes silently up to where its data stops).

    Yields:
        ``(frame_index, uint8 RGB H×W×3)`` with 0-based frame indices in decode order.

    Raises:
        ValueError: if ``every < 1``.
        VideoReadError: naming the file (and the frame) if it cannot be opened or decoding fails.
    """
    if every < 1:
        raise ValueError(f"every must be ≥ 1, got {every}")
    path = Path(path)
    container = _open(path)
    index = -1
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                index += 1
                if index < start or index % every:
                    continue
                yield index, np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
        except VideoReadError:
            raise
        except Exception as exc:
            raise VideoReadError(f"{path}: decoding failed after frame {index} "
                                 f"({type(exc).__name__}: {exc})") from None
        if index < 0:
            raise VideoReadError(f"{path}: no frame could be decoded")
        declared = int(stream.frames or 0)
        if check_length and declared and index + 1 < declared - 2:
            raise VideoReadError(f"{path}: only {index + 1} of {declared} frames could be decoded "
                                 f"(truncated or damaged file)")
    finally:
        container.close()
