"""Optional dependencies: which extra provides which module, and one clear error when it is missing.

The core install (``pip install latentedit``) extracts, trains, fits and edits photos. Video, the
app, evaluation and export live behind extras (``pyproject.toml``). Code that needs one calls
:func:`require` at the point of use; the CLI maps any other missing optional module to the same
one-line message with :func:`missing_extra_message`.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from .errors import LatentEditError

#: top-level module -> (distribution on PyPI, latentedit extra that installs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "av": ("av", "video"),
    "gradio": ("gradio", "app"),
    "gradio_client": ("gradio_client", "dev"),
    "matplotlib": ("matplotlib", "eval"),
    "lpips": ("lpips", "eval"),
    "torchvision": ("torchvision", "eval"),
    "onnx": ("onnx", "export"),
    "onnxruntime": ("onnxruntime", "export"),
    "skimage": ("scikit-image", "dev"),
    "playwright": ("playwright", "dev"),
}


class MissingExtraError(LatentEditError):
    """A feature needs an optional package that is not installed."""


def _message(module: str, purpose: str | None) -> str:
    dist, extra = EXTRAS[module]
    what = f"{purpose} needs" if purpose else "this needs"
    return (f"{what} the optional package '{dist}', which is not installed; "
            f"install it with: pip install 'latentedit[{extra}]'")


def require(module: str, purpose: str | None = None) -> ModuleType:
    """Import an optional module, or raise :class:`MissingExtraError` naming the extra.

    Args:
        module: a key of :data:`EXTRAS` (e.g. ``"av"``) or one of its submodules.
        purpose: what it is needed for, e.g. ``"reading video"`` (starts the message).

    Returns:
        The imported module.

    Raises:
        MissingExtraError: the module (or a package it needs) is not installed.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or module).split(".")[0]
        root = missing if missing in EXTRAS else module.split(".")[0]
        if root not in EXTRAS:
            raise
        raise MissingExtraError(_message(root, purpose)) from None


def missing_extra_message(exc: ModuleNotFoundError) -> str | None:
    """The one-line install hint for a missing optional module, or None if it is not optional."""
    root = (exc.name or "").split(".")[0]
    return _message(root, None) if root in EXTRAS else None
