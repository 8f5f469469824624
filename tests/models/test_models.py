"""Model shapes, ranges and gradient flow over the whole model x depth x z_dim x channels grid.

Every network must turn any depth 1..5 and any z_dim into 32x32 images in [-1, 1], and every trainable
parameter must receive a finite gradient from the loss that is meant to train it: a parameter left out of
the graph (a detached layer, a wrong optimizer split) would otherwise train silently as a constant.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genmodels.core.config import RunConfig
from genmodels.models import GAN, VAE, WGAN, AdversarialModel, build_model

WIDTH = 8
BATCH = 3  # odd on purpose: a batch-size bug that only shows with even batches is still caught


pytestmark = pytest.mark.usefixtures("single_thread")


MODEL_KWARGS: dict[str, dict[str, str]] = {
    "vae": {"model": "vae"},
    "gan": {"model": "gan"},
    "wgan-gp": {"model": "wgan", "lipschitz": "gp"},
    "wgan-clip": {"model": "wgan", "lipschitz": "clip"},
}


def make(name: str, depth: int, z_dim: int, channels: int, **extra: object) -> nn.Module:
    """Build a model the way the trainer does: through the registry from a RunConfig."""
    torch.manual_seed(0)
    config = RunConfig(**MODEL_KWARGS[name], depth=depth, z_dim=z_dim, width=WIDTH, **extra)  # type: ignore[arg-type]
    return build_model(config, channels)


def images(channels: int, n: int = BATCH) -> torch.Tensor:
    """Random 'real' images in [-1, 1], as the data pipeline delivers them."""
    return torch.rand(n, channels, 32, 32) * 2 - 1


def assert_grads(params: list[tuple[str, nn.Parameter]], what: str, zero: frozenset[str] = frozenset()) -> None:
    """Every parameter got a finite gradient that is not identically zero (i.e. it is in the graph).

    `zero` names parameters the loss is provably invariant to; their gradient must be exactly zero.
    """
    assert params, f"{what}: no parameters"
    for name, p in params:
        assert p.grad is not None, f"{what}: {name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{what}: {name} has a non-finite gradient"
        if name in zero:
            assert torch.all(p.grad == 0), f"{what}: {name} should not affect the loss"
        else:
            assert p.grad.abs().sum() > 0, f"{what}: {name} has an all-zero gradient"


def assert_image_range(x: torch.Tensor, channels: int, n: int = BATCH) -> None:
    assert x.shape == (n, channels, 32, 32)
    assert torch.isfinite(x).all()
    assert x.min() >= -1.0 and x.max() <= 1.0


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("z_dim", [1, 2, 100])
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("name", list(MODEL_KWARGS))
def test_shapes_ranges_and_gradients(name: str, depth: int, z_dim: int, channels: int) -> None:
    """Each model at each depth/z_dim/channels: right shapes, [-1, 1] images, finite losses and gradients."""
    model = make(name, depth, z_dim, channels)
    model.train()
    x = images(channels)
    if isinstance(model, VAE):
        out = model(x)
        assert_image_range(out["x_hat"], channels)
        for term in ("loss", "rec", "kl"):
            assert out[term].dim() == 0 and math.isfinite(out[term].item()), term
        model.zero_grad(set_to_none=True)
        out["loss"].backward()
        assert_grads(list(model.named_parameters()), "vae loss")
        mu, logvar = model.encoder(x)
        assert mu.shape == logvar.shape == (BATCH, z_dim)
        with torch.no_grad():
            assert_image_range(model.generate(torch.randn(BATCH, z_dim)), channels)
            assert_image_range(model.reconstruct(x), channels)
        return

    assert isinstance(model, AdversarialModel)
    z = model.noise(BATCH)
    assert z.shape == (BATCH, z_dim)
    fake = model.generate(z)
    assert_image_range(fake, channels)
    assert model.critic(x).shape == (BATCH,)

    model.zero_grad(set_to_none=True)
    critic_terms = model.critic_loss(x, model.fake_batch(x.shape[0]))
    assert all(math.isfinite(v.item()) for v in critic_terms.values()), critic_terms
    critic_terms["loss"].backward()
    # mean(C(fake)) - mean(C(real)) (and the gradient penalty) is blind to a constant shift of C: the
    # critic's output bias is the one parameter a WGAN critic loss cannot train
    head = f"net.{len(model.critic.net) - 1}.bias"
    assert_grads(list(model.critic.named_parameters()), "critic_loss",
                 frozenset({head}) if isinstance(model, WGAN) else frozenset())
    # the critic step must not train the generator: it detaches the fakes it is given
    assert all(p.grad is None for p in model.generator.parameters())

    model.zero_grad(set_to_none=True)
    gen_terms = model.generator_loss(model.fake_batch(BATCH))
    assert math.isfinite(gen_terms["loss"].item())
    gen_terms["loss"].backward()
    assert_grads(list(model.generator.named_parameters()), "generator_loss")


def test_sigmoid_discriminator_outputs_probabilities() -> None:
    """The seed-faithful GAN ends in a sigmoid: D(x) lies strictly inside (0, 1)."""
    model = make("gan", 3, 16, 1, d_output="sigmoid")
    with torch.no_grad():
        d = torch.cat([model.critic(images(1, 8) * 50), model.critic(images(1, 8))])  # large inputs too
    assert ((d > 0) & (d < 1)).all()
    assert isinstance(model.critic.net[-1], nn.Sigmoid)


def test_linear_discriminator_is_unbounded() -> None:
    """The LSGAN default has no sigmoid: the last layer is the linear head, so D can leave (0, 1)."""
    model = make("gan", 2, 16, 1)
    assert isinstance(model.critic.net[-1], nn.Linear)
    assert not any(isinstance(m, nn.Sigmoid) for m in model.critic.modules())


def _norms(model: nn.Module) -> tuple[int, int]:
    batch = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    group = sum(isinstance(m, nn.GroupNorm) for m in model.modules())
    return batch, group


@pytest.mark.parametrize("depth", [2, 5])
def test_wgan_gp_critic_uses_layer_norm_and_clip_critic_batch_norm(depth: int) -> None:
    """WGAN-GP's per-sample penalty forbids batch norm in the critic; the clipped WGAN keeps the seed's BN."""
    gp = make("wgan-gp", depth, 8, 1)
    clip = make("wgan-clip", depth, 8, 1)
    assert _norms(gp.critic) == (0, depth - 1)
    assert all(m.num_groups == 1 for m in gp.critic.modules() if isinstance(m, nn.GroupNorm))  # layer norm
    assert _norms(clip.critic) == (depth - 1, 0)
    # the generator keeps batch norm either way
    assert _norms(gp.generator)[0] == depth


def test_gp_critic_scores_samples_independently() -> None:
    """With layer norm, a sample's critic gradient does not depend on the rest of the batch (WGAN-GP Sec. 4)."""
    torch.manual_seed(1)
    x = images(1, 4)

    def grad_of_first(model: AdversarialModel, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model.critic(batch).sum(), batch)
        return g[0]

    gp = make("wgan-gp", 3, 8, 1)
    assert torch.allclose(grad_of_first(gp, x), grad_of_first(gp, x[:2]), atol=1e-6)
    clip = make("wgan-clip", 3, 8, 1)  # batch norm in train mode mixes the batch: the control case
    assert not torch.allclose(grad_of_first(clip, x), grad_of_first(clip, x[:2]), atol=1e-6)


@pytest.mark.parametrize("name", list(MODEL_KWARGS))
def test_dcgan_init(name: str) -> None:
    """Conv/linear weights start N(0, 0.02), norm scales N(1, 0.02), biases 0 (Radford et al. 2016)."""
    torch.manual_seed(0)
    model = build_model(RunConfig(**MODEL_KWARGS[name], depth=3, z_dim=100, width=32), 1)  # type: ignore[arg-type]
    checked = 0
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            w = module.weight.detach()
            if w.numel() >= 2000:  # enough samples for a tight std estimate
                assert abs(w.std().item() - 0.02) < 0.002, (module, w.std().item())
                assert abs(w.mean().item()) < 0.002
                checked += 1
            if module.bias is not None:
                assert torch.all(module.bias == 0)
        elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
            assert abs(module.weight.detach().mean().item() - 1.0) < 0.02
            assert torch.all(module.bias == 0)
    assert checked >= 4


def test_build_model_uses_dataset_channels_and_direct_classes_agree() -> None:
    """build_model picks 3 channels for CIFAR-10 and builds the same networks as the classes directly."""
    config = RunConfig(model="gan", dataset="cifar10", depth=2, z_dim=4, width=WIDTH)
    built = build_model(config)
    assert built.generate(torch.randn(2, 4)).shape == (2, 3, 32, 32)
    direct = GAN(depth=2, z_dim=4, width=WIDTH, image_channels=3)
    assert [tuple(p.shape) for p in built.parameters()] == [tuple(p.shape) for p in direct.parameters()]
    wgan = build_model(RunConfig(model="wgan", lipschitz="clip", clip_value=0.05, depth=2, z_dim=4, width=WIDTH), 1)
    assert isinstance(wgan, WGAN) and wgan.lipschitz == "clip" and wgan.clip_value == 0.05
    vae = build_model(RunConfig(model="vae", kl_factor=0.25, h_dim=32, depth=2, z_dim=4, width=WIDTH), 1)
    assert isinstance(vae, VAE) and vae.kl_factor == 0.25 and vae.encoder.mu.in_features == 32


def test_wrong_image_shape_is_a_clear_error() -> None:
    """Feeding 28x28 images (forgot the padding) fails with the expected shape in the message."""
    model = VAE(depth=2, z_dim=2, width=WIDTH, image_channels=1)
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32\)"):
        model(torch.zeros(2, 1, 28, 28))
