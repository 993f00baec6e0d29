"""``latentedit manifest write|verify FOLDER``: a model folder's ``MANIFEST.sha256`` by hand."""
from __future__ import annotations

import argparse

from ..errors import LatentEditError
from ..manifest import MANIFEST_NAME, verify_manifest, write_manifest


#: ``latentedit manifest --help``: what the command does.
DESCRIPTION = (f"write: list every file of FOLDER with its sha256 in FOLDER/{MANIFEST_NAME} (only for a "
               "folder you trust: from then on, a file it does not list, or one that changed, is refused "
               "when the model loads). verify: check every file against it.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register ``latentedit manifest``'s arguments on its parser (made by :mod:`latentedit.cli.main`)."""
    p.add_argument("action", choices=("write", "verify"))
    p.add_argument("folder", metavar="FOLDER", help="a model folder (config.json + model.safetensors + ...)")


def run(args: argparse.Namespace) -> int:
    """Write or verify; a folder that does not verify raises ModelFormatError (exit 2)."""
    if args.action == "write":
        print(f"wrote {write_manifest(args.folder)}")
    elif verify_manifest(args.folder, required=True):
        print(f"{args.folder}: every file matches {MANIFEST_NAME}")
    else:  # pragma: no cover - required=True raises instead
        raise LatentEditError(f"{args.folder}: no {MANIFEST_NAME}")
    return 0
