"""latentedit.merge: colour transfer, mask blending, paste-back into the source image, video write-back.

Importing this package does not import cv2 or PyAV; they are imported inside the functions that use them.
"""
from __future__ import annotations

from .blend import alpha_blend, border_fade, erode_mask, feather_mask, seamless_clone
from .color import COLOR_MODES, color_transfer, lab_to_rgb, rgb_to_lab
from .paste import BLEND_MODES, PastePlan, check_affine, crop_mask, default_feather, paste_back, warp_to_crop
from .video import (VideoWriteError, VideoWriteResult, faces_from_faceset, merge_video, smooth_affines,
                    smooth_landmarks, smooth_sequence, write_video)

__all__ = [
    "COLOR_MODES", "color_transfer", "rgb_to_lab", "lab_to_rgb",
    "erode_mask", "feather_mask", "border_fade", "alpha_blend", "seamless_clone",
    "BLEND_MODES", "PastePlan", "paste_back", "warp_to_crop", "crop_mask", "default_feather", "check_affine",
    "smooth_sequence", "smooth_affines", "smooth_landmarks", "write_video", "merge_video",
    "faces_from_faceset",
    "VideoWriteResult", "VideoWriteError",
]
