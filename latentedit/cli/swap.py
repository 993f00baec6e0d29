"""``latentedit swap MODEL INPUT... --identity B [--set ...] --out DIR``: swap-then-edit in one line."""
from __future__ import annotations


def add_parser(sub):
    from .edit import add_common_arguments

    p = sub.add_parser("swap", help="swap faces to another identity (optionally editing them too)",
                       description="Encode the faces of INPUT, apply the --set edits, decode them with the "
                                   "--identity decoder and merge them back into the originals.")
    add_common_arguments(p, identity_required=True)
    return p


def run(args) -> int:
    from .edit import run_edit

    return run_edit(args)
