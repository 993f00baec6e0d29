"""The face framing a model was trained on, saved beside its weights.

A model only decodes well faces framed like its training crops. ``alignment_template.json`` in a
model folder holds the mean 68-point landmarks of the training crops at the model resolution;
the Editor aligns detected faces to it (instead of the canonical framing), so a model trained on
SynthFaces, CelebA or extracted faces sees photos framed the way it learned.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import ModelFormatError
from .formats import FileFormat

TEMPLATE_NAME = "alignment_template.json"
#: ``alignment_template.json``: 68×2 landmarks (``landmarks``) at ``size`` px, from ``n_faces`` crops.
TEMPLATE_FORMAT = FileFormat("latentedit.alignment_template", 1, what="alignment template", required={
    "size": (int, float), "landmarks": (list,)})


def write_template(model_dir: str | os.PathLike, landmarks: np.ndarray, size: int, n_faces: int) -> None:
    """Write ``alignment_template.json`` (68×2 landmarks at ``size`` px) into a model folder."""
    TEMPLATE_FORMAT.write(Path(model_dir) / TEMPLATE_NAME, {
        "size": int(size), "n_faces": int(n_faces),
        "landmarks": np.round(np.asarray(landmarks, dtype=np.float64), 3).tolist()})


def read_template(model_dir: str | os.PathLike, size: int) -> np.ndarray | None:
    """The model folder's template scaled to ``size`` px, or None when it has none.

    Raises:
        ModelFormatError: naming the file if it is malformed.
    """
    path = Path(model_dir) / TEMPLATE_NAME
    if not path.is_file():
        return None
    obj = TEMPLATE_FORMAT.read(path, default_version=1)
    try:
        lm = np.asarray(obj["landmarks"], dtype=np.float64)
        src = float(obj["size"])
    except (ValueError, TypeError) as exc:
        raise ModelFormatError(f"{path}: malformed alignment template ({exc})") from None
    if lm.shape != (68, 2) or not np.all(np.isfinite(lm)) or src <= 0:
        raise ModelFormatError(f"{path}: 'landmarks' must be 68×2 finite numbers and 'size' positive")
    return ((lm + 0.5) * (size / src) - 0.5).astype(np.float32)
