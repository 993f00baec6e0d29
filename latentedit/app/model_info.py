"""What the app tells about its model: name, training data, licence and model card, read from the
model folder (``config.json`` → ``extra``; the folder's ``README.md`` is the model card), and whose
face a chosen decoder draws.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Shown when the folder records no licence.
UNKNOWN_LICENCE = "unknown"
#: Longest training-data line shown in the header (the card has the rest).
MAX_LINE = 220


@dataclass(frozen=True)
class ModelInfo:
    """The model as the app describes it.

    Attributes:
        name: the model's name (``extra.name``, else the folder name).
        trained_on: what it was trained on (``extra.training.data``), or "" when not recorded.
        licence: its licence line (``extra.licence`` / ``extra.license``), or :data:`UNKNOWN_LICENCE`.
        card: the model card (``README.md``) as markdown, or "" when the folder has none.
        folder: the model folder (None when the app was built without one).
    """

    name: str
    trained_on: str = ""
    licence: str = UNKNOWN_LICENCE
    card: str = ""
    folder: Path | None = None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):   # e.g. {"name": "CC BY 4.0", "url": ...} or {"A": ..., "B": ...}
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items() if _text(v))
    if isinstance(value, (list, tuple)):
        return "; ".join(_text(v) for v in value if _text(v))
    return str(value)


def read_model_info(folder: str | os.PathLike | None, fallback_name: str = "model") -> ModelInfo:
    """Read name, training data, licence and model card from a model folder.

    Never raises: a missing or unreadable ``config.json`` / ``README.md`` leaves those fields empty
    (the app still serves the model the Editor loaded).

    Args:
        folder: the model folder (the one holding ``config.json``), or None.
        fallback_name: the name when there is no folder.

    Returns:
        A :class:`ModelInfo`.
    """
    if folder is None:
        return ModelInfo(name=fallback_name)
    folder = Path(folder)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    extra = config.get("extra") if isinstance(config, dict) else None
    extra = extra if isinstance(extra, dict) else {}
    training = extra.get("training") if isinstance(extra.get("training"), dict) else {}
    licence = _text(extra.get("licence", extra.get("license"))) or UNKNOWN_LICENCE
    try:
        card = (folder / "README.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        card = ""
    return ModelInfo(name=_text(extra.get("name")) or folder.name, trained_on=_text(training.get("data")),
                     licence=licence, card=card, folder=folder)


def _short(text: str, limit: int = MAX_LINE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def header_markdown(info: ModelInfo, n_sliders: int, n_validated: int, identities: list[str], resolution: int) -> str:
    """The one-paragraph model line at the top of the app."""
    trained = _short(info.trained_on) if info.trained_on else "not recorded in config.json"
    return (f"**Model:** `{info.name}` · {resolution} px · decoders {', '.join(identities)} · "
            f"{n_sliders} sliders ({n_validated} validated) · **Licence:** {info.licence}  \n"
            f"**Trained on:** {trained}")


def identity_note(identity: str | None, default_identity: str) -> str:
    """Whose face the chosen decoder draws (shown next to the identity choice)."""
    if identity is None or identity == default_identity:
        return (f"Decoding with the model's default decoder ('{default_identity}'): the face stays the "
                "person's own.")
    return (f"Decoding as identity '{identity}': the face becomes {identity}'s (a face swap: the face is "
            "re-rendered whatever the edit mode; the model card says who that is).")
