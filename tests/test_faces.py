"""Detection, landmarks, alignment, scores and identity on real photos shipped with skimage/matplotlib."""
from __future__ import annotations

import numpy as np
import pytest

from latentedit.faces import (MEASURED_ATTRIBUTES, align_face, canonical_landmarks, compute_descriptor,
                              detect_faces, identity_distance, landmark_scores, landmark_scores_batch,
                              same_person, similarity_transform, transform_points)
from latentedit.faces.meanface import MEAN_FACE, mirror_landmarks

# Hand-checked pixel boxes (x0, y0, x1, y1) drawn on a magnified grid of each photo.
ASTRONAUT_BOXES = {"right_eye": (185, 90, 222, 112), "left_eye": (228, 90, 262, 112), "mouth": (195, 130, 255, 160)}
HOPPER_BOXES = {"right_eye": (195, 175, 250, 210), "left_eye": (285, 170, 340, 205), "mouth": (220, 258, 320, 295)}


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    import matplotlib.cbook as cbook

    from latentedit._io import read_image

    return read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def _inside(points: np.ndarray, box) -> bool:
    x0, y0, x1, y1 = box
    return bool(np.all((points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)))


@pytest.mark.parametrize("name,boxes", [("astronaut", ASTRONAUT_BOXES), ("hopper", HOPPER_BOXES)])
def test_landmarks_land_on_eyes_and_mouth(request, name, boxes):
    image = request.getfixturevalue(name)
    dets = detect_faces(image)
    assert len(dets) == 1
    lm = dets[0].landmarks
    assert lm.shape == (68, 2) and lm.dtype == np.float32
    assert _inside(lm[36:42], boxes["right_eye"])
    assert _inside(lm[42:48], boxes["left_eye"])
    assert _inside(lm[[48, 54, 51, 57]], boxes["mouth"])
    x0, y0, x1, y1 = dets[0].box
    assert x0 < lm[36, 0] < x1 and y0 < lm[36, 1] < y1


def test_aligned_crop_puts_eyes_at_canonical_positions(astronaut, hopper):
    size = 128
    canon = canonical_landmarks(size)
    for image in (astronaut, hopper):
        det = detect_faces(image)[0]
        face = align_face(image, det.landmarks, size)
        assert face.crop.shape == (size, size, 3) and face.crop.dtype == np.uint8
        assert face.affine.shape == (2, 3)
        # the affine maps the source landmarks to the stored crop landmarks
        np.testing.assert_allclose(transform_points(det.landmarks, face.affine), face.landmarks, atol=1e-3)
        for eye in (slice(36, 42), slice(42, 48)):
            err = np.linalg.norm(face.landmarks[eye].mean(0) - canon[eye].mean(0))
            assert err < 0.04 * size, err
        # the crop really shows the face there: the eye pixels are darker than the cheek below them
        eye_c = face.landmarks[36:42].mean(0).round().astype(int)
        cheek = (eye_c + [0, int(0.12 * size)])
        eye_lum = face.crop[eye_c[1] - 1:eye_c[1] + 2, eye_c[0] - 2:eye_c[0] + 3].mean()
        cheek_lum = face.crop[cheek[1] - 1:cheek[1] + 2, cheek[0] - 2:cheek[0] + 3].mean()
        assert eye_lum < cheek_lum


def test_canonical_face_is_symmetric_whole_face_framing():
    c = canonical_landmarks(256)
    np.testing.assert_allclose(mirror_landmarks(MEAN_FACE), MEAN_FACE, atol=1e-5)
    assert c[36, 0] < c[45, 0]  # subject's right eye is on the image left
    assert 0.8 * 256 < c[8, 1] < 0.95 * 256  # chin near the bottom
    assert c[17:27, 1].min() > 0.15 * 256  # room for the forehead above the brows
    assert c[:, 0].min() > 0.1 * 256 and c[:, 0].max() < 0.9 * 256


def test_similarity_transform_recovers_known_transform(rng):
    src = rng.normal(size=(20, 2)) * 50
    ang, s, t = 0.3, 1.7, np.array([12.0, -4.0])
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = src @ (s * r).T + t
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], s * r, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)


def test_align_large_downscale_is_antialiased(astronaut):
    """A face upscaled 6x then aligned small must match aligning the original (area pre-scaling)."""
    import cv2

    det = detect_faces(astronaut)[0]
    big = cv2.resize(astronaut, (512 * 6, 512 * 6), interpolation=cv2.INTER_CUBIC)
    a = align_face(astronaut, det.landmarks, 64).crop.astype(float)
    b = align_face(big, (det.landmarks + 0.5) * 6 - 0.5, 64).crop.astype(float)
    assert np.abs(a - b).mean() < 6.0


def test_detect_rejects_bad_arrays(astronaut):
    with pytest.raises(ValueError, match="uint8"):
        detect_faces(astronaut.astype(np.float32))
    with pytest.raises(ValueError, match="detector"):
        detect_faces(astronaut, detector="mtcnn")
    assert detect_faces(np.zeros((64, 64, 3), np.uint8)) == []
    grey = detect_faces(astronaut.mean(axis=2).astype(np.uint8))  # H×W greyscale is accepted
    colour = detect_faces(astronaut)[0]
    assert np.abs(grey[0].landmarks - colour.landmarks).mean() < 3.0


# -- landmark scores --------------------------------------------------------------------------------

def _synthetic_face(mouth_open=0.0, smile=0.0, eye_open=1.0, brow=0.0, nose=1.0) -> np.ndarray:
    """The mean face (in 200-px units) with parts moved."""
    p = MEAN_FACE.astype(np.float64).copy() * 200
    inner_top, inner_bot = [61, 62, 63], [67, 66, 65]
    p[inner_bot, 1] += mouth_open * 20
    p[[56, 57, 58], 1] += mouth_open * 20
    p[[48, 60], 0] -= smile * 6
    p[[54, 64], 0] += smile * 6
    p[[48, 54, 60, 64], 1] -= smile * 8
    for eye in (36, 42):
        c = p[eye:eye + 6, 1].mean()
        for i in (1, 2, 4, 5):
            p[eye + i, 1] = c + (p[eye + i, 1] - c) * eye_open
    p[17:27, 1] -= brow * 10
    c = p[31:36].mean(0)
    p[31:36] = c + (p[31:36] - c) * [nose, 1.0]
    return p


def test_scores_move_the_right_way():
    base = landmark_scores(_synthetic_face())
    assert set(base) == set(MEASURED_ATTRIBUTES)
    assert landmark_scores(_synthetic_face(mouth_open=1))["mouth_open_score"] > base["mouth_open_score"] + 0.03
    assert landmark_scores(_synthetic_face(smile=1))["smile_score"] > base["smile_score"] + 0.03
    assert landmark_scores(_synthetic_face(eye_open=0.3))["eye_open_score"] < base["eye_open_score"] * 0.5
    assert landmark_scores(_synthetic_face(brow=1))["brow_raise_score"] > base["brow_raise_score"] + 0.02
    wide = landmark_scores(_synthetic_face(nose=1.4))
    assert wide["nose_width_score"] > base["nose_width_score"] * 1.3
    assert wide["nose_size_score"] > base["nose_size_score"]
    # an open mouth does not read as a smile and vice versa
    assert abs(landmark_scores(_synthetic_face(mouth_open=1))["smile_score"] - base["smile_score"]) < 0.03


def test_scores_invariant_to_roll_scale_and_translation(rng):
    face = _synthetic_face(mouth_open=0.5, smile=0.5)
    ref = landmark_scores(face)
    for _ in range(5):
        ang = rng.uniform(-0.6, 0.6)
        s = rng.uniform(0.3, 4.0)
        r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        moved = face @ (s * r).T + rng.uniform(-500, 500, size=2)
        got = landmark_scores(moved)
        for k in ref:
            assert got[k] == pytest.approx(ref[k], rel=1e-6, abs=1e-9)


def _yawed(face2d: np.ndarray, degrees: float) -> np.ndarray:
    """Turn a frontal 2-D face about the vertical axis using a rough depth model (curved face, nose forward)."""
    p = face2d - face2d.mean(axis=0)
    half = np.abs(p[:, 0]).max()
    z = 0.6 * half * (1 - (p[:, 0] / half) ** 2)  # cheeks recede towards the jaw's sides
    z[27:36] += 0.25 * half * np.linspace(0.3, 1.0, 9)  # the nose sticks out
    t = np.radians(degrees)
    return np.stack([p[:, 0] * np.cos(t) + z * np.sin(t), p[:, 1]], axis=1)


def test_scores_corrected_for_yaw():
    from latentedit.faces.scores import landmark_features

    face = _synthetic_face(mouth_open=0.8)
    front, turned = landmark_scores(_yawed(face, 0)), landmark_scores(_yawed(face, 35))
    # the plain lip gap over the eye distance grows by 1/cos(35°) ≈ 1.22; the corrected score much less
    plain = [landmark_features(_yawed(face, a))["mouth_gap"][0] / landmark_features(_yawed(face, a))["cos_yaw"][0]
             for a in (0, 35)]
    assert plain[1] / plain[0] > 1.15
    assert abs(turned["mouth_open_score"] / front["mouth_open_score"] - 1) < 0.08
    assert landmark_features(_yawed(face, 35))["cos_yaw"][0] < 0.95
    assert landmark_features(_yawed(face, 0))["cos_yaw"][0] > 0.99


def test_scores_batch_matches_single_and_validates(rng):
    faces = np.stack([_synthetic_face(mouth_open=m) for m in (0, 0.5, 1)])
    batch = landmark_scores_batch(faces)
    for i in range(3):
        single = landmark_scores(faces[i])
        for k in single:
            assert batch[k][i] == pytest.approx(single[k])
    with pytest.raises(ValueError, match="68"):
        landmark_scores(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        landmark_scores(np.full((68, 2), np.nan))


# -- identity ---------------------------------------------------------------------------------------

def test_identity_distance_same_and_different_person(astronaut, hopper):
    import cv2

    d_astro = detect_faces(astronaut)[0]
    d_hop = detect_faces(hopper)[0]
    a = compute_descriptor(astronaut, d_astro.landmarks)
    h = compute_descriptor(hopper, d_hop.landmarks)
    assert a.shape == (128,) and a.dtype == np.float32
    # the same photo, mirrored and rescaled, is the same person
    flipped = np.ascontiguousarray(cv2.resize(astronaut[:, ::-1], (400, 400), interpolation=cv2.INTER_AREA))
    a2 = compute_descriptor(flipped, detect_faces(flipped)[0].landmarks)
    assert identity_distance(a, a2) < 0.4
    assert same_person(a, a2)
    assert identity_distance(a, h) > 0.6
    assert not same_person(a, h)
    batch = identity_distance(np.stack([a, h]), a)
    assert batch.shape == (2,) and batch[0] == pytest.approx(0.0, abs=1e-6)
    assert list(same_person(np.stack([a, h]), a)) == [True, False]
    with pytest.raises(ValueError, match="128"):
        identity_distance(np.zeros(64), np.zeros(64))


def test_rotated_face_found_by_rotation_fallback(astronaut):
    import cv2

    upright = detect_faces(astronaut)[0]
    m = cv2.getRotationMatrix2D((255.5, 255.5), 50, 1.0)  # beyond what HOG finds upright
    rotated = cv2.warpAffine(astronaut, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
    assert detect_faces(rotated, rotations=()) == []
    dets = detect_faces(rotated)
    assert len(dets) >= 1
    expected = transform_points(upright.landmarks, m)
    assert np.abs(dets[0].landmarks - expected).mean() < 4.0


def test_large_photo_coarse_pass_matches_full_search(astronaut):
    import cv2

    big = cv2.resize(astronaut, (1800, 1800), interpolation=cv2.INTER_CUBIC)
    canvas = np.zeros((1800, 2400, 3), np.uint8)
    canvas[:, 300:2100] = big
    fast = detect_faces(canvas)  # adaptive: found on a 1024-px copy, landmarks fitted at full resolution
    full = detect_faces(canvas, adaptive=False, upscale=0)
    assert len(fast) == len(full) == 1
    expected = (detect_faces(astronaut)[0].landmarks + 0.5) * (1800 / 512) - 0.5 + [300, 0]
    assert np.abs(fast[0].landmarks - expected).mean() < 8  # ~2 px of the 512-px original
    assert np.abs(fast[0].landmarks - full[0].landmarks).mean() < 8


def test_refine_landmarks_steadier_under_box_shifts(astronaut):
    """Raw predictor output moves with its box; the refined (mirrored + jittered) average moves less."""
    from latentedit.faces import fit_landmarks, landmark_box, refine_landmarks

    det = detect_faces(astronaut)[0]
    box = np.array(landmark_box(det.landmarks))
    assert np.abs(box - np.array(det.box)).max() < 0.15 * (det.box[2] - det.box[0])  # HOG-like placement
    raw, refined = [], []
    for shift in ([0, 0], [4, -3], [-4, 3], [3, 3]):
        b = tuple(box + np.r_[shift, shift])
        lm = fit_landmarks(astronaut, b).landmarks
        raw.append(lm)
        refined.append(refine_landmarks(astronaut, lm))
    spread = lambda pts: np.std(np.stack(pts), axis=0).mean()  # noqa: E731
    assert spread(refined) < spread(raw)
    assert np.abs(refined[0] - det.landmarks).mean() < 2.0
    refined_dets = detect_faces(astronaut, refine=True)
    assert np.abs(refined_dets[0].landmarks - det.landmarks).mean() < 2.0
