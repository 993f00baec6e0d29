"""latentedit.train: the trainer of the swap autoencoder (``latentedit train``).

>>> from latentedit.train import TrainConfig, train
>>> summary = train(TrainConfig(data={"A": "faces_a", "B": "faces_b"}, out="runs/ab", steps=1000))
"""
from .config import RESUMABLE_CHANGES, TrainConfig, config_differences
from .data import IdentityData, batch_indices, ellipse_mask, load_identity, parse_data_spec
from .loop import Trainer, load_data, step_generator, train
from .losses import ms_dssim, reconstruction_losses, ssim_map
from .preview import preview_grid
from .state import capture_rng, latest_checkpoint, list_checkpoints, load_checkpoint, restore_rng
from .warp import AugmentParams, augment, sample_params

__all__ = [
    "TrainConfig", "RESUMABLE_CHANGES", "config_differences", "train", "Trainer", "load_data",
    "step_generator", "IdentityData", "load_identity", "parse_data_spec", "batch_indices", "ellipse_mask",
    "ms_dssim", "ssim_map", "reconstruction_losses", "preview_grid", "capture_rng", "restore_rng",
    "latest_checkpoint", "list_checkpoints", "load_checkpoint", "AugmentParams", "augment", "sample_params",
]
