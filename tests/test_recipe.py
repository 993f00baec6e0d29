"""Recipe JSON round trip and validation messages."""
from __future__ import annotations

import json
import math

import pytest

from latentedit.edit.recipe import MergeOptions, Recipe, RecipeError, parse_assignment
from latentedit.errors import LatentEditError


def test_round_trip_json_and_file(tmp_path):
    r = Recipe(edits={"smile": 1.5, "eye_open": -0.5}, hold=["mouth_open"], region="mouth", identity="B",
               merge=MergeOptions(color="lct", blend="seamless", erode=-2, feather=7))
    again = Recipe.from_json(r.to_json())
    assert again == r
    d = json.loads(r.to_json())
    assert d["edits"] == {"smile": 1.5, "eye_open": -0.5} and d["merge"]["feather"] == 7
    p = r.save(tmp_path / "r.json")
    assert Recipe.load(p) == r
    with pytest.raises(LatentEditError, match="already exists"):
        r.save(p)
    # defaults fill in missing fields; ints become floats
    minimal = Recipe.from_dict({"edits": {"smile": 2}})
    assert minimal == Recipe(edits={"smile": 2.0}) and minimal.merge == MergeOptions()
    assert isinstance(minimal.edits["smile"], float)
    assert Recipe().is_identity_edit and not minimal.is_identity_edit


def test_validate_against_model():
    r = Recipe(edits={"smile": 1.0}, hold=["eye_open"], identity="B")
    assert r.validate(["smile", "eye_open"], ["A", "B"]) is r
    with pytest.raises(RecipeError, match=r"unknown attribute\(s\) 'smile'; known: eye_open, mouth_open"):
        r.validate(["eye_open", "mouth_open"], ["A", "B"])
    with pytest.raises(RecipeError, match="field 'hold'.*'eye_open'"):
        r.validate(["smile"], ["A", "B"])
    with pytest.raises(RecipeError, match="unknown identity 'B'; the model's decoders: A, generic"):
        r.validate(["smile", "eye_open"], ["A", "generic"])


@pytest.mark.parametrize("obj, match", [
    ({"edits": {"smile": math.inf}}, "edits.smile': alpha must be finite"),
    ({"edits": {"smile": "big"}}, "edits.smile': alpha must be a number"),
    ({"edits": {"smile": True}}, "alpha must be a number"),
    ({"region": "ears"}, "unknown region 'ears'; expected one of none, face, eyes, brows, nose, mouth"),
    ({"merge": {"color": "hsv"}}, "merge'.color: unknown colour mode 'hsv'"),
    ({"merge": {"feather": -1}}, "feather"),
    ({"merge": {"gamma": 1}}, r"unknown field\(s\) \['gamma'\]"),
    ({"edits": {"smile": 1}, "hold": ["smile"]}, "both edited and held"),
    ({"hold": "smile"}, "'hold' must be a list"),
    ({"strength": 1}, r"unknown field\(s\) \['strength'\]"),
    ({"format_version": 7}, "format_version"),
    ([1, 2], "expected a JSON object"),
])
def test_bad_fields_named(obj, match):
    with pytest.raises(RecipeError, match=match):
        Recipe.from_dict(obj, where="r.json")
    with pytest.raises(RecipeError, match="^r.json"):
        Recipe.from_dict(obj, where="r.json")


def test_malformed_file_named(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"edits": {"smile": 1.0,}}')
    with pytest.raises(RecipeError, match=r"bad.json: malformed JSON .* line 1 column"):
        Recipe.load(p)
    with pytest.raises(RecipeError, match="missing.json: recipe file not found"):
        Recipe.load(tmp_path / "missing.json")
    p.write_text('{"edits": {"smile": NaN}}')  # Python's json accepts NaN; the recipe must not
    with pytest.raises(RecipeError, match="bad.json: field 'edits.smile'"):
        Recipe.load(p)


def test_constructor_validates_and_parse_assignment():
    with pytest.raises(RecipeError, match="finite"):
        Recipe(edits={"smile": float("nan")})
    assert Recipe(merge={"color": "none"}).merge.color == "none"
    assert parse_assignment("smile=1.5") == ("smile", 1.5)
    assert parse_assignment(" eye_open = -2 ") == ("eye_open", -2.0)
    for bad in ("smile", "=1", "smile=x", "smile=inf"):
        with pytest.raises(RecipeError, match="--set"):
            parse_assignment(bad)
