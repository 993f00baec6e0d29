"""Model folders: ``config.json`` + ``model.safetensors`` (+ ``discriminators.safetensors``).

``config.json`` carries everything needed to rebuild and feed the model::

    {"kind": "latentedit.model", "format_version": 1, "class": "SwapAutoencoder", "library": "latentedit",
     "library_version": "0.1.0", "model_id": "<12 hex>", "identities": ["A", "B"],
     "preprocessing": {"version": 1, "resolution": 64, "input_range": [-1, 1], "channel_order": "RGB",
                       "layout": "NCHW", "dtype": "float32", "alignment": "whole face", ...},
     "model": {<ModelConfig fields>}, "discriminators": true, "extra": {}}

``preprocessing`` is :func:`latentedit.preprocess.preprocessing_block`: the contract the model's crops
were made with. :func:`from_pretrained` refuses a model whose block does not match the contract this
latentedit implements (:func:`latentedit.preprocess.check_preprocessing`); a block without a version
(models saved before it was recorded, e.g. the shipped ``synthfaces64``) reads as version 1.

Nothing here unpickles: weights are safetensors, the config is JSON.
"""
from __future__ import annotations

import os

import torch

from .autoencoder import SwapAutoencoder
# The folder format lives in .folder (below the model class); its names are offered here as well.
from .folder import (CONFIG_NAME, DISC_NAME, FORMAT_VERSION, MODEL_CLASS, MODEL_CONFIG_FORMAT,  # noqa: F401
                     RUN_MODEL_DIR, WEIGHTS_NAME, load_discriminators, load_pretrained, read_config,
                     resolve_model_dir, save_pretrained, weights_sha256)


def from_pretrained(directory: str | os.PathLike, device: str | torch.device | None = None) -> SwapAutoencoder:
    """Rebuild a :class:`SwapAutoencoder` from a model folder and load its weights strictly:
    :func:`~latentedit.models.folder.load_pretrained` with the model class (its docstring lists the
    checks and the errors, all :class:`~latentedit.errors.ModelFormatError`).

    Args:
        directory: folder written by :func:`save_pretrained`.
        device: target device (default CPU). The model is returned in eval mode.
    """
    return load_pretrained(SwapAutoencoder, directory, device=device)


def load_model(path: str | os.PathLike, device: str | torch.device | None = None) -> SwapAutoencoder:
    """Load a model from a pretrained folder or a training run folder (``RUN/model``).

    Args:
        path: a folder with ``config.json`` or a run folder with ``model/config.json``.
        device: target device (default CPU).

    Returns:
        The model in eval mode.

    Raises:
        ModelFormatError: naming the path or file that is wrong.
    """
    return from_pretrained(resolve_model_dir(path), device=device)
