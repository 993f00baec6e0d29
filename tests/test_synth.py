"""SynthFaces: determinism, attribute effects, ground truth, FaceSet and CLI round trips."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from latentedit.errors import LatentEditError
from latentedit.faceset import FaceSet
from latentedit.landmarks import GROUPS
from latentedit.synth import (EXPRESSION_ATTRIBUTES, IDENTITY_ATTRIBUTES, SYNTH_ATTRIBUTES, ExpressionParams,
                              IdentityParams, expression_params, identity_params, preview_grid, render,
                              render_batch, synth_faceset)

# a light-skinned, glasses-free person so that "dark pixel" counts measure the mouth, not the skin
PLAIN = IdentityParams(skin_tone=0.1, glasses=0.0, hair_style=0.0, hair_hue=0.5)


def _ear(lm: np.ndarray, eye: str) -> float:
    p = lm[list(GROUPS[eye])]
    return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * np.linalg.norm(p[0] - p[3])))


def test_render_contract_and_sizes():
    for size in (64, 96, 128, 256):
        r = render(PLAIN, ExpressionParams(), size)
        assert r.image.shape == (size, size, 3) and r.image.dtype == np.uint8
        assert r.landmarks.shape == (68, 2) and r.landmarks.dtype == np.float32
        assert set(r.masks) == {"face", "eyes", "brows", "nose", "mouth"}
        for m in r.masks.values():
            assert m.shape == (size, size) and m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1
        assert set(r.attributes) == set(SYNTH_ATTRIBUTES)
        # whole-face framing: centred, eyes ~40% from the top, chin in the lower part
        eyes_y = r.landmarks[36:48, 1].mean() / size
        assert 0.36 < eyes_y < 0.44
        assert abs(r.landmarks[:, 0].mean() / size - 0.5) < 0.05
        assert 0.8 < r.landmarks[8, 1] / size < 0.92
    with pytest.raises(ValueError, match="size"):
        render(PLAIN, ExpressionParams(), 16)


def test_render_is_deterministic_and_images_vary():
    a = render(identity_params(3, 1), expression_params(3, 1, 2), 64)
    b = render(identity_params(3, 1), expression_params(3, 1, 2), 64)
    assert a.image.tobytes() == b.image.tobytes()
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    c = render(identity_params(3, 2), expression_params(3, 1, 2), 64)
    assert np.abs(a.image.astype(int) - c.image.astype(int)).mean() > 5
    assert identity_params(5, 7) == identity_params(5, 7) and identity_params(5, 7) != identity_params(6, 7)


def test_params_round_trip_and_validation(rng):
    for _ in range(20):
        ident, expr = IdentityParams.sample(rng), ExpressionParams.sample(rng)
        assert IdentityParams.from_attributes(ident.to_attributes()) == ident
        assert ExpressionParams.from_attributes({**ident.to_attributes(), **expr.to_attributes()}) == expr
        assert all(isinstance(v, float) for v in ident.to_attributes().values())
        assert 0 <= ident.hair_style <= 4 and ident.hair_style == int(ident.hair_style)
        assert -1 <= expr.yaw <= 1 and 0 <= expr.eye_open <= 1
    assert tuple(IDENTITY_ATTRIBUTES) + tuple(EXPRESSION_ATTRIBUTES) == SYNTH_ATTRIBUTES
    for name in ("face_width", "jaw", "skin_tone", "hair_style", "hair_hue", "eye_hue", "eye_size", "nose_length",
                 "nose_width", "mouth_width", "brow_thickness", "glasses"):
        assert name in IDENTITY_ATTRIBUTES
    for name in ("eye_open", "brow_raise", "smile", "mouth_open", "gaze_x", "gaze_y", "yaw", "pitch", "roll",
                 "light_angle", "light_strength", "background"):
        assert name in EXPRESSION_ATTRIBUTES
    with pytest.raises(LatentEditError, match="smile"):
        ExpressionParams(smile=1.5)
    with pytest.raises(LatentEditError, match="nose_length"):
        IdentityParams.from_attributes({k: 0.5 for k in IDENTITY_ATTRIBUTES if k != "nose_length"})


def test_mouth_open_darkens_the_mouth():
    def dark_in_mouth(mouth_open):
        r = render(PLAIN, ExpressionParams(mouth_open=mouth_open), 128)
        lum = r.image.astype(np.float32).mean(2) / 255
        return int(((lum < 0.3) & (r.masks["mouth"] > 0.5)).sum())

    closed, half, wide = dark_in_mouth(0.0), dark_in_mouth(0.5), dark_in_mouth(1.0)
    assert closed < half < wide and wide > 40


def test_smile_raises_mouth_corners():
    def corner_lift(smile):
        lm = render(PLAIN, ExpressionParams(smile=smile), 128).landmarks
        centre = 0.5 * (lm[51, 1] + lm[57, 1])
        return centre - 0.5 * (lm[48, 1] + lm[54, 1])  # positive = corners above the lip centre

    frown, neutral, smile = corner_lift(-1.0), corner_lift(0.0), corner_lift(1.0)
    assert frown < neutral < smile and smile - neutral > 2.0


def test_eye_open_grows_eyes():
    shut = render(PLAIN, ExpressionParams(eye_open=0.0), 128)

    def measure(eye_open):
        r = render(PLAIN, ExpressionParams(eye_open=eye_open), 128)
        # visible eyeball = pixels inside the eyes mask that differ clearly from the closed eye
        diff = np.abs(r.image.astype(np.float32) - shut.image.astype(np.float32)).max(2) / 255
        return _ear(r.landmarks, "right_eye"), _ear(r.landmarks, "left_eye"), int(((diff > 0.12) &
                                                                                   (r.masks["eyes"] > 0.5)).sum())

    closed, mid, wide = measure(0.0), measure(0.5), measure(1.0)
    assert closed[0] < 0.05 and closed[2] == 0
    assert mid[0] < wide[0] and mid[1] < wide[1] and 0.25 < wide[0] < 0.45
    assert 20 < mid[2] < wide[2]
    # the open eye shows a dark pupil at the iris centre and a bright sclera towards the corner
    from latentedit.synth.geometry import build_geometry

    expr = ExpressionParams(eye_open=1.0)
    img = render(PLAIN, expr, 128).image.astype(np.float32).mean(2)
    geo = build_geometry(PLAIN, expr, 128)
    for (centre, radius), outer in zip(geo.irises, (36, 45)):
        px = np.round(centre + [0, 0.3 * radius]).astype(int)  # just below the catch-light
        sclera = np.round(centre + (geo.landmarks[outer] - centre) * 0.7).astype(int)
        assert img[px[1], px[0]] < 70 and img[sclera[1], sclera[0]] > img[px[1], px[0]] + 80


def test_identity_and_pose_parameters_move_their_landmarks():
    short = render(replace(PLAIN, nose_length=0.0), ExpressionParams(), 128).landmarks
    long_ = render(replace(PLAIN, nose_length=1.0), ExpressionParams(), 128).landmarks
    assert long_[33, 1] - short[33, 1] > 3.0
    np.testing.assert_allclose(long_[36:48], short[36:48])  # the eyes stay put
    left = render(PLAIN, ExpressionParams(yaw=-0.8), 128).landmarks
    front = render(PLAIN, ExpressionParams(yaw=0.0), 128).landmarks
    right = render(PLAIN, ExpressionParams(yaw=0.8), 128).landmarks
    assert left[30, 0] + 5 < front[30, 0] < right[30, 0] - 5
    # relative to the face outline too, not just a translation
    assert (right[30, 0] - right[0:17, 0].mean()) > (front[30, 0] - front[0:17, 0].mean()) + 3
    up = render(PLAIN, ExpressionParams(brow_raise=1.0), 128).landmarks
    assert (front[17:27, 1] - up[17:27, 1]).min() > 1.5


@pytest.mark.parametrize("name, low, high, measure", [
    ("mouth_width", 0.0, 1.0, lambda lm: lm[54, 0] - lm[48, 0]),
    ("eye_size", 0.0, 1.0, lambda lm: lm[39, 0] - lm[36, 0]),
    ("face_width", 0.0, 1.0, lambda lm: lm[16, 0] - lm[0, 0]),
    ("nose_width", 0.0, 1.0, lambda lm: lm[35, 0] - lm[31, 0]),
    ("face_shape", 0.0, 1.0, lambda lm: lm[8, 1] - lm[27, 1]),
])
def test_identity_shape_parameters(name, low, high, measure):
    a = render(replace(PLAIN, **{name: low}), ExpressionParams(), 128).landmarks
    b = render(replace(PLAIN, **{name: high}), ExpressionParams(), 128).landmarks
    assert measure(b) - measure(a) > 1.5


def test_pose_gaze_and_scene_parameters():
    lm = lambda **kw: render(PLAIN, ExpressionParams(**kw), 128).landmarks  # noqa: E731
    eye_angle = lambda p: np.degrees(np.arctan2(p[45, 1] - p[36, 1], p[45, 0] - p[36, 0]))  # noqa: E731
    assert eye_angle(lm(roll=1.0)) > 10 and eye_angle(lm(roll=-1.0)) < -10
    # pitching up moves the nose tip up relative to the eyes (it sticks out towards the camera)
    nose_drop = lambda p: p[30, 1] - p[36:48, 1].mean()  # noqa: E731
    assert nose_drop(lm(pitch=1.0)) < nose_drop(lm(pitch=-1.0)) - 3
    # gaze moves the iris (darkest pixels inside the eye) sideways
    def pupil_x(gaze_x):
        r = render(PLAIN, ExpressionParams(gaze_x=gaze_x, eye_open=1.0), 128)
        lum = r.image.astype(np.float32).mean(2)
        x0, x1 = int(r.landmarks[36, 0]), int(r.landmarks[39, 0]) + 1
        y0, y1 = int(r.landmarks[37:39, 1].min()), int(r.landmarks[40:42, 1].max()) + 1
        patch = lum[y0:y1, x0:x1]
        return x0 + np.unravel_index(np.argmin(patch), patch.shape)[1]
    assert pupil_x(-1.0) + 2 <= pupil_x(1.0)
    # the light side of the face is brighter
    def sides(angle):
        r = render(PLAIN, ExpressionParams(light_angle=angle, light_strength=1.0), 96)
        lum, m = r.image.astype(np.float32).mean(2), r.masks["face"] > 0.9
        return lum[:, :48][m[:, :48]].mean(), lum[:, 48:][m[:, 48:]].mean()
    left_lit, right_lit = sides(-1.0), sides(1.0)
    assert left_lit[0] > left_lit[1] + 20 and right_lit[1] > right_lit[0] + 20
    # skin tone darkens the face; the background parameter changes the corners, not the face
    light = render(replace(PLAIN, skin_tone=0.0), ExpressionParams(), 96)
    dark = render(replace(PLAIN, skin_tone=1.0), ExpressionParams(), 96)
    face = light.masks["face"] > 0.9
    assert light.image[face].mean() > dark.image[face].mean() + 60
    bg2 = render(PLAIN, ExpressionParams(background=0.05), 96).image.astype(int)
    bg1 = render(PLAIN, ExpressionParams(background=0.55), 96).image.astype(int)
    assert np.abs(bg1[:8, :8] - bg2[:8, :8]).mean() > 20
    inner = render(PLAIN, ExpressionParams(background=0.55), 96).masks["nose"] > 0.9
    assert abs((bg1[inner] - bg2[inner]).mean()) < 1.5  # only the per-image grain differs


def test_glasses_and_hair_styles_change_the_image():
    plain = render(PLAIN, ExpressionParams(), 96).image.astype(int)
    glasses = render(replace(PLAIN, glasses=2.0), ExpressionParams(), 96)
    diff = np.abs(glasses.image.astype(int) - plain).max(2) > 40
    assert diff[glasses.masks["eyes"] > 0.5].sum() > 30 and diff[glasses.masks["mouth"] > 0.5].sum() == 0
    images = [render(replace(PLAIN, hair_style=float(s)), ExpressionParams(), 96).image.astype(int) for s in range(5)]
    for i in range(5):
        for j in range(i + 1, 5):
            assert np.abs(images[i] - images[j]).mean() > 1.0, (i, j)


def test_landmarks_lie_inside_their_region_masks(rng):
    regions = {"eyes": GROUPS["right_eye"] + GROUPS["left_eye"], "brows": GROUPS["right_brow"] + GROUPS["left_brow"],
               "nose": GROUPS["nose_bridge"] + GROUPS["nose_lower"],
               "mouth": GROUPS["outer_lips"] + GROUPS["inner_lips"], "face": tuple(range(68))}
    for _ in range(6):
        r = render(IdentityParams.sample(rng), ExpressionParams.sample(rng), 96)
        for region, idx in regions.items():
            xy = np.round(r.landmarks[list(idx)]).astype(int)
            vals = r.masks[region][xy[:, 1].clip(0, 95), xy[:, 0].clip(0, 95)]
            assert vals.min() > 0.5, (region, vals.min())


def test_features_are_drawn_at_their_landmarks():
    r = render(PLAIN, ExpressionParams(mouth_open=0.8, eye_open=1.0), 128)
    img = r.image.astype(np.float32).mean(2)
    lm = r.landmarks
    # mouth interior (between the inner lips) is darker than the cheek beside it
    inside = img[int(0.5 * (lm[62, 1] + lm[66, 1])) + 2, int(lm[62, 0])]
    cheek = img[int(lm[48, 1]), int(lm[48, 0] - 0.06 * 128)]
    assert inside < cheek - 40
    # brows are darker than the forehead above them
    for i in (19, 24):
        brow = img[int(round(lm[i, 1] + 1)), int(lm[i, 0])]
        forehead = img[int(lm[i, 1] - 0.05 * 128), int(lm[i, 0])]
        assert brow < forehead - 20
    # the jaw outline separates face from background: skin inside the chin, not outside
    assert r.masks["face"][int(lm[8, 1]) - 3, int(lm[8, 0])] > 0.5


def test_ground_truth_swap_keeps_b_identity_and_a_expression():
    a_id, b_id = identity_params(0, 0), identity_params(0, 1)
    a_expr = ExpressionParams(smile=0.8, yaw=0.5, eye_open=0.4, mouth_open=0.3)
    swapped = render(b_id, a_expr, 64)
    attrs = swapped.attributes
    assert {k: attrs[k] for k in IDENTITY_ATTRIBUTES} == b_id.to_attributes()
    assert {k: attrs[k] for k in EXPRESSION_ATTRIBUTES} == a_expr.to_attributes()
    a = render(a_id, a_expr, 64)
    assert np.abs(a.image.astype(int) - swapped.image.astype(int)).mean() > 3
    # the same expression gives the same mouth-corner lift on both identities
    lift = lambda lm: 0.5 * (lm[51, 1] + lm[57, 1]) - 0.5 * (lm[48, 1] + lm[54, 1])  # noqa: E731
    assert lift(a.landmarks) > 0 and lift(swapped.landmarks) > 0


def test_render_batch_matches_render():
    ids = [identity_params(1, i) for i in range(3)]
    exs = [expression_params(1, i, 0) for i in range(3)]
    batch = render_batch(ids, exs, 64, workers=2)
    for r, i, e in zip(batch, ids, exs):
        assert r.image.tobytes() == render(i, e, 64).image.tobytes()
    with pytest.raises(ValueError):
        render_batch(ids, exs[:2], 64)


def test_synth_faceset_round_trip_and_prefix_stability(tmp_path):
    fs = synth_faceset(tmp_path / "a", identities=2, per_identity=3, size=64, seed=7, progress=False)
    assert len(fs) == 6 and fs.identities == ["id000", "id001"]
    for k, rec in enumerate(fs.records):
        i, j = divmod(k, 3)
        expected = render(identity_params(7, i), expression_params(7, i, j), 64)
        np.testing.assert_array_equal(fs.read_image(k), expected.image)
        np.testing.assert_allclose(rec.landmarks, expected.landmarks, atol=1e-3)
        assert rec.attributes == pytest.approx(expected.attributes)
        assert set(rec.attribute_sources.values()) == {"ground_truth"}
        np.testing.assert_array_equal(rec.affine, [[1, 0, 0], [0, 1, 0]])
        assert rec.source == {"file": "synth:seed=7", "frame": k} and rec.extra["synth_seed"] == 7
    # more identities: the first two are byte-identical
    fs3 = synth_faceset(tmp_path / "b", identities=3, per_identity=3, size=64, seed=7, progress=False)
    for k in range(6):
        assert fs3.image_path(k).read_bytes() == fs.image_path(k).read_bytes()
    with pytest.raises(LatentEditError, match="already holds a FaceSet"):
        synth_faceset(tmp_path / "a", identities=1, per_identity=1, size=64, progress=False)
    with pytest.raises(LatentEditError, match="identities"):
        synth_faceset(tmp_path / "c", identities=0, per_identity=1, size=64, progress=False)


def test_cli_synth_in_process(tmp_path, capsys):
    from latentedit.cli import main as cli_main

    class cli:  # noqa: N801
        main = staticmethod(cli_main)

    out = tmp_path / "set"
    assert cli.main(["synth", "--out", str(out), "--identities", "2", "--per-identity", "2", "--size", "64",
                     "--seed", "3", "--no-progress", "--preview", str(tmp_path / "p.png"),
                     "--preview-rows", "2", "--preview-cols", "3"]) == 0
    fs = FaceSet(out)
    assert len(fs) == 4 and fs.identities == ["id000", "id001"]
    assert set(fs.attribute_names) == set(SYNTH_ATTRIBUTES)
    first = json.loads((out / "faces.jsonl").read_text().splitlines()[0])
    assert first["attributes"] == pytest.approx(render(identity_params(3, 0), expression_params(3, 0, 0),
                                                       64).attributes)
    from latentedit._io import read_image
    assert read_image(tmp_path / "p.png").shape == (128, 192, 3)
    # refuses to overwrite the FaceSet or the preview
    assert cli.main(["synth", "--out", str(out), "--size", "64", "--no-progress"]) == 2
    assert "already holds a FaceSet" in capsys.readouterr().err
    assert cli.main(["synth", "--preview-only", str(tmp_path / "p.png")]) == 2
    assert cli.main(["synth"]) == 2
    assert cli.main(["synth", "--preview-only", str(tmp_path / "r.png"), "--size", "16"]) == 2
    assert "size" in capsys.readouterr().err
    assert cli.main(["synth", "--preview-only", str(tmp_path / "q.png"), "--size", "64",
                     "--preview-rows", "1", "--preview-cols", "2"]) == 0
    assert read_image(tmp_path / "q.png").shape == (64, 128, 3)
    assert not (tmp_path / "q").exists()


def test_preview_grid_layout():
    g = preview_grid(2, 3, size=64, seed=0)
    assert g.shape == (128, 192, 3) and g.dtype == np.uint8
    first = render(identity_params(0, 0), ExpressionParams(background=0.55), 64).image
    np.testing.assert_array_equal(g[:64, :64], first)


def test_synth_dataset_matches_the_faceset(tmp_path):
    import torch

    from latentedit.synth import SynthDataset

    fs = synth_faceset(tmp_path / "s", identities=2, per_identity=2, size=64, seed=4, progress=False)
    ds = SynthDataset(identities=2, per_identity=2, size=64, seed=4)
    assert len(ds) == len(fs) == 4 and ds.identities == fs.identities
    for k in range(4):
        a, b = ds[k], fs[k]
        assert torch.equal(a["image"], b["image"]) and a["identity"] == b["identity"]
        assert a["attributes"] == pytest.approx(b["attributes"])
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["image"].shape == (3, 3, 64, 64) and batch["identity"] == ["id000", "id000", "id001"]
    assert ds[-1]["index"] == 3
    with pytest.raises(IndexError):
        ds[4]
    with pytest.raises(LatentEditError, match="per_identity"):
        SynthDataset(identities=2, per_identity=0)
