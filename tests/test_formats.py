"""The one versioned-file helper (latentedit.formats) and the formats written through it."""
from __future__ import annotations

import json

import pytest

from latentedit.edit.recipe import MergeOptions, RECIPE_FORMAT, Recipe, RecipeError
from latentedit.errors import FaceSetError, ModelFormatError
from latentedit.faceset import FACESET_FORMAT, HEADER_NAME, FaceSet
from latentedit.formats import MAX_JSON_BYTES, FileFormat
from latentedit.framing import TEMPLATE_FORMAT
from latentedit.latent.boundary import BOUNDARY_FORMAT
from latentedit.synth import synth_faceset
from latentedit.train.state import RUN_CONFIG_FORMAT

FMT = FileFormat("latentedit.thing", 2, required={"n": (int,), "x": (float,), "name": (str,)}, what="thing")


def _write(tmp_path, obj, name="thing.json"):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


def test_write_stamps_kind_and_version_first(tmp_path):
    path = FMT.write(tmp_path / "t.json", {"kind": "old", "format_version": 9, "n": 1, "x": 2, "name": "a"})
    obj = json.loads(path.read_text())
    assert list(obj)[:2] == ["kind", "format_version"]
    assert obj["kind"] == "latentedit.thing" and obj["format_version"] == 2
    assert FMT.read(path) == obj


@pytest.mark.parametrize("obj, message", [
    ([1, 2], "expected a JSON object, got a list"),
    ({"kind": "latentedit.recipe", "format_version": 1}, "field 'kind' is 'latentedit.recipe', expected 'latentedit.thing'"),
    ({"format_version": 3, "n": 1, "x": 1.0, "name": "a"}, "thing format_version 3 is newer than this latentedit reads (up to 2)"),
    ({"format_version": True, "n": 1, "x": 1.0, "name": "a"}, "field 'format_version' must be a positive integer, got True"),
    ({"format_version": 0, "n": 1, "x": 1.0, "name": "a"}, "field 'format_version' must be a positive integer, got 0"),
    ({"n": 1, "x": 1.0, "name": "a"}, "field 'format_version' must be a positive integer, got None"),
    ({"format_version": 2, "x": 1.0, "name": "a"}, "field 'n' is missing"),
    ({"format_version": 2, "n": "1", "x": 1.0, "name": "a"}, "field 'n' must be an integer, got '1' (a string)"),
    ({"format_version": 2, "n": False, "x": 1.0, "name": "a"}, "field 'n' must be an integer, got False (true/false)"),
    ({"format_version": 2, "n": 1, "x": None, "name": "a"}, "field 'x' must be a number, got None (null)"),
])
def test_read_names_the_file_and_the_field(tmp_path, obj, message):
    path = _write(tmp_path, obj)
    with pytest.raises(ModelFormatError) as exc:
        FMT.read(path)
    assert str(exc.value).startswith(f"{path}: ") and message in str(exc.value)


def test_integers_are_numbers_and_digit_strings_are_versions(tmp_path):
    assert FMT.read(_write(tmp_path, {"format_version": "2", "n": 1, "x": 3, "name": "a"}))["x"] == 3
    assert FMT.read(_write(tmp_path, {"n": 1, "x": 3, "name": "a"}), default_version=1)["n"] == 1


@pytest.mark.parametrize("content, message", [
    ("{not json", "malformed JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
    ("[" * 100_000, "malformed JSON (nested too deeply"),
    (b"\xff\xfe{}", "not UTF-8 text"),
])
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "t.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ModelFormatError, match="t.json: " + message.replace("(", r"\(").replace(")", r"\)")):
        FMT.read(path)


def test_missing_and_oversized_files(tmp_path):
    with pytest.raises(ModelFormatError, match="thing file not found"):
        FMT.read(tmp_path / "absent.json")
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(MAX_JSON_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ModelFormatError, match="larger than any thing file"):
        FMT.read(big)


def test_each_format_keeps_its_callers_exception():
    assert RECIPE_FORMAT.error is RecipeError and FACESET_FORMAT.error is FaceSetError
    assert BOUNDARY_FORMAT.error is TEMPLATE_FORMAT.error is ModelFormatError
    kinds = [f.kind for f in (RECIPE_FORMAT, FACESET_FORMAT, BOUNDARY_FORMAT, TEMPLATE_FORMAT, RUN_CONFIG_FORMAT)]
    assert len(set(kinds)) == len(kinds) and all(k.startswith("latentedit.") for k in kinds)


def test_recipes_round_trip_and_old_recipes_load(tmp_path):
    recipe = Recipe(edits={"smile": 1.5}, hold=["mouth_open"])
    saved = json.loads(recipe.to_json())
    assert saved["kind"] == "latentedit.recipe" and saved["format_version"] == 2
    assert saved["merge"]["mode"] == "detail"
    assert Recipe.from_json(recipe.to_json()) == recipe
    old = {"format_version": 1, "edits": {"smile": 1.0}}   # written before 'kind' and detail mode existed
    assert Recipe.from_dict(old).edits == {"smile": 1.0}
    assert Recipe.from_dict(old).merge.mode == "replace"   # a v1 recipe keeps the picture it gave
    assert Recipe.from_dict({"format_version": "1", "merge": {"color": "lct"}}).merge == MergeOptions(
        mode="replace", color="lct")
    with pytest.raises(RecipeError, match="merge.mode' needs format_version 2"):
        Recipe.from_dict({"format_version": 1, "merge": {"mode": "detail"}})
    by_hand = Recipe.from_dict({"edits": {"smile": 1.0}})   # no header at all: today's defaults
    assert by_hand.edits == {"smile": 1.0} and by_hand.merge.mode == "detail"
    with pytest.raises(RecipeError, match="unknown merge mode 'warp'"):
        Recipe.from_dict({"merge": {"mode": "warp"}})
    with pytest.raises(RecipeError, match="field 'kind' is 'latentedit.boundary'"):
        Recipe.from_dict({"kind": "latentedit.boundary", "edits": {}})


def test_a_faceset_gets_a_header_and_old_ones_load(tmp_path):
    root = tmp_path / "faces"
    synth_faceset(root, identities=1, per_identity=2, size=64, seed=0, progress=False)
    header = json.loads((root / HEADER_NAME).read_text())
    assert header == {"kind": "latentedit.faceset", "format_version": 1, "index": "faces.jsonl"}
    (root / HEADER_NAME).unlink()                      # a FaceSet written before the header existed
    assert len(FaceSet(root)) == 2
    (root / HEADER_NAME).write_text(json.dumps({**header, "format_version": 7}))
    with pytest.raises(FaceSetError, match="FaceSet header format_version 7 is newer"):
        FaceSet(root)
