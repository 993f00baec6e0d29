"""Editing videos frame by frame with temporal smoothing.

Three passes over the clip (decoding a frame costs far less than detecting a face in it):

1. detect the largest face in every frame and compute its alignment affine;
2. smooth the affines over time (``merge.smooth_affines``), crop every frame with the smoothed
   affine and encode the crops in batches;
3. smooth the codes over time (centred Gaussian window; frames without a face are skipped), shift
   them by the recipe, decode in batches and paste back; frames without a face pass unchanged.

The output keeps the source's frame rate and audio (``merge.write_video``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import LatentEditError
from ..faces import detect_faces
from ..preprocess import ALIGN_INDICES, similarity_transform, transform_points
from ..merge import smooth_affines, smooth_sequence, warp_to_crop, write_video
from ..video_io import iter_frames, video_info
from .results import EditResult, Face
from .recipe import Recipe


def _track(editor, path: Path, detector: str, progress: bool):
    """Pass 1: per frame, the source landmarks of its largest face (NaN when none)."""
    info = video_info(path)
    lms: list[np.ndarray] = []
    it = iter_frames(path)
    if progress:
        it = tqdm(it, total=info.n_frames or None, desc=f"tracking {path.name}", unit="frame")
    for _, frame in it:
        dets = detect_faces(frame, detector=detector)
        lms.append(dets[0].landmarks.astype(np.float32) if dets else np.full((68, 2), np.nan, np.float32))
    return info, np.stack(lms)


def iter_video(editor, path: str | os.PathLike, recipe: Recipe, batch_size: int = 32, smooth: float = 2.0,
               detector: str = "hog", progress: bool = False) -> Iterator:
    """Edit a video's largest face in every frame; yield one EditResult per frame, in order.

    Args:
        editor: the :class:`~latentedit.edit.Editor`.
        path: the video file.
        recipe: the edit.
        batch_size: faces per encode/decode pass.
        smooth: Gaussian sigma in frames for the affines and the codes (0 = off).
        detector: face detector (``hog`` or ``cnn``).
        progress: show progress bars.

    Yields:
        :class:`~latentedit.edit.editor.EditResult` per frame (``source`` = ``path#frame``); a frame
        without a face is passed through unchanged with ``error`` set.

    Raises:
        VideoReadError: unreadable video. LatentEditError: no face in any frame.
    """
    path = Path(path)
    recipe.validate(editor.attributes, editor.identities)
    s = editor.resolution
    info, lms = _track(editor, path, detector, progress)
    has = np.isfinite(lms).all(axis=(1, 2))
    if not has.any():
        raise LatentEditError(f"{path}: no face found in any of its {len(lms)} frames")
    affines = np.full((len(lms), 2, 3), np.nan, np.float32)
    target = editor.alignment_target[ALIGN_INDICES]  # frames are framed like the Editor frames photos
    for t in np.flatnonzero(has):
        affines[t] = similarity_transform(lms[t][ALIGN_INDICES].astype(np.float64), target)
    affines = smooth_affines(affines, smooth) if smooth > 0 else affines

    # pass 2: crops at the smoothed alignment, encoded in batches
    crops: list[np.ndarray] = []
    crop_lms = np.full_like(lms, np.nan)
    # detail mode pins its warp to the landmarks: smoothed like the affines, the warp does not jitter
    warp_lms = smooth_sequence(lms.reshape(len(lms), -1), smooth).reshape(lms.shape) \
        if smooth > 0 and recipe.merge.mode == "detail" else lms
    for t, frame in iter_frames(path):
        if t < len(has) and has[t]:
            crops.append(warp_to_crop(frame, affines[t], s))
            crop_lms[t] = transform_points(warp_lms[t], affines[t])
    z_valid = editor.encode_crops(crops, batch_size=batch_size).numpy()
    z = np.full((len(lms), z_valid.shape[1]), np.nan, np.float32)
    z[has] = z_valid
    if smooth > 0:
        z = smooth_sequence(z, smooth)
    del crops

    # pass 3: decode, paste back, yield
    pending: list[tuple[int, np.ndarray]] = []

    def flush():
        faces = [Face(crop=np.zeros((s, s, 3), np.uint8), z=torch.from_numpy(z[t]), affine=affines[t],
                      landmarks=crop_lms[t], image=frame, source=f"{path}#{t}") for t, frame in pending]
        rendered = editor.render(faces, recipe, batch_size=batch_size)
        for f, (edited, mask) in zip(faces, rendered):
            yield EditResult(face=edited, image=editor.merge(f.image, f, edited, mask, recipe), source=f.source,
                             recipe=recipe)
        pending.clear()

    for t, frame in iter_frames(path):
        if t >= len(has) or not has[t]:
            yield from flush()
            yield EditResult(face=None, image=frame, source=f"{path}#{t}", recipe=recipe,
                             error=f"{path}: no face in frame {t}; frame kept unchanged")
            continue
        pending.append((t, frame))
        if len(pending) >= batch_size:
            yield from flush()
    yield from flush()


def edit_video(editor, path: str | os.PathLike, recipe: Recipe, out: str | os.PathLike, batch_size: int = 32,
               smooth: float = 2.0, detector: str = "hog", progress: bool = False) -> dict:
    """Edit a video and write it to ``out`` (atomically, never overwriting; audio kept).

    Returns:
        ``{"n_frames", "frames_with_face", "fps", "audio"}``.

    Raises:
        VideoReadError / VideoWriteError / LatentEditError: unreadable input, existing ``out``,
        or no face in the clip.
    """
    out = Path(out)
    if out.exists():
        raise LatentEditError(f"{out} already exists; refusing to overwrite it")
    info = video_info(path)
    counts = {"face": 0}

    def frames():
        for res in iter_video(editor, path, recipe, batch_size=batch_size, smooth=smooth, detector=detector,
                              progress=progress):
            counts["face"] += res.ok
            yield res.image

    result = write_video(frames(), out, fps=info.fps, audio_from=path if info.has_audio else None)
    return {"n_frames": int(result.n_frames), "frames_with_face": int(counts["face"]), "fps": float(result.fps),
            "audio": result.audio_codec}
