"""Convolutional VAE, seed Module 1 (Kingma & Welling 2014)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genmodels.models.blocks import IMAGE_SIZE, channels, check_images, dcgan_init, down, side_after, up


class Encoder(nn.Module):
    """depth x [conv -> BN -> ReLU], flatten, linear -> h_dim, then mean and log-variance heads."""

    def __init__(self, depth: int, z_dim: int, h_dim: int, width: int, image_channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = image_channels
        for i in range(depth):
            c_out = channels(width, i)
            layers += [down(c_in, c_out), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        self.features = nn.Sequential(*layers, nn.Flatten())
        flat = c_in * side_after(depth) ** 2
        # ReLU after the hidden linear layer (as pytorch/examples' VAE); the seed leaves it linear, which
        # would make the two linear maps collapse into one.
        self.hidden = nn.Sequential(nn.Linear(flat, h_dim), nn.ReLU(inplace=True))
        self.mu = nn.Linear(h_dim, z_dim)
        self.logvar = nn.Linear(h_dim, z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(self.features(x))  # (B, h_dim)
        return self.mu(h), self.logvar(h)  # (B, z_dim) each


class Decoder(nn.Module):
    """linear z -> first hidden map, (depth-1) x [convT -> BN -> ReLU], conv -> tanh (seed Module 1b, less its
    output batch norm)."""

    def __init__(self, depth: int, z_dim: int, width: int, image_channels: int) -> None:
        super().__init__()
        self.side = IMAGE_SIZE >> (depth - 1)  # depth-1 upsamplings reach 32x32
        self.c0 = channels(width, depth - 2) if depth > 1 else width
        self.project = nn.Sequential(
            nn.Linear(z_dim, self.c0 * self.side**2), nn.ReLU(inplace=True)
        )
        layers: list[nn.Module] = []
        c_in = self.c0
        for i in reversed(range(depth - 1)):
            c_out = channels(width, i - 1) if i > 0 else width
            layers += [up(c_in, c_out), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        # the seed's final block is conv -> batch norm -> tanh; the batch norm is left out, as DCGAN advises for
        # output layers: it pins each image's pre-tanh mean near 0, so backgrounds came out grey (docs/design.md).
        layers += [nn.Conv2d(c_in, image_channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, self.c0, self.side, self.side)  # (B, C0, S, S)
        return self.net(h)  # (B, C, 32, 32) in [-1, 1]


class VAE(nn.Module):
    """Returns its own loss: ``mse(x, x_hat) + kl_factor * KL`` as named terms (seed Module 1c)."""

    kind = "vae"

    def __init__(
        self, depth: int = 3, z_dim: int = 100, width: int = 64, image_channels: int = 1,
        h_dim: int = 256, kl_factor: float = 1e-3,
    ) -> None:
        super().__init__()
        self.z_dim, self.image_channels, self.kl_factor = z_dim, image_channels, kl_factor
        self.encoder = Encoder(depth, z_dim, h_dim, width, image_channels)
        self.decoder = Decoder(depth, z_dim, width, image_channels)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        check_images(x, self.image_channels)
        mu, logvar = self.encoder(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # reparameterisation
        x_hat = self.decoder(z)
        return self.loss_terms(x, x_hat, mu, logvar) | {"x_hat": x_hat}

    # the loss `loss_terms` below computes, for the report's Designs section (kept beside the code it describes)
    loss_formula = (r"With the reparameterisation $z = \mu + e^{\log\sigma^2/2}\,\epsilon$ the loss is "
                    r"$\mathcal{L} = \mathrm{MSE}(x, \hat x) + \beta \cdot \mathrm{KL}$ with "
                    r"$\mathrm{KL} = -\tfrac12\, \mathrm{mean}_{batch} \sum_{z}(1 + \log\sigma^2 - \mu^2 - \sigma^2)$ "
                    r"and $\beta$ the KL factor.")

    def loss_terms(
        self, x: torch.Tensor, x_hat: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        rec = F.mse_loss(x_hat.float(), x.float())
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1))
        return {"loss": rec + self.kl_factor * kl, "rec": rec, "kl": kl}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean: the deterministic reconstruction."""
        mu, _ = self.encoder(x)
        return self.decoder(mu)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
