"""Every generation helper follows the model's device, checked without a GPU.

On CUDA, a tensor made on the CPU and mixed with the model's tensors raises "Expected all tensors to be on the
same device" (issue: every LSGAN and WGAN run failed in its interpolation figure). PyTorch's `meta` device
raises the same error when mixed with CPU tensors, and needs no memory and no GPU: the model and its inputs
are put there and each helper must return a tensor on `meta` too.
"""

from __future__ import annotations

import pytest
import torch

from genmodels import RunConfig
from genmodels.models import build_model
from genmodels.training.generate import (decode_latents, generate, interpolate, interpolation_grid, interpolation_path,
                                latent_walk, manifold_grid, sample)
from genmodels.training.latent_density import ExPostSampler, LatentGMM

META = torch.device("meta")


def test_meta_device_catches_mixing_like_cuda() -> None:
    """The premise: mixing a CPU tensor into a meta computation fails as it would on CUDA."""
    with pytest.raises((RuntimeError, NotImplementedError)):
        torch.ones(3, device=META) * torch.ones(3) + torch.ones(3, device=META).expand(2, 3) @ torch.ones(3, 1)


def _model(name: str, z_dim: int = 8) -> torch.nn.Module:
    return build_model(RunConfig(model=name, depth=2, z_dim=z_dim, width=8)).to(META)


@pytest.mark.parametrize("name", ["vae", "gan", "wgan"])
def test_generation_helpers_stay_on_the_models_device(name: str) -> None:
    model = _model(name)
    assert sample(model, 4, 8, device=META).device == META
    assert generate(model, torch.zeros(3, 8, device=META)).device == META
    assert interpolation_grid(model, 8, rows=2, steps=3, device=META).device == META
    path = interpolation_path(model, torch.randn(8, device=META), torch.randn(8, device=META), steps=4)
    assert path.shape[0] == 4 and path.device == META
    assert latent_walk(model, torch.zeros(1, 8, device=META), direction=1, steps=3).device == META
    assert decode_latents(model, torch.zeros(2, 8, device=META)).device == META


def test_manifold_grid_on_the_models_device() -> None:
    model = _model("vae", z_dim=2)
    assert manifold_grid(model, steps=3, device=META).shape[0] == 9


def test_interpolate_keeps_device_and_dtype() -> None:
    z0, z1 = torch.randn(5, device=META, dtype=torch.float64), torch.randn(5, device=META, dtype=torch.float64)
    out = interpolate(z0, z1, 6)
    assert out.shape == (6, 5) and out.device == META and out.dtype == torch.float64


def test_the_latent_mixture_sampler_stays_on_the_models_device() -> None:
    """The VAE's fitted latent mixture, which its samples come from."""
    gmm = LatentGMM(torch.tensor([0.5, 0.5]), torch.zeros(2, 8), torch.eye(8).repeat(2, 1, 1)).to(META)
    vae = ExPostSampler(_model("vae"), gmm)
    assert interpolation_grid(vae, 8, rows=1, steps=3, device=META).device == META
    assert latent_walk(vae, torch.zeros(1, 8, device=META), direction=0, steps=3).device == META


def test_interpolate_on_cpu_matches_the_slerp_formula() -> None:
    """Same values as the textbook slerp, and a straight line where slerp is undefined or degenerate."""
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(7, generator=g), torch.randn(7, generator=g)
    t = torch.linspace(0, 1, 5).unsqueeze(1)
    omega = torch.acos(torch.dot(z0 / z0.norm(), z1 / z1.norm()))
    expected = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)
    assert torch.equal(interpolate(z0, z1, 5), expected)
    line = (1 - t) * torch.zeros(7) + t * z1
    assert torch.equal(interpolate(torch.zeros(7), z1, 5), line)
    assert torch.allclose(interpolate(z1, 2 * z1, 5), (1 - t) * z1 + t * 2 * z1)
    assert torch.isfinite(interpolate(z1, -z1, 5)).all()
