"""Building models: a config names a model, `build_model` makes it with the registered builder
(genmodels.core.registry)."""

from __future__ import annotations

from torch import nn

from genmodels.core.config import RunConfig, parameter_count
from genmodels.core.registry import DATASET_CHANNELS, dataset_spec, model_spec
from genmodels.models.blocks import count_parameters
from genmodels.models.gan import GAN, AdversarialModel, Discriminator, Generator
from genmodels.models.vae import VAE
from genmodels.models.wgan import WGAN


def build_model(config: RunConfig, image_channels: int | None = None) -> nn.Module:
    """Build the model a config describes, with its defaults resolved."""
    c = config.resolved()
    channels = image_channels if image_channels is not None else dataset_spec(c.dataset).channels
    return model_spec(c.model).build(c, channels)


__all__ = [
    "VAE", "GAN", "WGAN", "AdversarialModel", "Generator", "Discriminator",
    "build_model", "count_parameters", "parameter_count", "DATASET_CHANNELS",
]
