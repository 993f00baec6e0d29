"""``latentedit`` entry point. Each subcommand lives in ``latentedit/cli/<name>.py`` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``; modules are imported lazily so that
``latentedit synth --help`` never imports torch training code or gradio.

Exit codes: 0 ok; 1 some inputs of a batch failed (``edit``, ``swap``, ``extract``), or an
unexpected internal error; 2 a user error (bad option, file, folder, model or recipe); 130
interrupted. :func:`main` is the one error boundary: whatever goes wrong, the user sees one line
on stderr, ``latentedit <command>: error: <what>: <problem>``, never a traceback —

* :class:`~latentedit.errors.LatentEditError` (raised by every check of user input): its message, exit 2;
* a missing optional package (``ModuleNotFoundError`` for ``gradio``, ``av``, …): the extra to install, exit 2;
* ``OSError`` (a file or folder that cannot be read or written): ``<file>: <strerror>``, exit 2;
* ``MemoryError`` and out-of-memory errors from PyTorch/OpenCV: "out of memory ...", exit 2;
* CUDA ``RuntimeError`` (no driver, device-side errors): the first line and "use --device cpu", exit 2;
* ``ValueError`` (a value PyTorch/NumPy/PIL refused; our own checks raise LatentEditError): its first line, exit 2;
* anything else is a bug in latentedit, not in the input: one line ending in "(run with
  LATENTEDIT_DEBUG=1 for the traceback)", exit 1.

With ``LATENTEDIT_DEBUG=1`` every exception is re-raised with its traceback.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from .. import __version__
from .._optional import missing_extra_message
from ..errors import LatentEditError

#: Subcommands in pipeline order.
COMMANDS = ("synth", "extract", "train", "encode", "fit", "edit", "swap", "report", "app", "bench", "export",
            "manifest")
#: Environment variable that turns the one-line errors back into tracebacks.
DEBUG_ENV = "LATENTEDIT_DEBUG"
#: Exit status of user errors (the same as argparse's).
USER_ERROR = 2
#: Exit status of unexpected internal errors.
INTERNAL_ERROR = 1


def one_line(text: str) -> str:
    """``text`` with its lines joined by spaces (messages are printed as exactly one line)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``latentedit edit: error: argument --size: ... (see latentedit edit --help)``.

    (argparse's own format prints the whole usage block first; subparsers inherit this class.)
    """

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(USER_ERROR, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand registered."""
    parser = _Parser(
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


def _parser_of(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    """The subparser of ``command`` (``parser`` itself when there is none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


def describe_error(exc: BaseException) -> tuple[int, str]:
    """The exit status and the one-line message for an exception that reached :func:`main`.

    Returns:
        ``(status, message)``: status 2 for user errors (see the module docstring), 1 for bugs.
    """
    msg = one_line(str(exc))
    if isinstance(exc, LatentEditError):
        return USER_ERROR, msg
    if isinstance(exc, ModuleNotFoundError) and (hint := missing_extra_message(exc)):
        return USER_ERROR, hint  # an optional package the command needs: name the extra to install
    if isinstance(exc, OSError):
        if exc.filename is None and not exc.strerror:
            return USER_ERROR, msg or type(exc).__name__  # raised with a message of our own (atomic_path)
        reason = exc.strerror or msg or type(exc).__name__
        hint = {errno.ENOSPC: "; free some space or choose another --out",
                errno.EACCES: "; check the permissions or choose another location",
                errno.EROFS: "; choose another location"}.get(exc.errno or 0, "")
        if exc.filename is None:
            return USER_ERROR, f"{reason}{hint}"
        target = f" -> {exc.filename2}" if getattr(exc, "filename2", None) else ""
        return USER_ERROR, f"{exc.filename}{target}: {reason}{hint}"
    if isinstance(exc, MemoryError) or _is_out_of_memory(exc):
        detail = f" ({msg})" if msg else ""
        return USER_ERROR, (f"out of memory{detail}; the input or an option is too large for this machine "
                            "(lower --batch, --size or the input resolution, or use --device cpu)")
    if isinstance(exc, RuntimeError) and ("CUDA" in msg or "NVIDIA" in msg):
        return USER_ERROR, f"CUDA error: {msg}; use --device cpu"
    if isinstance(exc, ValueError):
        return USER_ERROR, msg or type(exc).__name__
    return INTERNAL_ERROR, (f"internal error: {type(exc).__name__}: {msg} (run with {DEBUG_ENV}=1 for the "
                            "traceback)")


def _is_out_of_memory(exc: BaseException) -> bool:
    """torch.OutOfMemoryError (CUDA), torch's CPU allocator, std::bad_alloc, OpenCV's allocator."""
    text = str(exc).lower()
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    if type(exc).__module__.startswith("cv2") and ("insufficient memory" in text or "failed to allocate" in text):
        return True
    return isinstance(exc, RuntimeError) and any(
        s in text for s in ("out of memory", "bad_alloc", "can't allocate memory", "not enough memory"))


def _debug() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI. Returns the process exit code (0 ok, 1 partial failure or bug, 2 user error).

    ``--help`` and ``--version`` exit through ``SystemExit(0)`` as argparse does.
    """
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # reported by the subcommand, whose --help lists what it does accept
            _parser_of(parser, getattr(args, "command", None)).error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:
        if exc.code in (0, None):
            raise
        return exc.code if isinstance(exc.code, int) else USER_ERROR
    if not getattr(args, "_run", None):
        parser.print_help()
        return USER_ERROR
    try:
        device = getattr(args, "device", None)
        if device is not None:  # before any work: a missing GPU is a one-line user error
            from ..devices import check_device

            check_device(device, what="--device")
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f"latentedit {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one error boundary (see the module docstring)
        if _debug():
            raise
        status, message = describe_error(exc)
        print(f"latentedit {args.command}: error: {message}", file=sys.stderr)
        return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
