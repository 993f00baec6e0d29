"""``latentedit`` entry point. Each subcommand lives in ``latentedit/cli/<name>.py`` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``; modules are imported lazily so that
``latentedit synth --help`` never imports torch training code or gradio."""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import LatentEditError

#: Subcommands in pipeline order.
COMMANDS = ("synth", "extract", "train", "encode", "fit", "edit", "swap", "report", "app", "bench", "export")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="latentedit",
        description="Latent-space face editing on a face-swap autoencoder: "
                    "synth/extract → train → encode → fit → edit/swap → report/app.")
    parser.add_argument("--version", action="version", version=f"latentedit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"latentedit.cli.{name}")
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI. Returns the process exit code (0 ok, 2 user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except LatentEditError as exc:
        print(f"latentedit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"latentedit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
