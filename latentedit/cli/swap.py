"""``latentedit swap MODEL INPUT... --identity B [--set ...] --out DIR``: swap-then-edit in one line."""
from __future__ import annotations

import argparse

from .edit import add_common_arguments, run_edit

#: ``latentedit swap --help``: what the command does.
DESCRIPTION = ("Encode the faces of INPUT, apply the --set edits, decode them with the "
               "--identity decoder and merge them back into the originals.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register ``latentedit swap``'s arguments on its parser (made by :mod:`latentedit.cli.main`)."""
    add_common_arguments(p, identity_required=True)


def run(args) -> int:
    return run_edit(args)
