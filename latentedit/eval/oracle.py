"""The SynthFaces attribute oracle: a small CNN that reads SynthFaces attributes off an image.

It is trained only on fresh SynthFaces renders (``latentedit.synth.render`` with sampled identity
and expression parameters) and never sees any model under test, so it can judge edits and swaps
made by any autoencoder: "did the smile go up? did the nose change?". Targets are normalised per
attribute (zero mean, unit std over the training renders); :meth:`AttributeOracle.predict`
returns values in the attributes' own units. Training adds blur, noise and colour jitter so that
the oracle also reads the softer faces an autoencoder decodes.

A trained oracle is a folder with ``config.json`` (architecture, attribute names, normalisation,
training options and held-out R²/MAE per attribute) and ``model.safetensors``.

Train the shipped one with ``latentedit bench oracle --out latentedit/pretrained/oracle``
(:mod:`latentedit.eval.bench.oracle`).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .._io import atomic_path, atomic_write_json
from ..errors import LatentEditError, ModelFormatError
from ..manifest import verify_manifest
# Where the oracle folder is found is the shipped-model registry's business (the app asks it too).
from ..pretrained import ORACLE_ENV, default_oracle_dir

__all__ = ["AttributeOracle", "OracleConfig", "OracleNet", "ORACLE_ENV", "default_oracle_dir", "heldout_table",
           "model_card", "train_oracle"]

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class OracleNet(nn.Module):
    """Four stride-2 conv stages (S → S/16) then a small MLP head; input ``N×3×S×S`` in [-1, 1].

    Sized for CPU training (about 12 M multiply-adds per 64 px image at width 16): the first,
    full-resolution stage has a single convolution, the coarser ones two.
    """

    def __init__(self, n_outputs: int, width: int = 16, resolution: int = 64) -> None:
        super().__init__()
        chans = [3, width, width * 2, width * 4, width * 8]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:])):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.SiLU()]
            if i > 0:
                layers += [nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.SiLU()]
        self.features = nn.Sequential(*layers)
        grid = resolution // 16
        # Flatten (not global pooling): pose and gaze are about *where* things are.
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(chans[-1] * grid * grid, 256), nn.SiLU(),
                                  nn.Dropout(0.1), nn.Linear(256, n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, S, S) -> (N, n_outputs)
        return self.head(self.features(x))


@dataclass
class OracleConfig:
    """Everything needed to rebuild an oracle and interpret its outputs.

    Attributes:
        attributes: output attribute names, in output order.
        mean: per-attribute mean of the training targets (original units).
        std: per-attribute std of the training targets (original units).
        kinds: per-attribute ``"expression"`` or ``"identity"``.
        resolution: input side; any input is resized to it.
        width: channel width of the first conv stage.
        train: training options and data description.
        heldout: ``{attribute: {"r2", "mae", "mae_norm"}}`` on renders never seen in training.
    """

    attributes: list[str]
    mean: list[float]
    std: list[float]
    kinds: list[str]
    resolution: int = 64
    width: int = 16
    train: dict[str, Any] = field(default_factory=dict)
    heldout: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict with ``format_version``, class name and library version."""
        from .. import __version__

        return {"format_version": FORMAT_VERSION, "class": "AttributeOracle", "library_version": __version__,
                "attributes": list(self.attributes), "mean": [float(v) for v in self.mean],
                "std": [float(v) for v in self.std], "kinds": list(self.kinds), "resolution": self.resolution,
                "width": self.width, "train": self.train, "heldout": self.heldout}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = CONFIG_NAME) -> "OracleConfig":
        """Validate and build a config.

        Raises:
            ModelFormatError: naming ``where`` and the problem.
        """
        if not isinstance(d, dict):
            raise ModelFormatError(f"{where}: expected a JSON object")
        ver = d.get("format_version")
        if not isinstance(ver, int) or ver > FORMAT_VERSION:
            raise ModelFormatError(f"{where}: oracle format_version {ver!r} is not supported (this library "
                                   f"reads ≤ {FORMAT_VERSION}); upgrade latentedit")
        if d.get("class") != "AttributeOracle":
            raise ModelFormatError(f"{where}: not an attribute oracle (class {d.get('class')!r})")
        try:
            cfg = cls(attributes=[str(a) for a in d["attributes"]], mean=[float(v) for v in d["mean"]],
                      std=[float(v) for v in d["std"]], kinds=[str(k) for k in d["kinds"]],
                      resolution=int(d["resolution"]), width=int(d["width"]), train=dict(d.get("train", {})),
                      heldout=dict(d.get("heldout", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"{where}: invalid oracle config ({type(exc).__name__}: {exc})") from None
        n = len(cfg.attributes)
        if not (len(cfg.mean) == len(cfg.std) == len(cfg.kinds) == n) or n == 0:
            raise ModelFormatError(f"{where}: attributes/mean/std/kinds lengths differ")
        if cfg.resolution % 16 or cfg.resolution < 16:
            raise ModelFormatError(f"{where}: resolution must be a multiple of 16, got {cfg.resolution}")
        return cfg


class AttributeOracle:
    """A trained attribute regressor. Build with :meth:`load` or :func:`train_oracle`.

    Args:
        config: the oracle's :class:`OracleConfig`.
        net: the network (weights loaded).
        device: where to run.
    """

    def __init__(self, config: OracleConfig, net: OracleNet, device: str | torch.device = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self._mean = torch.tensor(config.mean, dtype=torch.float32, device=self.device)
        self._std = torch.tensor(config.std, dtype=torch.float32, device=self.device)

    @property
    def attributes(self) -> list[str]:
        """Output attribute names."""
        return list(self.config.attributes)

    @property
    def resolution(self) -> int:
        """Input side the network works at (inputs are resized to it)."""
        return self.config.resolution

    def std(self, name: str) -> float:
        """Standard deviation of attribute ``name`` over the training renders (its natural scale)."""
        return float(self.config.std[self._index(name)])

    def kind(self, name: str) -> str:
        """``"expression"`` or ``"identity"``."""
        return self.config.kinds[self._index(name)]

    def _index(self, name: str) -> int:
        try:
            return self.config.attributes.index(name)
        except ValueError:
            raise LatentEditError(f"the oracle does not know attribute {name!r}; it predicts: "
                                  f"{', '.join(self.config.attributes)}") from None

    @classmethod
    def load(cls, directory: str | os.PathLike, device: str | torch.device | None = None) -> "AttributeOracle":
        """Load an oracle folder (``config.json`` + ``model.safetensors``).

        Args:
            directory: the oracle folder, e.g. ``pretrained/oracle``.
            device: where to run (default CPU).

        Returns:
            The oracle, in eval mode.

        Raises:
            ModelFormatError: naming the file if the folder, config or weights are missing or invalid,
                or if the folder has a ``MANIFEST.sha256`` (the shipped one does) it does not verify.
        """
        from safetensors.torch import load_file

        directory = Path(directory)
        verify_manifest(directory)  # refuse unsafe entries, unlisted or modified files before reading any
        cfg_path, w_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        for p in (cfg_path, w_path):
            if not p.is_file():
                raise ModelFormatError(f"{p}: missing; an oracle folder holds {CONFIG_NAME} and {WEIGHTS_NAME} "
                                       f"(train one with `latentedit bench oracle --out DIR`)")
        try:
            raw = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelFormatError(f"{cfg_path}: cannot read ({exc})") from None
        cfg = OracleConfig.from_dict(raw, where=str(cfg_path))
        net = OracleNet(len(cfg.attributes), cfg.width, cfg.resolution)
        try:
            state = load_file(str(w_path))
            net.load_state_dict(state, strict=True)
        except Exception as exc:  # safetensors / load_state_dict raise several types
            raise ModelFormatError(f"{w_path}: weights do not match the config ({type(exc).__name__}: "
                                   f"{str(exc)[:200]})") from None
        return cls(cfg, net, device or "cpu")

    def save(self, directory: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write ``config.json`` and ``model.safetensors`` atomically into ``directory``.

        Raises:
            LatentEditError: if the folder already holds an oracle and ``overwrite`` is False.
        """
        from safetensors.torch import save_file

        directory = Path(directory)
        if not overwrite and ((directory / CONFIG_NAME).exists() or (directory / WEIGHTS_NAME).exists()):
            raise LatentEditError(f"{directory} already holds an oracle; refusing to overwrite it")
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        with atomic_path(directory / WEIGHTS_NAME) as tmp:
            save_file(state, str(tmp), metadata={"format": "pt", "attributes": ",".join(self.attributes)})
        atomic_write_json(directory / CONFIG_NAME, self.config.to_dict())
        return directory

    def preprocess(self, images: np.ndarray | torch.Tensor,
                   value_range: tuple[float, float] | None = None) -> torch.Tensor:
        """Turn an image batch into the network's input (``N×3×R×R`` float in [-1, 1]).

        Args:
            images: ``uint8`` numpy/tensor ``N×S×S×3`` (or one ``S×S×3`` image), or a float tensor
                ``N×3×S×S``.
            value_range: (low, high) of float inputs, e.g. ``(-1, 1)`` for decoder outputs or
                ``(0, 1)`` for FaceSet items; required for float inputs, ignored for uint8.

        Raises:
            ValueError: for a wrong dtype/shape, or a float input without ``value_range``.
        """
        if isinstance(images, np.ndarray):
            if images.dtype != np.uint8:
                raise ValueError(f"numpy images must be uint8 N×S×S×3, got {images.dtype}")
            images = torch.from_numpy(np.ascontiguousarray(images))
        if images.dtype == torch.uint8:
            if images.ndim == 3:
                images = images[None]
            if images.ndim != 4 or images.shape[-1] != 3:
                raise ValueError(f"uint8 images must be N×S×S×3 RGB, got shape {tuple(images.shape)}")
            x = images.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        else:
            if value_range is None:
                raise ValueError("float images need an explicit value_range, e.g. (-1, 1) or (0, 1)")
            x = images.float()
            if x.ndim == 3:
                x = x[None]
            if x.ndim != 4 or x.shape[1] != 3:
                raise ValueError(f"float images must be N×3×S×S RGB, got shape {tuple(x.shape)}")
            lo, hi = value_range
            x = (x - lo) / (hi - lo) * 2 - 1
        x = x.to(self.device)
        r = self.resolution
        if x.shape[-1] != r or x.shape[-2] != r:
            down = x.shape[-1] > r
            x = F.interpolate(x, size=(r, r), mode="area" if down else "bilinear",
                              align_corners=None if down else False)
        return x.clamp(-1, 1)

    @torch.no_grad()
    def predict(self, images: np.ndarray | torch.Tensor, value_range: tuple[float, float] | None = None,
                batch_size: int = 256, normalized: bool = False) -> dict[str, np.ndarray]:
        """Predict every attribute for a batch of faces.

        Args:
            images: see :meth:`preprocess`.
            value_range: see :meth:`preprocess`.
            batch_size: images per forward pass.
            normalized: return values in training-std units (zero mean) instead of original units.

        Returns:
            ``{attribute: float32 array (N,)}``.

        Raises:
            ValueError: for inputs the oracle cannot read.
        """
        x = self.preprocess(images, value_range)
        outs = [self.net(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]
        y = torch.cat(outs) if outs else torch.zeros(0, len(self.attributes), device=self.device)
        if not normalized:
            y = y * self._std + self._mean
        y = y.cpu().numpy().astype(np.float32)
        return {name: y[:, j] for j, name in enumerate(self.attributes)}


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
    synth = _synth_api()
    rng = np.random.default_rng(seed)
    expr_names = set(getattr(synth, "EXPRESSION_ATTRIBUTES", ()))
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    names: list[str] | None = None
    targets = None
    it: Sequence[int] | Any = range(n)
    if progress:
        from tqdm.auto import tqdm
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


def _synth_api():
    """The SynthFaces API (``IdentityParams``, ``ExpressionParams``, ``render``, ``EXPRESSION_ATTRIBUTES``)."""
    import types

    from .. import synth

    if all(hasattr(synth, k) for k in ("IdentityParams", "ExpressionParams", "render")):
        return synth
    from ..synth import params, render  # the package does not re-export them (yet)

    return types.SimpleNamespace(IdentityParams=params.IdentityParams, ExpressionParams=params.ExpressionParams,
                                 render=render.render, EXPRESSION_ATTRIBUTES=params.EXPRESSION_ATTRIBUTES)


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
    x_all = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # uint8 (N, 3, S, S)
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
        from tqdm.auto import tqdm
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
        xb = _augment(x_all[idx].float().div(127.5).sub(1.0), gen)
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

