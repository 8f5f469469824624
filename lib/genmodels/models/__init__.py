"""Model registry: a config names a model, `build_model` makes it (DiT-style presets by name)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..config import RunConfig
from .blocks import count_parameters
from .gan import GAN, AdversarialModel, Discriminator, Generator
from .vae import VAE
from .wgan import WGAN

DATASET_CHANNELS = {"mnist": 1, "mnist-5k": 1, "fashion-mnist": 1, "cifar10": 3}


def _vae(c: RunConfig, ch: int) -> nn.Module:
    return VAE(c.depth, c.z_dim, c.width, ch, h_dim=c.h_dim or 256, kl_factor=c.kl_factor or 0.0)


def _gan(c: RunConfig, ch: int) -> nn.Module:
    return GAN(c.depth, c.z_dim, c.width, ch, d_output=c.d_output or "linear", augment=c.augment or "none")


def _wgan(c: RunConfig, ch: int) -> nn.Module:
    return WGAN(c.depth, c.z_dim, c.width, ch, lipschitz=c.lipschitz or "gp",
                clip_value=c.clip_value or 0.01, gp_weight=c.gp_weight if c.gp_weight is not None else 10.0,
                augment=c.augment or "none")


MODEL_BUILDERS: dict[str, Callable[[RunConfig, int], nn.Module]] = {"vae": _vae, "gan": _gan, "wgan": _wgan}


def build_model(config: RunConfig, image_channels: int | None = None) -> nn.Module:
    """Build the model a config describes, with its defaults resolved."""
    c = config.resolved()
    channels = image_channels if image_channels is not None else DATASET_CHANNELS[c.dataset]
    return MODEL_BUILDERS[c.model](c, channels)


_PARAMETER_COUNTS: dict[tuple[object, ...], int] = {}


def parameter_count(config: RunConfig) -> int:
    """Parameters of the model `config` describes, counted on torch's meta device: shapes only, no memory, so
    config validation can refuse a model that would not fit before anything allocates it.

    Called from `RunConfig.validate`, so it must not resolve the config (that validates again): the builders'
    own fallbacks give the unresolved fields' defaults. Cached by the fields that decide the shapes.
    """
    channels = DATASET_CHANNELS.get(config.dataset, 1)
    key = (config.model, channels, config.depth, config.z_dim, config.width, config.h_dim, config.lipschitz)
    if key not in _PARAMETER_COUNTS:
        with torch.device("meta"):
            model = MODEL_BUILDERS[config.model](config, channels)
        _PARAMETER_COUNTS[key] = sum(p.numel() for p in model.parameters())
    return _PARAMETER_COUNTS[key]


__all__ = [
    "VAE", "GAN", "WGAN", "AdversarialModel", "Generator", "Discriminator",
    "MODEL_BUILDERS", "build_model", "count_parameters", "parameter_count", "DATASET_CHANNELS",
]
