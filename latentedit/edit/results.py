"""What the Editor makes and the batch and video routes pass around: a prepared :class:`Face` and an
:class:`EditResult` (below :mod:`.editor`, :mod:`.batch` and :mod:`.video`, which all use them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .recipe import Recipe


@dataclass
class Face:
    """One prepared face (detected + aligned + encoded once).

    Attributes:
        crop: uint8 ``S×S×3`` aligned crop at the model resolution.
        z: ``(D,)`` latent code of the crop.
        affine: ``2×3`` source → crop matrix (None for an already aligned input).
        landmarks: ``68×2`` landmarks in crop pixels (None if unknown).
        image: the source image (uint8 ``H×W×3``) the face came from (None for aligned inputs).
        box: ``(x0, y0, x1, y1)`` in the source image.
        source: file name or a label.
        identity: the person's decoder name when known (e.g. from a FaceSet record); the default
            decoder for this face when it names one of the model's decoders.
    """

    crop: np.ndarray
    z: Any
    affine: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    image: np.ndarray | None = None
    box: tuple | None = None
    source: str = ""
    identity: str | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass
class EditResult:
    """The outcome of editing one face (or of one input that failed).

    Attributes:
        face: uint8 ``S×S×3`` edited aligned face (after region blending); None on failure.
        image: uint8 ``H×W×3`` merged into the source image (``== face`` for aligned inputs); for a
            photo with several faces, every face's result holds the photo with all of them edited.
        source: the input's file name or label.
        recipe: the recipe applied.
        error: None on success, else why this input failed (the rest of the batch still runs).
        index: the face's index within its source (0 for the largest face).
    """

    face: np.ndarray | None
    image: np.ndarray | None
    source: str
    recipe: Recipe
    error: str | None = None
    index: int = 0

    @property
    def ok(self) -> bool:
        """True when the edit succeeded."""
        return self.error is None
