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
(:mod:`latentedit.eval.bench.oracle`, which calls :func:`latentedit.eval.oracle_train.train_oracle`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from .. import __version__
from .._io import atomic_path, atomic_write_json
from ..errors import LatentEditError, ModelFormatError
from ..manifest import verify_manifest
from ..preprocess import to_model
# Where the oracle folder is found is the shipped-model registry's business (the app asks it too).
from ..pretrained import ORACLE_ENV, default_oracle_dir

__all__ = ["AttributeOracle", "OracleConfig", "OracleNet", "ORACLE_ENV", "default_oracle_dir"]

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
        if isinstance(images, np.ndarray) or images.dtype == torch.uint8:
            x = to_model(images)  # the model's own conversion (ValueError for a non-uint8 array)
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
