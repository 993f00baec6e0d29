"""`latentedit fit` (not implemented yet; its issue fills it in)."""
from __future__ import annotations

from ..errors import LatentEditError


def add_parser(sub):
    p = sub.add_parser("fit", help="(fit: not implemented yet)")
    return p


def run(args) -> int:
    raise LatentEditError("'fit' is not implemented yet")
