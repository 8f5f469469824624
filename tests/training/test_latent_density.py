"""The VAE's ex-post latent density (genmodels.training.latent_density): exact mixture sampling from standard-normal noise,
what the tuned recipe's VAE samples from, and that it travels with the run's checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from genmodels.core.config import ConfigError, RunConfig
from genmodels.training.latent_density import ExPostSampler, LatentGMM
from genmodels.runs.run import run_config
from genmodels.runs.trained import load_run
from genmodels.training.loop import Trainer

TINY: dict[str, Any] = dict(model="vae", dataset="mnist-5k", depth=1, z_dim=4, width=8, batch_size=8, steps=12,
                            n_train=64, sample_every=0, checkpoint_every=0, metric_samples=0, progress=False,
                            device="cpu")

pytestmark = pytest.mark.usefixtures("single_thread")


def two_components() -> LatentGMM:
    weights = torch.tensor([0.3, 0.7])
    means = torch.tensor([[-4.0, 0.0], [5.0, 2.0]])
    chol = torch.stack([torch.diag(torch.tensor([0.5, 1.0])), torch.tensor([[1.0, 0.0], [0.8, 0.6]])])
    return LatentGMM(weights, means, chol)


def test_transform_draws_the_mixture_exactly() -> None:
    gmm = two_components()
    z = torch.randn(200_000, 2, generator=torch.Generator().manual_seed(0))
    x = gmm.transform(z)
    first = x[:, 0] < 0  # the components are 9 standard deviations apart: the sign says which one
    assert first.float().mean().item() == pytest.approx(0.3, abs=0.005)
    for mask, k in ((first, 0), (~first, 1)):
        part = x[mask]
        assert torch.allclose(part.mean(0), gmm.means[k], atol=0.02)
        cov = gmm.cholesky[k] @ gmm.cholesky[k].T
        assert torch.allclose(torch.cov(part.T), cov, atol=0.02)
    assert torch.equal(gmm.transform(z[:10]), x[:10])  # deterministic: fixed noise gives fixed samples


def test_fit_recovers_separated_clusters() -> None:
    g = torch.Generator().manual_seed(1)
    centres = torch.tensor([[0.0] * 3, [10.0] * 3])
    codes = torch.cat([centres[0] + torch.randn(300, 3, generator=g), centres[1] + torch.randn(700, 3, generator=g)])
    gmm = LatentGMM.fit(codes, components=2)
    order = gmm.means[:, 0].argsort()
    assert torch.allclose(gmm.weights[order], torch.tensor([0.3, 0.7]), atol=0.01)
    assert torch.allclose(gmm.means[order], centres, atol=0.2)
    # a sample of the fitted mixture is as likely under it as the codes it was fitted to
    samples = gmm.transform(torch.randn(1000, 3, generator=g))
    assert abs(gmm.log_prob(samples).mean() - gmm.log_prob(codes).mean()) < 0.2


def test_recipes_choose_the_prior_and_other_models_refuse_it() -> None:
    assert RunConfig(model="vae").resolved().latent_prior == "gmm"
    assert RunConfig(model="vae", recipe="seed").resolved().latent_prior == "standard"
    with pytest.raises(ConfigError, match="latent_prior applies only to model vae"):
        RunConfig(model="gan", latent_prior="gmm").resolved()
    with pytest.raises(ConfigError, match="latent_prior must be one of standard, gmm"):
        RunConfig(model="vae", latent_prior="mixture")


def test_tuned_vae_samples_through_the_fitted_mixture_and_loads_with_it(tmp_path: Path) -> None:
    trainer = run_config(RunConfig(**TINY), tmp_path / "gmm", evaluate=None).trainer
    sampler = trainer.sampler()
    assert isinstance(sampler, ExPostSampler)
    z = trainer.fixed_noise
    plain = trainer.model.eval().generate(z)
    assert not torch.allclose(trainer.samples(), plain)  # the mixture moved the latents
    assert torch.equal(trainer.samples(), sampler.decode(sampler.to_latent(z)))

    run = load_run(tmp_path / "gmm")
    assert isinstance(run.model, ExPostSampler)
    assert torch.allclose(run.model.generate(z), trainer.samples(), atol=1e-6)
    assert run.reconstruct(torch.zeros(2, 1, 32, 32)).shape == (2, 1, 32, 32)
    row = run.interpolate(steps=5)
    assert row.shape == (5, 1, 32, 32)

    standard = Trainer(RunConfig(**TINY, latent_prior="standard"), tmp_path / "std")
    assert standard.sampler() is standard.model


def test_latent_space_tools_walk_the_vaes_own_latents(tmp_path: Path) -> None:
    from genmodels.training.generate import latent_walk, manifold_grid

    trainer = run_config(RunConfig(**{**TINY, "z_dim": 2}), tmp_path / "z2", evaluate=None).trainer
    sampler, vae = trainer.sampler(), trainer.model.eval()
    grid = manifold_grid(sampler, steps=3)
    assert torch.allclose(grid, manifold_grid(vae, steps=3), atol=1e-6)  # the 2-D latent grid itself
    z = torch.randn(1, 2, generator=torch.Generator().manual_seed(0))
    walk = latent_walk(sampler, z, direction=0, steps=3)
    code = sampler.to_latent(z)
    expected = code.repeat(3, 1)
    expected[:, 0] = torch.linspace(-3.0, 3.0, 3)
    assert torch.allclose(walk, vae.generate(expected), atol=1e-6)
