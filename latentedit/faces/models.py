"""Lazily loaded, cached dlib models (detectors, 68-point predictor, identity network).

The model files ship with the ``face_recognition_models`` package. Its ``__init__`` imports
``pkg_resources`` (absent on recent setuptools), so the folder is located with
:func:`importlib.util.find_spec` without importing it. ``LATENTEDIT_DLIB_MODELS`` overrides the folder.
Nothing is ever downloaded: a missing file raises :class:`~latentedit.errors.ModelFormatError`
naming the path that was expected.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from ..errors import ModelFormatError

#: File names inside the models folder.
MODEL_FILES = {
    "hog": None,  # built into dlib
    "cnn": "mmod_human_face_detector.dat",
    "landmarks68": "shape_predictor_68_face_landmarks.dat",
    "descriptor": "dlib_face_recognition_resnet_model_v1.dat",
}

#: Environment variable naming a folder that holds the ``.dat`` files.
ENV_VAR = "LATENTEDIT_DLIB_MODELS"

# dlib objects are not documented as thread-safe; the app calls us from worker threads.
LOCK = threading.RLock()


def models_dir() -> Path:
    """Return the folder holding the dlib ``.dat`` files.

    Returns:
        ``$LATENTEDIT_DLIB_MODELS`` if set, else ``face_recognition_models/models`` of the installed package.

    Raises:
        ModelFormatError: if neither is available.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFormatError(
            "dlib model files not found: install the 'face_recognition_models' package or set "
            f"{ENV_VAR} to a folder holding {', '.join(f for f in MODEL_FILES.values() if f)}")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def model_path(name: str) -> Path:
    """Path of one model file (``cnn``, ``landmarks68`` or ``descriptor``).

    Raises:
        ValueError: for an unknown model name.
        ModelFormatError: naming the expected path if the file is missing.
    """
    if name not in MODEL_FILES or MODEL_FILES[name] is None:
        raise ValueError(f"unknown model {name!r}; expected one of cnn, landmarks68, descriptor")
    path = models_dir() / MODEL_FILES[name]
    if not path.is_file():
        raise ModelFormatError(f"dlib model file missing: expected {path} (from the face_recognition_models "
                               f"package, or set {ENV_VAR} to a folder holding {MODEL_FILES[name]})")
    return path


def dlib_module() -> Any:
    """The ``dlib`` module: the one place the face pipeline imports it (dlib is a core dependency, imported
    on first use so that importing :mod:`latentedit.faces` stays cheap)."""
    import dlib

    return dlib


@functools.lru_cache(maxsize=None)
def _load(name: str, path: str) -> Any:
    dlib = dlib_module()
    try:
        if name == "hog":
            return dlib.get_frontal_face_detector()
        if name == "cnn":
            return dlib.cnn_face_detection_model_v1(path)
        if name == "landmarks68":
            return dlib.shape_predictor(path)
        return dlib.face_recognition_model_v1(path)
    except RuntimeError as exc:
        raise ModelFormatError(f"{path}: cannot load dlib model ({exc})") from None


def get_model(name: str) -> Any:
    """Return the cached dlib object for ``name`` (``hog``, ``cnn``, ``landmarks68``, ``descriptor``).

    Raises:
        ModelFormatError: if its file is missing or unreadable.
    """
    if name == "hog":
        return _load("hog", "")
    return _load(name, str(model_path(name)))
