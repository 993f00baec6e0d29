"""CelebA validation of the landmark scores (skips when ../shared is absent)."""
from __future__ import annotations

import numpy as np

from tests.conftest import shared_path
from latentedit.faces.validate import PAIRS, baseline_ratios, identity_split, validate_celeba


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
