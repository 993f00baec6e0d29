"""``latentedit app [MODEL]``: the Gradio editing app, served on this machine only by default."""
from __future__ import annotations

import argparse
import errno
import re
import socket
from pathlib import Path

from .. import app as editing_app  # the package: its gradio code loads on first use (after require)
from .._optional import require
from ..edit import Editor, model_folder
from ..errors import LatentEditError
from ..eval.report import edit_report
from ..pretrained import DEFAULT_MODEL, default_model_dir, locate
from ..app.callbacks import DISPLAY_MAX_SIDE
from ._checks import bounded_int

#: ``--concurrency`` range.
MAX_CONCURRENCY = 64
#: ``--max-file-size`` range in bytes (1 kB .. 10 GB).
MIN_UPLOAD, MAX_UPLOAD = 1_000, 10_000_000_000
_UNITS = {"": 1, "b": 1, "kb": 1_000, "mb": 1_000_000, "gb": 1_000_000_000}
#: ``--preview-size`` range in pixels.
MIN_PREVIEW, MAX_PREVIEW = 256, 4096


#: ``latentedit app --help``: what the command does.
DESCRIPTION = ("Serve the Gradio editing app: upload a photo (or pick a sample), move one slider per "
               "learned attribute (grouped: eyes, brows, nose, mouth, expression, face, pose), start from "
               "a preset or a saved recipe, hold attributes fixed, confine the edit to a region, decode "
               "with another identity, batch-edit a zip, and view edit reports. There is no public share "
               "link; bind --host 0.0.0.0 only on a trusted network.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register ``latentedit app``'s arguments on its parser (made by :mod:`latentedit.cli.main`)."""
    p.add_argument("model", metavar="MODEL", nargs="?", default=None,
                   help="model folder with boundaries/, or a model name (default: $LATENTEDIT_MODEL or the "
                        f"shipped {DEFAULT_MODEL})")
    p.add_argument("--boundaries", metavar="DIR", default=None, help="boundary folder (default: MODEL/boundaries)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=bounded_int(0, 65535), default=7860,
                   help="TCP port, 0..65535 (default 7860; 0 = the first free port from 7860)")
    p.add_argument("--concurrency", type=bounded_int(1, MAX_CONCURRENCY), default=2,
                   help=f"requests of one kind processed at once, 1..{MAX_CONCURRENCY} (default 2)")
    p.add_argument("--max-file-size", default="20mb",
                   help="upload size limit, 1kb..10gb, e.g. 20mb or 500kb (default 20mb)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--preview-size", metavar="PX", type=bounded_int(MIN_PREVIEW, MAX_PREVIEW),
                   default=DISPLAY_MAX_SIDE,
                   help=f"longest side of the previews a slider move sends, {MIN_PREVIEW}..{MAX_PREVIEW} px "
                        f"(default {DISPLAY_MAX_SIDE}; larger is sharper and slower; saved results keep the "
                        "photo's resolution)")
    p.add_argument("--recipes", metavar="DIR", default=None,
                   help="folder where 'Save recipe' writes and the preset list reads saved recipes "
                        "(default: the app's temporary work folder, gone when it stops)")


def resolve_model(model: str | None) -> Path:
    """The model folder to serve: MODEL, else ``$LATENTEDIT_MODEL``, else the shipped model.

    Raises:
        ModelFormatError: the folder or name is not found (naming it and where names are looked up).
    """
    return locate(model) if model else default_model_dir()


def upload_bytes(text: str) -> int:
    """``--max-file-size`` in bytes.

    Raises:
        LatentEditError: not a size like ``20mb`` or ``500kb``, or outside 1kb..10gb.
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise LatentEditError(f"--max-file-size: {text!r} is not a size like 20mb or 500kb")
    n = float(m.group(1)) * _UNITS[(m.group(2) or "").lower()]
    if not MIN_UPLOAD <= n <= MAX_UPLOAD:
        raise LatentEditError(f"--max-file-size: {text!r} is outside 1kb..10gb")
    return int(n)


def check_address(host: str, port: int) -> None:
    """Refuse, before the model is loaded, an address the server could not listen on.

    Raises:
        LatentEditError: ``--port N: already in use ...``, ``--host H: ...`` (one line each).
    """
    try:
        infos = socket.getaddrinfo(host, port or None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise LatentEditError(f"--host {host}: not a known address of this machine ({exc})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            s.bind(addr if port else (addr[0], 0) + tuple(addr[2:]))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise LatentEditError(port_in_use(port)) from None
            if exc.errno == errno.EACCES and port and port < 1024:
                raise LatentEditError(f"--port {port}: ports below 1024 need administrator rights; pick another "
                                      "with --port (e.g. 7860) or --port 0") from None
            raise LatentEditError(f"--host {host}: cannot listen there ({exc.strerror or exc})") from None


def port_in_use(port: int | None) -> str:
    """The one-line message for a port that is taken (or no free port from 7860 on)."""
    if not port:
        return "--port 0: no free port found from 7860 on; pick one with --port"
    return f"--port {port}: already in use; pick another with --port or --port 0"


def run(args: argparse.Namespace) -> int:
    """Load the editor and serve the app until interrupted.

    Raises:
        LatentEditError: a bad option, model folder or boundary file, or an address that cannot be
            listened on — each before the server starts.
    """
    upload_bytes(args.max_file_size)
    require("gradio", "the editing app")  # before loading anything: a core install says which extra

    path = resolve_model(args.model)
    model_folder(path)                    # not a model folder: fails here, before anything is loaded
    check_address(args.host, args.port)   # a busy port: one line now, not a traceback after loading
    editor = Editor.from_pretrained(path, boundaries=args.boundaries, device=args.device)

    print(f"latentedit app: {len(editor.attributes)} attributes ({', '.join(editor.attributes)}), "
          f"decoders {', '.join(editor.identities)}; serving on http://{args.host}:{args.port or '<free port>'}")
    try:
        editing_app.launch(editor, host=args.host, port=args.port or None, concurrency=args.concurrency,
                           max_file_size=args.max_file_size, report=edit_report, model_dir=model_folder(path),
                           recipes_dir=args.recipes, preview_max_side=args.preview_size)
    except OSError as exc:  # gradio: "Cannot find empty port in range: 7860-7860" (taken since the check)
        if "empty port" in str(exc).lower():
            raise LatentEditError(port_in_use(args.port)) from None
        raise
    return 0
