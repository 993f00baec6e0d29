"""`latentedit edit` (not implemented yet; its issue fills it in)."""
from __future__ import annotations

from ..errors import LatentEditError


def add_parser(sub):
    p = sub.add_parser("edit", help="(edit: not implemented yet)")
    return p


def run(args) -> int:
    raise LatentEditError("'edit' is not implemented yet")
