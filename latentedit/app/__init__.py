"""The Gradio app. ``import latentedit`` never imports gradio, and neither does importing
:mod:`latentedit.app.callbacks` (plain functions); gradio is imported on first use of
``build_app`` / ``launch``.

``build_app(editor) -> gr.Blocks`` makes the view; ``launch(editor, ...)`` serves it.
"""
from __future__ import annotations

from typing import Any

from .._optional import require

__all__ = ["build_app", "launch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        require("gradio", "the editing app")
        from . import build

        return getattr(build, name)
    raise AttributeError(f"module 'latentedit.app' has no attribute {name!r}")
