"""CelebA validation of the landmark scores (skips when ../shared is absent)."""
from __future__ import annotations

import numpy as np

from tests.conftest import shared_path
from latentedit.eval.bench.landmark_scores import PAIRS, baseline_ratios, identity_split, validate_celeba


def test_identity_split_is_disjoint_and_seeded():
    ids = [str(i % 37) for i in range(500)]
    a = identity_split(ids, seed=0)
    assert set(np.array(ids)[a]).isdisjoint(set(np.array(ids)[~a]))
    assert 0.3 < a.mean() < 0.7
    assert np.array_equal(a, identity_split(ids, seed=0))
    assert not np.array_equal(a, identity_split(ids, seed=1))


def test_baseline_ratios_are_scale_invariant():
    from latentedit.faces.meanface import MEAN_FACE

    lm = MEAN_FACE[None].astype(np.float64) * 100
    a, b = baseline_ratios(lm), baseline_ratios(lm * 3 + 7)
    for k in a:
        np.testing.assert_allclose(a[k], b[k])


def test_validate_on_celeba_subset():
    celeba = shared_path("data", "celeba10k")
    result = validate_celeba(celeba, limit=40, progress=False, cnn=False, refine=False)
    assert result["images"] == 40
    det = result["detection"]
    assert det["with_fixed_box_fallback_rate"] == 1.0
    assert det["detector_rate"] >= 0.9
    assert sum(det["counts"].values()) == 40
    assert [p["label"] for p in result["pairs"]] == [p[0] for p in PAIRS]
    mouth = result["pairs"][0]
    # even on ~20 held-out images the mouth score separates open from closed mouths
    assert mouth["auc_report_half"] > 0.75
    assert 0 <= result["narrow_eyes_eye_patch_auc"] <= 1
    assert result["tables"][0]["rows"][2][0] == "Narrow_Eyes"


def test_eye_patches_are_level_normalised_crops_of_both_eyes(tmp_path):
    import cv2

    from latentedit.faces.meanface import MEAN_FACE
    from latentedit.eval.bench.landmark_scores import eye_patches

    lm = MEAN_FACE * 60 + 50  # a face ~60 px wide in a 100-px image
    img = np.full((100, 100), 200, np.uint8)
    for first in (36, 42):  # dark irises at the eye centres
        c = lm[first:first + 6].mean(axis=0)
        cv2.circle(img, (int(round(c[0])), int(round(c[1]))), 2, 20, -1)
    cv2.imwrite(str(tmp_path / "f.png"), img)
    p = eye_patches([tmp_path / "f.png"], lm[None])
    assert p.shape == (1, 2 * 8 * 16)
    for eye in p[0].reshape(2, 8, 16):
        assert abs(eye.mean()) < 1e-4 and abs(eye.std() - 1) < 1e-2
        assert eye[3:5, 6:10].mean() < -1.5  # the iris sits in the middle of the patch


def test_celeba_landmarks_land_on_the_aligned_eyes():
    from latentedit.faces.celeba_landmarks import METHODS, celeba_landmarks

    folder = shared_path("data", "celeba10k", "images")
    # frontal faces (000003 and 000004 are near-profile ones that only the slow CNN stage finds)
    images = [folder / f"{i:06d}.jpg" for i in (1, 2, 5, 6)]
    lms, method = celeba_landmarks(images, progress=False)
    assert (method == METHODS.index("hog")).all()
    # CelebA's alignment puts the eye centres near (35, 56) and (54, 56) in the 89×109 images
    right, left = lms[:, 36:42].mean(1), lms[:, 42:48].mean(1)
    assert np.all(np.abs(right - [35, 56]).max(axis=1) < 6), right
    assert np.all(np.abs(left - [54, 56]).max(axis=1) < 6), left
