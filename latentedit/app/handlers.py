"""Handler plumbing of the app's event wiring (:mod:`latentedit.app.build`): error guards, API
parameter names, per-request folders and the slider rows."""
from __future__ import annotations

import functools
import inspect
import keyword
import logging
import uuid
from pathlib import Path
from typing import Callable

import gradio as gr

from ..errors import LatentEditError
from . import callbacks as cb

log = logging.getLogger("latentedit.app")


def guard(fn: Callable) -> Callable:
    """Turn user errors into gr.Error messages and hide internal tracebacks from the browser."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except LatentEditError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - the app must keep serving other users
            log.exception("internal error in %s", fn.__name__)
            raise gr.Error(f"internal error ({type(exc).__name__}); the details are in the server log",
                           print_exception=False) from None

    return wrapper


def message_of(fn: Callable) -> str | None:
    """Run ``fn()``; None when it succeeds, else the one-line message to show (user or internal error)."""
    try:
        fn()
    except LatentEditError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - shown as one message, logged in full
        log.exception("internal error")
        return f"internal error ({type(exc).__name__}); the details are in the server log"
    return None


def _param_name(name: str, taken: set[str]) -> str:
    """A Python identifier for an API parameter named after a control (``gradio_client`` kwargs)."""
    ident = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "param"
    if ident[0].isdigit() or keyword.iskeyword(ident):
        ident = "a_" + ident
    base, k = ident, 2
    while ident in taken:
        ident, k = f"{base}_{k}", k + 1
    taken.add(ident)
    return ident


def named(fn: Callable, names: list[str]) -> Callable:
    """Give ``fn(*args)`` a signature with these parameter names, so the API documents them."""
    taken: set[str] = set()
    params = [inspect.Parameter(_param_name(n, taken), inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    fn.__signature__ = inspect.Signature(params)
    return fn


def request_dir(root: Path) -> Path:
    d = root / uuid.uuid4().hex[:12]
    d.mkdir(parents=True)
    return d


def slider_rows(names: list[str], labels: dict, prefix_group: bool, sliders: dict, holds: dict) -> None:
    """One slider and one "hold" box per attribute, in the current layout block."""
    for a in names:
        lab = labels[a]
        with gr.Row(equal_height=True, elem_classes="le-slider-row"):
            sliders[a] = gr.Slider(cb.SLIDER_MIN, cb.SLIDER_MAX, value=0.0, step=cb.SLIDER_STEP,
                                   label=f"{lab.group} · {lab.label}" if prefix_group else lab.label,
                                   info=lab.hint, scale=5, elem_id=f"le-slider-{a}")
            holds[a] = gr.Checkbox(False, label="hold", scale=1, min_width=70, elem_classes="le-hold",
                                   elem_id=f"le-hold-{a}")
