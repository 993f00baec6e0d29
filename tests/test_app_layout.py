"""The app's layout decisions without a browser: labels and groups, validated vs experimental sliders,
presets, model info, errors that stay beside the recipe box, the face map and the display-size preview."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

from latentedit._io import read_image
from latentedit.app import callbacks as cb
from latentedit.app.labels import (GROUPS, LABELS, describe, group_attributes, labels_for, prettify,
                                   slider_validated, split_validated)
from latentedit.app.model_info import UNKNOWN_LICENCE, header_markdown, identity_note, read_model_info
from latentedit.app.presets import PRESETS, SAVED_PREFIX, preset_choices, saved_recipes, shipped_presets
from latentedit.edit import Recipe
from tests.test_app_fixtures import ATTRIBUTES, sample_photo

SHIPPED = Path(__file__).resolve().parents[1] / "latentedit" / "pretrained" / "synthfaces64"
CELEBA = ["Smiling", "Mouth_Slightly_Open", "Narrow_Eyes", "Big_Nose", "Big_Lips", "High_Cheekbones",
          "Bags_Under_Eyes", "Young", "Male", "Eyeglasses"]
SCORES = ["smile_score", "mouth_open_score", "eye_open_score", "brow_raise_score", "nose_length_score",
          "nose_width_score", "mouth_width_score"]


# -------------------------------------------------------------------------------------- labels

@pytest.mark.parametrize("name,group,label", [
    ("smile", "Expression", "Smile"), ("mouth_open", "Mouth", "Open mouth"), ("eye_open", "Eyes", "Eye openness"),
    ("nose_length", "Nose", "Nose length"), ("yaw", "Pose", "Yaw (turn)"), ("brow_raise", "Brows", "Brow raise"),
    ("smile_score", "Expression", "Smile"), ("nose_width_score", "Nose", "Nose width"),
    ("Smiling", "Expression", "Smile"), ("Mouth_Slightly_Open", "Mouth", "Open mouth"),
    ("Narrow_Eyes", "Eyes", "Narrow eyes"), ("Big_Nose", "Nose", "Big nose"), ("Young", "Face", "Younger"),
])
def test_known_attributes_have_a_group_a_human_label_and_a_hint(name, group, label):
    lab = describe(name)
    assert (lab.group, lab.label) == (group, label)
    assert lab.hint and "\n" not in lab.hint and len(lab.hint) < 90


def test_every_attribute_the_project_ships_or_imports_is_in_the_table():
    shipped = sorted(p.stem for p in (SHIPPED / "boundaries").glob("*.json"))
    assert len(shipped) >= 20
    for name in shipped + CELEBA + SCORES:
        assert name in LABELS, name
    assert {lab.group for lab in LABELS.values()} <= set(GROUPS)


def test_unknown_names_fall_back_to_a_prettified_label_in_other():
    lab = describe("big_ears_v2")
    assert (lab.group, lab.label) == ("Other", "Big ears v2") and "big_ears_v2" in lab.hint
    assert prettify("Wearing-Hat") == "Wearing Hat"


def test_groups_follow_the_table_and_labels_are_unique():
    groups = group_attributes(["yaw", "zeta", "smile", "Smiling", "eye_open", "alpha", "nose_length"])
    assert list(groups) == ["Expression", "Eyes", "Nose", "Pose", "Other"]   # GROUPS order, empty ones left out
    assert groups["Expression"] == ["smile", "Smiling"] and groups["Other"] == ["alpha", "zeta"]
    labels = labels_for(["smile", "smile_score", "Smiling", "mouth_open"])
    assert [labels[a].label for a in ("smile", "smile_score", "Smiling", "mouth_open")] == [
        "Smile (SynthFaces)", "Smile (landmarks)", "Smile (CelebA)", "Open mouth"]
    assert labels_for(["smile"])["smile"].label == "Smile"


# ---------------------------------------------------------------------- validated / experimental

@dataclasses.dataclass
class _B:
    meta: object


def test_validated_split_follows_the_boundary_metadata():
    # No boundary says anything (models made before the field): every slider is validated.
    assert split_validated({"a": _B({}), "b": _B({"faceset": "x"})}) == (["a", "b"], [])
    # Once one says, only those marked True are validated; the silent ones are experimental.
    both = {"a": _B({"slider": {"validated": True}}), "b": _B({"slider": {"validated": False}}),
            "c": _B({}), "d": _B({"slider": "yes"})}
    assert split_validated(both) == (["a"], ["b", "c", "d"])
    assert slider_validated(_B(None)) is None and slider_validated(_B({"slider": {"validated": 1}})) is None


def _ancestors(block):
    while block is not None:
        yield block
        block = getattr(block, "parent", None)


def test_build_app_puts_unvalidated_sliders_under_more_experimental(editor, tmp_path):
    import gradio as gr

    from latentedit.app import build_app
    from latentedit.edit import Editor

    marked = {a: dataclasses.replace(b, meta={**b.meta, "slider": {"validated": a == "smile"}})
              for a, b in editor.boundaries.items()}
    demo = build_app(Editor(editor.model, marked), work_dir=str(tmp_path))
    where = {}
    for b in demo.blocks.values():
        if isinstance(b, gr.Slider):
            acc = next(p for p in _ancestors(b) if isinstance(p, gr.Accordion))
            where[b.elem_id] = (acc.label, acc.open)
    assert where["le-slider-smile"] == ("Expression (1)", True)
    for a in ("eye_open", "mouth_open"):
        label, is_open = where[f"le-slider-{a}"]
        assert label.startswith("More (experimental)") and is_open is False


# --------------------------------------------------------------------------------------- presets

def test_presets_use_the_attributes_the_model_has_and_skip_the_rest():
    synth = shipped_presets(["smile", "mouth_open", "eye_open"])
    assert list(synth) == ["Neutral", "Gentle smile", "Big smile", "Eyes wide open"]   # no brow_raise: no "Surprised"
    assert synth["Neutral"].edits == {} and synth["Gentle smile"].edits == {"smile": 1.0}
    assert synth["Big smile"].edits == {"smile": 2.0, "mouth_open": 1.0}
    celeba = shipped_presets(CELEBA)
    assert celeba["Gentle smile"].edits == {"Smiling": 1.0}
    assert celeba["Eyes wide open"].edits == {"Narrow_Eyes": -1.5}       # the sign of that attribute
    assert list(shipped_presets(["yaw"])) == ["Neutral"]
    for p in PRESETS:   # every preset fits the app's sliders
        r = p.recipe_for([a for alts, _ in p.edits for a, _ in alts])
        assert all(abs(v) <= cb.SLIDER_MAX for v in r.edits.values())


def test_saved_recipes_are_listed_newest_first_after_the_presets(tmp_path):
    assert saved_recipes(tmp_path / "none") == {}
    old = cb.save_recipe(Recipe(edits={"smile": 1.5}), tmp_path)
    new = cb.save_recipe(Recipe(edits={"eye_open": -0.5, "smile": 0.2}), tmp_path)
    os.utime(old, ns=(1, 1))
    assert (old.stem, new.stem) == ("smile+1.5", "eye_open-0.5_smile+0.2")
    (tmp_path / "notes.txt").write_text("not a recipe")
    assert list(saved_recipes(tmp_path)) == [SAVED_PREFIX + new.stem, SAVED_PREFIX + old.stem]
    assert preset_choices(["smile"], tmp_path) == ["Neutral", "Gentle smile", SAVED_PREFIX + new.stem,
                                                   SAVED_PREFIX + old.stem]
    assert Recipe.load(new).edits == {"eye_open": -0.5, "smile": 0.2}    # the CLI's recipe format


# ------------------------------------------------------------------------------------ model info

def test_model_info_reads_the_folder_and_says_unknown_licence(tmp_path):
    shipped = read_model_info(SHIPPED)
    assert shipped.name == "synthfaces64" and shipped.trained_on.startswith("SynthFaces only")
    assert shipped.card.startswith("# Model card") and shipped.licence in (UNKNOWN_LICENCE, shipped.licence)
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"extra": {"license": "CC BY 4.0 (weights)",
                                                              "training": {"data": "CelebA train split"}}}))
    (folder / "README.md").write_text("# Card\nhello")
    info = read_model_info(folder)
    assert (info.name, info.licence, info.trained_on, info.card) == ("m", "CC BY 4.0 (weights)",
                                                                      "CelebA train split", "# Card\nhello")
    bare = read_model_info(tmp_path / "empty")
    assert bare.licence == UNKNOWN_LICENCE and bare.card == "" and bare.trained_on == ""
    head = header_markdown(bare, 3, 2, ["A", "B"], 64)
    assert "**Licence:** unknown" in head and "3 sliders (2 validated)" in head
    assert "becomes A's" in identity_note("A", "generic")
    assert "person's own" in identity_note(None, "generic") and "person's own" in identity_note("generic", "generic")


# ------------------------------------------------------------------------- errors stay local

def _fn(demo, api_name):
    return next(d.fn for d in demo.fns.values() if d.api_name == api_name)


def test_a_bad_recipe_is_one_message_beside_its_input_and_touches_no_control(editor, tmp_path):
    from latentedit.app import build_app

    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "broken.json").write_text('{"edits": {"smile": ')
    demo = build_app(editor, work_dir=str(tmp_path / "work"), recipes_dir=str(recipes))
    n_controls = 2 * len(ATTRIBUTES) + 4
    bad_file = tmp_path / "bad.json"
    bad_file.write_text('{"edits": {"frown": 1}}')
    cases = [("recipe_from_json", '{"edits": {"smile": ', 0, "recipe JSON: malformed JSON"),
             ("load_recipe", str(bad_file), 1, "bad.json"),
             ("preset", SAVED_PREFIX + "broken", 2, "broken.json: malformed JSON")]
    for api, arg, slot, text in cases:
        out = _fn(demo, api)(arg)
        controls, messages = out[:n_controls + 1], out[n_controls + 1:]      # the controls, their state, messages
        assert all(c == {"__type__": "update"} for c in controls), api     # gr.skip(): nothing changes
        shown = [m for m in messages if m["visible"]]
        assert len(shown) == 1 and messages[slot]["visible"] and text in messages[slot]["value"], api
    good = _fn(demo, "recipe_from_json")('{"edits": {"smile": 1.5}}')
    assert list(good[:n_controls]) == [0.0, 0.0, 1.5, False, False, False, "none", cb.DEFAULT_IDENTITY, "rct",
                                       "detail"]
    assert good[n_controls] == list(good[:n_controls])                      # the session's copy of the controls
    assert not any(m["visible"] for m in good[n_controls + 1:])


# ------------------------------------------------------------------------ faces and the preview

def test_face_map_numbers_each_face(editor, tmp_path):
    from latentedit.app.samples import list_samples

    two = next(s for s in list_samples() if s.name == "SynthFaces: two people")
    photo = cb.prepare_photo(editor, read_image(two.path), False, two.name)
    assert len(photo.faces) == 2
    thumb = cb.face_thumbnail(photo, max_side=300)
    assert max(thumb.shape[:2]) == 300 and thumb is cb.face_thumbnail(photo)
    s = thumb.shape[1] / photo.display.shape[1]
    for face in photo.preview:     # the box outline is drawn in the marker colour
        x0, y0, x1, y1 = (int(round(v * s)) for v in face.box)
        edge = thumb[min(y1, thumb.shape[0] - 1), x0 + 2:x1 - 2].astype(int)
        assert (np.abs(edge - (255, 210, 0)).sum(axis=1) < 40).mean() > 0.8


def test_slider_moves_edit_a_display_size_copy_and_save_edits_the_full_photo(editor, tmp_path):
    small = read_image(sample_photo(tmp_path / "p.png"))
    big = np.kron(small, np.ones((4, 4, 1), np.uint8))                 # 896×1024: over the display size
    photo = cb.prepare_photo(editor, big, False, "big.png", max_side=512)
    assert photo.display.shape[:2] == (448, 512) and photo.preview[0].image is photo.display
    assert photo.faces[0].image.shape == big.shape and photo.preview[0].z is photo.faces[0].z
    recipe, _ = cb.build_recipe(ATTRIBUTES, [0, 0, 2.0], [False] * 3, "mouth", None, "rct", "replace")
    preview = cb.apply_edit(editor, photo.preview, 0, recipe).image
    full = cb.apply_edit(editor, photo.faces, 0, recipe).image
    assert preview.shape == photo.display.shape and full.shape == big.shape
    # the preview is the full-resolution edit, seen at display size
    assert np.abs(preview.astype(int) - cb.fit_display(full, 512).astype(int)).mean() < 2.0
    path = cb.LiveImages(tmp_path / "live").write(preview)
    assert path.endswith(".jpg") and np.abs(read_image(path).astype(int) - preview).mean() < 3.0


def test_all_faces_edits_every_face(editor):
    from latentedit.app.samples import list_samples

    two = next(s for s in list_samples() if s.name == "SynthFaces: two people")
    photo = cb.prepare_photo(editor, read_image(two.path), False, two.name)
    recipe, _ = cb.build_recipe(ATTRIBUTES, [0, 0, 2.5], [False] * 3, "mouth", None, "rct", "replace")
    src = photo.display.astype(int)
    w = src.shape[1]

    def changed_columns(image):
        return np.nonzero(np.abs(image.astype(int) - src).sum(axis=(0, 2)))[0]

    one = changed_columns(cb.apply_edit(editor, photo.preview, 1, recipe).image)
    both = changed_columns(cb.apply_edit(editor, photo.preview, 1, recipe, all_faces=True).image)
    assert one.min() > w / 2 and both.min() < w / 2 < both.max()
