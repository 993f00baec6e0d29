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

