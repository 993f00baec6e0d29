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
    result = validate_celeba(celeba, limit=60, progress=False)
    assert result["images"] == 60
    det = result["detection"]
    assert det["with_fixed_box_fallback_rate"] == 1.0
    assert det["detector_rate"] >= 0.9
    assert sum(det["counts"].values()) == 60
    assert [p["label"] for p in result["pairs"]] == [p[0] for p in PAIRS]
    mouth = result["pairs"][0]
    # even on 60 images the inner-lip gap separates open from closed mouths well
    assert mouth["auc_report_half"] > 0.85
