"""latentedit.merge: colour transfer, mask blending, paste-back into the source image, video write-back.

Importing this package does not import cv2 (its modules do, at the top) or PyAV (imported through
:func:`latentedit._optional.require` where a video is written): the names below are imported from their
modules on first use.
"""
from __future__ import annotations

from typing import Any


#: Public name -> the module of this package that defines it.
_EXPORTS = {
    "alpha_blend": "blend", "border_fade": "blend", "erode_mask": "blend", "feather_mask": "blend",
    "seamless_clone": "blend", "COLOR_MODES": "color", "color_transfer": "color", "lab_to_rgb": "color",
    "rgb_to_lab": "color", "BLEND_MODES": "paste", "PastePlan": "paste", "check_affine": "paste",
    "crop_mask": "paste", "default_feather": "paste", "paste_back": "paste", "warp_to_crop": "paste",
    "VideoWriteError": "video", "VideoWriteResult": "video", "faces_from_faceset": "video",
    "merge_video": "video", "smooth_affines": "video", "smooth_landmarks": "video",
    "smooth_sequence": "video", "write_video": "video",
}

__all__ = [
    "COLOR_MODES", "color_transfer", "rgb_to_lab", "lab_to_rgb",
    "erode_mask", "feather_mask", "border_fade", "alpha_blend", "seamless_clone",
    "BLEND_MODES", "PastePlan", "paste_back", "warp_to_crop", "crop_mask", "default_feather", "check_affine",
    "smooth_sequence", "smooth_affines", "smooth_landmarks", "write_video", "merge_video",
    "faces_from_faceset",
    "VideoWriteResult", "VideoWriteError",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from . import blend, color, paste, video

        value = getattr({"blend": blend, "color": color, "paste": paste, "video": video}[_EXPORTS[name]], name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
