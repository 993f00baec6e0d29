"""The one list of accepted input files: image and video extensions used by ``extract``, ``edit``,
``swap``, the Python API and the app alike (no imports beyond the standard library)."""
from __future__ import annotations

import os
from pathlib import Path

#: Photo file extensions (lower case). Read with PIL (:func:`latentedit._io.read_image`): a GIF gives
#: its first frame, a TIFF its first page.
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
#: Video file extensions (lower case). Decoded with PyAV (:mod:`latentedit.video_io`).
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
#: Smallest image side (pixels) accepted anywhere, photo or aligned crop: below this no face
#: detector finds a face, and an aligned crop would be upscaled from almost nothing.
MIN_IMAGE_SIDE = 16
#: Both, images first.
MEDIA_EXTENSIONS: tuple[str, ...] = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


def is_image(path: str | os.PathLike) -> bool:
    """True when ``path`` has a photo extension (case-insensitive; the file need not exist)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_video(path: str | os.PathLike) -> bool:
    """True when ``path`` has a video extension (case-insensitive; the file need not exist)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def describe_accepted() -> str:
    """``"images (.png, .jpg, ...) or videos (.mp4, ...)"`` for error messages."""
    return f"images ({', '.join(IMAGE_EXTENSIONS)}) or videos ({', '.join(VIDEO_EXTENSIONS)})"


__all__ = ["IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "MEDIA_EXTENSIONS", "MIN_IMAGE_SIDE", "is_image", "is_video", "describe_accepted"]
