"""Shared fixtures. Tests are offline, CPU-only and seeded."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTEDIT_SHARED", REPO.parent / "shared"))

# Keep CPU tests predictable on the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "2")


def shared_path(*parts: str) -> Path:
    """Path under ../shared, or skip the test when that data is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not present (shared data is only on development and CI machines); "
                    "runs wherever ../shared (or $LATENTEDIT_SHARED) holds it")
    return p


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed_torch():
    import torch

    torch.manual_seed(0)
    yield


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A seeded tiny 64-px model with three fitted boundaries (see tests/test_app_fixtures.py)."""
    import torch

    from tests.test_app_fixtures import make_tiny_model

    torch.set_num_threads(2)
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def editor(model_dir):
    """An Editor on :func:`model_dir`."""
    from latentedit.edit import Editor

    return Editor.from_pretrained(model_dir)
