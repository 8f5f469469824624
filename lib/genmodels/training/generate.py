"""Generation utilities shared by runs, the explore notebook and the report: samples, interpolations."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn


@contextmanager
def in_eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in eval mode (batch norm on its running statistics) for the block, then back to its own mode."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def sample(model: nn.Module, n: int, z_dim: int, seed: int = 0, device: torch.device | str = "cpu") -> torch.Tensor:
    """n images from z ~ N(0, I) drawn with a private generator (reproducible, no global RNG touched)."""
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    return generate(model, z)


@torch.no_grad()
def generate(model: nn.Module, z: torch.Tensor, batch: int = 500) -> torch.Tensor:
    with in_eval_mode(model):
        return torch.cat([model.generate(part).float() for part in z.split(batch)])


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents): stays in the Gaussian's shell.

    Computed on the latents' own device with no data-dependent branch (no host synchronisation): where slerp is
    undefined (an end at the origin, which has no direction) or degenerate (nearly parallel ends) the straight
    line is taken instead, chosen by `torch.where`."""
    z0, z1 = z0.flatten(), z1.flatten()
    t = torch.linspace(0, 1, steps, device=z0.device, dtype=z0.dtype).unsqueeze(1)  # (steps, 1)
    line = (1 - t) * z0 + t * z1
    n0, n1 = z0.norm(), z1.norm()
    cos = torch.clamp(torch.dot(z0, z1) / (n0 * n1).clamp_min(torch.finfo(z0.dtype).tiny), -1.0, 1.0)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    arc = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.where(sin == 0, torch.ones_like(sin), sin)
    degenerate = (n0 == 0) | (n1 == 0) | (omega.abs() < 1e-4)
    return torch.where(degenerate, line, arc)


@torch.no_grad()
def interpolation_path(model: nn.Module, z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """Images along the path between noise vectors z0 and z1 (each (z_dim,) or (1, z_dim)).

    Models that sample through a fitted latent density (genmodels.training.latent_density, ``to_latent``) are walked
    in a straight line between the two codes the noise maps to: the density's components are separate
    regions, and a slerp in noise space would jump between them instead of showing a morph."""
    if hasattr(model, "to_latent"):
        device = next(iter(model.buffers())).device
        ends = model.to_latent(torch.stack([z0.flatten(), z1.flatten()]).to(device))
        t = torch.linspace(0, 1, steps, device=device).unsqueeze(1)
        return decode_latents(model, (1 - t) * ends[0] + t * ends[1])
    return generate(model, interpolate(z0, z1, steps).to(_device_of(model)))


def _device_of(model: nn.Module) -> torch.device:
    first = next(iter(model.parameters()), None)
    return first.device if first is not None else torch.device("cpu")


@torch.no_grad()
def interpolation_grid(model: nn.Module, z_dim: int, rows: int = 4, steps: int = 10, seed: int = 0,
                       device: torch.device | str = "cpu") -> torch.Tensor:
    """(rows * steps, C, H, W): each row walks between two random latents."""
    g = torch.Generator().manual_seed(seed)
    ends = torch.randn(rows, 2, z_dim, generator=g).to(device)
    return torch.cat([interpolation_path(model, a, b, steps) for a, b in ends])


@torch.no_grad()
def latent_walk(model: nn.Module, z: torch.Tensor, direction: int, span: float = 3.0, steps: int = 9) -> torch.Tensor:
    """Move one latent coordinate from -span to +span around `z` (1, z_dim). A model sampling through a fitted
    latent density walks its own latent space, from the code `z` maps to."""
    values = torch.linspace(-span, span, steps, device=z.device)
    start = model.to_latent(z) if hasattr(model, "to_latent") else z
    zs = start.repeat(steps, 1)
    zs[:, direction] = values
    return decode_latents(model, zs)


@torch.no_grad()
def manifold_grid(model: nn.Module, steps: int = 15, span: float = 2.5, device: torch.device | str = "cpu") -> torch.Tensor:
    """For a 2-D latent: decode a steps x steps grid over [-span, span]^2 (Kingma & Welling 2014, Fig. 4) of the
    model's latent space itself, not through a fitted latent density."""
    axis = torch.linspace(span, -span, steps, device=device)
    z = torch.stack(torch.meshgrid(axis, -axis, indexing="ij"), dim=-1).flip(-1).reshape(-1, 2)
    return decode_latents(model, z)


@torch.no_grad()
def decode_latents(model: nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """Decode points of the model's latent space: `.decode` where the model samples through a fitted density
    (its `.generate` would map them through the density first), else `.generate`."""
    if not hasattr(model, "decode"):
        return generate(model, latents)
    with in_eval_mode(model):
        return model.decode(latents).float()
