"""The shipped real-face default model (latentedit/pretrained/celeba64): what a new user opens."""
from __future__ import annotations

import json

import numpy as np
import pytest

from latentedit.edit import Editor, Recipe
from latentedit.manifest import verify_manifest
from latentedit.pretrained import DEFAULT_MODEL, locate, shipped_models
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def folder():
    return locate(DEFAULT_MODEL)


def test_the_default_is_the_real_face_model_and_synthfaces_stays(folder):
    assert DEFAULT_MODEL == "celeba64"
    assert {"celeba64", "synthfaces64"} <= set(shipped_models())
    verify_manifest(folder, required=True)


def test_its_card_states_the_licence_and_its_files_are_small(folder):
    cfg = json.loads((folder / "config.json").read_text())
    assert "non-commercial research" in cfg["extra"]["licence"]
    assert cfg["weights_dtype"] == "float16"
    assert (folder / "model.safetensors").stat().st_size < 40e6
    card = (folder / "README.md").read_text()
    assert "non-commercial research use only" in card and "Measured quality" in card
    quality = json.loads((folder / "quality.json").read_text())
    assert quality["psnr_db_float16"] > 12.6      # better than the mean face (synthfaces64 on real faces: 12.9)


def test_sliders_record_their_verdicts_and_some_pass(folder):
    editor = Editor.from_pretrained(folder, device="cpu")
    assert editor.landmark_head is not None
    verdicts = {n: b.meta.get("slider", {}) for n, b in editor.boundaries.items()}
    assert verdicts and all("validated" in v for v in verdicts.values())
    assert any(v["validated"] for v in verdicts.values())
    for name in ("Smiling",):
        assert "gender_drift" in verdicts[name]


def test_a_real_photo_at_zero_is_the_photo_in_detail_mode(folder):
    photo = shared_path("data", "london_dev", "neutral", "001.jpg")
    editor = Editor.from_pretrained(folder, device="cpu")
    face = editor.find_faces(photo)[0]
    res = editor.apply(face, Recipe(edits={"Smiling": 0.0}))
    assert np.array_equal(res.image, face.image)
    moved = editor.apply(face, Recipe(edits={"Smiling": 2.0}))
    changed = np.any(moved.image != face.image, axis=-1)
    x0, y0, x1, y1 = face.box
    w, h = x1 - x0, y1 - y0
    outside = np.ones_like(changed)
    outside[max(0, int(y0 - h)):int(y1 + h), max(0, int(x0 - w)):int(x1 + w)] = False
    assert changed.any() and not (changed & outside).any()
