"""Wasserstein GAN, seed Module 3, with the Lipschitz constraint the seed leaves out.

"clip": weight clipping (Arjovsky et al. 2017). "gp": gradient penalty on random interpolates,
lambda * (||grad C(x_hat)||_2 - 1)^2 per sample (Gulrajani et al. 2017); the critic then uses layer norm,
because batch norm mixes the samples the penalty must treat independently (their Section 4).
"""

from __future__ import annotations

import torch
from genmodels.models.blocks import check_images, dcgan_init
from genmodels.models.gan import AdversarialModel, Discriminator, Generator


class WGAN(AdversarialModel):
    """gen = -mean(C(G(z))), critic = mean(C(G(z))) - mean(C(x)) [+ gradient penalty]."""

    # the losses of `critic_loss` and `generator_loss` below, for the report's Designs section
    loss_formula = (r"Losses: $\mathcal{L}_G = -\mathrm{mean}\,C(G(z))$ and "
                    r"$\mathcal{L}_C = \mathrm{mean}\,C(G(z)) - \mathrm{mean}\,C(x)$, plus "
                    r"$\lambda\,\mathrm{mean}(\lVert\nabla_{\hat x} C(\hat x)\rVert_2 - 1)^2$ on random "
                    r"interpolates $\hat x$ of real and fake images with the gradient penalty.")

    def __init__(
        self, depth: int = 3, z_dim: int = 100, width: int = 64, image_channels: int = 1,
        lipschitz: str = "gp", clip_value: float = 0.01, gp_weight: float = 10.0, augment: str = "none",
    ) -> None:
        super().__init__(z_dim, image_channels, augment)
        if lipschitz not in ("gp", "clip"):
            raise ValueError(f"lipschitz must be 'gp' or 'clip', got {lipschitz!r}")
        self.lipschitz, self.clip_value, self.gp_weight = lipschitz, clip_value, gp_weight
        self.generator = Generator(depth, z_dim, width, image_channels)
        norm = "layer" if lipschitz == "gp" else "batch"
        self.critic = Discriminator(depth, width, image_channels, output="linear", norm=norm)
        self.apply(dcgan_init)

    def critic_loss(self, x: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        check_images(x, self.image_channels)
        fake = fake.detach()
        c_fake, c_real = self.discriminate(fake).mean(), self.discriminate(x).mean()
        terms = {"wasserstein": c_real - c_fake}
        loss = c_fake - c_real
        if self.lipschitz == "gp":
            gp = self.gradient_penalty(x, fake)
            terms["gp"] = gp
            loss = loss + self.gp_weight * gp
        return {"loss": loss, **terms}

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """mean over the batch of (||grad_x C(x_hat)||_2 - 1)^2, x_hat on random real-fake segments."""
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        scores = self.discriminate(x_hat)  # the constraint holds for the critic as trained: through the augmentation
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
        return ((grad.flatten(1).float().norm(2, dim=1) - 1) ** 2).mean()

    def generator_loss(self, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": -self.discriminate(fake).mean()}

    @torch.no_grad()
    def after_critic_step(self) -> None:
        if self.lipschitz == "clip":
            for p in self.critic.parameters():
                p.clamp_(-self.clip_value, self.clip_value)


__all__ = ["WGAN"]
