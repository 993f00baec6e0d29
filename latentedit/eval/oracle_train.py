"""Training the SynthFaces attribute oracle (:class:`latentedit.eval.oracle.AttributeOracle`).

``latentedit bench oracle`` runs :func:`train_oracle`: fresh SynthFaces renders with sampled identity
and expression parameters, augmented so decoded (soft) faces read like renders, and a held-out R²/MAE
table per attribute (:func:`heldout_table`, the model card's :func:`model_card`).
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import synth
from ..errors import LatentEditError
from ..preprocess import to_model
from .oracle import CONFIG_NAME, AttributeOracle, OracleConfig, OracleNet

__all__ = ["heldout_table", "model_card", "render_dataset", "train_oracle"]


# -- data ------------------------------------------------------------------------------------------

def render_dataset(n: int, size: int, seed: int, progress: bool = False
                   ) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """Render ``n`` SynthFaces with independently sampled identity and expression parameters.

    Args:
        n: number of renders.
        size: render side in pixels.
        seed: RNG seed (different seeds give disjoint random draws).
        progress: show a progress bar.

    Returns:
        ``(images uint8 N×S×S×3, names, targets float32 N×A, kinds)``; ``names`` are the rendered
        attributes that are numbers, ``kinds`` says ``"expression"`` or ``"identity"`` for each.
    """
    rng = np.random.default_rng(seed)
    expr_names = set(synth.EXPRESSION_ATTRIBUTES)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    names: list[str] | None = None
    targets = None
    it: Sequence[int] | Any = range(n)
    if progress:
        it = tqdm(it, desc=f"rendering {n} SynthFaces at {size}px", unit="img", file=sys.stderr)
    for i in it:
        ident = synth.IdentityParams.sample(rng)
        expr = synth.ExpressionParams.sample(rng)
        res = synth.render(ident, expr, size)
        if names is None:
            names = [k for k, v in res.attributes.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
            targets = np.empty((n, len(names)), dtype=np.float32)
        images[i] = res.image
        targets[i] = [float(res.attributes[k]) for k in names]
    assert names is not None and targets is not None
    kinds = ["expression" if k in expr_names else "identity" for k in names]
    return images, names, targets, kinds


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Blur, down/up-sampling, noise and colour jitter, so decoded (soft) faces read like renders."""
    n, _, s, _ = x.shape
    u = lambda *shape: torch.rand(*shape, generator=gen)
    # Resolution loss on half the batch: down to 40-100% then back up.
    lowres = u(n) < 0.5
    if lowres.any():
        f = float(0.4 + 0.6 * u(1))
        small = F.interpolate(x[lowres], size=(max(8, int(s * f)),) * 2, mode="area")
        x = x.clone()
        x[lowres] = F.interpolate(small, size=(s, s), mode="bilinear", align_corners=False)
    # Gaussian blur (σ up to 1.2 px) on a third of the batch.
    sigma = float(0.3 + 0.9 * u(1))
    k = torch.arange(5, dtype=torch.float32) - 2
    g = torch.exp(-k ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    blurred = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), g.view(1, 1, 1, 5).repeat(3, 1, 1, 1), groups=3)
    blurred = F.conv2d(blurred, g.view(1, 1, 5, 1).repeat(3, 1, 1, 1), groups=3)
    pick = (u(n) < 0.33).view(n, 1, 1, 1)
    x = torch.where(pick, blurred, x)
    # Colour: per-channel gain/offset and brightness; then pixel noise.
    gain = 1 + 0.15 * (u(n, 3, 1, 1) - 0.5)
    off = 0.15 * (u(n, 3, 1, 1) - 0.5) + 0.2 * (u(n, 1, 1, 1) - 0.5)
    x = x * gain + off
    x = x + torch.randn(x.shape, generator=gen) * (0.04 * u(n, 1, 1, 1))
    return x.clamp(-1, 1)


def _r2_mae(pred: np.ndarray, target: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ss_res = ((pred - target) ** 2).sum(0)
    ss_tot = ((target - target.mean(0)) ** 2).sum(0)
    r2 = 1 - ss_res / np.maximum(ss_tot, 1e-12)
    mae = np.abs(pred - target).mean(0)
    return r2, mae, mae / std


def train_oracle(out: str | os.PathLike | None, n_images: int = 8000, size: int = 64, seed: int = 0,
                 steps: int = 3000, batch_size: int = 128, lr: float = 2e-3, width: int = 16,
                 n_heldout: int = 1000, max_cpu_minutes: float | None = None, progress: bool = True,
                 overwrite: bool = False, init: str | os.PathLike | None = None) -> AttributeOracle:
    """Train an oracle on fresh SynthFaces renders and evaluate it on renders it never saw.

    Args:
        out: folder to save into (``config.json`` + ``model.safetensors``); None = do not save.
        n_images: training renders.
        size: render and network resolution (multiple of 16).
        seed: seed of the training renders, the initialisation and the augmentation; the held-out
            renders use ``seed + 1_000_003``.
        steps: optimisation steps (AdamW; 5 % warm-up, then cosine decay).
        batch_size: images per step.
        lr: peak learning rate.
        width: channel width of the first conv stage.
        n_heldout: held-out renders for R²/MAE.
        max_cpu_minutes: budget of the optimisation in CPU time of this process (rendering
            excluded), so a shared machine does the same amount of work whatever else runs on it.
            The learning-rate schedule follows whichever of steps or budget runs out first, so
            training always ends with a fully decayed learning rate.
        progress: show progress bars.
        overwrite: allow replacing an existing oracle in ``out``.
        init: an oracle folder to continue from (its weights, width and normalisation are kept;
            use a new ``seed`` so the renders are fresh). Its earlier training is recorded.

    Returns:
        The trained :class:`AttributeOracle` with ``config.heldout`` filled in.

    Raises:
        LatentEditError: if ``out`` already holds an oracle and ``overwrite`` is False, or bad sizes.
    """
    if size % 16 or size < 16:
        raise LatentEditError(f"oracle size must be a multiple of 16 (≥ 16), got {size}")
    if n_images < 2 or steps < 1:
        raise LatentEditError(f"need n_images ≥ 2 and steps ≥ 1, got {n_images} and {steps}")
    if out is not None and not overwrite and (Path(out) / CONFIG_NAME).exists():
        raise LatentEditError(f"{out} already holds an oracle; refusing to overwrite it")
    t0 = time.time()
    images, names, targets, kinds = render_dataset(n_images, size, seed, progress)
    t_render = time.time() - t0
    start = AttributeOracle.load(init) if init is not None else None
    if start is not None:
        if start.attributes != names or start.resolution != size:
            raise LatentEditError(f"--init {init}: oracle predicts {start.attributes} at {start.resolution} px, "
                                  f"the renders have {names} at {size} px")
        mean, std, width = np.array(start.config.mean), np.array(start.config.std), start.config.width
    else:
        mean = targets.mean(0)
        std = targets.std(0)
        std = np.where(std < 1e-6, 1.0, std)  # a constant attribute: keep it, its R² will say so
    x_all = torch.from_numpy(np.ascontiguousarray(images))  # uint8 (N, S, S, 3)
    y_all = torch.from_numpy((targets - mean) / std).float()

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = OracleNet(len(names), width, size)
    if start is not None:
        net.load_state_dict(start.net.state_dict())
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    net.train()
    it: Any = range(steps)
    if progress:
        it = tqdm(it, desc="training oracle", unit="step", file=sys.stderr)
    done = 0
    loss_ema = math.nan
    t_start = time.process_time()
    budget = None if max_cpu_minutes is None else max_cpu_minutes * 60.0
    for step in it:
        progress_frac = step / steps
        if budget is not None:
            progress_frac = max(progress_frac, (time.process_time() - t_start) / budget)
        if progress_frac >= 1.0:
            break
        for group in opt.param_groups:
            group["lr"] = lr * (progress_frac / 0.05 if progress_frac < 0.05
                                else 0.5 * (1 + math.cos(math.pi * (progress_frac - 0.05) / 0.95)))
        idx = torch.randint(0, n_images, (batch_size,), generator=gen)
        xb = _augment(to_model(x_all[idx]), gen)
        # Horizontal flips are NOT used: yaw, roll and gaze_x change sign under a flip.
        loss = F.smooth_l1_loss(net(xb), y_all[idx], beta=0.5)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        lv = float(loss.detach())
        loss_ema = lv if math.isnan(loss_ema) else 0.98 * loss_ema + 0.02 * lv
        if progress and step % 20 == 0:
            it.set_postfix(loss=f"{loss_ema:.4f}")
    net.eval()
    t_train = time.time() - t0 - t_render
    cpu_train = time.process_time() - t_start

    cfg = OracleConfig(attributes=names, mean=mean.tolist(), std=std.tolist(), kinds=kinds, resolution=size,
                       width=width)
    oracle = AttributeOracle(cfg, net)
    hx, hnames, hy, _ = render_dataset(n_heldout, size, seed + 1_000_003, progress)
    pred = oracle.predict(hx)
    p = np.stack([pred[k] for k in names], 1)
    r2, mae, mae_n = _r2_mae(p, hy[:, [hnames.index(k) for k in names]], std)
    cfg.heldout = {k: {"r2": round(float(r2[j]), 4), "mae": round(float(mae[j]), 5),
                       "mae_norm": round(float(mae_n[j]), 4)} for j, k in enumerate(names)}
    cfg.train = {"n_images": n_images, "n_heldout": n_heldout, "size": size, "seed": seed,
                 "heldout_seed": seed + 1_000_003, "steps": steps, "steps_done": done,
                 "batch_size": batch_size, "lr": lr, "max_cpu_minutes": max_cpu_minutes,
                 "train_cpu_seconds": round(cpu_train, 1), "final_loss": round(loss_ema, 5),
                 "render_seconds": round(t_render, 1), "train_seconds": round(t_train, 1),
                 "init": None if start is None else {"from": str(init), "train": start.config.train},
                 "data": "fresh latentedit.synth renders (IdentityParams.sample + ExpressionParams.sample); "
                         "no ../shared data", "torch": torch.__version__}
    if out is not None:
        oracle.save(out, overwrite=overwrite)
    return oracle


def heldout_table(oracle: AttributeOracle) -> str:
    """Markdown table of the oracle's held-out R² and MAE per attribute."""
    rows = ["| attribute | kind | R² | MAE | MAE / std |", "|---|---|---:|---:|---:|"]
    for name in oracle.attributes:
        h = oracle.config.heldout.get(name, {})
        rows.append(f"| {name} | {oracle.kind(name)} | {h.get('r2', float('nan')):.3f} | "
                    f"{h.get('mae', float('nan')):.4f} | {h.get('mae_norm', float('nan')):.3f} |")
    return "\n".join(rows)


def model_card(oracle: AttributeOracle) -> str:
    """A README for an oracle folder: what it is, how it was trained, its held-out accuracy."""
    t = oracle.config.train
    return "\n".join([
        "# SynthFaces attribute oracle", "",
        "A small CNN (`latentedit.eval.oracle.OracleNet`) that reads every SynthFaces attribute off a face crop. "
        "It is the model-independent judge used by `latentedit report` and `latentedit bench quality` on "
        "synthetic faces.", "",
        f"- trained only on fresh SynthFaces renders: {t.get('n_images')} images at {oracle.resolution} px "
        f"(seed {t.get('seed')}), with blur/down-sampling/noise/colour augmentation so decoded faces read like "
        "renders; no data from ../shared was used",
        f"- {t.get('steps_done')} steps of {t.get('batch_size')} on CPU ({t.get('train_cpu_seconds')} s of CPU time, "
        f"{t.get('train_seconds')} s wall on a shared 2-core machine) "
        f"(AdamW, lr {t.get('lr')}, warm-up + cosine), torch {t.get('torch')}",
        *([f"- continued from an oracle trained for {t['init']['train'].get('steps_done')} steps on "
           f"{t['init']['train'].get('n_images')} other renders (seed {t['init']['train'].get('seed')}, "
           f"{t['init']['train'].get('train_cpu_seconds')} s of CPU time)"] if t.get("init") else []),
        f"- held-out accuracy below: {t.get('n_heldout')} renders never seen in training (seed "
        f"{t.get('heldout_seed')}); MAE in the attribute's units and in units of its std",
        "- files: `config.json` (architecture, attribute names, normalisation, training options, held-out "
        "scores), `model.safetensors`",
        f"- reproduce: `latentedit bench oracle --out DIR --n-images {t.get('n_images')} --size "
        f"{oracle.resolution} --seed {t.get('seed')} --batch-size {t.get('batch_size')} --n-heldout "
        f"{t.get('n_heldout')} --lr {t.get('lr')}" + (f" --init PREVIOUS" if t.get("init") else "")
        + (f" --max-cpu-minutes {t['max_cpu_minutes']:g}" if t.get("max_cpu_minutes")
                                   else "") + "`", "",
        "Categorical attributes (`hair_style`, `glasses`) are regressed as their float index. Scene attributes "
        "(`light_*`, `background`) are predicted too, so leakage into lighting shows up in reports.", "",
        heldout_table(oracle), ""])

