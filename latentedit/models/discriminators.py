"""Discriminators used only in training: a patch GAN on decoder outputs and a latent-code critic.

Latent discriminator design (why linear edits stay on the face manifold)
------------------------------------------------------------------------
An InterFaceGAN edit moves a code along a straight line, ``z + alpha * n``. That only
produces a face if the decoder has seen codes around the whole segment. A plain autoencoder
leaves its codes in a thin, curved, identity-clustered cloud, so a straight move leaves it.

The latent discriminator is trained in one of two modes (``TrainConfig.latent_disc_mode``):

* ``"prior"`` (default, an adversarial autoencoder / e4e-style latent discriminator): the
  critic separates encoder codes of real faces ("fake") from samples of an isotropic Gaussian
  prior ``N(0, I)`` ("real"); the encoder is pushed to make its codes indistinguishable from the
  prior. The code cloud becomes convex, centred and roughly isotropic, so straight lines between
  and beyond real codes stay where the decoder was trained, and ``alpha`` in std units means
  the same along every direction.
* ``"identity"`` (DeepFaceLab's "true face"): the critic separates codes of identity A from
  codes of identity B; the encoder is pushed to make B's codes look like A's. Codes then carry
  expression and pose rather than identity, which helps swaps more than edits.
"""
from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig

LATENT_DISC_MODES = ("prior", "identity")


class PatchDiscriminator(nn.Module):
    """PatchGAN critic: ``(N, 3, S, S) in [-1, 1] -> (N, 1, S/8, S/8)`` real/fake logits."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.disc_channels
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * c, 4 * c, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * c, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LatentDiscriminator(nn.Module):
    """MLP critic on codes: ``(N, D) -> (N,)`` logits (see the module docstring for the modes)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        h = cfg.latent_disc_hidden
        self.net = nn.Sequential(
            nn.Linear(cfg.latent_dim, h), nn.LeakyReLU(0.2),
            nn.Linear(h, h), nn.LeakyReLU(0.2),
            nn.Linear(h, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)


class Discriminators(nn.Module):
    """Both critics of one model, saved together as ``discriminators.safetensors``.

    Args:
        config: the model's :class:`ModelConfig` (resolution, latent size, widths).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.patch = PatchDiscriminator(config)
        self.latent = LatentDiscriminator(config)

    def forward(self, images: torch.Tensor | None = None, codes: torch.Tensor | None = None
                ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Critic logits for images and/or codes (one call per step, as DDP expects)."""
        return (self.patch(images) if images is not None else None,
                self.latent(codes) if codes is not None else None)
