"""latentedit.train: the trainer of the swap autoencoder (``latentedit train``).

>>> from latentedit.train import TrainConfig, train
>>> summary = train(TrainConfig(data={"A": "faces_a", "B": "faces_b"}, out="runs/ab", steps=1000))

Names are imported on first use, so building the CLI parser (which reads ``TrainConfig``'s
defaults) does not load the training loop.
"""
from __future__ import annotations

import importlib
from typing import Any

#: Public name -> submodule that defines it.
_EXPORTS = {
    "TrainConfig": ".config", "RESUMABLE_CHANGES": ".config", "config_differences": ".config",
    "train": ".loop", "Trainer": ".loop", "load_data": ".data", "step_generator": ".control",
    "IdentityData": ".data", "load_identity": ".data", "parse_data_spec": ".data", "batch_indices": ".data",
    "ellipse_mask": ".data",
    "ms_dssim": ".losses", "ssim_map": ".losses", "reconstruction_losses": ".losses",
    "preview_grid": ".preview",
    "capture_rng": ".state", "restore_rng": ".state", "latest_checkpoint": ".state",
    "list_checkpoints": ".state", "load_checkpoint": ".state",
    "AugmentParams": ".warp", "augment": ".warp", "sample_params": ".warp",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
