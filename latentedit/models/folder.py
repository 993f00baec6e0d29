"""The model folder format: ``config.json`` + ``model.safetensors`` (+ ``discriminators.safetensors``).

The files, read and written without knowing the model class (see :mod:`latentedit.models.hub` for the
layout; :class:`~latentedit.models.SwapAutoencoder` builds on this module, and ``hub`` on both).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__
from .._io import atomic_dir, atomic_path
from ..errors import LatentEditError, ModelFormatError
from ..formats import FileFormat
from ..manifest import manifest_owners, record_written, verify_manifest
from ..preprocess import check_preprocessing, preprocessing_block
from ..pretrained import locate
from .config import ModelConfig
from .discriminators import Discriminators

#: Version of the folder layout written by :func:`save_pretrained`.
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
#: ``config.json`` of a model folder (the architecture under ``model``; see the module docstring).
MODEL_CONFIG_FORMAT = FileFormat("latentedit.model", FORMAT_VERSION, what="model config",
                                 required={"class": (str,), "model": (dict,)})
WEIGHTS_NAME = "model.safetensors"
DISC_NAME = "discriminators.safetensors"
MODEL_CLASS = "SwapAutoencoder"
#: Sub-folder of a training run that holds its latest model.
RUN_MODEL_DIR = "model"


def weights_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 (hex) of a state dict: names, dtypes, shapes and bytes, in sorted key order.

    Independent of the device and of the order the tensors were registered in.
    """
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().to("cpu").contiguous()
        h.update(key.encode("utf-8"))
        h.update(str(t.dtype).encode())
        h.update(repr(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


#: Storage dtypes of ``model.safetensors`` (``float16`` halves the file; the model computes in float32).
WEIGHT_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def _stored(state: dict[str, torch.Tensor], dtype: str) -> dict[str, torch.Tensor]:
    """Floating tensors of ``state`` in the storage dtype (others unchanged)."""
    want = WEIGHT_DTYPES[dtype]
    return {k: (v.to(want) if v.is_floating_point() else v) for k, v in state.items()}


def _as_loaded(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state as a float32 model holds it after loading (the model id is computed from this)."""
    return {k: (v.float() if v.dtype == torch.float16 else v) for k, v in state.items()}


#: The files :func:`save_pretrained` owns in a model folder; anything else there is kept.
_SAVED_FILES = frozenset({CONFIG_NAME, WEIGHTS_NAME, DISC_NAME})


def save_pretrained(model: torch.nn.Module, directory: str | os.PathLike,
                    discriminators: Discriminators | None = None, overwrite: bool = False,
                    extra: dict | None = None, weights_dtype: str = "float32") -> Path:
    """Write a model folder (see the module docstring) so that ``config.json`` always describes the
    weights beside it, even after a hard kill mid-save.

    The new ``config.json``, ``model.safetensors`` and ``discriminators.safetensors`` are written
    into a staging folder beside ``directory``; every other entry of the existing folder
    (``boundaries/``, ``alignment_template.json``, ...) is hard-linked into it; then the folders
    are swapped with two renames (old folder away, new folder in; the old one is deleted only
    after the swap). A reader sees the old folder or the new one, never a mix; a kill at any
    point leaves the old or the new folder plus a hidden sibling that the next save (or
    ``latentedit train --resume``) finishes or removes (:func:`latentedit._io.recover_dir`).
    Where the folder cannot be renamed (a mount point, the working directory) the files are
    renamed into it one by one, ``config.json`` last.

    Args:
        model: the model to save.
        directory: target folder, created if missing.
        discriminators: optional critics, saved as ``discriminators.safetensors``.
        overwrite: allow replacing the model files of a non-empty folder (other files such as
            ``boundaries/`` are kept; a stale ``discriminators.safetensors`` is removed).
        extra: JSON-serialisable metadata stored under ``"extra"``.
        weights_dtype: storage dtype of the model's weights, ``float32`` or ``float16`` (half the
            file; loaded back into float32; the model id is that of the loaded weights).

    Returns:
        The folder path.

    Raises:
        LatentEditError: if the folder exists, is not empty and ``overwrite`` is False.
    """
    directory = Path(directory)
    if weights_dtype not in WEIGHT_DTYPES:
        raise LatentEditError(f"weights_dtype must be one of {', '.join(WEIGHT_DTYPES)}, got {weights_dtype!r}")
    if directory.exists() and not directory.is_dir():
        raise LatentEditError(f"{directory}: exists and is not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not overwrite:
        raise LatentEditError(f"{directory}: folder exists and is not empty; refusing to overwrite it "
                              f"(pass overwrite=True or choose another folder)")

    manifested = directory.is_dir() and bool(manifest_owners(directory))
    if manifested:  # re-saving a manifested model: never bless a tampered folder, keep it loadable
        verify_manifest(directory)
    with atomic_dir(directory, carry=lambda name: name not in _SAVED_FILES) as stage:
        _write_model_files(model, stage, discriminators, extra, weights_dtype)
    if manifested:
        record_written(directory, [directory / name for name in _SAVED_FILES])
    return directory


def _write_model_files(model: torch.nn.Module, directory: Path, discriminators: Discriminators | None,
                       extra: dict | None, weights_dtype: str = "float32") -> str:
    """Write the weights (and critics) and ``config.json`` into an empty folder; returns the model id."""
    state = _stored(_tensors(model), weights_dtype)
    model_id = weights_sha256(_as_loaded(state))[:12]
    meta = {"format": "pt", "class": MODEL_CLASS, "model_id": model_id}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata=meta)
    if discriminators is not None:
        with atomic_path(directory / DISC_NAME) as tmp:
            save_file(_tensors(discriminators), str(tmp), metadata={"format": "pt", "model_id": model_id})
    cfg = model.config
    MODEL_CONFIG_FORMAT.write(directory / CONFIG_NAME, {
        "class": MODEL_CLASS,
        "library": "latentedit",
        "library_version": __version__,
        "model_id": model_id,
        "identities": list(cfg.identities),
        "preprocessing": preprocessing_block(cfg.resolution),
        "model": cfg.to_dict(),
        "discriminators": discriminators is not None,
        "weights_dtype": weights_dtype,
        "extra": extra or {},
    })
    return model_id


def read_config(directory: str | os.PathLike) -> dict:
    """Read and validate a model folder's ``config.json``.

    Returns:
        The parsed JSON object.

    Raises:
        ModelFormatError: naming the file for a missing/unparsable file, a different class or
            an unknown/newer ``format_version``.
    """
    path = Path(directory) / CONFIG_NAME
    if not Path(directory).is_dir():
        raise ModelFormatError(f"{directory}: model folder not found")
    if not path.is_file():
        raise ModelFormatError(f"{path}: missing (not a latentedit model folder)")
    obj = MODEL_CONFIG_FORMAT.read(path)
    if obj.get("class") != MODEL_CLASS:
        raise ModelFormatError(f"{path}: field 'class' is {obj.get('class')!r}, expected {MODEL_CLASS!r}")
    return obj


def _load_state(path: Path, module: torch.nn.Module, stored: str = "float32") -> None:
    if not path.is_file():
        raise ModelFormatError(f"{path}: missing")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFormatError(f"{path}: not a readable safetensors file ({exc})") from None
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelFormatError(f"{path}: weights do not match the config: missing {missing[:5]}"
                               f"{' ...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
                               f"{' ...' if len(unexpected) > 5 else ''}")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ModelFormatError(f"{path}: tensor {k!r} has shape {tuple(state[k].shape)}, the config "
                                   f"expects {tuple(v.shape)}")
        want = WEIGHT_DTYPES[stored] if v.is_floating_point() else v.dtype
        if state[k].dtype != want:
            raise ModelFormatError(f"{path}: tensor {k!r} has dtype {state[k].dtype}, expected {want}")
    module.load_state_dict(_as_loaded(state), strict=True)


def load_pretrained(build: Callable[[ModelConfig], torch.nn.Module], directory: str | os.PathLike,
                    device: str | torch.device | None = None) -> torch.nn.Module:
    """Rebuild a model with ``build(config)`` from a model folder and load its weights strictly
    (what :meth:`latentedit.models.SwapAutoencoder.from_pretrained` does).

    Args:
        build: the model class (or a factory taking the :class:`ModelConfig`).
        directory: folder written by :func:`save_pretrained`.
        device: target device (default CPU). The model is returned in eval mode.

    Returns:
        The model.

    The model's identity is its weights: ``model.model_id`` is computed from the loaded tensors
    (boundaries are checked against that, never against ``config.json``). A ``"model_id"`` in
    ``config.json`` that differs from the weights' is refused: the two files do not belong
    together (a torn copy, or a config edited to pass as another model). A config without the
    field (older or hand-made folders) loads.

    Raises:
        ModelFormatError: naming the file (see :func:`read_config`; also missing or
            mismatched weights, a ``model_id`` that is not the weights', or a folder that does not
            verify against its ``MANIFEST.sha256``; see :mod:`latentedit.manifest`).
        PreprocessingMismatchError: (a ModelFormatError) the model was trained with another
            preprocessing contract than this latentedit's (the message names the field and the fix).
    """
    directory = Path(directory)
    verify_manifest(directory)  # a folder with a manifest: refuse unsafe entries, unlisted or tampered files
    obj = read_config(directory)
    cfg = ModelConfig.from_dict(obj["model"], where=str(directory / CONFIG_NAME))
    check_preprocessing(obj.get("preprocessing"), cfg.resolution, where=str(directory / CONFIG_NAME))
    model = build(cfg)
    stored = obj.get("weights_dtype", "float32")
    if stored not in WEIGHT_DTYPES:
        raise ModelFormatError(f"{directory / CONFIG_NAME}: field 'weights_dtype' must be one of "
                               f"{', '.join(WEIGHT_DTYPES)}, got {stored!r}")
    _load_state(directory / WEIGHTS_NAME, model, stored)
    if "model_id" in obj:
        weights_id = weights_sha256(model.state_dict())[:12]
        if obj["model_id"] != weights_id:
            raise ModelFormatError(
                f"{directory / CONFIG_NAME}: field 'model_id' is {obj['model_id']!r}, but the weights in "
                f"{WEIGHTS_NAME} are model {weights_id!r}; the two files do not belong together "
                f"(restore the original files, or re-save the model with save_pretrained)")
    return model.to(device or "cpu").eval()


def load_discriminators(directory: str | os.PathLike, config: ModelConfig,
                        device: str | torch.device | None = None) -> Discriminators | None:
    """Load ``discriminators.safetensors`` of a model folder, or None if it has none.

    Raises:
        ModelFormatError: if the file exists but does not match ``config``.
    """
    path = Path(directory) / DISC_NAME
    if not path.is_file():
        return None
    disc = Discriminators(config)
    _load_state(path, disc)
    return disc.to(device or "cpu")


def resolve_model_dir(path: str | os.PathLike) -> Path:
    """Map a ``MODEL`` argument to a model folder: the folder itself, a run's ``model/``, or a
    model name (``synthfaces64``; looked up by :func:`latentedit.pretrained.locate`).

    Raises:
        ModelFormatError: if ``path`` is neither.
    """
    path = locate(path)  # an existing path as given, else a model name (see latentedit.pretrained)
    if (path / RUN_MODEL_DIR / CONFIG_NAME).is_file():  # a run folder (its own config.json is the run's)
        return path / RUN_MODEL_DIR
    if (path / CONFIG_NAME).is_file():
        return path
    if not path.exists():
        raise ModelFormatError(f"{path}: no such model folder")
    raise ModelFormatError(f"{path}: not a model folder (no {CONFIG_NAME}) nor a training run "
                           f"(no {RUN_MODEL_DIR}/{CONFIG_NAME})")
