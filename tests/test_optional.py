"""Core install without the extras: `import latentedit` and every `--help` work, and a command that
needs a missing extra says which one to install, in one line, exit 2 (no traceback)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from latentedit._optional import EXTRAS, MissingExtraError, missing_extra_message, require
from latentedit.cli.main import COMMANDS

#: Modules a core install does not have.
OPTIONAL = sorted(EXTRAS)


def _run_without_extras(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where every optional module fails to import."""
    prelude = textwrap.dedent(f"""
        import sys
        for name in {OPTIONAL!r}:
            sys.modules[name] = None   # `import name` now raises ModuleNotFoundError
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_require_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(MissingExtraError) as exc:
        require("av", "reading video")
    message = str(exc.value)
    assert message.startswith("reading video needs the optional package 'av'")
    assert "pip install 'latentedit[video]'" in message and "\n" not in message


def test_require_returns_the_module():
    import json

    assert require("json") is json  # a module that is always there passes through


def test_missing_extra_message_only_for_optional_modules():
    assert "latentedit[app]" in missing_extra_message(ModuleNotFoundError("x", name="gradio.themes"))
    assert missing_extra_message(ModuleNotFoundError("x", name="numpy")) is None


def test_import_and_every_help_work_without_extras():
    result = _run_without_extras(f"""
        import latentedit, latentedit.edit, latentedit.faces, latentedit.models, latentedit.train
        from latentedit.cli.main import main
        for command in {list(COMMANDS)!r}:
            try:
                code = main([command, "--help"])
            except SystemExit as exc:
                assert exc.code == 0, (command, exc.code)
            else:  # main returned: the command's module could not even be imported
                raise AssertionError(f"{{command}} --help returned {{code}} instead of printing the help")
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


@pytest.mark.parametrize("argv, extra", [
    (["app"], "app"),
    (["export", "synthfaces64", "--onnx", "{tmp}/onnx"], "export"),
    (["extract", "{tmp}/clip.mp4", "--out", "{tmp}/faces"], "video"),
])
def test_command_needing_an_extra_says_which(tmp_path, argv, extra):
    (tmp_path / "clip.mp4").write_bytes(b"\x00" * 64)
    argv = [a.format(tmp=tmp_path) for a in argv]
    result = _run_without_extras(f"""
        import sys
        from latentedit.cli.main import main
        sys.exit(main({argv!r}))
    """)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and f"pip install 'latentedit[{extra}]'" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "onnx").exists()
