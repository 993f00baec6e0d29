"""``SwapAutoencoder``: shared encoder + inter, one decoder per identity (DeepFaceLab "df").

Data flow (shapes for the 64 px default)::

    x (N, 3, 64, 64) in [-1, 1]
      -> Encoder: 4 × [stride-2 conv + res blocks]          (N, 256, 4, 4)
      -> flatten + dense                                     z (N, D)        <- encode()
      -> Inter: dense -> (N, inter, 4, 4) -> upscale         (N, inter, 8, 8)
      -> Decoder[identity]: 3 × [pixel-shuffle up + res]     (N, C, 64, 64)
      -> 3×3 conv -> tanh RGB (N, 3, 64, 64), sigmoid mask (N, 1, 64, 64) <- decode()

Every identity shares the encoder and the inter block, so the code ``z`` carries pose,
expression and lighting in one space; a decoder renders it as its identity. That is what
makes swapping (encode A, decode with B) and linear latent editing work.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import LatentEditError
from .config import ModelConfig
from .folder import load_pretrained, save_pretrained, weights_sha256
from .layers import LRELU_SLOPE, Downscale, ResBlock, Upscale

#: Inputs may exceed [-1, 1] by this much (resampling overshoot) before being refused.
RANGE_TOLERANCE = 1e-3


class Encoder(nn.Module):
    """Strided convolutions with residual blocks, then a dense layer to ``z``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for w in cfg.enc_widths():
            layers.append(Downscale(cin, w, kernel=5 if cin == 3 else 3))
            layers.extend(ResBlock(w) for _ in range(cfg.enc_res_blocks))
            cin = w
        self.body = nn.Sequential(*layers)
        self.to_latent = nn.Linear(cin * cfg.bottleneck_res ** 2, cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)                                   # (N, C, r, r)
        return self.to_latent(torch.flatten(h, 1))         # (N, D)


class Inter(nn.Module):
    """Dense expansion of ``z`` to a small spatial tensor, upsampled once (shared by all decoders)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.res = cfg.bottleneck_res
        self.ch = cfg.inter_channels
        self.dense = nn.Linear(cfg.latent_dim, self.ch * self.res ** 2)
        self.up = Upscale(self.ch, self.ch)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.dense(z).view(z.shape[0], self.ch, self.res, self.res)   # (N, inter, r, r)
        return self.up(F.leaky_relu(h, LRELU_SLOPE))                      # (N, inter, 2r, 2r)


class Decoder(nn.Module):
    """Pixel-shuffle upsampling with residual blocks; outputs RGB in [-1, 1] and a mask in [0, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = cfg.inter_channels
        for w in cfg.dec_widths():
            layers.append(Upscale(cin, w))
            layers.extend(ResBlock(w) for _ in range(cfg.dec_res_blocks))
            cin = w
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(cin, 4, 3, padding=1)         # 3 RGB + 1 mask logit

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        o = self.out(self.body(h))                         # (N, 4, S, S)
        return torch.tanh(o[:, :3]), torch.sigmoid(o[:, 3:])


class SwapAutoencoder(nn.Module):
    """Face-swap autoencoder with a shared latent space.

    Args:
        config: the architecture (see :class:`ModelConfig`).

    The public methods check their inputs: images are ``float32 N×3×S×S`` RGB in [-1, 1],
    codes are ``float32 N×D``.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.encoder = Encoder(config)
        self.inter = Inter(config)
        self.decoders = nn.ModuleDict({name: Decoder(config) for name in config.identities})

    # -- public API ----------------------------------------------------------------------------
    @property
    def identities(self) -> tuple[str, ...]:
        """Decoder names, in config order (may include ``"generic"``)."""
        return tuple(self.config.identities)

    @property
    def resolution(self) -> int:
        """Side of the square face crop the model takes and produces."""
        return self.config.resolution

    @property
    def latent_dim(self) -> int:
        """Size D of a latent code."""
        return self.config.latent_dim

    @property
    def device(self) -> torch.device:
        """Device of the weights."""
        return next(self.parameters()).device

    @property
    def model_id(self) -> str:
        """Short sha256 (12 hex) of the weights; identical weights give the same id."""
        return weights_sha256(self.state_dict())[:12]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Encode aligned faces to latent codes.

        Args:
            x: ``float32 N×3×S×S`` RGB in [-1, 1], ``S = config.resolution``.

        Returns:
            ``float32 N×D`` codes.

        Raises:
            LatentEditError: if the shape, dtype or range is wrong.
        """
        self.check_images(x)
        return self.encoder(x)

    def decode(self, z: torch.Tensor, identity: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Render codes as ``identity``.

        Args:
            z: ``float32 N×D`` codes.
            identity: a decoder name (see :attr:`identities`).

        Returns:
            ``(rgb, mask)``: ``float32 N×3×S×S`` in [-1, 1] and ``float32 N×1×S×S`` in [0, 1].

        Raises:
            LatentEditError: for a wrong code shape/dtype, non-finite codes or an unknown identity.
        """
        self.check_codes(z)
        return self.decoders[self.check_identity(identity)](self.inter(z))

    def swap(self, x: torch.Tensor, identity: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode ``x`` and decode it as ``identity`` (``decode(encode(x), identity)``)."""
        self.check_identity(identity)
        return self.decode(self.encode(x), identity)

    def forward(self, x: torch.Tensor, identity: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Unchecked training path: ``(z, rgb, mask)`` for a batch decoded as ``identity``."""
        z = self.encoder(x)
        rgb, mask = self.decoders[identity](self.inter(z))
        return z, rgb, mask

    # -- checks --------------------------------------------------------------------------------
    def check_identity(self, identity: str) -> str:
        """Return ``identity`` if it names a decoder.

        Raises:
            LatentEditError: naming the valid identities.
        """
        if identity not in self.decoders:
            raise LatentEditError(f"unknown identity {identity!r}; this model has decoders: "
                                  f"{', '.join(self.identities)}")
        return identity

    def check_images(self, x: torch.Tensor) -> None:
        """Raise :class:`LatentEditError` unless ``x`` is ``float32 N×3×S×S`` in [-1, 1]."""
        s = self.config.resolution
        want = f"float32 N×3×{s}×{s} RGB in [-1, 1]"
        if not isinstance(x, torch.Tensor):
            raise LatentEditError(f"expected a torch.Tensor {want}, got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != s or x.shape[3] != s:
            raise LatentEditError(f"expected {want}, got {'×'.join(map(str, x.shape)) or 'a scalar'}")
        if x.dtype != torch.float32:
            raise LatentEditError(f"expected {want}, got dtype {x.dtype}")
        if x.numel():
            lo, hi = float(x.min()), float(x.max())
            if not (lo >= -1 - RANGE_TOLERANCE and hi <= 1 + RANGE_TOLERANCE):
                hint = " (images in [0, 1] or [0, 255]? use x * 2 - 1 or x / 127.5 - 1)" if lo >= 0 else ""
                raise LatentEditError(f"expected {want}, got values in [{lo:.3g}, {hi:.3g}]{hint}")

    def check_codes(self, z: torch.Tensor) -> None:
        """Raise :class:`LatentEditError` unless ``z`` is a finite ``float32 N×D`` tensor."""
        d = self.config.latent_dim
        if not isinstance(z, torch.Tensor):
            raise LatentEditError(f"expected latent codes as a torch.Tensor float32 N×{d}, got {type(z).__name__}")
        if z.ndim != 2 or z.shape[1] != d:
            raise LatentEditError(f"expected latent codes float32 N×{d}, got {'×'.join(map(str, z.shape))}")
        if z.dtype != torch.float32:
            raise LatentEditError(f"expected latent codes float32 N×{d}, got dtype {z.dtype}")
        if not bool(torch.isfinite(z).all()):
            raise LatentEditError("latent codes contain NaN or infinity")

    # -- persistence ---------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike, discriminators: nn.Module | None = None,
                        overwrite: bool = False, extra: dict | None = None) -> None:
        """Write ``config.json`` + ``model.safetensors`` (+ ``discriminators.safetensors``).

        Args:
            directory: target folder; created if missing.
            discriminators: optional :class:`~latentedit.models.Discriminators` to save beside.
            overwrite: replace the model files of an existing model folder.
            extra: extra JSON-serialisable metadata stored under ``"extra"`` in config.json.

        Raises:
            LatentEditError: if ``directory`` already holds a model and ``overwrite`` is False.
        """
        save_pretrained(self, directory, discriminators=discriminators, overwrite=overwrite, extra=extra)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: str | torch.device | None = None
                        ) -> "SwapAutoencoder":
        """Build the model from ``config.json`` and load ``model.safetensors`` strictly.

        Args:
            directory: a folder written by :meth:`save_pretrained`.
            device: where to put the weights (default CPU). The model is returned in eval mode.

        Raises:
            ModelFormatError: naming the file for missing files, an unknown or newer
                format_version, a different class, or weights that do not match the config.
        """
        return load_pretrained(cls, directory, device=device)
