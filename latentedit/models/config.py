"""``ModelConfig``: every architectural choice of :class:`~latentedit.models.SwapAutoencoder`.

The config is saved as JSON beside the weights (``config.json``) so a model folder rebuilds
itself exactly. Widths were chosen by measuring CPU training throughput (``latentedit bench
train``): the 64 px default trains at ≥ 28 img/s on 2 CPU cores and decodes one 128 px face in
a few milliseconds.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..errors import ModelFormatError

#: Resolutions the architecture is designed and tested for.
SUPPORTED_RESOLUTIONS = (64, 128, 256)

#: Name of the optional decoder trained on a many-identity FaceSet.
GENERIC = "generic"

#: Documented upper bounds of the size fields, checked before anything is built: a ``config.json``
#: from elsewhere with ``enc_res_blocks: 10000000`` otherwise ran for minutes and died in
#: ``std::bad_alloc``. Each is far above any model this architecture is trained at (the shipped
#: 64 px model: latent 256, channels ≤ 256, 1 res block, 2-3 decoders).
LIMITS: dict[str, int] = {
    "latent_dim": 4096,
    "enc_channels": 1024,
    "inter_channels": 1024,
    "dec_channels": 1024,
    "disc_channels": 1024,
    "latent_disc_hidden": 4096,
    "enc_res_blocks": 16,
    "dec_res_blocks": 16,
    "num_downsamples": 8,
}
#: Most decoders (identities) one model may have.
MAX_IDENTITIES = 64
#: Most weights (float32) the autoencoder may have: 1e9 is 4 GB, more than a model folder of
#: this library is ever expected to hold; a bigger config is refused before allocating anything.
MAX_PARAMETERS = 1_000_000_000

#: Integer fields, and those that may also be null.
_INT_FIELDS = ("resolution", "latent_dim", "enc_channels", "enc_res_blocks", "num_downsamples", "inter_channels",
               "dec_channels", "dec_res_blocks", "disc_channels", "latent_disc_hidden")
_OPTIONAL_FIELDS = ("num_downsamples", "dec_channels")


def _kind(value: Any) -> str:
    """``a string``, ``a boolean``, ... for messages about a JSON value of the wrong type."""
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", float: "a number with a fraction", int: "an integer", list: "a list",
            tuple: "a list", dict: "an object", type(None): "null"}.get(type(value), f"a {type(value).__name__}")


@dataclass
class ModelConfig:
    """Architecture of a swap autoencoder (DeepFaceLab "df"-style: shared encoder + inter,
    one decoder per identity).

    Attributes:
        resolution: side of the square aligned face crop (64, 128 or 256).
        identities: decoder names; may include ``"generic"`` (a decoder trained on many faces).
        latent_dim: size D of the latent code ``z`` (the dense bottleneck).
        enc_channels: width of the first encoder stage; stage i has ``enc_channels * 2**i``
            channels (capped at 8×).
        enc_res_blocks: residual blocks after each strided convolution of the encoder.
        num_downsamples: stride-2 stages of the encoder; None = 4 at 64 px, 5 above (the
            bottleneck grid is then 4×4 at 64/128 px and 8×8 at 256 px).
        inter_channels: channels of the small spatial tensor the "inter" dense layer expands
            ``z`` into (then upsampled once, as in DeepFaceLab's df inter block).
        dec_channels: width of the decoder's last (full-resolution) stage; each coarser
            stage doubles it (capped at ``inter_channels``). None = 24 at 64 px, 16 above
            (full-resolution convolutions dominate the cost; measured with ``bench train``).
        dec_res_blocks: residual blocks after each decoder upsampling.
        disc_channels: width of the first patch-discriminator layer.
        latent_disc_hidden: hidden width of the latent-code discriminator MLP.
    """

    resolution: int = 64
    identities: tuple[str, ...] = ("A", "B")
    latent_dim: int = 256
    enc_channels: int = 32
    enc_res_blocks: int = 1
    num_downsamples: int | None = None
    inter_channels: int = 256
    dec_channels: int | None = None
    dec_res_blocks: int = 1
    disc_channels: int = 32
    latent_disc_hidden: int = 256

    def __post_init__(self) -> None:
        self.check_types()
        self.identities = tuple(self.identities)
        if self.dec_channels is None:
            self.dec_channels = 24 if self.resolution <= 64 else 16
        self.validate()

    # -- derived sizes -------------------------------------------------------------------------
    @property
    def downsamples(self) -> int:
        """Number of stride-2 encoder stages actually used."""
        if self.num_downsamples is not None:
            return int(self.num_downsamples)
        return 4 if self.resolution <= 64 else 5

    @property
    def bottleneck_res(self) -> int:
        """Side of the encoder's last feature grid (flattened into the dense bottleneck)."""
        return self.resolution // (2 ** self.downsamples)

    def enc_widths(self) -> list[int]:
        """Output channels of each encoder stage."""
        return [self.enc_channels * min(2 ** i, 8) for i in range(self.downsamples)]

    def dec_widths(self) -> list[int]:
        """Output channels of each decoder upsampling stage, coarse to fine."""
        n = self.downsamples - 1  # inter already upsampled once
        return [min(self.dec_channels * 2 ** (n - 1 - i), self.inter_channels) for i in range(n)]

    def approx_parameters(self) -> int:
        """Number of weights of the :class:`~latentedit.models.SwapAutoencoder` this config builds
        (convolutions and dense layers, biases included; computed without building it)."""
        def conv(cin: int, cout: int, k: int) -> int:
            return cin * cout * k * k + cout

        def res(ch: int, n: int) -> int:
            return n * 2 * conv(ch, ch, 3)

        total, cin = 0, 3
        for w in self.enc_widths():
            total += conv(cin, w, 5 if cin == 3 else 3) + res(w, self.enc_res_blocks)
            cin = w
        r2 = self.bottleneck_res ** 2
        total += cin * r2 * self.latent_dim + self.latent_dim                      # to_latent
        total += self.latent_dim * self.inter_channels * r2 + self.inter_channels * r2  # inter dense
        total += conv(self.inter_channels, 4 * self.inter_channels, 3)           # inter upscale
        dec, cin = 0, self.inter_channels
        for w in self.dec_widths():
            dec += conv(cin, 4 * w, 3) + res(w, self.dec_res_blocks)
            cin = w
        dec += conv(cin, 4, 3)
        return total + dec * len(self.identities)

    # -- validation / (de)serialisation --------------------------------------------------------
    def check_types(self) -> None:
        """Check every field's JSON type (run first: a string ``"64"`` must not reach arithmetic).

        Raises:
            ValueError: ``field 'latent_dim' must be an integer, got '256' (a string)``.
        """
        for f in _INT_FIELDS:
            v = getattr(self, f)
            if v is None and f in _OPTIONAL_FIELDS:
                continue
            if isinstance(v, bool) or not isinstance(v, int):
                null = " or null" if f in _OPTIONAL_FIELDS else ""
                raise ValueError(f"field '{f}' must be an integer{null}, got {v!r} ({_kind(v)})")
        ids = self.identities
        if isinstance(ids, (str, bytes)) or not isinstance(ids, (list, tuple)):
            raise ValueError(f"field 'identities' must be a list of decoder names, got {ids!r} ({_kind(ids)})")
        for name in ids:
            if not isinstance(name, str):
                raise ValueError(f"field 'identities': decoder names must be strings, got {name!r} ({_kind(name)})")

    def validate(self) -> None:
        """Check the values are consistent and within :data:`LIMITS`.

        Raises:
            ValueError: naming the offending field.
        """
        self.check_types()
        for f, hi in LIMITS.items():
            v = getattr(self, f)
            if v is not None and v > hi:
                raise ValueError(f"field '{f}' must be ≤ {hi}, got {v}")
        if len(self.identities) > MAX_IDENTITIES:
            raise ValueError(f"field 'identities': at most {MAX_IDENTITIES} decoders, got {len(self.identities)}")
        if self.resolution not in SUPPORTED_RESOLUTIONS:
            raise ValueError(f"field 'resolution' must be one of {SUPPORTED_RESOLUTIONS}, got {self.resolution}")
        if not self.identities:
            raise ValueError("field 'identities' must name at least one decoder")
        if len(set(self.identities)) != len(self.identities):
            raise ValueError(f"field 'identities' must be distinct, got {list(self.identities)}")
        for name in self.identities:
            if not name or not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"field 'identities': name {name!r} must be non-empty letters, digits, '_' or '-'")
        for f in ("latent_dim", "enc_channels", "inter_channels", "dec_channels", "disc_channels",
                  "latent_disc_hidden"):
            if getattr(self, f) < 1:
                raise ValueError(f"field '{f}' must be ≥ 1, got {getattr(self, f)}")
        for f in ("enc_res_blocks", "dec_res_blocks"):
            if getattr(self, f) < 0:
                raise ValueError(f"field '{f}' must be ≥ 0, got {getattr(self, f)}")
        d = self.downsamples
        if d < 2 or self.resolution % (2 ** d) or math.log2(self.resolution) - d < 1:
            raise ValueError(f"field 'num_downsamples': {d} does not fit resolution {self.resolution}")
        n = self.approx_parameters()
        if n > MAX_PARAMETERS:
            raise ValueError(f"the architecture would have {n / 1e9:.1f} billion weights, over the "
                             f"{MAX_PARAMETERS / 1e9:g} billion limit (lower latent_dim or the channel widths)")

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a JSON-serialisable dict."""
        d = dataclasses.asdict(self)
        d["identities"] = list(self.identities)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "config") -> "ModelConfig":
        """Build a config from :meth:`to_dict` output.

        Raises:
            ModelFormatError: naming ``where`` and the bad or unknown field.
        """
        if not isinstance(d, dict):
            raise ModelFormatError(f"{where}: model config must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ModelFormatError(f"{where}: unknown model config field(s) {sorted(unknown)}")
        try:
            return cls(**d)
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            raise ModelFormatError(f"{where}: {msg if msg.startswith('field ') else 'invalid model config: ' + msg}") \
                from None

    def replace(self, **changes: Any) -> "ModelConfig":
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


def tiny_config(resolution: int = 64, identities: tuple[str, ...] = ("A", "B"), **kw: Any) -> ModelConfig:
    """A very small config for tests and smoke runs (same topology, few channels)."""
    base = dict(resolution=resolution, identities=identities, latent_dim=32, enc_channels=8,
                inter_channels=32, dec_channels=8, disc_channels=8, latent_disc_hidden=32)
    base.update(kw)
    return ModelConfig(**base)


__all__ = ["ModelConfig", "SUPPORTED_RESOLUTIONS", "GENERIC", "LIMITS", "MAX_IDENTITIES", "MAX_PARAMETERS",
           "tiny_config"]
