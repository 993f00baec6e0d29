"""``latentedit app [MODEL]``: the Gradio editing app, served on this machine only by default."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..errors import LatentEditError
from ..pretrained import DEFAULT_MODEL, default_model_dir, locate


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``app`` on the top-level subparsers."""
    p = sub.add_parser(
        "app", help="open the interactive editing app in the browser",
        description="Serve the Gradio editing app: upload a photo (or pick a sample), move one slider per "
                    "learned attribute, hold attributes fixed, confine the edit to a region, decode with "
                    "another identity, batch-edit a zip, and view edit reports. There is no public share "
                    "link; bind --host 0.0.0.0 only on a trusted network.")
    p.add_argument("model", metavar="MODEL", nargs="?", default=None,
                   help="model folder with boundaries/, or a model name (default: $LATENTEDIT_MODEL or the "
                        f"shipped {DEFAULT_MODEL})")
    p.add_argument("--boundaries", metavar="DIR", default=None, help="boundary folder (default: MODEL/boundaries)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="TCP port (default 7860; 0 = first free port)")
    p.add_argument("--concurrency", type=int, default=2,
                   help="requests of one kind processed at once (default 2)")
    p.add_argument("--max-file-size", default="20mb", help="upload size limit, e.g. 20mb (default 20mb)")
    p.add_argument("--device", default=None, help="torch device (default: cpu, or cuda when available)")
    return p


def resolve_model(model: str | None) -> Path:
    """The model folder to serve: MODEL, else ``$LATENTEDIT_MODEL``, else the shipped model.

    Raises:
        ModelFormatError: the folder or name is not found (naming it and where names are looked up).
    """
    return locate(model) if model else default_model_dir()


def run(args: argparse.Namespace) -> int:
    """Load the editor and serve the app until interrupted."""
    if not 1 <= args.concurrency <= 64:
        raise LatentEditError(f"--concurrency must be in 1..64, got {args.concurrency}")
    if not 0 <= args.port <= 65535:
        raise LatentEditError(f"--port must be in 0..65535, got {args.port}")
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(b|kb|mb|gb)?\s*", str(args.max_file_size), re.IGNORECASE):
        raise LatentEditError(f"--max-file-size: {args.max_file_size!r} is not a size like 20mb or 500kb")
    from ..edit import Editor, model_folder
    from ..manifest import verify_manifest

    path = resolve_model(args.model)
    verify_manifest(model_folder(path))   # a tampered shipped model fails here, naming the file
    editor = Editor.from_pretrained(path, boundaries=args.boundaries, device=args.device)
    from ..app import launch

    print(f"latentedit app: {len(editor.attributes)} attributes ({', '.join(editor.attributes)}), "
          f"decoders {', '.join(editor.identities)}; serving on http://{args.host}:{args.port or '<free port>'}")
    launch(editor, host=args.host, port=args.port or None, concurrency=args.concurrency,
           max_file_size=args.max_file_size)
    return 0
