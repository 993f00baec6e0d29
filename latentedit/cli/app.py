"""`latentedit app` (not implemented yet; its issue fills it in)."""
from __future__ import annotations

from ..errors import LatentEditError


def add_parser(sub):
    p = sub.add_parser("app", help="(app: not implemented yet)")
    return p


def run(args) -> int:
    raise LatentEditError("'app' is not implemented yet")
