"""``TrainConfig``: every training option with its default, defined once (the CLI reads them here)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import LatentEditError
from ..models.config import GENERIC, SUPPORTED_RESOLUTIONS, ModelConfig
from ..models.discriminators import LATENT_DISC_MODES

#: Options that may change between a run and its ``--resume`` (they do not change the maths).
RESUMABLE_CHANGES = frozenset({
    "steps", "resume", "dry_run", "compile", "threads", "checkpoint_every", "keep_checkpoints",
    "preview_every", "log_every", "progress", "device", "out", "data", "generic", "tensorboard",
})


@dataclass
class TrainConfig:
    """Options of one training run (``latentedit train``).

    Attributes are grouped: data, schedule, losses, adversarial phases, augmentation, runtime.
    """

    # -- data -------------------------------------------------------------------------------------
    data: dict[str, str] = field(default_factory=dict)  # decoder name -> "DIR" or "DIR@identity_label"
    generic: str | None = None          # many-identity FaceSet for the "generic" decoder (None: no generic decoder)
    out: str = "runs/run"               # run folder
    size: int = 64                      # model resolution (64, 128 or 256)
    # -- model (ModelConfig overrides; None = the ModelConfig default) ----------------------------
    latent_dim: int | None = None
    enc_channels: int | None = None
    dec_channels: int | None = None
    inter_channels: int | None = None
    # -- schedule ---------------------------------------------------------------------------------
    steps: int = 20000                  # total optimiser steps (a resumed run continues to this)
    batch: int = 16                     # images per identity per step (global, split across ranks)
    lr: float = 2e-4                    # AdamW learning rate (halved on every NaN rollback)
    weight_decay: float = 1e-4          # AdamW decoupled weight decay
    beta1: float = 0.5                  # Adam beta1 (0.5 as in DeepFaceLab; steadier with the GAN)
    clip_grad: float = 1.0              # global grad-norm clip (0 = off)
    seed: int = 0
    # -- losses -----------------------------------------------------------------------------------
    dssim: float = 1.0                  # weight of the multi-scale DSSIM term
    l1: float = 1.0                     # weight of the masked L1 term
    mask_loss: float = 1.0              # weight of the decoder mask channel vs the face mask (MSE)
    eyes_mouth: float = 1.0             # extra weight inside eyes/mouth masks (0 = off)
    background: float = 0.1             # loss weight outside the face mask (1 = unmasked)
    lpips: float = 0.0                  # LPIPS weight (0 = off; needs the local LPIPS weights)
    lpips_weights: str | None = None    # folder of the LPIPS backbone (default: latentedit.train.lpips search path)
    generic_weight: float = 1.0         # weight of the generic decoder's losses
    aux: float = 0.0                    # weight of the self-supervised landmark head on z (0 = off; see aux_head)
    # -- adversarial ------------------------------------------------------------------------------
    gan_power: float = 0.0              # patch-GAN generator weight (0 = off), like DFL's gan_power
    gan_start: int = 2000               # step the GAN phase starts (warm-up on reconstruction first)
    latent_disc: float = 0.0            # latent-discriminator weight on the encoder (0 = off)
    latent_disc_mode: str = "prior"     # prior | identity (see latentedit.models.discriminators)
    latent_disc_start: int = 0          # step the latent discriminator starts
    disc_lr: float = 2e-4               # discriminators' AdamW learning rate
    # -- augmentation (inputs are warped; targets are not) ----------------------------------------
    warp: float = 1.0                   # random-warp strength (0 = off; 1 ≈ DeepFaceLab)
    rotate: float = 10.0                # max random rotation, degrees (applied to input and target)
    scale: float = 0.05                 # max random zoom (fraction)
    shift: float = 0.05                 # max random translation (fraction of the crop)
    flip: bool = True                   # random horizontal flips
    color_jitter: float = 0.05          # max brightness/contrast/saturation change
    # -- runtime ----------------------------------------------------------------------------------
    device: str = "auto"                # auto | cpu | cuda | cuda:N
    amp: str = "auto"                   # auto (bf16 on CUDA, off on CPU) | bf16 | off
    channels_last: str = "auto"         # auto (= on: faster on CUDA and, measured, on CPU) | on | off
    compile: bool = False               # torch.compile the model
    threads: int | None = None          # CPU threads (None: the core count)
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    preview_every: int = 500
    log_every: int = 10
    max_rollbacks: int = 3              # NaN rollbacks before giving up
    tensorboard: bool = True            # also log to TensorBoard when it is installed
    progress: bool = True
    resume: bool = False
    dry_run: bool = False

    def validate(self) -> None:
        """Check option values.

        Raises:
            LatentEditError: naming the bad option.
        """
        def bad(name: str, why: str) -> LatentEditError:
            return LatentEditError(f"--{name.replace('_', '-')}: {why}")

        if not self.data:
            raise bad("data", "give at least one NAME=DIR (e.g. --data A=faces_a --data B=faces_b)")
        for name in self.data:
            if name == GENERIC:
                raise bad("data", f"{GENERIC!r} is reserved for --generic")
        if self.size not in SUPPORTED_RESOLUTIONS:
            raise bad("size", f"must be one of {', '.join(map(str, SUPPORTED_RESOLUTIONS))}, got {self.size}")
        for f in ("steps", "batch", "checkpoint_every", "preview_every", "log_every", "keep_checkpoints"):
            if getattr(self, f) < 1:
                raise bad(f, f"must be ≥ 1, got {getattr(self, f)}")
        for f in ("lr", "disc_lr"):
            if not getattr(self, f) > 0:
                raise bad(f, f"must be > 0, got {getattr(self, f)}")
        for f in ("dssim", "l1", "mask_loss", "eyes_mouth", "lpips", "gan_power", "latent_disc", "warp",
                  "generic_weight", "aux", "clip_grad", "weight_decay", "rotate", "scale", "shift", "color_jitter"):
            if getattr(self, f) < 0:
                raise bad(f, f"must be ≥ 0, got {getattr(self, f)}")
        if not 0 <= self.background <= 1:
            raise bad("background", f"must be in [0, 1], got {self.background}")
        if self.latent_disc_mode not in LATENT_DISC_MODES:
            raise bad("latent_disc_mode", f"must be one of {', '.join(LATENT_DISC_MODES)}")
        if self.latent_disc_mode == "identity" and self.latent_disc > 0 and len(self.data) < 2:
            raise bad("latent_disc_mode", "'identity' needs two --data identities")
        if self.amp not in ("auto", "bf16", "off"):
            raise bad("amp", f"must be auto, bf16 or off, got {self.amp!r}")
        if self.channels_last not in ("auto", "on", "off"):
            raise bad("channels_last", f"must be auto, on or off, got {self.channels_last!r}")

    def model_config(self) -> ModelConfig:
        """The :class:`ModelConfig` this run trains."""
        names = tuple(self.data) + ((GENERIC,) if self.generic else ())
        kw = {k: getattr(self, k) for k in ("latent_dim", "enc_channels", "dec_channels", "inter_channels")
              if getattr(self, k) is not None}
        try:
            return ModelConfig(resolution=self.size, identities=names, **kw)
        except ValueError as exc:
            raise LatentEditError(f"invalid model options: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict of every option."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict` (unknown keys are an error).

        Raises:
            LatentEditError: naming unknown keys.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise LatentEditError(f"unknown training option(s) {sorted(unknown)}")
        return cls(**d)


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Options whose values differ between two resolved configs, ignoring :data:`RESUMABLE_CHANGES`.

    An option missing from ``saved`` (a run started before the option existed) counts as its default.
    """
    defaults = TrainConfig().to_dict()
    keys = (set(saved) | set(current)) - RESUMABLE_CHANGES
    return sorted(k for k in keys if saved.get(k, defaults.get(k)) != current.get(k, defaults.get(k)))


__all__ = ["TrainConfig", "RESUMABLE_CHANGES", "config_differences"]
