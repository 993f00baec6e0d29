"""The CLI skeleton: every subcommand exists with --help; importing the package stays light."""
from __future__ import annotations

import subprocess
import sys

import pytest

from latentedit.cli.main import COMMANDS, main
from latentedit.errors import ModelFormatError
from latentedit.manifest import verify_manifest, write_manifest


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: latentedit {command}")


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "synth" in capsys.readouterr().out


def test_import_does_not_pull_gradio_or_training():
    code = ("import sys, latentedit; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('gradio', 'dlib', 'cv2', 'sklearn') or m.startswith('latentedit.train') or m.startswith('latentedit.app')];"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_manifest_detects_tampering(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_text("{}")
    write_manifest(tmp_path)
    assert verify_manifest(tmp_path) is True
    (tmp_path / "model.safetensors").write_bytes(b"weightz")
    with pytest.raises(ModelFormatError, match="model.safetensors: sha256 does not match"):
        verify_manifest(tmp_path)
    (tmp_path / "sub" / "b.json").unlink()
    with pytest.raises(ModelFormatError):
        verify_manifest(tmp_path)
    assert verify_manifest(tmp_path / "sub") is False


def test_tampered_model_refused_at_load(tmp_path):


    from latentedit.models import SwapAutoencoder, tiny_config

    model = SwapAutoencoder(tiny_config(64, ("A", "B")))
    model.save_pretrained(tmp_path / "m")
    write_manifest(tmp_path / "m")
    SwapAutoencoder.from_pretrained(tmp_path / "m")  # intact: loads
    cfg = tmp_path / "m" / "config.json"
    cfg.write_text(cfg.read_text().replace('"A"', '"C"', 1))
    with pytest.raises(ModelFormatError, match="config.json: sha256 does not match"):
        SwapAutoencoder.from_pretrained(tmp_path / "m")



def _cli_modules_after(argv: list[str]) -> list[str]:
    """The latentedit.cli / latentedit.eval.bench modules and torch imported by ``latentedit ARGV``."""
    code = ("import sys\nfrom latentedit.cli.main import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "print(','.join(sorted(m for m in sys.modules if m.startswith(('latentedit.cli.', 'latentedit.eval.bench.'))"
            " or m == 'torch')))" % (argv,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1].split(",")


def test_top_level_help_imports_no_command():
    assert _cli_modules_after(["--help"]) == ["latentedit.cli.main"]  # and no torch


def test_a_command_imports_only_its_own_module():
    assert set(_cli_modules_after(["encode", "--help"])) == {"latentedit.cli.main", "latentedit.cli._checks",
                                                             "latentedit.cli.encode", "torch"}
    bench = set(_cli_modules_after(["bench", "synth", "--help"]))
    assert {m for m in bench if m.startswith("latentedit.eval.bench.")} == {"latentedit.eval.bench.synth"}


def test_import_error_of_the_chosen_command_meets_the_error_boundary(monkeypatch, capsys):
    import importlib

    real = importlib.import_module

    def import_module(name, *a):
        if name == "latentedit.cli.report":
            raise ModuleNotFoundError("No module named 'lpips'", name="lpips")
        return real(name, *a)

    monkeypatch.setattr(importlib, "import_module", import_module)  # as if `lpips` were imported at its top
    assert main(["report", "--help"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("latentedit report: error: ") and "latentedit[eval]" in err[0]


def test_every_command_and_benchmark_module_follows_the_interface():
    import importlib

    from latentedit.cli.bench import BENCHMARKS, module_name
    from latentedit.cli.main import COMMANDS, build_parser

    for module in [f"latentedit.cli.{c}" for c in COMMANDS] + [module_name(b) for b in BENCHMARKS]:
        m = importlib.import_module(module)
        assert callable(m.add_arguments) and callable(m.run), module
    for name in COMMANDS:
        assert hasattr(importlib.import_module(f"latentedit.cli.{name}"), "DESCRIPTION"), name
    build_parser()  # eager: every command's and every benchmark's options register without clashing
