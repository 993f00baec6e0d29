"""Model folder integrity: MANIFEST.sha256 is the only list of files loaded, its entries stay inside
the folder and are bounded, boundaries belong to the weights they were fitted on, and writing
boundaries into a manifested model keeps it loadable."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
import torch

import latentedit.manifest as manifest_mod
from latentedit.cli.main import main
from latentedit.edit import Editor
from latentedit.errors import ModelFormatError
from latentedit.latent import Boundary, BoundaryMismatchError, load_boundaries
from latentedit.manifest import MANIFEST_NAME, MAX_FILE_BYTES, verify_manifest, write_manifest
from latentedit.models import SwapAutoencoder, load_model, save_pretrained, tiny_config

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "latentedit" / "pretrained"
FAKE_DIGEST = "0" * 64


@pytest.fixture
def manifested(model_dir, tmp_path) -> Path:
    """A copy of the tiny model (three boundaries) with a fresh manifest."""
    copy = tmp_path / "tiny"
    shutil.copytree(model_dir, copy)
    write_manifest(copy)
    return copy


@pytest.fixture
def no_hashing(monkeypatch):
    """Fail the test if anything is hashed: the refusals below must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"hashed {args[0]} before refusing the manifest")

    monkeypatch.setattr(manifest_mod, "file_sha256", refuse)


def add_entry(folder: Path, name: str, digest: str = FAKE_DIGEST) -> None:
    with open(folder / MANIFEST_NAME, "a", encoding="utf-8") as f:
        f.write(f"{digest}  {name}\n")


def refusal(fn, *args) -> str:
    """The one-line ModelFormatError message ``fn(*args)`` raises."""
    with pytest.raises(ModelFormatError) as exc:
        fn(*args)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def run_with_timeout(fn, *args, timeout: float = 10.0):
    """Run ``fn(*args)`` in a daemon thread; fail if it has not returned in ``timeout`` s (hashing
    /dev/zero or opening a FIFO for reading would never return)."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # handed to the test thread
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{fn.__name__} did not return within {timeout} s"
    return box


# -- the manifest is the only list loaded -----------------------------------------------------------
def test_unlisted_boundary_dropped_into_a_manifested_model_is_refused(manifested):
    src = manifested / "boundaries"
    for suffix in (".json", ".safetensors"):   # a well-formed boundary of this very model
        shutil.copy(src / f"smile{suffix}", src / f"extra{suffix}")
    meta = json.loads((src / "extra.json").read_text())
    (src / "extra.json").write_text(json.dumps({**meta, "attribute": "extra"}))
    msg = refusal(Editor.from_pretrained, manifested)
    assert "boundaries/extra.json: not listed in MANIFEST.sha256" in msg
    assert "latentedit manifest write" in msg
    # the boundaries folder loaded on its own, and the file alone, go through the same check
    msg = refusal(load_boundaries, src)
    assert "extra.json: not listed in MANIFEST.sha256" in msg
    msg = refusal(Boundary.load, src / "extra.json")
    assert "extra.json: not listed in MANIFEST.sha256" in msg
    # a manifest of its own dropped into boundaries/ does not vouch for it: the model's still applies
    write_manifest(src)
    assert verify_manifest(src) is True
    msg = refusal(load_boundaries, src)
    assert "boundaries/MANIFEST.sha256: not listed in MANIFEST.sha256" in msg


def test_unlisted_readme_refused_but_hidden_temp_files_and_pycache_ignored(manifested):
    (manifested / ".model.safetensors.k2j4.tmp.safetensors").write_bytes(b"half a write, left by a crash")
    (manifested / "boundaries" / ".smile.json.x.tmp.json").write_text("{")
    (manifested / "__pycache__").mkdir()
    (manifested / "__pycache__" / "x.pyc").write_bytes(b"\0")
    editor = Editor.from_pretrained(manifested)   # none of these brick the model
    assert editor.attributes == ["eye_open", "mouth_open", "smile"]
    (manifested / "README.md").write_text("# my notes\n")
    msg = refusal(verify_manifest, manifested)
    assert "README.md: not listed in MANIFEST.sha256" in msg
    write_manifest(manifested)                    # a README is listed like any other file
    assert "README.md" in (manifested / MANIFEST_NAME).read_text()
    assert ".tmp" not in (manifested / MANIFEST_NAME).read_text()
    assert verify_manifest(manifested) is True


def test_tampered_files_still_refused(manifested):
    normal = manifested / "boundaries" / "smile.safetensors"
    data = bytearray(normal.read_bytes())
    data[-1] ^= 0xFF
    normal.write_bytes(bytes(data))
    for fn, arg in ((Editor.from_pretrained, manifested), (load_boundaries, manifested / "boundaries")):
        msg = refusal(fn, arg)
        assert "boundaries/smile.safetensors: sha256 does not match MANIFEST.sha256" in msg
    (manifested / "boundaries" / "eye_open.json").unlink()
    msg = refusal(verify_manifest, manifested)
    assert "eye_open.json: listed in MANIFEST.sha256 but missing" in msg


def test_model_folder_without_manifest_loads(model_dir, tmp_path):
    copy = tmp_path / "mine"
    shutil.copytree(model_dir, copy)
    (copy / "notes.txt").write_text("users' own models are not closed")
    assert verify_manifest(copy) is False
    assert Editor.from_pretrained(copy).attributes == ["eye_open", "mouth_open", "smile"]
    with pytest.raises(ModelFormatError, match="mine: no MANIFEST.sha256"):
        verify_manifest(copy, required=True)


def test_folder_reached_through_a_symlink_and_shipped_manifests_verify(manifested, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(manifested, target_is_directory=True)
    assert verify_manifest(link) is True
    assert Editor.from_pretrained(link).attributes == ["eye_open", "mouth_open", "smile"]
    # the repo-root `pretrained` is a symlink to the package data: the shipped folders verify through it
    for name in ("celeba64", "synthfaces64", "oracle"):
        assert verify_manifest(REPO / "pretrained" / name, required=True) is True
        assert verify_manifest(SHIPPED / name, required=True) is True


# -- entries outside the folder, special files, sizes: refused before any hashing ---------------------
def test_dotdot_entry_refused(manifested, tmp_path, no_hashing):
    (tmp_path / "outside.bin").write_bytes(b"not part of the model")
    add_entry(manifested, "../outside.bin")
    msg = refusal(verify_manifest, manifested)
    assert "entry '../outside.bin' contains '..'" in msg and "MANIFEST.sha256 line" in msg
    msg = refusal(load_model, manifested)
    assert "'../outside.bin' contains '..'" in msg


def test_absolute_entry_refused(manifested, tmp_path, no_hashing):
    target = tmp_path / "outside.bin"
    target.write_bytes(b"not part of the model")
    add_entry(manifested, str(target))
    msg = refusal(verify_manifest, manifested)
    assert f"entry '{target}' is an absolute path" in msg


def test_symlink_entry_to_dev_zero_refused_without_reading(manifested, no_hashing):
    (manifested / "zero.bin").symlink_to("/dev/zero")
    add_entry(manifested, "zero.bin")
    box = run_with_timeout(verify_manifest, manifested)
    err = box.get("error")
    assert isinstance(err, ModelFormatError), box
    assert "entry 'zero.bin' resolves through a symlink to /dev/zero, outside the model folder" in str(err)


def test_symlinked_parent_folder_outside_refused(manifested, tmp_path, no_hashing):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "w.bin").write_bytes(b"x")
    (manifested / "ext").symlink_to(outside, target_is_directory=True)
    add_entry(manifested, "ext/w.bin")
    msg = refusal(verify_manifest, manifested)
    assert "entry 'ext/w.bin' resolves through a symlink to" in msg and "outside the model folder" in msg
    # unlisted, the link is refused too (its files would otherwise be loaded unchecked)
    lines = [ln for ln in (manifested / MANIFEST_NAME).read_text().splitlines() if "ext/" not in ln]
    (manifested / MANIFEST_NAME).write_text("\n".join(lines) + "\n")
    msg = refusal(verify_manifest, manifested)
    assert "ext: symlink to" in msg and "outside the model folder" in msg


def test_fifo_entry_refused_without_blocking(manifested, no_hashing):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no os.mkfifo on this platform (Windows); runs on every POSIX system")
    os.mkfifo(manifested / "pipe")
    add_entry(manifested, "pipe")
    box = run_with_timeout(verify_manifest, manifested)
    assert isinstance(box.get("error"), ModelFormatError), box
    assert "entry 'pipe' is a FIFO, not a regular file" in str(box["error"])
    # an unlisted FIFO inside the folder is refused as unlisted, without being opened either
    lines = (manifested / MANIFEST_NAME).read_text().splitlines()[:-1]
    (manifested / MANIFEST_NAME).write_text("\n".join(lines) + "\n")
    box = run_with_timeout(verify_manifest, manifested)
    assert "pipe: not listed in MANIFEST.sha256" in str(box.get("error"))


def test_directory_entry_refused(manifested, no_hashing):
    add_entry(manifested, "boundaries")
    msg = refusal(verify_manifest, manifested)
    assert "entry 'boundaries' is a folder, not a regular file" in msg


def test_oversized_entry_refused_before_hashing(manifested, no_hashing):
    big = manifested / "huge.bin"
    with open(big, "wb") as f:                     # sparse: takes no disk space
        f.truncate(MAX_FILE_BYTES + 1)
    add_entry(manifested, "huge.bin")
    msg = refusal(verify_manifest, manifested)
    assert "entry 'huge.bin' is 2147483649 bytes, more than the 2 GiB a model file may have" in msg


def test_oversized_or_malformed_manifest_refused(manifested, no_hashing):
    path = manifested / MANIFEST_NAME
    good = path.read_text()
    path.write_text(good + "\n" * 10_001)
    assert "lines, more than the 10000" in refusal(verify_manifest, manifested)
    path.write_text(good + "#" * (1 << 20))
    assert "larger than the 1048576 bytes a manifest may have" in refusal(verify_manifest, manifested)
    path.write_text(good + "abc  config.json\n")
    assert "expected '<sha256>  <file>'" in refusal(verify_manifest, manifested)
    path.write_text(good + good.splitlines()[0] + "\n")
    assert "is listed twice" in refusal(verify_manifest, manifested)


# -- boundaries belong to the weights --------------------------------------------------------------
@pytest.fixture
def other_model(tmp_path) -> Path:
    import torch

    torch.manual_seed(123)
    return save_pretrained(SwapAutoencoder(tiny_config(64, identities=("A", "B"))), tmp_path / "B")


def test_boundaries_copied_from_another_model_refused_even_with_a_spoofed_config(model_dir, other_model):
    a_id, b_id = load_model(model_dir).model_id, load_model(other_model).model_id
    assert a_id != b_id
    shutil.copytree(model_dir / "boundaries", other_model / "boundaries")
    with pytest.raises(BoundaryMismatchError) as exc:
        Editor.from_pretrained(other_model)
    assert "boundaries/eye_open.json" in str(exc.value) and a_id in str(exc.value) and b_id in str(exc.value)
    # config.json edited to claim A's id: the weights say otherwise, the folder is refused
    cfg_path = other_model / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg_path.write_text(json.dumps({**cfg, "model_id": a_id}))
    msg = refusal(Editor.from_pretrained, other_model)
    assert "config.json: field 'model_id' is" in msg and a_id in msg and b_id in msg
    assert "do not belong together" in msg
    # without the field (hand-made folders load), the id still comes from the weights
    del cfg["model_id"]
    cfg_path.write_text(json.dumps(cfg))
    assert load_model(other_model).model_id == b_id
    with pytest.raises(BoundaryMismatchError) as exc:
        Editor.from_pretrained(other_model)
    assert "boundaries/eye_open.json" in str(exc.value) and a_id in str(exc.value) and b_id in str(exc.value)


# -- writing boundaries into a manifested model -----------------------------------------------------
def test_boundary_save_keeps_the_manifest_and_never_blesses_tampering(manifested):
    model = load_model(manifested)
    old = (manifested / MANIFEST_NAME).read_text()
    b = Boundary.load(manifested / "boundaries" / "smile.json", model_id=model.model_id)
    Boundary("grin", b.normal, model_id=model.model_id).save(manifested / "boundaries")
    assert verify_manifest(manifested) is True
    assert "boundaries/grin.json" in (manifested / MANIFEST_NAME).read_text()
    assert "grin" in Editor.from_pretrained(manifested).attributes
    # a folder that does not verify is not written into, and its manifest is not re-written
    (manifested / "config.json").write_text((manifested / "config.json").read_text() + " ")
    before = (manifested / MANIFEST_NAME).read_text()
    assert before != old
    msg = refusal(Boundary("wink", b.normal, model_id=model.model_id).save, manifested / "boundaries")
    assert "config.json: sha256 does not match" in msg
    assert not (manifested / "boundaries" / "wink.json").exists()
    assert (manifested / MANIFEST_NAME).read_text() == before


@pytest.fixture(scope="module")
def synth_faces(tmp_path_factory) -> Path:
    from latentedit.synth import synth_faceset

    out = tmp_path_factory.mktemp("faces") / "fs"
    synth_faceset(out, identities=4, per_identity=10, size=64, seed=2, progress=False)
    return out


def test_fit_overwrite_into_the_shipped_model_leaves_it_loadable(tmp_path, synth_faces, capsys):
    copy = tmp_path / "synthfaces64"
    shutil.copytree(SHIPPED / "synthfaces64", copy)
    smile = copy / "boundaries" / "smile.json"
    before = smile.read_bytes()
    manifest_before = (copy / MANIFEST_NAME).read_text().splitlines()
    # without --overwrite: refused, nothing changes
    assert main(["fit", str(copy), str(synth_faces), "--attribute", "smile"]) == 2
    assert "already exist" in capsys.readouterr().err
    assert smile.read_bytes() == before
    assert main(["fit", str(copy), str(synth_faces), "--attribute", "smile", "--overwrite"]) == 0
    assert smile.read_bytes() != before
    assert verify_manifest(copy) is True
    editor = Editor.from_pretrained(copy)
    assert "smile" in editor.attributes and editor.boundaries["smile"].meta["n_codes"] == 40
    after = (copy / MANIFEST_NAME).read_text().splitlines()
    changed = sorted(ln.split()[1] for ln in set(after) ^ set(manifest_before))   # old and new line of each
    assert changed == ["boundaries/smile.json"] * 2 + ["boundaries/smile.safetensors"] * 2
    assert hashlib.sha256(smile.read_bytes()).hexdigest() in (copy / MANIFEST_NAME).read_text()
    # a tampered copy is refused before encoding, and its manifest is left as it was
    yaw = copy / "boundaries" / "yaw.json"
    yaw.write_text(yaw.read_text().replace('"method"', '"method" ', 1))
    manifest_now = (copy / MANIFEST_NAME).read_text()
    assert main(["fit", str(copy), str(synth_faces), "--attribute", "smile", "--overwrite"]) == 2
    assert "yaw.json: sha256 does not match" in capsys.readouterr().err
    assert (copy / MANIFEST_NAME).read_text() == manifest_now


def test_manifest_command_line(manifested, capsys):
    (manifested / "README.md").write_text("notes\n")
    assert main(["manifest", "verify", str(manifested)]) == 2
    assert "README.md: not listed" in capsys.readouterr().err
    assert main(["manifest", "write", str(manifested)]) == 0
    assert main(["manifest", "verify", str(manifested)]) == 0
    assert "every file matches" in capsys.readouterr().out


def test_save_pretrained_over_a_manifested_model_keeps_it_loadable(manifested):
    model = load_model(manifested)
    before = model.model_id
    with torch.no_grad():
        next(model.parameters()).add_(0.5)  # new weights
    save_pretrained(model, manifested, overwrite=True)
    assert verify_manifest(manifested)
    reloaded = load_model(manifested)
    assert reloaded.model_id == model.model_id != before
    (manifested / "README.md").write_text("tampered\n")  # unlisted: a re-save must not bless it
    with pytest.raises(ModelFormatError, match="README.md: not listed"):
        save_pretrained(model, manifested, overwrite=True)
