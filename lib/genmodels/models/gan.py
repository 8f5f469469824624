"""Least-squares GAN, seed Module 2 (Mao et al. 2017), and the networks the WGAN shares with it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genmodels.models.augment import diff_augment
from genmodels.models.blocks import channels, check_images, dcgan_init, down, norm2d, side_after, up


class Generator(nn.Module):
    """depth x [convT -> BN -> ReLU], then convT -> tanh without batch norm (seed Module 2a).

    The first transposed conv projects z (B, z_dim, 1, 1) to a (32 >> depth)-sided map, as DCGAN's first
    layer does; each later one doubles the side, so any depth ends at 32x32.
    """

    def __init__(self, depth: int, z_dim: int, width: int, image_channels: int) -> None:
        super().__init__()
        side = side_after(depth)
        c = channels(width, depth - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, c, side, 1, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)
        ]
        for i in reversed(range(depth - 1)):
            c_out = channels(width, i)
            layers += [up(c, c_out), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c = c_out
        layers += [up(c, image_channels, bias=True), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))  # (B, C, 32, 32) in [-1, 1]


class Discriminator(nn.Module):
    """conv -> LReLU; (depth-1) x [conv -> norm -> LReLU]; conv -> LReLU; linear -> 1 (seed Module 2b).

    `output` is "sigmoid" (the seed) or "linear" (the LSGAN paper, and the WGAN critic). `norm` is "batch"
    (the seed) or "layer" (needed by WGAN-GP, whose penalty is per sample).
    """

    def __init__(
        self, depth: int, width: int, image_channels: int, output: str = "linear", norm: str = "batch"
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(image_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        c = width
        for i in range(1, depth):
            c_out = channels(width, i)
            layers += [down(c, c_out), norm2d(norm, c_out), nn.LeakyReLU(0.2, inplace=True)]
            c = c_out
        # the seed's last conv keeps the side: a 3x3 stride-1 conv mixing features before the linear head
        layers += [nn.Conv2d(c, c, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True), nn.Flatten()]
        layers += [nn.Linear(c * side_after(depth) ** 2, 1)]
        if output == "sigmoid":
            layers.append(nn.Sigmoid())
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)  # (B,)


class AdversarialModel(nn.Module):
    """A generator and a critic whose losses the model computes itself; the trainer only steps optimizers."""

    kind = "adversarial"

    generator: Generator
    critic: Discriminator

    def __init__(self, z_dim: int, image_channels: int, augment: str = "none") -> None:
        super().__init__()
        self.z_dim, self.image_channels, self.augment = z_dim, image_channels, augment

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """The critic's scores (B,) of images seen through the recipe's differentiable augmentation (DiffAugment
        applies the same kind of transform to real and fake images, so the critic cannot tell them apart by it)."""
        return self.critic(diff_augment(x, self.augment)).float()

    def fake_batch(self, n: int) -> torch.Tensor:
        """n generated images, with the graph to the generator (the critic step detaches them)."""
        return self.generator(self.noise(n))

    def noise(self, n: int, device: torch.device | None = None) -> torch.Tensor:
        return torch.randn(n, self.z_dim, device=device or next(self.parameters()).device)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def critic_loss(self, x: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss terms of one critic step on real `x` and (detached) `fake` images."""
        raise NotImplementedError

    def generator_loss(self, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss terms of one generator step on `fake` images that carry the generator's graph."""
        raise NotImplementedError

    def after_critic_step(self) -> None:
        """Hook for constraints applied after each critic update (weight clipping)."""


class GAN(AdversarialModel):
    """Least-squares GAN: gen = mse(D(G(z)), 1), disc = (mse(D(G(z)), 0) + mse(D(x), 1)) / 2."""

    # the losses of `critic_loss` and `generator_loss` below, for the report's Designs section
    loss_formula = (r"Losses: $\mathcal{L}_G = \mathrm{MSE}(D(G(z)), 1)$ and "
                    r"$\mathcal{L}_D = \tfrac12[\mathrm{MSE}(D(G(z)), 0) + \mathrm{MSE}(D(x), 1)]$.")

    def __init__(
        self, depth: int = 3, z_dim: int = 100, width: int = 64, image_channels: int = 1, d_output: str = "linear",
        augment: str = "none",
    ) -> None:
        super().__init__(z_dim, image_channels, augment)
        self.generator = Generator(depth, z_dim, width, image_channels)
        self.critic = Discriminator(depth, width, image_channels, output=d_output, norm="batch")
        self.apply(dcgan_init)

    def critic_loss(self, x: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        check_images(x, self.image_channels)
        d_fake, d_real = self.discriminate(fake.detach()), self.discriminate(x)
        loss_fake = F.mse_loss(d_fake, torch.zeros_like(d_fake))
        loss_real = F.mse_loss(d_real, torch.ones_like(d_real))
        return {"loss": (loss_fake + loss_real) / 2, "d_real": d_real.mean(), "d_fake": d_fake.mean()}

    def generator_loss(self, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        d_fake = self.discriminate(fake)
        return {"loss": F.mse_loss(d_fake, torch.ones_like(d_fake))}
