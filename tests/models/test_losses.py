"""Every loss against a hand computation on small fixed tensors.

The expected numbers are written out as plain arithmetic on the chosen inputs, not by calling the formula
under test again, so a sign error, a mean taken over the wrong axis or a missing factor shows up as a
wrong number. The networks are replaced by tiny deterministic modules whose outputs are known exactly.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genmodels.models import GAN, VAE, WGAN


pytestmark = pytest.mark.usefixtures("single_thread")


def constant_images(values: list[float], channels: int = 1) -> torch.Tensor:
    """Images (N, C, 32, 32) where image i is the constant values[i]."""
    v = torch.tensor(values)
    return v.view(-1, 1, 1, 1).expand(-1, channels, 32, 32).clone()


class MeanCritic(nn.Module):
    """D(x) = scale * mean(x) per sample: on constant images the output is scale * that constant."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x.mean(dim=(1, 2, 3))


class FixedGenerator(nn.Module):
    """Ignores z; image i is the constant values[i] (a parameter, so gradients can reach the 'generator')."""

    def __init__(self, values: list[float], channels: int = 1) -> None:
        super().__init__()
        self.values = nn.Parameter(torch.tensor(values))
        self.channels = channels

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        assert z.shape[0] == len(self.values)
        return self.values.view(-1, 1, 1, 1).expand(-1, self.channels, 32, 32)


class LinearCritic(nn.Module):
    """C(x) = sum(w * x): its input gradient is w for every sample, so ||grad|| = ||w||."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.w * x).flatten(1).sum(dim=1)


class QuadraticCritic(nn.Module):
    """C(x) = sum(a * x^2) / 2: its input gradient a * x depends on the sample."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.a * x.pow(2)).flatten(1).sum(dim=1) / 2


# ---------------------------------------------------------------------------------------------------- VAE
def test_vae_loss_terms_by_hand() -> None:
    """rec = pixel-mean MSE; KL = -0.5 * batch-mean of the sum over z; loss = rec + kl_factor * KL."""
    model = VAE(depth=1, z_dim=2, width=8, image_channels=1, kl_factor=0.5)
    x = torch.zeros(2, 1, 32, 32)
    x_hat = constant_images([0.5, -0.25])
    mu = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    terms = model.loss_terms(x, x_hat, mu, logvar)

    rec = (0.5**2 + 0.25**2) / 2  # every pixel of image 1 is off by 0.5, of image 2 by 0.25
    # per sample, sum over z of (1 + logvar - mu^2 - exp(logvar)):
    #   sample 1: (1 + 0 - 1 - 1) + (1 + ln2 - 0 - 2) = ln2 - 2
    #   sample 2: (1 + 0 - 0 - 1) + (1 + 0 - 4 - 1)   = -4
    kl = -0.5 * ((math.log(2.0) - 2) + (-4)) / 2
    assert terms["rec"].item() == pytest.approx(0.15625, rel=1e-6)
    assert terms["rec"].item() == pytest.approx(rec, rel=1e-6)
    assert terms["kl"].item() == pytest.approx(kl, rel=1e-6)
    assert terms["kl"].item() == pytest.approx(1.326713, rel=1e-5)
    assert terms["loss"].item() == pytest.approx(rec + 0.5 * kl, rel=1e-6)


def test_vae_kl_is_zero_at_the_prior_and_positive_elsewhere() -> None:
    """KL(N(0, I) || N(0, I)) = 0; moving the mean by 1 in one of 3 dims costs exactly 0.5."""
    model = VAE(depth=1, z_dim=3, width=8, image_channels=1, kl_factor=1.0)
    x = torch.zeros(4, 1, 32, 32)
    zeros = torch.zeros(4, 3)
    assert model.loss_terms(x, x, zeros, zeros)["kl"].item() == pytest.approx(0.0, abs=1e-7)
    shifted = zeros.clone()
    shifted[:, 1] = 1.0
    terms = model.loss_terms(x, x, shifted, zeros)
    assert terms["kl"].item() == pytest.approx(0.5, rel=1e-6)
    assert terms["loss"].item() == pytest.approx(0.5, rel=1e-6)  # rec is 0: x_hat == x


class FixedEncoder(nn.Module):
    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor) -> None:
        super().__init__()
        self.mu, self.logvar = mu, logvar

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mu, self.logvar


class RecordingDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.seen: torch.Tensor | None = None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.seen = z
        return torch.zeros(z.shape[0], 1, 32, 32)


def test_vae_reparameterisation_uses_exp_half_logvar() -> None:
    """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I): the decoder sees exactly that z."""
    model = VAE(depth=1, z_dim=2, width=8, image_channels=1)
    mu = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    logvar = torch.tensor([[math.log(4.0), 0.0], [math.log(0.25), math.log(9.0)]])  # std 2, 1, 0.5, 3
    model.encoder = FixedEncoder(mu, logvar)  # type: ignore[assignment]
    decoder = RecordingDecoder()
    model.decoder = decoder  # type: ignore[assignment]
    torch.manual_seed(5)
    model(torch.zeros(2, 1, 32, 32))
    torch.manual_seed(5)
    eps = torch.randn(2, 2)
    expected = mu + torch.tensor([[2.0, 1.0], [0.5, 3.0]]) * eps
    assert decoder.seen is not None
    assert torch.allclose(decoder.seen, expected, atol=1e-6)


# ---------------------------------------------------------------------------------------------------- LSGAN
def test_lsgan_losses_by_hand() -> None:
    """disc = (mean((D(fake) - 0)^2) + mean((D(real) - 1)^2)) / 2, gen = mean((D(fake) - 1)^2)."""
    model = GAN(depth=1, z_dim=4, width=8, image_channels=1)
    model.generator = FixedGenerator([0.3, -0.5, 0.0])  # type: ignore[assignment]
    model.critic = MeanCritic()  # type: ignore[assignment]
    real = constant_images([0.2, -0.4, 1.0])

    terms = model.critic_loss(real, model.fake_batch(real.shape[0]))
    fake_part = (0.3**2 + 0.5**2 + 0.0**2) / 3
    real_part = ((0.2 - 1) ** 2 + (-0.4 - 1) ** 2 + (1.0 - 1) ** 2) / 3
    assert terms["loss"].item() == pytest.approx((fake_part + real_part) / 2, rel=1e-6)
    assert terms["loss"].item() == pytest.approx(0.49, rel=1e-6)  # (0.34/3 + 2.6/3) / 2
    assert terms["d_real"].item() == pytest.approx((0.2 - 0.4 + 1.0) / 3, rel=1e-6)
    assert terms["d_fake"].item() == pytest.approx((0.3 - 0.5 + 0.0) / 3, rel=1e-6)
    # the critic loss trains the critic only: d/d scale at scale=1 is (mean(2 f^2) + mean(2 r (r - 1))) / 2
    terms["loss"].backward()
    expected_grad = (2 * (0.09 + 0.25 + 0.0) / 3 + 2 * (0.2 * -0.8 + -0.4 * -1.4 + 0.0) / 3) / 2
    assert model.critic.scale.grad.item() == pytest.approx(expected_grad, rel=1e-5)  # type: ignore[union-attr]
    assert model.generator.values.grad is None  # type: ignore[union-attr]

    model.zero_grad(set_to_none=True)
    gen = model.generator_loss(model.fake_batch(3))["loss"]
    assert gen.item() == pytest.approx(((0.3 - 1) ** 2 + (-0.5 - 1) ** 2 + (0.0 - 1) ** 2) / 3, rel=1e-6)
    gen.backward()
    # d/d f_i mean((f - 1)^2) = 2 (f_i - 1) / 3: the gradient reaches the generator through the critic
    expected = torch.tensor([2 * (0.3 - 1) / 3, 2 * (-0.5 - 1) / 3, 2 * (0.0 - 1) / 3])
    assert torch.allclose(model.generator.values.grad, expected, atol=1e-6)  # type: ignore[union-attr, arg-type]


def test_lsgan_loss_is_computed_in_float32_under_bf16() -> None:
    """Critic outputs are cast to float before the MSE, so the loss is fp32 even under bf16 autocast."""
    model = GAN(depth=1, z_dim=4, width=8, image_channels=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.critic_loss(torch.zeros(2, 1, 32, 32), model.fake_batch(2))["loss"].dtype == torch.float32
        assert model.generator_loss(model.fake_batch(2))["loss"].dtype == torch.float32


# ---------------------------------------------------------------------------------------------------- WGAN
def test_wgan_losses_by_hand() -> None:
    """critic = mean(C(fake)) - mean(C(real)) (no penalty with clipping), gen = -mean(C(fake))."""
    model = WGAN(depth=1, z_dim=4, width=8, image_channels=1, lipschitz="clip")
    model.generator = FixedGenerator([0.3, -0.5, 0.8, 0.1])  # type: ignore[assignment]
    model.critic = MeanCritic(2.0)  # type: ignore[assignment]
    real = constant_images([0.2, -0.4, 1.0, 0.6])
    terms = model.critic_loss(real, model.fake_batch(real.shape[0]))
    c_fake = 2.0 * (0.3 - 0.5 + 0.8 + 0.1) / 4  # 0.35
    c_real = 2.0 * (0.2 - 0.4 + 1.0 + 0.6) / 4  # 0.7
    assert terms["loss"].item() == pytest.approx(c_fake - c_real, rel=1e-6)
    assert terms["loss"].item() == pytest.approx(-0.35, rel=1e-6)
    assert terms["wasserstein"].item() == pytest.approx(0.35, rel=1e-6)
    assert "gp" not in terms
    gen = model.generator_loss(model.fake_batch(4))["loss"]
    assert gen.item() == pytest.approx(-0.35, rel=1e-6)


def test_wgan_clip_clamps_every_critic_parameter() -> None:
    """after_critic_step clamps every critic parameter into [-c, c] and leaves the generator alone."""
    model = WGAN(depth=2, z_dim=4, width=8, image_channels=1, lipschitz="clip", clip_value=0.005)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 1)
    generator_before = [p.clone() for p in model.generator.parameters()]
    model.after_critic_step()
    for p in model.critic.parameters():
        assert p.abs().max().item() <= 0.005
    assert any((p.abs() == 0.005).any() for p in model.critic.parameters())  # clamped, not rescaled/zeroed
    assert all(torch.equal(a, b) for a, b in zip(generator_before, model.generator.parameters()))


def test_gp_model_never_clips() -> None:
    """The gradient-penalty WGAN must not clip weights (the two constraints are alternatives)."""
    model = WGAN(depth=1, z_dim=4, width=8, image_channels=1, lipschitz="gp")
    with torch.no_grad():
        for p in model.critic.parameters():
            p.fill_(0.5)
    model.after_critic_step()
    assert all(torch.all(p == 0.5) for p in model.critic.parameters())


def test_gradient_penalty_linear_critic() -> None:
    """A linear critic has ||grad|| = ||w|| at every interpolate, so gp = (||w|| - 1)^2 whatever eps is."""
    w = torch.full((1, 32, 32), 0.5 / 32)  # ||w|| = sqrt(1024) * 0.5 / 32 = 0.5
    model = WGAN(depth=1, z_dim=4, width=8, image_channels=1, lipschitz="gp", gp_weight=10.0)
    model.critic = LinearCritic(w)  # type: ignore[assignment]
    real = torch.randn(5, 1, 32, 32)
    fake = torch.randn(5, 1, 32, 32)
    assert model.gradient_penalty(real, fake).item() == pytest.approx((0.5 - 1) ** 2, rel=1e-5)

    # and inside the critic loss: mean(C(fake)) - mean(C(real)) + lambda * gp
    model.generator = FixedGenerator([0.3, -0.5, 0.8, 0.1, 0.0])  # type: ignore[assignment]
    real_c = constant_images([0.2, -0.4, 1.0, 0.6, 0.1])
    terms = model.critic_loss(real_c, model.fake_batch(real_c.shape[0]))
    w_sum = 0.5 / 32 * 1024  # C(constant image v) = v * sum(w) = 16 v
    c_fake = w_sum * (0.3 - 0.5 + 0.8 + 0.1 + 0.0) / 5
    c_real = w_sum * (0.2 - 0.4 + 1.0 + 0.6 + 0.1) / 5
    assert terms["gp"].item() == pytest.approx(0.25, rel=1e-5)
    assert terms["loss"].item() == pytest.approx(c_fake - c_real + 10.0 * 0.25, rel=1e-5)
    assert terms["wasserstein"].item() == pytest.approx(c_real - c_fake, rel=1e-5)


def test_gradient_penalty_unit_norm_critic_costs_nothing() -> None:
    """A 1-Lipschitz-tight linear critic (||w|| = 1) has zero penalty; gp_weight scales the penalty linearly."""
    w = torch.zeros(1, 32, 32)
    w[0, 3, 4] = 3.0  # ||w|| = 3
    model = WGAN(depth=1, z_dim=4, width=8, image_channels=1, lipschitz="gp")
    model.critic = LinearCritic(w)  # type: ignore[assignment]
    x = torch.randn(3, 1, 32, 32)
    assert model.gradient_penalty(x, -x).item() == pytest.approx(4.0, rel=1e-6)
    with torch.no_grad():
        model.critic.w.div_(3.0)  # type: ignore[operator]
    assert model.gradient_penalty(x, -x).item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_is_per_sample() -> None:
    """gp = mean_i (||grad_i|| - 1)^2 with one gradient norm per sample, not one norm of a batch gradient.

    C(x) = sum(x^2) / 2 has gradient x. With real == fake the interpolate is x whatever eps is drawn.
    Sample norms 3 and 1 give (4 + 0) / 2 = 2; the wrong variants would give (mean norm 2 - 1)^2 = 1 or
    (||whole batch|| = sqrt(10) - 1)^2 = 4.675.
    """
    model = WGAN(depth=1, z_dim=4, width=8, image_channels=1, lipschitz="gp")
    model.critic = QuadraticCritic(torch.ones(1, 32, 32))  # type: ignore[assignment]
    x = torch.zeros(2, 1, 32, 32)
    x[0, 0, 0, 0] = 3.0
    x[1, 0, 5, 7] = 1.0
    gp = model.gradient_penalty(x, x.clone())
    assert gp.item() == pytest.approx(2.0, rel=1e-6)
    assert gp.item() != pytest.approx((math.sqrt(10) - 1) ** 2, rel=1e-3)
    assert gp.item() != pytest.approx(1.0, rel=1e-3)


def test_gradient_penalty_interpolates_between_real_and_fake() -> None:
    """The penalty is taken at eps * real + (1 - eps) * fake with eps ~ U(0, 1) per sample."""
    model = WGAN(depth=1, z_dim=4, width=8, image_channels=1, lipschitz="gp")
    model.critic = QuadraticCritic(torch.ones(1, 32, 32))  # type: ignore[assignment]
    real = torch.zeros(3, 1, 32, 32)
    real[:, 0, 0, 0] = 4.0
    fake = torch.zeros(3, 1, 32, 32)
    torch.manual_seed(11)
    gp = model.gradient_penalty(real, fake).item()
    torch.manual_seed(11)
    eps = torch.rand(3)
    # grad at the interpolate is eps_i * real_i, whose norm is 4 eps_i
    expected = sum((4 * e - 1) ** 2 for e in eps.tolist()) / 3
    assert gp == pytest.approx(expected, rel=1e-5)


def test_gradient_penalty_is_differentiable_for_the_critic() -> None:
    """create_graph=True: the penalty's gradient reaches the critic's weights (else GP would do nothing).

    For C(x) = sum(w x), gp = (||w|| - 1)^2, so d gp / d w = 2 (||w|| - 1) w / ||w||.
    """
    w = torch.zeros(1, 32, 32)
    w[0, 0, 0], w[0, 0, 1] = 3.0, 4.0  # ||w|| = 5
    model = WGAN(depth=1, z_dim=4, width=8, image_channels=1, lipschitz="gp")
    model.critic = LinearCritic(w)  # type: ignore[assignment]
    x = torch.randn(2, 1, 32, 32)
    model.gradient_penalty(x, -x).backward()
    grad = model.critic.w.grad  # type: ignore[union-attr]
    assert grad is not None
    assert grad[0, 0, 0].item() == pytest.approx(2 * 4 * 3 / 5, rel=1e-5)
    assert grad[0, 0, 1].item() == pytest.approx(2 * 4 * 4 / 5, rel=1e-5)
    assert grad.abs().sum().item() == pytest.approx(2 * 4 * 7 / 5, rel=1e-5)
