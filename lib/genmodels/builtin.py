"""The models and data sets this project ships, each registered once (genmodels.core.registry).

Builders receive a config whose model-specific fields are all filled in (`config.with_defaults`), so no
default is repeated here; they import their model class when called, keeping this module free of torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genmodels.core.config import ConfigError
from genmodels.core.recipes import SEED_FAITHFUL, TUNED
from genmodels.core.registry import (Choice, DatasetSpec, Integer, ModelSpec, Number, register_dataset,
                                     register_model)
from genmodels.data import files as data_files

if TYPE_CHECKING:
    from pathlib import Path

    from torch import nn

    from genmodels.data.readers import Read

    from genmodels.core.config import RunConfig


# ------------------------------------------------------------------ VAE (seed Module 1)
def _build_vae(c: "RunConfig", channels: int) -> "nn.Module":
    from genmodels.models.vae import VAE

    return VAE(c.depth, c.z_dim, c.width, channels, h_dim=c.h_dim, kl_factor=c.kl_factor)  # type: ignore[arg-type]


register_model(ModelSpec(
    name="vae", display_name="VAE", build=_build_vae,
    fields=("kl_factor", "h_dim", "latent_prior"),
    rules={"kl_factor": Number(0.0, strict=False), "h_dim": Integer(1)},  # kl_factor 0: a plain autoencoder
    # seed Results section: lr 3e-4; Adam's default betas. kl_factor 1e-3 ~ a Gaussian decoder with
    # sigma^2 = 0.5 per pixel when the reconstruction term is a per-pixel mean over 32x32 pixels.
    defaults={"kl_factor": 1e-3, "h_dim": 256, "lr": 3e-4, "beta1": 0.9, "beta2": 0.999},
    # tuned: samples from a mixture fitted to the training codes (genmodels.training.latent_density): IS 8.4 vs 5.7
    recipes={SEED_FAITHFUL: {"batch_size": 64, "latent_prior": "standard"},
             TUNED: {"batch_size": 32, "lr": 2e-3, "latent_prior": "gmm"}},
    loss_terms=(("loss", "total"), ("rec", "reconstruction (MSE)"), ("kl", "KL")),
    log_scale_terms=("rec",),
    variant=lambda c: f"kl={c.kl_factor:g}",
    run_name_tag=lambda c: f"kl{c.kl_factor:g}",
    reconstructs=True,
    parts=(("encoder", "encoder"), ("decoder", "decoder")),
    notes=("(seed Module 1, Kingma & Welling 2014). The encoder's mean and log-variance heads parametrise a "
           "diagonal Gaussian. The seed puts a batch norm before the decoder's tanh; an output batch norm pins each "
           "output channel's mean near zero and turns black backgrounds grey (docs/design.md), so the decoder's last "
           "layers are as the table lists them."),
))


# ------------------------------------------------------------------ LSGAN (seed Module 2)
def _build_gan(c: "RunConfig", channels: int) -> "nn.Module":
    from genmodels.models.gan import GAN

    return GAN(c.depth, c.z_dim, c.width, channels, d_output=c.d_output, augment=c.augment)  # type: ignore[arg-type]


# What each recipe sets (genmodels.core.recipes): the seed-faithful one changes nothing (literature optimisers,
# batch 64, no averaging, no augmentation); the tuned one holds what measured more quality per CPU-second
# (bench/time_to_quality.py, docs/recipes.md).
_ADVERSARIAL_SEED_FAITHFUL = {"batch_size": 64, "ema": 0.0, "augment": "none"}
_ADVERSARIAL_TUNED = {"batch_size": 32, "ema": 0.999, "augment": "none"}

D_OUTPUTS = ("linear", "sigmoid")  # the LSGAN paper's linear discriminator output, or the seed's sigmoid
DEEP_GAN = 5  # the depth from which the tuned LSGAN's discriminator sees its inputs through instance noise


def _gan_tuned(c: "RunConfig") -> dict[str, Any]:
    """LSGAN: batch 32 at lr 1e-3 with the generator EMA; at depth 5 the discriminator also sees instance noise
    (sigma 0.1): without it, one of three seeds collapsed at once (IS 1.00; seed 0 whatever the learning rate),
    with it none of three (IS 4.49-5.04 after 2,000 steps; docs/recipes.md). At depth 4 it measured worse (IS 4.10 vs 5.10)."""
    return {**_ADVERSARIAL_TUNED, "lr": 1e-3, "augment": "noise" if c.depth >= DEEP_GAN else "none"}


register_model(ModelSpec(
    name="gan", display_name="LSGAN", build=_build_gan,
    fields=("d_output", "n_critic", "ema", "augment"),
    rules={"d_output": Choice(D_OUTPUTS)},
    # DCGAN (Radford et al. 2016): Adam 2e-4, beta1 0.5; LSGAN (Mao et al. 2017): linear output.
    defaults={"d_output": "linear", "n_critic": 1, "lr": 2e-4, "beta1": 0.5, "beta2": 0.999},
    recipes={SEED_FAITHFUL: _ADVERSARIAL_SEED_FAITHFUL, TUNED: _gan_tuned},
    loss_terms=(("critic_loss", "discriminator"), ("gen_loss", "generator")),
    variant=lambda c: f"{c.d_output} output",
    run_name_tag=lambda c: c.d_output or "",
    parts=(("critic", "discriminator"), ("generator", "generator")),
    cases=(("LSGAN", {}), ("LSGAN", {"depth": DEEP_GAN}), ("LSGAN, sigmoid output", {"d_output": "sigmoid"})),
    notes=("(seed Module 2, Mao et al. 2017). The seed puts a sigmoid after the discriminator's linear unit, "
           "before the MSE; the LSGAN paper's output is linear. Both are offered (`d_output`); the linear one is "
           "the default, and the Results measure how often each collapses."),
))


# ------------------------------------------------------------------ WGAN (seed Module 3)
def _build_wgan(c: "RunConfig", channels: int) -> "nn.Module":
    from genmodels.models.wgan import WGAN

    return WGAN(c.depth, c.z_dim, c.width, channels, lipschitz=c.lipschitz, clip_value=c.clip_value,  # type: ignore[arg-type]
                gp_weight=c.gp_weight, augment=c.augment)  # type: ignore[arg-type]


LIPSCHITZ_METHODS = ("gp", "clip")  # gradient penalty (Gulrajani et al. 2017) or weight clipping (Arjovsky et al. 2017)


def _clipped(c: "RunConfig") -> bool:
    """An unset lipschitz is WGAN-GP."""
    return c.lipschitz == "clip"


def _wgan_defaults(c: "RunConfig") -> dict[str, Any]:
    if _clipped(c):
        # WGAN (Arjovsky et al. 2017, Algorithm 1): RMSprop 5e-5, c = 0.01, n_critic = 5.
        return {"lipschitz": "clip", "clip_value": 0.01, "n_critic": 5, "lr": 5e-5}
    # WGAN-GP (Gulrajani et al. 2017, Algorithm 1): Adam 1e-4, betas (0, 0.9), lambda = 10, n_critic = 5.
    return {"lipschitz": "gp", "gp_weight": 10.0, "n_critic": 5, "lr": 1e-4, "beta1": 0.0, "beta2": 0.9}


DEEP_WGAN = 4  # the depth from which the tuned WGAN-GP takes 3 critic steps per generator step


def _wgan_tuned(c: "RunConfig") -> dict[str, Any]:
    """WGAN-GP: one critic step per generator step at a higher rate, except in deep networks: at depth 5, one
    critic step let all three seeds collapse (IS 1.09), three learned in all three (IS 3.81, FID 62 vs 131) for
    the same real images (bench/time_to_quality.py, docs/recipes.md). Clipping keeps its RMSprop settings."""
    if _clipped(c):
        return dict(_ADVERSARIAL_TUNED)
    return {**_ADVERSARIAL_TUNED, "lr": 5e-4, "n_critic": 3 if c.depth >= DEEP_WGAN else 1}


def _check_wgan(c: "RunConfig") -> None:
    """The Lipschitz method's own knobs, checked against the unset default (gp) before resolving fills it in."""
    if _clipped(c) and c.gp_weight is not None:
        raise ConfigError("gp_weight applies only to lipschitz='gp', not to lipschitz='clip'.")
    if not _clipped(c) and c.clip_value is not None:
        raise ConfigError(
            "clip_value applies only to lipschitz='clip', not to lipschitz='gp'"
            + ("." if c.lipschitz else " (the WGAN default); set lipschitz='clip' to clip weights.")
        )
    if _clipped(c) and (c.beta1 is not None or c.beta2 is not None):
        beta = "beta1" if c.beta1 is not None else "beta2"
        raise ConfigError(f"{beta} does not apply to lipschitz='clip', which trains with RMSprop; remove it.")


register_model(ModelSpec(
    name="wgan", display_name="WGAN", build=_build_wgan,
    fields=("lipschitz", "clip_value", "gp_weight", "n_critic", "ema", "augment"),
    rules={"lipschitz": Choice(LIPSCHITZ_METHODS), "clip_value": Number(0.0),
           "gp_weight": Number(0.0, strict=False)},
    defaults=_wgan_defaults,
    recipes={SEED_FAITHFUL: _ADVERSARIAL_SEED_FAITHFUL, TUNED: _wgan_tuned},
    loss_terms=(("critic_loss", "critic"), ("gen_loss", "generator"), ("wasserstein", "Wasserstein estimate")),
    variant=lambda c: "gradient penalty" if c.lipschitz == "gp" else "weight clipping",
    run_name_tag=lambda c: c.lipschitz or "",
    # Arjovsky et al. 2017: momentum-based optimizers made weight-clipped critics unstable
    optimizer=lambda c: "rmsprop" if _clipped(c) else "adam",
    check=_check_wgan,
    cases=(("WGAN-GP", {"lipschitz": "gp"}),
           ("WGAN-GP", {"lipschitz": "gp", "depth": DEEP_WGAN}),  # the report adds "depth 4-5"
           ("WGAN, clipping", {"lipschitz": "clip"})),
    notes=("(seed Module 3, Arjovsky et al. 2017). Its networks are the LSGAN's, the discriminator serving as "
           "the critic. The seed leaves out the Lipschitz constraint the Wasserstein estimate needs; it is added "
           "as either weight clipping (Arjovsky et al., 2017) or a per-sample gradient penalty (Gulrajani et al., "
           "2017), whose critic cannot use batch norm, which mixes the samples the penalty treats independently; "
           "the table shows each critic's normalisation."),
))


# ------------------------------------------------------------------ data sets
# The readers need torch and torchvision, so each is imported at its first call: registering loads no torch.
def _read_mnist(base: "Path", split: str, download: bool) -> "Read":
    from genmodels.data.readers import load_mnist
    return load_mnist(base, split, download)


def _read_mnist_5k(base: "Path", split: str, download: bool) -> "Read":
    from genmodels.data.readers import load_mnist_5k
    return load_mnist_5k(base, split, download)


def _read_fashion(base: "Path", split: str, download: bool) -> "Read":
    from genmodels.data.readers import load_fashion
    return load_fashion(base, split, download)


def _read_cifar(base: "Path", split: str, download: bool) -> "Read":
    from genmodels.data.readers import load_cifar
    return load_cifar(base, split, download)


register_dataset(DatasetSpec("mnist", "MNIST", channels=1, loader=_read_mnist, classifier="mnist",
                             missing=data_files.mnist_missing))
# scored with the MNIST classifier: both use the same reference (the official MNIST test split)
register_dataset(DatasetSpec("mnist-5k", "MNIST (5k subset)", channels=1, loader=_read_mnist_5k,
                             classifier="mnist", missing=data_files.mnist_5k_missing))
register_dataset(DatasetSpec("fashion-mnist", "Fashion-MNIST", channels=1, loader=_read_fashion,
                             classifier="fashion-mnist", missing=data_files.fashion_missing))
register_dataset(DatasetSpec("cifar10", "CIFAR-10", channels=3, loader=_read_cifar, classifier="cifar10",
                             missing=data_files.cifar_missing))
