"""Shipped models and where model names are looked up.

The model folders beside this file (``celeba64/``, ``synthfaces64/``, ``oracle/``) are package data: they are
installed with the wheel, so a plain ``pip install latentedit`` finds them from any working
directory. A source checkout also exposes them as ``pretrained/`` at the repository root.

A ``MODEL`` argument is either a path or a *name*. A name is looked up, in order, in

1. ``$LATENTEDIT_HOME/models/<name>`` (default ``~/.latentedit/models/<name>``): your own models;
2. the models shipped with the package (this folder).

Nothing is ever downloaded.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelFormatError

#: The folder holding the shipped models.
SHIPPED_DIR = Path(__file__).resolve().parent
#: The model the app and the CLI use when none is named.
DEFAULT_MODEL = "celeba64"
#: The SynthFaces attribute oracle used by edit reports (its code is in :mod:`latentedit.eval.oracle`).
ORACLE = "oracle"
#: Environment variable naming the oracle folder (overrides the shipped one).
ORACLE_ENV = "LATENTEDIT_ORACLE"
#: Environment variable naming the folder for users' models and settings.
HOME_ENV = "LATENTEDIT_HOME"


def latentedit_home() -> Path:
    """``$LATENTEDIT_HOME``, else ``~/.latentedit``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".latentedit")


def shipped_models() -> list[str]:
    """Names of the editing models shipped with the package (folders with a ``config.json``;
    the attribute oracle is not one)."""
    return sorted(p.name for p in SHIPPED_DIR.iterdir() if (p / "config.json").is_file() and p.name != ORACLE)


def _is_name(spec: str) -> bool:
    return bool(spec) and "/" not in spec and os.sep not in spec and spec not in (".", "..")


def locate(spec: str | os.PathLike) -> Path:
    """Map a ``MODEL`` argument to a folder: an existing path as given, else a model name.

    Args:
        spec: a path, or a name such as ``"synthfaces64"`` (see the module docstring).

    Returns:
        The folder (not checked to be a valid model folder; loading does that).

    Raises:
        ModelFormatError: ``spec`` is neither an existing path nor a known name; the message lists
            where names are looked up and the shipped names.
    """
    path = Path(spec)
    if path.exists():
        return path
    name = str(spec)
    if _is_name(name):
        for folder in (latentedit_home() / "models" / name, SHIPPED_DIR / name):
            if folder.is_dir():
                return folder
    raise ModelFormatError(
        f"{spec}: no such model folder, and not a model name found in "
        f"{latentedit_home() / 'models'} (${HOME_ENV}) or among the shipped models "
        f"({', '.join(shipped_models())})")


def default_model_dir() -> Path:
    """``$LATENTEDIT_MODEL`` if set, else the shipped default model."""
    return locate(os.environ.get("LATENTEDIT_MODEL") or DEFAULT_MODEL)


def default_oracle_dir() -> Path:
    """``$LATENTEDIT_ORACLE`` if set, else the SynthFaces attribute oracle shipped with the package.

    Only the folder's location lives here (the app checks whether it is installed without importing
    evaluation code); loading and training it is :mod:`latentedit.eval.oracle`.
    """
    if os.environ.get(ORACLE_ENV):
        return Path(os.environ[ORACLE_ENV])
    return SHIPPED_DIR / ORACLE
