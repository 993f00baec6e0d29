"""The app's callbacks as plain functions of (editor, inputs) — no gradio here, so they can be tested
without a browser (the batch tab's are in :mod:`latentedit.app.batch`). Errors the user can fix raise
:class:`~latentedit.errors.LatentEditError`; ``latentedit.app.build`` shows them as a message (next to
the recipe box for a bad recipe, a toast for a bad upload).

A slider move edits a *preview* of the photo: the faces are detected and encoded once on the full
photo, and each is also placed on a display-size copy (:func:`prepare_photo`), so a move decodes one
crop and merges it into at most :data:`DISPLAY_MAX_SIDE` pixels, sent as JPEG. "Save result PNG"
edits the full-resolution photo.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from PIL import Image

from .._io import atomic_write_text, read_image, write_image
from ..edit import EditResult, MergeOptions, Recipe
from ..edit.recipe import MAX_ALPHA, MERGE_MODES
from ..errors import ImageReadError, LatentEditError, NoFaceError
from ..landmarks import REGIONS
from ..media import IMAGE_EXTENSIONS
from ..merge import COLOR_MODES
from ..preprocess import resize

#: Region choices shown in the app ("none" = no region confinement).
REGION_CHOICES: tuple[str, ...] = ("none",) + tuple(REGIONS)
#: Label of the identity choice that means "the model's default reconstruction decoder".
DEFAULT_IDENTITY = "(model default)"
#: Slider range and step (alpha, in std units along each boundary normal).
SLIDER_MIN, SLIDER_MAX, SLIDER_STEP = -3.0, 3.0, 0.1
#: Image suffixes accepted in uploads and zips (the one list: latentedit.media).
IMAGE_SUFFIXES = IMAGE_EXTENSIONS
#: Largest side of the images sent back for display (the download keeps full resolution). 768 px
#: fills the photo column of a 1366×768 screen and nearly that of a 1920×1080 one; a slider move's
#: merge and JPEG cost scale with it (measured: felt p50 118 ms at 1024, 72 ms at 768 on a 1024-px
#: photo, 2 shared cores; ``latentedit app --preview-size`` changes it).
DISPLAY_MAX_SIDE = 768
#: JPEG quality of the previews a slider move sends (a 1024-px JPEG at 90 encodes in ~6 ms and is
#: ~170 kB; the same PNG took ~75 ms and ~950 kB). Saved results are lossless PNG.
PREVIEW_QUALITY = 90
#: The edit modes offered, as (label, recipe value); the values are the recipe's ``merge.mode``.
MODE_LABELS = {"detail": "Keep the photo (detail)", "replace": "Re-render the face (replace)"}
#: Default edit mode (the recipe's own default).
DEFAULT_MODE = MergeOptions().mode


def color_modes() -> tuple[str, ...]:
    """Colour-transfer modes offered in the app (``latentedit.merge.COLOR_MODES`` when available)."""
    modes = tuple(COLOR_MODES)
    return modes if "none" in modes else modes + ("none",)


@dataclass
class AppLimits:
    """Per-request limits that keep one user from starving the others."""

    max_pixels: int = 24_000_000          # per uploaded image
    max_batch_files: int = 200            # images per batch (after unzipping)
    max_unzipped_bytes: int = 200 << 20   # total uncompressed size of zip members


# --------------------------------------------------------------------------------------- images

def read_upload(path: str | os.PathLike | None, limits: AppLimits | None = None) -> np.ndarray:
    """Read an uploaded image file as RGB uint8.

    Args:
        path: the uploaded file (a temp path from the web server).
        limits: pixel limit (default :class:`AppLimits`).

    Returns:
        ``H×W×3`` uint8 RGB.

    Raises:
        LatentEditError: nothing uploaded.
        ImageReadError: not an image, truncated, or over the pixel limit (the message names the file).
    """
    limits = limits or AppLimits()
    if not path:
        raise LatentEditError("upload a photo or pick a sample first")
    path = Path(path)
    try:
        image = read_image(path)
    except ImageReadError as exc:
        # Uploads live in a server temp folder; name only the file the user chose.
        raise ImageReadError(str(exc).replace(str(path), path.name)) from None
    h, w = image.shape[:2]
    if h * w > limits.max_pixels:
        raise ImageReadError(f"{path.name}: {w}x{h} is over the app's {limits.max_pixels / 1e6:g} MP limit")
    return image


def fit_display(image: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """Downscale ``image`` (uint8 RGB) so that its longer side is at most ``max_side`` pixels."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    s = max_side / max(h, w)
    return resize(image, (max(1, round(w * s)), max(1, round(h * s))))


class LiveImages:
    """Unique JPEG files for the images a slider move returns, keeping only the newest ``keep``.

    Gradio copies a returned file into its cache atomically, whereas a returned array is encoded
    into a content-addressed cache file in place — two sessions producing the same image at once
    could then serve a half-written file. Writing our own uniquely named file avoids that.
    """

    def __init__(self, folder: str | os.PathLike, keep: int = 256, quality: int = PREVIEW_QUALITY) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.quality = quality
        self._files: collections.deque[Path] = collections.deque()
        self._lock = threading.Lock()

    def write(self, image: np.ndarray) -> str:
        """Write ``image`` (uint8 RGB) as a new JPEG preview; returns its path."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected uint8 HxWx3 RGB, got {image.dtype} {image.shape}")
        path = self.folder / f"{uuid.uuid4().hex}.jpg"
        # a fresh unique name, complete before it is returned: nothing can read it half-written
        Image.fromarray(image).save(path, format="JPEG", quality=self.quality)
        with self._lock:
            self._files.append(path)
            old = [self._files.popleft() for _ in range(max(0, len(self._files) - self.keep))]
        for p in old:  # long since copied into gradio's cache
            p.unlink(missing_ok=True)
        return str(path)


def find_faces(editor, image: np.ndarray, aligned: bool, source: str) -> list:
    """Detect, align and encode every face of ``image`` (or take it as one aligned crop).

    Returns:
        A non-empty list of ``Face`` objects, largest first as the editor orders them.

    Raises:
        NoFaceError: no face found (the message names ``source``).
    """
    hint = "; if it is already an aligned face crop, tick 'input is an already aligned face'"
    try:
        faces = editor.find_faces(image, aligned=aligned, all_faces=True)
    except NoFaceError:
        raise NoFaceError(f"{source}: no face found{hint}") from None
    except LatentEditError as exc:  # e.g. too small: the editor only saw an array labelled "image"
        msg = str(exc)
        raise type(exc)(f"{source}: {msg[len('image: '):]}" if msg.startswith("image: ") else msg) from None
    if not faces:
        raise NoFaceError(f"{source}: no face found{hint}")
    for face in faces:
        # The editor only saw an array; name the face after the upload for summaries.
        try:
            face.source = source
        except (AttributeError, dataclasses.FrozenInstanceError):
            pass
    return faces


def face_labels(faces: Sequence) -> list[str]:
    """Human-readable labels for the face picker ("face 1 at (x0, y0)–(x1, y1)")."""
    labels = []
    for i, face in enumerate(faces):
        box = getattr(face, "box", None)
        if box is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            labels.append(f"face {i + 1} at ({x0}, {y0})-({x1}, {y1})")
        else:
            labels.append(f"face {i + 1} (aligned crop)")
    return labels


@dataclass
class Photo:
    """A loaded photo: its faces at full resolution (for Save) and on the display copy (for slider moves).

    Attributes:
        faces: the faces :func:`find_faces` prepared on the full photo.
        preview: the same faces (same codes and crops) placed on ``display``; for an aligned crop,
            ``faces`` itself.
        display: the photo downscaled to at most :data:`DISPLAY_MAX_SIDE` (the Before image).
        source: the file or sample name.
    """

    faces: list
    preview: list
    display: np.ndarray
    source: str = ""
    _thumb: dict = field(default_factory=dict, repr=False)


def prepare_photo(editor, image: np.ndarray, aligned: bool, source: str,
                  max_side: int = DISPLAY_MAX_SIDE) -> Photo:
    """Find the faces of ``image`` (as :func:`find_faces`) and place them on a display-size copy.

    The display faces share the full-resolution faces' codes and crops; only the photo they are
    merged into (and the affine that maps it to the crop) is scaled, so a slider move costs the
    display size, not the photo's.

    Raises:
        NoFaceError: no face found (naming ``source``).
    """
    faces = find_faces(editor, image, aligned, source)
    display = fit_display(image, max_side)
    if display is image or any(f.image is None or f.affine is None for f in faces):
        return Photo(faces, faces, display, source)
    h, w = image.shape[:2]
    sx, sy = display.shape[1] / w, display.shape[0] / h
    unscale = np.diag([1.0 / sx, 1.0 / sy, 1.0])
    preview = []
    for f in faces:
        affine = (np.vstack([np.asarray(f.affine, np.float64), [0.0, 0.0, 1.0]]) @ unscale)[:2]
        box = None if f.box is None else (f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy)
        preview.append(dataclasses.replace(f, image=display, affine=affine.astype(np.float64), box=box, _cache={}))
    return Photo(faces, preview, display, source)


def face_thumbnail(photo: Photo, max_side: int = 360) -> np.ndarray:
    """The photo, small, with each face's box drawn and numbered as in the face picker (uint8 RGB)."""
    if "image" in photo._thumb:
        return photo._thumb["image"]
    thumb = fit_display(photo.display, max_side).copy()
    s = thumb.shape[1] / photo.display.shape[1]
    thick = max(2, round(max(thumb.shape[:2]) / 180))
    for i, face in enumerate(photo.preview):
        if face.box is None:
            continue
        x0, y0, x1, y1 = (int(round(v * s)) for v in face.box)
        cv2.rectangle(thumb, (x0, y0), (x1, y1), (255, 210, 0), thick)
        label = str(i + 1)
        scale = max(0.5, (y1 - y0) / 90)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = max(th + 4, y0 - 4)
        cv2.rectangle(thumb, (x0, ty - th - 4), (x0 + tw + 6, ty + 2), (255, 210, 0), -1)
        cv2.putText(thumb, label, (x0 + 3, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    photo._thumb["image"] = thumb
    return thumb


# -------------------------------------------------------------------------------------- recipes

def build_recipe(attributes: Sequence[str], values: Sequence[float], holds: Sequence[bool],
                 region: str, identity: str | None, color: str, mode: str | None = None,
                 default_identity: str | None = None):
    """Turn the app's controls into a ``Recipe``.

    ``mode`` is the edit mode (``merge.mode``: ``detail`` keeps the photo, ``replace`` pastes the
    decoded face); None = the recipe's default. Decoding as another identity than
    ``default_identity`` is a face swap, which is new texture: it is always re-rendered (replace
    mode), and the notes say so.

    Sliders at 0 are left out of ``edits``; an attribute that is both edited and ticked "hold" is
    edited (holding it fixed would cancel the edit) and reported in the returned notes.

    Returns:
        ``(recipe, notes)`` where ``notes`` is a list of human-readable remarks.

    Raises:
        LatentEditError: a control value is invalid (unknown region/colour mode, wrong count).
    """
    attributes = list(attributes)
    if len(values) != len(attributes) or len(holds) != len(attributes):
        raise LatentEditError(f"expected {len(attributes)} slider values and hold flags, got "
                              f"{len(values)} and {len(holds)}")
    if region not in REGION_CHOICES:
        raise LatentEditError(f"unknown region {region!r}; expected one of {', '.join(REGION_CHOICES)}")
    if color not in color_modes():
        raise LatentEditError(f"unknown colour mode {color!r}; expected one of {', '.join(color_modes())}")
    mode = DEFAULT_MODE if mode in (None, "") else mode
    if mode not in MERGE_MODES:
        raise LatentEditError(f"unknown edit mode {mode!r}; expected one of {', '.join(MERGE_MODES)}")
    edits: dict[str, float] = {}
    for name, v in zip(attributes, values):
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise LatentEditError(f"slider {name!r}: {v!r} is not a number") from None
        if not np.isfinite(v):
            raise LatentEditError(f"slider {name!r}: {v!r} is not finite")
        if abs(v) > MAX_ALPHA:  # API clients can send any number; the recipe's own limit, named here
            raise LatentEditError(f"slider {name!r}: {v:g} is outside {-MAX_ALPHA:g}..{MAX_ALPHA:g}")
        if v != 0.0:
            edits[name] = round(v, 4)
    hold = [a for a, h in zip(attributes, holds) if h and a not in edits]
    notes = [f"'{a}' is edited, so it is not held fixed" for a, h in zip(attributes, holds) if h and a in edits]
    ident = None if identity in (None, "", DEFAULT_IDENTITY) else identity
    if ident is not None and ident != default_identity and mode != "replace":
        notes.append(f"decoding as identity '{ident}' is a face swap: the face is re-rendered (replace mode)")
        mode = "replace"
    recipe = Recipe(edits=edits, hold=hold, region=region, identity=ident, merge=MergeOptions(mode=mode, color=color))
    return recipe, notes


def parse_recipe(text: str | None, attributes: Sequence[str], identities: Sequence[str], where: str = "recipe"):
    """Parse and validate recipe JSON against the loaded boundaries and decoders.

    Args:
        text: the JSON text.
        attributes: attributes the app has sliders for.
        identities: decoders the model has.
        where: a name for messages (the uploaded file name).

    Returns:
        The ``Recipe``.

    Raises:
        LatentEditError: empty text, malformed JSON, unknown fields, attributes or identities.
    """
    if text is None or not str(text).strip():
        raise LatentEditError(f"{where}: empty recipe")
    try:
        recipe = Recipe.from_json(text, where=where)
        recipe.validate(list(attributes), list(identities), where=where)
    except LatentEditError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise LatentEditError(f"{where}: invalid recipe ({type(exc).__name__}: {exc})") from None
    return recipe


def recipe_to_controls(recipe, attributes: Sequence[str]) -> tuple[list[float], list[bool], str, str, str, str]:
    """The control values that reproduce ``recipe``: (slider values, hold flags, region, identity,
    colour, edit mode).

    Raises:
        LatentEditError: the recipe edits or holds an attribute the app has no slider for, or a
            value is outside the slider range.
    """
    unknown = [a for a in list(recipe.edits) + list(recipe.hold) if a not in attributes]
    if unknown:
        raise LatentEditError(f"recipe uses attribute {unknown[0]!r}, which this model has no boundary for "
                              f"(loaded: {', '.join(attributes)})")
    for a, v in recipe.edits.items():
        if not SLIDER_MIN <= float(v) <= SLIDER_MAX:
            raise LatentEditError(f"recipe edit {a}={v} is outside the app's slider range "
                                  f"[{SLIDER_MIN:g}, {SLIDER_MAX:g}]; use `latentedit edit` for stronger edits")
    values = [float(recipe.edits.get(a, 0.0)) for a in attributes]
    holds = [a in recipe.hold for a in attributes]
    identity = recipe.identity if recipe.identity else DEFAULT_IDENTITY
    return values, holds, recipe.region, identity, recipe.merge.color, recipe.merge.mode


def apply_edit(editor, faces: Sequence | None, index: int | None, recipe, all_faces: bool = False):
    """Edit one prepared face, or every face of the photo (the fast path of a slider move).

    Args:
        editor: the :class:`~latentedit.edit.Editor`.
        faces: faces prepared by :func:`find_faces` (or :attr:`Photo.preview`).
        index: which face to edit (``None`` = the first); ignored with ``all_faces``.
        recipe: the ``Recipe``.
        all_faces: edit every face, each merged into the photo in turn.

    Returns:
        The ``EditResult`` (with ``all_faces``: ``image`` holds every face edited, ``face`` the last).

    Raises:
        LatentEditError: no face loaded yet, or an out-of-range face index.
    """
    if not faces:
        raise LatentEditError("upload a photo or pick a sample first")
    if all_faces and len(faces) > 1:
        return _apply_all(editor, list(faces), recipe)
    i = 0 if index is None else int(index)
    if not 0 <= i < len(faces):
        raise LatentEditError(f"face {i + 1} does not exist; the photo has {len(faces)} face(s)")
    return editor.apply(faces[i], recipe)


def _apply_all(editor, faces: list, recipe):
    """Every face of one photo, decoded in one batch and merged in turn (as the batch route does)."""
    rendered = editor.render(faces, recipe)
    image = faces[0].image
    for face, (edited, mask) in zip(faces, rendered):
        if face.image is not None and face.affine is not None:
            image = editor.merge(image, face, edited, mask, recipe)
    return EditResult(face=rendered[-1][0], image=image if image is not None else rendered[-1][0],
                      source=faces[0].source, recipe=recipe)


# ---------------------------------------------------------------------------------------- files

def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    stem = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in stem)[:80] or "file"
    path = folder / f"{stem}{suffix}"
    n = 1
    while path.exists():
        path = folder / f"{stem}_{n}{suffix}"
        n += 1
    return path


def save_result(image: np.ndarray, folder: str | os.PathLike, stem: str = "edited") -> Path:
    """Write the full-resolution result as PNG into ``folder`` (a fresh name; nothing is overwritten)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = _free_name(folder, stem, ".png")
    write_image(path, image, overwrite=False)
    return path


def recipe_stem(recipe, max_edits: int = 3) -> str:
    """A file name for a recipe, from its strongest edits (``smile+1.5_eye_open-0.5``; ``recipe`` if none)."""
    edits = sorted(recipe.edits.items(), key=lambda kv: -abs(kv[1]))[:max_edits]
    return "_".join(f"{a}{v:+g}" for a, v in edits) or "recipe"


def save_recipe(recipe, folder: str | os.PathLike, stem: str | None = None) -> Path:
    """Write ``recipe`` as JSON into ``folder`` (a fresh name, default :func:`recipe_stem`; nothing
    is overwritten)."""
    stem = recipe_stem(recipe) if stem is None else stem
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = _free_name(folder, stem, ".json")
    atomic_write_text(path, recipe.to_json() + "\n", overwrite=False)
    return path


def read_text_upload(path: str | os.PathLike | None, max_bytes: int = 1 << 20) -> str:
    """Read an uploaded text file (a recipe) as UTF-8.

    Raises:
        LatentEditError: nothing uploaded, too large, or not UTF-8 text.
    """
    if not path:
        raise LatentEditError("no recipe file uploaded")
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LatentEditError(f"{path.name}: {size} bytes is too large for a recipe (limit {max_bytes} bytes)")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LatentEditError(f"{path.name}: not a UTF-8 text (JSON) file") from None
    except OSError as exc:  # the upload vanished from the server's temp folder, or is a folder
        raise LatentEditError(f"{path.name}: cannot read the uploaded file ({exc.strerror or exc})") from None
