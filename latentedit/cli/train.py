"""``latentedit train``: train the swap autoencoder on FaceSets.

Every option's default comes from :class:`latentedit.train.TrainConfig` (defined once there).
Multi-GPU: ``torchrun --nproc_per_node N -m latentedit.cli.main train ...``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os

from ..errors import LatentEditError
from ..models.config import LIMITS, SUPPORTED_RESOLUTIONS
from ..train import train
from ..train.config import TrainConfig
from ..train.data import parse_data_spec
from ._checks import SEED_MAX, bounded_float, bounded_int, check_output_dir, range_text

#: Options not exposed as plain ``--flag VALUE`` pairs (handled explicitly below).
_SPECIAL = {"data", "generic", "out", "size", "flip", "compile", "resume", "dry_run", "progress",
            "tensorboard"}

_HELP = {
    "latent_dim": "size of the latent code z (default: the ModelConfig default, 256)",
    "enc_channels": "encoder width (default: ModelConfig, 32)",
    "dec_channels": "decoder full-resolution width (default: ModelConfig, 24 at 64 px, 16 above)",
    "inter_channels": "channels of the inter block (default: ModelConfig, 256)",
    "lr": "AdamW learning rate (halved on each NaN rollback)",
    "weight_decay": "AdamW decoupled weight decay",
    "beta1": "Adam beta1",
    "clip_grad": "global gradient-norm clip, 0 = off",
    "seed": "seed of the weights, batch order and augmentation",
    "dssim": "weight of the masked multi-scale DSSIM loss",
    "l1": "weight of the masked L1 loss",
    "mask_loss": "weight of the decoder mask channel's loss against the face mask",
    "lpips_weights": "folder with the LPIPS backbone weights (default: latentedit.train.lpips search path)",
    "generic_weight": "weight of the generic decoder's losses",
    "aux": "weight of the self-supervised head that makes z linearly predict the landmark geometry and "
           "scores (0 = off; needs landmarks; sharpens attribute boundaries)",
    "latent_disc_start": "step at which the latent discriminator starts",
    "disc_lr": "discriminators' learning rate",
    "rotate": "max random rotation in degrees (input and target)",
    "scale": "max random zoom fraction (input and target)",
    "shift": "max random shift as a fraction of the crop (input and target)",
    "color_jitter": "max brightness/contrast/saturation jitter",
    "checkpoint_every": "steps between checkpoints (also saves RUN/model)",
    "keep_checkpoints": "checkpoints kept (oldest deleted)",
    "preview_every": "steps between preview grids",
    "log_every": "steps between metrics.jsonl records",
    "max_rollbacks": "NaN rollbacks allowed before the run stops with an error",
    "steps": "total optimiser steps (a resumed run continues up to this)",
    "batch": "images per identity per step (global; split across torchrun processes)",
    "gan_power": "patch-GAN weight, 0 = off (like DeepFaceLab's gan_power)",
    "gan_start": "step at which the GAN phase starts",
    "latent_disc": "latent-discriminator weight on the encoder, 0 = off",
    "latent_disc_mode": "prior: codes vs N(0, I) (keeps linear edits in-domain); identity: A vs B codes",
    "lpips": "LPIPS loss weight, 0 = off (needs the local LPIPS weights)",
    "eyes_mouth": "extra loss weight inside the eyes and mouth masks",
    "background": "loss weight outside the face mask (1 = unmasked)",
    "warp": "random-warp strength of the inputs (0 = off)",
    "threads": "CPU threads (default: the core count)",
    "device": "auto | cpu | cuda | cuda:N",
    "amp": "auto (bf16 on CUDA) | bf16 | off",
    "channels_last": "auto (= on; measured faster on CPU and CUDA) | on | off",
}


#: Documented range of every numeric option: name -> (lo, hi, lo_open). Checked by argparse before
#: anything is loaded; the model widths use the ModelConfig limits (latentedit.models.config.LIMITS).
_STEPS_MAX = 100_000_000
_WEIGHT_MAX = 1000.0
_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "steps": (1, _STEPS_MAX, False), "batch": (1, 4096, False), "seed": (0, SEED_MAX, False),
    "gan_start": (0, _STEPS_MAX, False), "latent_disc_start": (0, _STEPS_MAX, False),
    "threads": (1, 1024, False), "checkpoint_every": (1, _STEPS_MAX, False), "keep_checkpoints": (1, 1000, False),
    "preview_every": (1, _STEPS_MAX, False), "log_every": (1, _STEPS_MAX, False), "max_rollbacks": (0, 100, False),
    "lr": (0.0, 1.0, True), "disc_lr": (0.0, 1.0, True), "weight_decay": (0.0, 1.0, False),
    "beta1": (0.0, 0.999, False), "clip_grad": (0.0, 1e6, False), "background": (0.0, 1.0, False),
    "warp": (0.0, 10.0, False), "rotate": (0.0, 180.0, False), "scale": (0.0, 1.0, False),
    "shift": (0.0, 1.0, False), "color_jitter": (0.0, 1.0, False),
    **{w: (0.0, _WEIGHT_MAX, False) for w in ("dssim", "l1", "mask_loss", "eyes_mouth", "lpips", "generic_weight",
                                              "aux", "gan_power", "latent_disc")},
}


def _numeric_type(name: str, kind: type):
    """The bounded argparse type of numeric option ``name`` (None when it has no documented range)."""
    if name in LIMITS:
        return bounded_int(1, LIMITS[name]), range_text(1, LIMITS[name])
    if name not in _BOUNDS:
        return None, ""
    lo, hi, lo_open = _BOUNDS[name]
    if kind is int:
        return bounded_int(int(lo), int(hi)), range_text(int(lo), int(hi))
    return bounded_float(lo, hi, lo_open=lo_open), (f"> {lo:g} and ≤ {hi:g}" if lo_open else range_text(lo, hi))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


#: ``latentedit train --help``: what the command does.
DESCRIPTION = ("Train the swap autoencoder on FaceSets. Writes RUN/config.json, checkpoints, "
               "metrics.jsonl, preview PNGs and the latest model as RUN/model (a MODEL folder). "
               "Under torchrun the same command trains with DistributedDataParallel.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register ``latentedit train``'s arguments on its parser (made by :mod:`latentedit.cli.main`)."""
    defaults = TrainConfig()
    p.add_argument("--data", action="append", required=True, metavar="NAME=DIR[@LABEL]",
                   help="decoder NAME trained on FaceSet DIR (optionally only identity LABEL of it); repeat")
    p.add_argument("--generic", metavar="DIR[@LABEL]", default=defaults.generic,
                   help="many-identity FaceSet for an extra 'generic' decoder")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder (must be new unless --resume)")
    p.add_argument("--size", type=int, default=defaults.size, choices=SUPPORTED_RESOLUTIONS, help="model resolution")
    for f in dataclasses.fields(TrainConfig):
        if f.name in _SPECIAL:
            continue
        default = getattr(defaults, f.name)
        kind = {"int": int, "float": float, "str": str, "int | None": int, "str | None": str}.get(str(f.type), None)
        if isinstance(default, bool) or kind is None:
            continue
        choices = {"latent_disc_mode": ("prior", "identity"), "amp": ("auto", "bf16", "off"),
                   "channels_last": ("auto", "on", "off")}.get(f.name)
        bounded, span = _numeric_type(f.name, kind) if kind in (int, float) else (None, "")
        shown = "; ".join(s for s in (span, "" if default is None else f"default: {default}") if s)
        p.add_argument(_flag(f.name), type=bounded or kind, default=default, choices=choices,
                       help=_HELP.get(f.name, f.name.replace("_", " ")) + (f" ({shown})" if shown else ""))
    p.add_argument("--no-flip", dest="flip", action="store_false", help="no random horizontal flips")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--no-tensorboard", dest="tensorboard", action="store_false",
                   help="do not write TensorBoard logs even if TensorBoard is installed")
    p.add_argument("--resume", action="store_true", help="continue RUN from its newest checkpoint")
    p.add_argument("--dry-run", action="store_true", help="check data and options, print the plan, write nothing")
    p.add_argument("--quiet", dest="progress", action="store_false", help="no progress bar")


def config_from_args(args: argparse.Namespace):
    """Build a :class:`~latentedit.train.TrainConfig` from parsed arguments.

    Raises:
        LatentEditError: for a malformed or repeated ``--data``.
    """
    data: dict[str, str] = {}
    for spec in args.data:
        name, directory, label = parse_data_spec(spec)
        if name in data:
            raise LatentEditError(f"--data {spec!r}: decoder {name!r} given twice")
        data[name] = f"{directory}@{label}" if label else directory
    kw = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
          if f.name != "data" and hasattr(args, f.name)}
    return TrainConfig(data=data, **kw)


def run(args: argparse.Namespace) -> int:
    """Run ``latentedit train``; prints a JSON summary. Returns 0."""
    cfg = config_from_args(args)
    if not cfg.dry_run:
        check_output_dir(cfg.out)  # before the data is loaded: a bad --out costs nothing
    summary = train(cfg)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        return 0
    if summary.get("dry_run"):
        c = summary["config"]
        print(f"dry run: {c['device']}, model {c['model']['resolution']} px, decoders "
              f"{', '.join(c['model']['identities'])}, data {c['data_sizes']}, params {summary['params']}")
        print(json.dumps(c, indent=2))
        return 0
    losses = {k: round(v, 5) for k, v in summary["losses"].items()}
    print(json.dumps(dict(summary, losses=losses), indent=2))
    if summary.get("interrupted"):
        print(f"interrupted at step {summary['step']}; continue with --resume")
    return 0
