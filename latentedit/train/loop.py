"""The training loop: one :func:`train` call with named phases (setup, reconstruct, adversarial,
log, preview, checkpoint). :class:`Trainer` holds the state the phases share.

Every random choice of a step (batch indices, augmentation, prior samples) comes from
generators seeded by ``(seed, step, identity)``; together with the saved model/optimiser state
this makes resuming exact and makes a DDP run see the same global batches as one process.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm.auto import tqdm

from .. import __version__
from ..errors import LatentEditError
from ..framing import write_template
from ..models import GENERIC, Discriminators, ModelConfig, SwapAutoencoder
from .aux_head import AuxHead, aux_loss, landmark_targets
from .config import TrainConfig
from .control import StopFlag, step_generator
from .data import IdentityData, batch_indices, load_data, shard
from .distributed import DistInfo, any_flag, barrier, cleanup, init_distributed
from .losses import bce_logits, reconstruction_losses
from .lpips import load_lpips
from .preview import preview_grid, write_preview
from .state import (RUN_MODEL, MetricsLog, clean_run, load_latest_checkpoint, prepare_run, restore_rng, run_model_step,
                    save_checkpoint, save_run_model, write_run_config)
from .warp import augment, plain, sample_params


class _Generator(nn.Module):
    """Encoder + inter + every decoder (+ the auxiliary head) in one forward, so DDP sees one call per
    step and averages the head's gradients too. Each output is ``(z, rgb, mask[, aux prediction])``."""

    def __init__(self, model: SwapAutoencoder, aux_head: nn.Module | None = None) -> None:
        super().__init__()
        self.model = model
        self.aux_head = aux_head

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, ...]]:
        outs = {}
        for name, x in inputs.items():
            z, rgb, mask = self.model(x, name)
            outs[name] = (z, rgb, mask) if self.aux_head is None else (z, rgb, mask, self.aux_head(z.float()))
        return outs


class Trainer:
    """Model, critics, optimisers and data of one run.

    Args:
        cfg: the options (validated here).
        data: preloaded data (default: :func:`load_data`).
        dist_info: process-group info (default: from the ``torchrun`` environment).

    Raises:
        LatentEditError: for invalid options or data.
    """

    def __init__(self, cfg: TrainConfig, data: dict[str, IdentityData] | None = None,
                 dist_info: DistInfo | None = None) -> None:
        cfg.validate()
        self.cfg = cfg
        self.info = dist_info or init_distributed(cfg.device)
        self.device = self.info.device
        if cfg.batch % self.info.world:
            raise LatentEditError(f"--batch {cfg.batch} must be divisible by the {self.info.world} processes")
        if self.device.type == "cpu":
            per_proc = max(1, (os.cpu_count() or 1) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", self.info.world))))
            torch.set_num_threads(cfg.threads or per_proc)
        self.model_cfg: ModelConfig = cfg.model_config()
        self.data = data if data is not None else load_data(cfg, progress=cfg.progress and self.info.is_main)
        if list(self.data) != list(self.model_cfg.identities):
            raise LatentEditError(f"data identities {list(self.data)} do not match the model's "
                                  f"{list(self.model_cfg.identities)}")
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        self.model = SwapAutoencoder(self.model_cfg).to(self.device)
        self.disc = Discriminators(self.model_cfg).to(self.device)
        cuda = self.device.type == "cuda"
        # channels_last measured ~2x faster for this model on CPU (oneDNN) as well as on CUDA.
        self.channels_last = cfg.channels_last in ("on", "auto")
        self.amp = cfg.amp == "bf16" or (cfg.amp == "auto" and cuda)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
            self.disc.to(memory_format=torch.channels_last)
        if cuda:
            self.data = {k: dataclasses.replace(v, images=v.images.to(self.device),
                                                face_mask=v.face_mask.to(self.device),
                                                feature_mask=v.feature_mask.to(self.device))
                         for k, v in self.data.items()}
        self.aux_head: AuxHead | None = None
        self.aux_targets: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        if cfg.aux > 0:
            self._setup_aux()
        self.gen: nn.Module = _Generator(self.model, self.aux_head)
        self.disc_fwd: nn.Module = self.disc
        if self.info.distributed:
            ids = [self.device.index] if cuda else None
            self.gen = DDP(self.gen, device_ids=ids)
            self.disc_fwd = DDP(self.disc, device_ids=ids, find_unused_parameters=True)
        self.gen_fwd = torch.compile(self.gen) if cfg.compile else self.gen
        self.opt = torch.optim.AdamW(self.generator_parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999),
                                     weight_decay=cfg.weight_decay)
        self.opt_d = torch.optim.AdamW(self.disc.parameters(), lr=cfg.disc_lr, betas=(0.5, 0.999),
                                       weight_decay=cfg.weight_decay)
        self.lpips_model = None
        if cfg.lpips > 0:
            self.lpips_model = load_lpips(cfg.lpips_weights, device=self.device)
        self.step = 0
        self.lr_scale = 1.0
        self.rollbacks = 0

    def _setup_aux(self) -> None:
        """Standardised landmark targets of every decoder's crops and the linear head (``--aux``)."""
        names = [n for n, d in self.data.items() if d.landmark_valid is not None and d.landmark_valid.any()]
        if not names:
            raise LatentEditError("--aux needs landmarks in the training FaceSets; none of "
                                  f"{[d.source for d in self.data.values()]} has any (re-extract with landmarks)")
        lms = np.concatenate([self.data[n].landmarks for n in names])
        valid = np.concatenate([self.data[n].landmark_valid for n in names])
        targets, mirrored, _ = landmark_targets(lms, valid)
        start = 0
        for n in names:
            k = len(self.data[n])
            t = torch.from_numpy(targets[start:start + k]).to(self.device)
            m = torch.from_numpy(mirrored[start:start + k]).to(self.device)
            w = torch.from_numpy(self.data[n].landmark_valid.astype(np.float32)).to(self.device)
            self.aux_targets[n] = (t, m, w)
            start += k
        self.aux_head = AuxHead(self.model_cfg.latent_dim).to(self.device)

    def generator_parameters(self) -> list[nn.Parameter]:
        """Parameters the generator optimiser updates (the model, plus the auxiliary head when on)."""
        params = list(self.model.parameters())
        if self.aux_head is not None:
            params += list(self.aux_head.parameters())
        return params

    # -- batches ---------------------------------------------------------------------------------
    @property
    def images_per_step(self) -> int:
        """Images (all decoders, all ranks) consumed by one step."""
        return self.cfg.batch * len(self.data)

    def make_batch(self, step: int) -> dict[str, tuple[torch.Tensor, ...]]:
        """This rank's augmented batch: name → ``(input, target, face_mask, feature_mask)``."""
        cfg, out = self.cfg, {}
        for i, (name, d) in enumerate(self.data.items()):
            idx = shard(torch.from_numpy(batch_indices(len(d), cfg.batch, step, cfg.seed, i)), self.info.rank,
                        self.info.world).to(d.images.device)
            p = sample_params(cfg.batch, step_generator(cfg.seed, step, i), warp=cfg.warp, rotate=cfg.rotate,
                              scale=cfg.scale, shift=cfg.shift, flip=cfg.flip, color_jitter=cfg.color_jitter)
            ps = p.shard(self.info.rank, self.info.world)
            t = augment(d.images[idx], d.face_mask[idx], d.feature_mask[idx], ps)
            t = tuple(x.to(self.device, non_blocking=True) for x in t)
            if self.channels_last:
                t = tuple(x.contiguous(memory_format=torch.channels_last) for x in t)
            if name in self.aux_targets:
                tgt, mir, w = self.aux_targets[name]
                flipped = (torch.linalg.det(ps.theta[:, :, :2]) < 0).to(tgt.device)[:, None]
                t = t + (torch.where(flipped, mir[idx], tgt[idx]), w[idx])
            out[name] = t
        return out

    def _autocast(self):
        if self.amp:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def gan_active(self, step: int) -> bool:
        """Whether the patch-GAN phase is on at ``step``."""
        return self.cfg.gan_power > 0 and step >= self.cfg.gan_start

    def latent_active(self, step: int) -> bool:
        """Whether the latent-critic phase is on at ``step``."""
        return self.cfg.latent_disc > 0 and step >= self.cfg.latent_disc_start

    def _latent_pair(self, outs: dict, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(real, fake) codes for the latent critic (see ``latentedit.models.discriminators``)."""
        names = [n for n in self.data if n != GENERIC]
        if self.cfg.latent_disc_mode == "identity":
            return outs[names[0]][0].float(), outs[names[1]][0].float()
        fake = torch.cat([outs[n][0] for n in self.data]).float()
        g = step_generator(self.cfg.seed, step, 10_000)
        prior = torch.randn(self.cfg.batch * len(self.data), self.model_cfg.latent_dim, generator=g)
        # Same global prior draw on every rank; each takes the shard matching its share of codes.
        per = self.cfg.batch
        parts = [shard(prior[k * per:(k + 1) * per], self.info.rank, self.info.world) for k in range(len(self.data))]
        return torch.cat(parts).to(self.device), fake

    # -- phase: reconstruct (+ adversarial generator terms) ----------------------------------------
    def generator_backward(self, step: int) -> tuple[dict[str, float], dict, dict]:
        """Forward every decoder on this step's batch, add the losses, backpropagate.

        Returns:
            ``(logs, batch, outputs)``; ``logs["loss"]`` is NaN (and nothing was
            backpropagated) if the loss was non-finite on any rank.
        """
        cfg = self.cfg
        batch = self.make_batch(step)
        with self._autocast():
            outs = self.gen_fwd({n: b[0] for n, b in batch.items()})
        logs: dict[str, float] = {}
        total = torch.zeros((), device=self.device)
        aux_terms = []
        for name, b in batch.items():
            _, tgt, fmask, feat = b[:4]
            rgb, mask = outs[name][1:3]
            if len(b) > 4:
                aux_terms.append(aux_loss(outs[name][3], b[4], b[5]))
            parts = reconstruction_losses(rgb.float(), mask.float(), tgt, fmask, feat, dssim=cfg.dssim,
                                          l1=cfg.l1, mask_loss=cfg.mask_loss, eyes_mouth=cfg.eyes_mouth,
                                          background=cfg.background, lpips_model=self.lpips_model,
                                          lpips=cfg.lpips)
            w = cfg.generic_weight if name == GENERIC else 1.0
            total = total + w * parts["total"]
            for k, v in parts.items():
                logs[f"{name}/{k}"] = float(v.detach())
        if aux_terms:
            aux = sum(aux_terms) / len(aux_terms)
            total = total + cfg.aux * aux
            logs["aux"] = float(aux.detach())
        self.disc.requires_grad_(False)
        try:
            if self.gan_active(step):
                with self._autocast():
                    logits = self.disc.patch(torch.cat([outs[n][1] for n in batch]))
                g_gan = bce_logits(logits.float(), True)
                total = total + cfg.gan_power * g_gan
                logs["gan/g"] = float(g_gan.detach())
            if self.latent_active(step):
                _, fake = self._latent_pair(outs, step)
                g_lat = bce_logits(self.disc.latent(fake), True)
                total = total + cfg.latent_disc * g_lat
                logs["latent/g"] = float(g_lat.detach())
        finally:
            self.disc.requires_grad_(True)
        logs["loss"] = float(total.detach())
        if any_flag(self.info, not math.isfinite(logs["loss"])):
            logs["loss"] = float("nan")
            return logs, batch, outs
        total.backward()
        return logs, batch, outs

    # -- phase: adversarial (critics) ------------------------------------------------------------
    def discriminator_step(self, step: int, batch: dict, outs: dict) -> dict[str, float]:
        """One update of the patch and latent critics (if their phases are active)."""
        gan, lat = self.gan_active(step), self.latent_active(step)
        if not (gan or lat):
            return {}
        self.opt_d.zero_grad(set_to_none=True)
        images = codes = None
        if gan:
            real = torch.cat([b[1] for b in batch.values()])
            fake = torch.cat([outs[n][1].detach().to(real.dtype) for n in batch])
            images = torch.cat([real, fake])
        if lat:
            zr, zf = self._latent_pair(outs, step)
            codes = torch.cat([zr.detach(), zf.detach()])
        with self._autocast():
            p_logits, l_logits = self.disc_fwd(images, codes)
        loss = torch.zeros((), device=self.device)
        logs = {}
        if gan:
            n = p_logits.shape[0] // 2
            d_gan = (bce_logits(p_logits[:n].float(), True) + bce_logits(p_logits[n:].float(), False)) / 2
            loss = loss + d_gan
            logs["gan/d"] = float(d_gan.detach())
        if lat:
            n = zr.shape[0]
            d_lat = (bce_logits(l_logits[:n].float(), True) + bce_logits(l_logits[n:].float(), False)) / 2
            loss = loss + d_lat
            logs["latent/d"] = float(d_lat.detach())
        loss.backward()
        if self.cfg.clip_grad:
            torch.nn.utils.clip_grad_norm_(self.disc.parameters(), self.cfg.clip_grad)
        self.opt_d.step()
        return logs

    def train_step(self, step: int) -> dict[str, float]:
        """One full step (reconstruct + adversarial). ``logs["loss"]`` is NaN if it was skipped."""
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        logs, batch, outs = self.generator_backward(step)
        if math.isnan(logs["loss"]):
            return logs
        params = [p for p in self.generator_parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.clip_grad if self.cfg.clip_grad else float("inf"))
        if not bool(torch.isfinite(norm)):
            logs["loss"] = float("nan")
            return logs
        logs["grad_norm"] = float(norm)
        self.opt.step()
        logs.update(self.discriminator_step(step, batch, outs))
        return logs

    # -- state ---------------------------------------------------------------------------------------
    def state_payload(self) -> dict[str, Any]:
        """Everything a resume needs (RNG states are added by ``save_checkpoint``)."""
        cpu = lambda sd: {k: v.detach().cpu() for k, v in sd.items()}  # noqa: E731
        return {"model": cpu(self.model.state_dict()), "disc": cpu(self.disc.state_dict()),
                "opt": self.opt.state_dict(), "opt_d": self.opt_d.state_dict(),
                "aux": cpu(self.aux_head.state_dict()) if self.aux_head is not None else {},
                "lr_scale": self.lr_scale, "rollbacks": self.rollbacks, "library_version": __version__}

    def load_payload(self, ck: dict[str, Any]) -> None:
        """Restore :meth:`state_payload` output (and the step)."""
        self.model.load_state_dict(ck["model"])
        self.disc.load_state_dict(ck["disc"])
        if self.aux_head is not None:
            self.aux_head.load_state_dict(ck["aux"])
        self.opt.load_state_dict(ck["opt"])
        self.opt_d.load_state_dict(ck["opt_d"])
        self.lr_scale = float(ck.get("lr_scale", 1.0))
        self.rollbacks = int(ck.get("rollbacks", 0))
        self._apply_lr()
        self.step = int(ck["step"])

    def _apply_lr(self) -> None:
        for g in self.opt.param_groups:
            g["lr"] = self.cfg.lr * self.lr_scale
        for g in self.opt_d.param_groups:
            g["lr"] = self.cfg.disc_lr * self.lr_scale


    def resolved_config(self) -> dict[str, Any]:
        """The run's resolved options as saved in ``RUN/config.json``."""
        return {"format_version": 1, "library_version": __version__, "torch_version": torch.__version__,
                "train": self.cfg.to_dict(), "model": self.model_cfg.to_dict(), "world_size": self.info.world,
                "device": str(self.device), "amp": "bf16" if self.amp else "off",
                "channels_last": self.channels_last,
                "data_sizes": {k: len(v) for k, v in self.data.items()}}

    def rollback(self, run: Path, step: int) -> None:
        """Reload the newest checkpoint after a non-finite loss and halve the learning rates.

        Raises:
            LatentEditError: if there is no checkpoint yet or ``max_rollbacks`` is exceeded.
        """
        if self.rollbacks >= self.cfg.max_rollbacks:
            raise LatentEditError(f"loss became non-finite at step {step} after {self.rollbacks} rollbacks "
                                  f"(--max-rollbacks {self.cfg.max_rollbacks}); lower --lr or check the data")
        found = load_latest_checkpoint(run, warn=self.info.is_main)
        if found is None:
            raise LatentEditError(f"loss became non-finite at step {step}, before the first checkpoint of "
                                  f"{run}; lower --lr (now {self.cfg.lr * self.lr_scale:g}) or --gan-power")
        ck, payload = found
        count, scale = self.rollbacks + 1, self.lr_scale * 0.5
        self.load_payload(payload)
        restore_rng(payload["rng"])
        self.rollbacks, self.lr_scale = count, scale
        self._apply_lr()
        warnings.warn(f"non-finite loss at step {step}: rolled back to {ck.name} (step {self.step}) and halved "
                      f"the learning rate to {self.cfg.lr * self.lr_scale:g} (rollback {count} of "
                      f"{self.cfg.max_rollbacks})", RuntimeWarning, stacklevel=2)

    def checkpoint(self, run: Path) -> None:
        """Phase checkpoint: resume state + ``RUN/model`` (rank 0 writes; all ranks wait)."""
        if self.info.is_main:
            save_checkpoint(run, self.step, self.state_payload(), keep=self.cfg.keep_checkpoints)
            self.save_model(run)
        barrier(self.info)

    def save_model(self, run: Path) -> None:
        """Write ``RUN/model`` at the current step (rank 0). The framing template goes in first: it
        is the same at every step, and the model swap carries it into the new folder, so the folder
        is replaced as one piece (see :func:`latentedit.models.save_pretrained`)."""
        self.write_framing(run)
        save_run_model(run, self.model, self.disc, self.step)

    def write_framing(self, run: Path) -> None:
        """Save the training crops' mean landmarks with ``RUN/model`` (the Editor aligns photos to them)."""
        have = [d for d in self.data.values() if d.mean_landmarks is not None]
        if have:
            n = sum(d.n_landmarks for d in have)
            mean = sum(d.mean_landmarks.astype(np.float64) * d.n_landmarks for d in have) / n
            write_template(Path(run) / RUN_MODEL, mean, self.cfg.size, n)

    def preview_samples(self, n: int = 8) -> dict[str, torch.Tensor]:
        """Fixed, unaugmented preview inputs: the first ``n`` images of each decoder."""
        return {k: plain(v.images[:n]).to(self.device) for k, v in self.data.items()}


def train(cfg: TrainConfig, data: dict[str, IdentityData] | None = None) -> dict[str, Any]:
    """Run (or resume) a training run; the loop of ``latentedit train``.

    Args:
        cfg: options; ``cfg.out`` is the run folder.
        data: preloaded data (default: loaded from ``cfg.data`` / ``cfg.generic``).

    Returns:
        Summary ``{"run", "step", "wall_s", "images_per_s", "losses", "rollbacks", "model_id"}``
        (``dry_run``: the resolved config and parameter counts, nothing written).

    Raises:
        LatentEditError: bad options or data, a run folder that would be overwritten, a
            ``--resume`` with different options, or repeated non-finite losses.
    """
    # -- phase: setup ----------------------------------------------------------------------------
    cfg.validate()
    info = init_distributed(cfg.device)
    try:
        trainer = Trainer(cfg, data=data, dist_info=info)
        resolved = trainer.resolved_config()
        if cfg.dry_run:
            params = {"model": sum(p.numel() for p in trainer.model.parameters()),
                      "discriminators": sum(p.numel() for p in trainer.disc.parameters())}
            return {"dry_run": True, "config": resolved, "params": params, "run": cfg.out}
        run = Path(cfg.out)
        prepare_run(run, resolved, cfg.resume)
        if cfg.resume and info.is_main:
            clean_run(run)  # what a killed run left: temp files, a half-done RUN/model swap
        barrier(info)  # every rank has checked the folder before rank 0 writes into it
        loaded = load_latest_checkpoint(run, warn=info.is_main) if cfg.resume else None
        if info.is_main:
            write_run_config(run, resolved, loaded[0] if loaded else None)
        if loaded is not None:
            trainer.load_payload(loaded[1])
            restore_rng(loaded[1]["rng"])
            if info.is_main and run_model_step(run) != trainer.step:
                # killed between the checkpoint and RUN/model (or resumed from an older checkpoint):
                # make RUN/model match the state training continues from
                trainer.save_model(run)
        log = MetricsLog(run, enabled=info.is_main, tensorboard=cfg.tensorboard, after_step=trainer.step)
        barrier(info)
        samples = trainer.preview_samples()
        start_step, t_start = trainer.step, time.perf_counter()
        window: dict[str, list[float]] = {}
        last: dict[str, float] = {}
        t_win, n_win = time.perf_counter(), 0
        bar = tqdm(total=cfg.steps, initial=trainer.step, desc="train", unit="step", dynamic_ncols=True,
                   disable=not (cfg.progress and info.is_main))
        with StopFlag() as stop:
            while trainer.step < cfg.steps:
                # -- phases: reconstruct + adversarial ---------------------------------------------------
                step = trainer.step
                logs = trainer.train_step(step)
                if math.isnan(logs["loss"]):
                    trainer.rollback(run, step)
                    bar.n = trainer.step
                    continue
                trainer.step += 1
                n_win += 1
                for k, v in logs.items():
                    window.setdefault(k, []).append(v)
                # -- phase: log ------------------------------------------------------------------------
                if trainer.step % cfg.log_every == 0 or trainer.step == cfg.steps:
                    dt = time.perf_counter() - t_win
                    last = {k: float(np.mean(v)) for k, v in window.items()}
                    last["img_per_s"] = trainer.images_per_step * n_win / max(dt, 1e-9)
                    last["lr"] = cfg.lr * trainer.lr_scale
                    log.write(trainer.step, last)
                    bar.set_postfix(loss=f"{last['loss']:.4f}", img_s=f"{last['img_per_s']:.1f}")
                    window, t_win, n_win = {}, time.perf_counter(), 0
                bar.update(1)
                # -- phase: preview --------------------------------------------------------------------
                if info.is_main and (trainer.step % cfg.preview_every == 0 or trainer.step == cfg.steps):
                    trainer.model.eval()
                    write_preview(run, trainer.step, preview_grid(trainer.model, samples))
                # -- phase: checkpoint -----------------------------------------------------------------
                stop_now = any_flag(info, stop.stop)
                if trainer.step % cfg.checkpoint_every == 0 or trainer.step == cfg.steps or stop_now:
                    trainer.checkpoint(run)
                if stop_now:
                    break
        bar.close()
        log.close()
        wall = time.perf_counter() - t_start
        done = trainer.step - start_step
        return {"run": str(run), "step": trainer.step, "wall_s": wall, "steps_run": done,
                "images_per_s": trainer.images_per_step * done / max(wall, 1e-9), "losses": last,
                "rollbacks": trainer.rollbacks, "model_id": trainer.model.model_id,
                "interrupted": trainer.step < cfg.steps}
    finally:
        cleanup(info)


__all__ = ["Trainer", "train", "load_data", "step_generator"]
