"""Command-line interface: ``latentedit <command>``; see :func:`latentedit.cli.main.main`."""
from .main import main

__all__ = ["main"]
