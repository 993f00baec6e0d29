"""Presets: a few recipes shipped with the app, plus the recipes the user saved.

A shipped preset names what it changes by concept ("a smile of +1"), with the attribute names that
concept has in each kind of model (``smile`` in SynthFaces, ``smile_score`` from landmarks,
``Smiling`` in CelebA, each with its own sign). :func:`shipped_presets` builds the recipes a loaded
model can run and leaves out a preset whose concepts the model lacks. Saved recipes are the
``*.json`` files of the app's recipe folder, in the same format as ``latentedit edit --recipe``
(:class:`~latentedit.edit.Recipe`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..edit import Recipe

#: Prefix of a saved recipe's entry in the preset list.
SAVED_PREFIX = "Saved: "

# One concept = alternative (attribute, alpha) pairs; the first attribute the model has is used.
_SMILE = (("smile", 1.0), ("smile_score", 1.0), ("Smiling", 1.0))
_OPEN_MOUTH = (("mouth_open", 1.0), ("mouth_open_score", 1.0), ("Mouth_Slightly_Open", 1.0))
_EYES_OPEN = (("eye_open", 1.0), ("eye_open_score", 1.0), ("Narrow_Eyes", -1.0))
_BROWS_UP = (("brow_raise", 1.0), ("brow_raise_score", 1.0))


@dataclass(frozen=True)
class Preset:
    """A shipped preset: ``name``, a one-line ``description`` and ``edits``, a list of (concept,
    strength) where the concept's alternatives carry the sign of that attribute."""

    name: str
    description: str
    edits: tuple[tuple[tuple[tuple[str, float], ...], float], ...] = ()

    def recipe_for(self, attributes: Sequence[str]) -> Recipe | None:
        """The recipe on a model with these attributes, or None when one of its concepts is missing."""
        edits: dict[str, float] = {}
        for alternatives, strength in self.edits:
            hit = next(((a, sign) for a, sign in alternatives if a in attributes), None)
            if hit is None:
                return None
            edits[hit[0]] = round(hit[1] * strength, 4)
        return Recipe(edits=edits)


#: The shipped presets, in the order they are listed.
PRESETS: tuple[Preset, ...] = (
    Preset("Neutral", "every slider at 0: the photo as it is"),
    Preset("Gentle smile", "a small smile", ((_SMILE, 1.0),)),
    Preset("Big smile", "a broad smile with the lips apart", ((_SMILE, 2.0), (_OPEN_MOUTH, 1.0))),
    Preset("Eyes wide open", "eyes opened wider", ((_EYES_OPEN, 1.5),)),
    Preset("Surprised", "brows up, eyes and mouth open", ((_BROWS_UP, 1.5), (_EYES_OPEN, 1.0), (_OPEN_MOUTH, 1.5))),
)


def shipped_presets(attributes: Iterable[str]) -> dict[str, Recipe]:
    """Preset name → recipe, for the shipped presets this model can run (the others are left out)."""
    attributes = list(attributes)
    out = {}
    for p in PRESETS:
        recipe = p.recipe_for(attributes)
        if recipe is not None:
            out[p.name] = recipe
    return out


def saved_recipes(folder: str | os.PathLike | None) -> dict[str, Path]:
    """Entry name (``"Saved: <file stem>"``) → path of each ``*.json`` in ``folder``, newest first.

    The files are not read here: a broken one is reported when it is chosen, next to the list.
    """
    if folder is None or not Path(folder).is_dir():
        return {}
    files = [p for p in Path(folder).glob("*.json") if p.is_file()]
    files.sort(key=lambda p: (-p.stat().st_mtime_ns, p.name))
    return {f"{SAVED_PREFIX}{p.stem}": p for p in files}


def preset_choices(attributes: Iterable[str], folder: str | os.PathLike | None) -> list[str]:
    """The names the preset list offers: the shipped presets the model can run, then saved recipes."""
    return [*shipped_presets(attributes), *saved_recipes(folder)]
