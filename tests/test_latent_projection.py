"""Conditional projection: the edited direction becomes orthogonal to every held one."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latentedit.errors import LatentEditError
from latentedit.latent import Boundary, project_orthogonal


def test_orthogonal_to_every_held_normal():
    rng = np.random.default_rng(0)
    normal = rng.standard_normal(128)
    # correlated (non-orthogonal) conditions, like real attribute normals
    others = [normal * 0.6 + rng.standard_normal(128) for _ in range(5)]
    out = project_orthogonal(normal, others)
    assert out.shape == (128,) and out.dtype == np.float32
    assert abs(np.linalg.norm(out) - 1) < 1e-6
    for o in others:
        assert abs(float(out @ (o / np.linalg.norm(o)))) < 1e-6
    # still points along the original direction as much as possible
    assert float(out @ normal) > 0


def test_single_condition_matches_interfacegan_formula():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    a /= np.linalg.norm(a)
    b /= np.linalg.norm(b)
    expected = a - (a @ b) * b
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(project_orthogonal(a, [b]), expected, atol=1e-6)
    np.testing.assert_allclose(project_orthogonal(torch.tensor(a), torch.tensor(b[None])), expected, atol=1e-6)


def test_dependent_conditions_and_no_conditions():
    rng = np.random.default_rng(2)
    n, o = rng.standard_normal(10), rng.standard_normal(10)
    out = project_orthogonal(n, [o, 2 * o, -o])  # rank 1
    assert abs(float(out @ o)) < 1e-6
    np.testing.assert_allclose(project_orthogonal(n, []), n / np.linalg.norm(n), atol=1e-6)


def test_in_span_is_an_error():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(8), rng.standard_normal(8)
    with pytest.raises(LatentEditError, match="span"):
        project_orthogonal(a + 2 * b, [a, b])
    with pytest.raises(LatentEditError, match="dimension"):
        project_orthogonal(a, [np.ones(7)])
    with pytest.raises(LatentEditError, match="zero"):
        project_orthogonal(np.zeros(8), [a])
    with pytest.raises(LatentEditError, match="NaN"):
        project_orthogonal(a, [np.full(8, np.nan)])


def test_boundary_conditioned_records_names():
    rng = np.random.default_rng(4)
    smile = Boundary("smile", rng.standard_normal(12), model_id="m")
    mouth = Boundary("mouth_open", smile.normal + rng.standard_normal(12), model_id="m")
    eyes = Boundary("eye_open", rng.standard_normal(12), model_id="m")
    c = smile.conditioned([mouth, eyes])
    assert c.conditioned_on == ["mouth_open", "eye_open"]
    assert abs(float(c.normal @ mouth.normal)) < 1e-6 and abs(float(c.normal @ eyes.normal)) < 1e-6
    assert smile.conditioned_on == []  # the original is untouched


def test_fit_with_hold_is_orthogonal_and_rescored():
    from latentedit.latent import BoundaryFitter

    rng = np.random.default_rng(5)
    z = rng.standard_normal((3000, 24)).astype(np.float32)
    a, b = rng.standard_normal(24), rng.standard_normal(24)
    a /= np.linalg.norm(a)
    b = 0.7 * a + 0.3 * b / np.linalg.norm(b)  # correlated attributes, as smile and mouth_open
    b /= np.linalg.norm(b)
    s = z @ b + 0.2 * rng.standard_normal(3000)
    f = BoundaryFitter(method="ridge").fit(z, s, hold=[a])
    assert abs(float(f.normal_ @ a)) < 1e-6
    assert float(f.unconditioned_normal_ @ b) > 0.99
    # the conditioned direction predicts less (part of b's signal lies along a) but still beats chance
    assert 0.6 < f.val_accuracy_ < f.unconditioned_val_accuracy_
    assert abs(f.std_ - 1.0) < 0.1
