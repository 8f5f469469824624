"""genmodels: a VAE, a least-squares GAN and a WGAN on 32x32 images, trained, measured and reported."""

from .config import ConfigError, RunConfig

__version__ = "0.1.0"
__all__ = ["RunConfig", "ConfigError", "__version__"]
