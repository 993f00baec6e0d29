"""``latentedit`` entry point. :data:`COMMANDS` lists every subcommand with its one-line help; each lives
in ``latentedit/cli/<name>.py`` (``DESCRIPTION``, ``add_arguments(parser)``, ``run(args) -> int``) and is
imported only when chosen (:class:`LazyCommands`, the one lazy step of the CLI): ``latentedit --help``
imports no command, ``latentedit edit`` imports ``latentedit.cli.edit`` and what it imports at its top.

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

#: Subcommands in pipeline order -> the one-line help ``latentedit --help`` shows. Each is the module
#: ``latentedit.cli.<name>``, imported only when its command is chosen (see :class:`LazyCommands`).
COMMANDS: dict[str, str] = {
    "synth": "render synthetic faces with exact ground truth (a FaceSet and/or a preview grid)",
    "extract": "detect, align and store faces from photos, folders and videos",
    "train": "train the swap autoencoder (shared encoder, one decoder per identity)",
    "encode": "encode a FaceSet into latent codes with its attributes",
    "fit": "fit attribute boundaries in a model's latent space",
    "edit": "edit faces along attribute boundaries",
    "swap": "swap faces to another identity (optionally editing them too)",
    "report": "measure an edit: target change, leakage and identity drift vs alpha",
    "app": "open the interactive editing app in the browser",
    "bench": "run a benchmark",
    "export": "export a model's encoder and decoders to ONNX",
    "manifest": "write or verify a model folder's MANIFEST.sha256",
}
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


class LazyCommands(argparse._SubParsersAction):
    """Subcommands listed by name and one-line help whose module is imported only when chosen.

    argparse calls this action with the chosen name and the rest of the command line: the action
    imports that command's module (nothing else), lets it register its options with
    ``add_arguments(parser)``, sets its ``DESCRIPTION`` (when it has one) and records its ``run`` as
    ``args._run`` (an inner command's ``run`` replaces its parent's), then parses the rest. So
    ``latentedit --help`` imports no command, ``latentedit edit ...`` imports ``latentedit.cli.edit``
    (which imports what it needs at its top) and ``latentedit bench edit`` one benchmark module. An
    error while importing it (a missing extra, say) is raised inside :func:`main`'s error boundary.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.modules: dict[str, str] = {}  # command name -> module
        self._loaded: set[str] = set()

    def add_command(self, name: str, help: str, module: str) -> argparse.ArgumentParser:
        """List command ``name`` (its parser stays empty until it is chosen)."""
        self.modules[name] = module
        return self.add_parser(name, help=help, description=help)

    def load(self, name: str) -> argparse.ArgumentParser:
        """Import command ``name``'s module and register its options (once); returns its parser."""
        parser = self.choices[name]
        if name not in self._loaded:
            module = importlib.import_module(self.modules[name])
            parser.description = getattr(module, "DESCRIPTION", parser.description)
            module.add_arguments(parser)
            parser.set_defaults(_run=module.run)
            self._loaded.add(name)
        return parser

    def load_all(self) -> None:
        """Load every command, and every command of theirs (for tools that inspect all options)."""
        for name in self.modules:
            for action in self.load(name)._actions:
                if isinstance(action, LazyCommands):
                    action.load_all()

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values[0])  # named in the error line even if the import fails
        self.load(values[0])
        super().__call__(parser, namespace, values, option_string)


def add_commands(parser: argparse.ArgumentParser, commands: dict[str, str], module_of, dest: str,
                 metavar: str) -> LazyCommands:
    """Give ``parser`` lazily loaded subcommands.

    Args:
        parser: the parser of the command that has subcommands.
        commands: name -> one-line help, in the order ``--help`` lists them.
        module_of: name -> the module implementing it (``DESCRIPTION``, ``add_arguments(parser)``,
            ``run(args) -> int``).
        dest: the ``args`` attribute that receives the chosen name.
        metavar: how ``--help`` names the choice.

    Returns:
        The subparsers action.
    """
    action = parser.add_subparsers(dest=dest, metavar=metavar, action=LazyCommands)
    for name, help_text in commands.items():
        action.add_command(name, help_text, module_of(name))
    return action


def build_parser(lazy: bool = False) -> argparse.ArgumentParser:
    """Build the top-level parser.

    Args:
        lazy: register a command's options only when argparse reaches it (what :func:`main` does);
            False loads every command now (for tools and tests that inspect every option).
    """
    parser = _Parser(
        prog="latentedit",
        description="Latent-space face editing on a face-swap autoencoder: "
                    "synth/extract → train → encode → fit → edit/swap → report/app.")
    parser.add_argument("--version", action="version", version=f"latentedit {__version__}")
    commands = add_commands(parser, COMMANDS, lambda name: f"latentedit.cli.{name}", dest="command",
                            metavar="COMMAND")
    if not lazy:
        commands.load_all()
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
    parser = build_parser(lazy=True)
    args = argparse.Namespace()
    try:
        try:  # imports the chosen command's module: its import errors meet the boundary below too
            _, extra = parser.parse_known_args(argv, namespace=args)
            if extra:  # reported by the subcommand, whose --help lists what it does accept
                _parser_of(parser, getattr(args, "command", None)).error(f"unrecognized arguments: {' '.join(extra)}")
        except SystemExit as exc:
            if exc.code in (0, None):
                raise
            return exc.code if isinstance(exc.code, int) else USER_ERROR
        if not getattr(args, "_run", None):
            parser.print_help()
            return USER_ERROR
        device = getattr(args, "device", None)
        if device is not None:  # before any work: a missing GPU is a one-line user error
            from ..devices import check_device  # imports torch: not at the top, so `latentedit --help` stays fast

            check_device(device, what="--device")
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f"{_prog(args)}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one error boundary (see the module docstring)
        if _debug():
            raise
        status, message = describe_error(exc)
        print(f"{_prog(args)}: error: {message}", file=sys.stderr)
        return status


def _prog(args: argparse.Namespace) -> str:
    """``latentedit <command>`` for the error line (``latentedit`` before a command was chosen)."""
    command = getattr(args, "command", None)
    return f"latentedit {command}" if command else "latentedit"

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
