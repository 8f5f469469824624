"""Building models: a config names a model, `build_model` makes it with the registered builder
(genmodels.registry; DiT-style presets by name)."""

from __future__ import annotations

from typing import Callable, Mapping

import torch
from torch import nn

from ..config import RunConfig, with_defaults
from ..registry import DATASET_CHANNELS, MODELS, FactView, dataset_spec, model_spec
from .blocks import count_parameters
from .gan import GAN, AdversarialModel, Discriminator, Generator
from .vae import VAE
from .wgan import WGAN

# name -> builder, a live view of the registry (kept for callers that looked builders up here)
MODEL_BUILDERS: Mapping[str, Callable[[RunConfig, int], nn.Module]] = FactView(MODELS, lambda spec: spec.build)


def build_model(config: RunConfig, image_channels: int | None = None) -> nn.Module:
    """Build the model a config describes, with its defaults resolved."""
    c = config.resolved()
    channels = image_channels if image_channels is not None else dataset_spec(c.dataset).channels
    return model_spec(c.model).build(c, channels)


_PARAMETER_COUNTS: dict[tuple[object, ...], int] = {}


def parameter_count(config: RunConfig) -> int:
    """Parameters of the model `config` describes, counted on torch's meta device: shapes only, no memory, so
    config validation can refuse a model that would not fit before anything allocates it.

    Called from `RunConfig.validate`, so it must not resolve the config (that validates again): it fills in the
    defaults without validating (`config.with_defaults`). Cached by the fields that decide the shapes.
    """
    channels = DATASET_CHANNELS.get(config.dataset, 1)
    key = (config.model, channels, config.depth, config.z_dim, config.width, config.h_dim, config.lipschitz)
    if key not in _PARAMETER_COUNTS:
        with torch.device("meta"):
            model = model_spec(config.model).build(with_defaults(config), channels)
        _PARAMETER_COUNTS[key] = sum(p.numel() for p in model.parameters())
    return _PARAMETER_COUNTS[key]


__all__ = [
    "VAE", "GAN", "WGAN", "AdversarialModel", "Generator", "Discriminator",
    "MODEL_BUILDERS", "build_model", "count_parameters", "parameter_count", "DATASET_CHANNELS",
]
