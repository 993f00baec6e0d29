"""latentedit.models: the swap autoencoder, its discriminators and model folders.

>>> from latentedit.models import ModelConfig, SwapAutoencoder
>>> model = SwapAutoencoder(ModelConfig(resolution=64, identities=("A", "B")))
>>> z = model.encode(x)                 # x: float32 N×3×64×64 in [-1, 1]  ->  N×D
>>> rgb, mask = model.decode(z, "B")    # N×3×64×64 in [-1, 1], N×1×64×64 in [0, 1]
"""
from .autoencoder import Decoder, Encoder, Inter, SwapAutoencoder
from .config import GENERIC, SUPPORTED_RESOLUTIONS, ModelConfig, tiny_config
from .discriminators import LATENT_DISC_MODES, Discriminators, LatentDiscriminator, PatchDiscriminator
from .hub import (FORMAT_VERSION, from_pretrained, load_discriminators, load_model, read_config,
                  resolve_model_dir, save_pretrained, weights_sha256)

__all__ = [
    "SwapAutoencoder", "Encoder", "Inter", "Decoder",
    "ModelConfig", "tiny_config", "GENERIC", "SUPPORTED_RESOLUTIONS",
    "Discriminators", "PatchDiscriminator", "LatentDiscriminator", "LATENT_DISC_MODES",
    "FORMAT_VERSION", "save_pretrained", "from_pretrained", "load_model", "load_discriminators",
    "read_config", "resolve_model_dir", "weights_sha256",
]
