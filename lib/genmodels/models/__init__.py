"""Building models: a config names a model, `build_model` makes it with the registered builder
(genmodels.core.registry; DiT-style presets by name)."""

from __future__ import annotations

from typing import Callable, Mapping

from torch import nn

from genmodels.core.config import RunConfig, parameter_count
from genmodels.core.registry import DATASET_CHANNELS, MODELS, FactView, dataset_spec, model_spec
from genmodels.models.blocks import count_parameters
from genmodels.models.gan import GAN, AdversarialModel, Discriminator, Generator
from genmodels.models.vae import VAE
from genmodels.models.wgan import WGAN

# name -> builder, a live view of the registry (kept for callers that looked builders up here)
MODEL_BUILDERS: Mapping[str, Callable[[RunConfig, int], nn.Module]] = FactView(MODELS, lambda spec: spec.build)


def build_model(config: RunConfig, image_channels: int | None = None) -> nn.Module:
    """Build the model a config describes, with its defaults resolved."""
    c = config.resolved()
    channels = image_channels if image_channels is not None else dataset_spec(c.dataset).channels
    return model_spec(c.model).build(c, channels)


__all__ = [
    "VAE", "GAN", "WGAN", "AdversarialModel", "Generator", "Discriminator",
    "MODEL_BUILDERS", "build_model", "count_parameters", "parameter_count", "DATASET_CHANNELS",
]
