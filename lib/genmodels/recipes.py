"""Training recipes: how a model is trained, apart from what it is (layers, norms, losses stay the seed's).

Two recipes, chosen by the config field ``recipe``:

- ``seed``: the seed-faithful loop, as a pytorch/examples-style script would do it: plain alternating
  updates with the literature's optimiser settings and batch size 64, no weight averaging.
- ``tuned`` (the default): what measured more quality per CPU-second in ``bench/time_to_quality.py``
  (README "Training recipes"): batch 32 at higher learning rates, one critic step per generator step for
  WGAN-GP, and an exponential moving average of the generator's weights from which every sample is drawn
  (Yazici et al. 2019; batch-norm statistics recomputed for the averaged weights; the decay warms up with the
  step count, as TensorFlow's EMA does).

In both, the generator step reuses the last critic step's fake batch, as the seed (one forward pass for both
losses) and pytorch/examples' DCGAN do. Differentiable augmentation of the discriminator's inputs (DiffAugment,
Zhao et al. 2020) is implemented and selectable (``augment``), but measured worse here at these budgets (README),
so neither recipe uses it. Every ingredient is a config field of its own (``lr``, ``batch_size``, ``n_critic``,
``ema``, ``augment``); ``None`` takes the recipe's value.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from .config import AUGMENTS, RECIPES


# What each recipe sets per model is the model's `registry.ModelSpec.recipes` (genmodels.builtin).


# ---------------------------------------------------------------------------------------------- DiffAugment
def diff_augment(x: torch.Tensor, policy: str, background: float = -1.0) -> torch.Tensor:
    """Differentiable augmentation of a batch (B, C, H, W) in [-1, 1] (Zhao et al. 2020, DiffAugment).

    "translation": each image shifted by up to 1/8 of its side in x and y, the uncovered border filled with
    the background value (black, -1, not DiffAugment's 0, which would be mid-grey here); "cutout": a random
    square of half the side set to the background. Random numbers come from torch's global generator,
    which the trainer checkpoints, so a resumed run draws the same shifts.
    """
    if policy == "none":
        return x
    for part in policy.split(","):
        x = _TRANSFORMS[part](x, background)
    return x


def _translation(x: torch.Tensor, background: float, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + ty + sh).expand(b, h, w)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + tx + sw).expand(b, h, w)
    padded = nn.functional.pad(x, (sw, sw, sh, sh), value=background)
    batch = torch.arange(b, device=x.device).view(b, 1, 1).expand(b, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, background: float, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - (cy - ch // 2)
    cols = torch.arange(w, device=x.device).view(1, 1, w) - (cx - cw // 2)
    inside = (rows >= 0) & (rows < ch) & (cols >= 0) & (cols < cw)
    keep = (~inside).unsqueeze(1).to(x.dtype)  # (B, 1, H, W)
    return x * keep + background * (1 - keep)


INSTANCE_NOISE = 0.1  # standard deviation, in the [-1, 1] pixel scale


def _instance_noise(x: torch.Tensor, background: float) -> torch.Tensor:
    """Gaussian instance noise on the critic's inputs, real and fake alike (Sonderby et al. 2016; Arjovsky &
    Bottou 2017): it blurs the two distributions into overlapping ones, so a deep discriminator cannot separate
    them perfectly in the first steps and leave the generator without a useful gradient. Measured at depth 5
    (README "Training recipes"): it kept the LSGAN from collapsing in 3 of 3 seeds."""
    return x + INSTANCE_NOISE * torch.randn_like(x)


_TRANSFORMS = {"translation": _translation, "cutout": _cutout, "noise": _instance_noise}


# ---------------------------------------------------------------------------------------------- weight averaging
class GeneratorEMA:
    """An exponential moving average of a generator's weights, with batch-norm statistics of its own.

    The average is kept by ``torch.optim.swa_utils.AveragedModel`` (parameters only). Batch-norm running
    statistics of the raw generator belong to the raw weights, so before the averaged generator draws
    samples its statistics are recomputed with ``torch.optim.swa_utils.update_bn`` over fixed noise batches
    (drawn from a private generator: sampling never moves the training RNG).
    """

    def __init__(self, generator: nn.Module, decay: float, z_dim: int, bn_batches: int = 8,
                 bn_batch_size: int = 128) -> None:
        from torch.optim.swa_utils import AveragedModel

        self.decay, self.z_dim = decay, z_dim
        self.averaged = AveragedModel(generator, multi_avg_fn=self._average, use_buffers=False)
        self.averaged.requires_grad_(False)
        self.bn_batches, self.bn_batch_size = bn_batches, bn_batch_size
        self._bn_fresh_at = -1  # n_averaged when the statistics were last recomputed

    def _average(self, averaged: list[torch.Tensor], current: list[torch.Tensor], count: torch.Tensor | int) -> None:
        # the decay warms up as in TensorFlow's ExponentialMovingAverage(num_updates): min(decay, (1+n)/(10+n)),
        # so a short run averages over its last ~n/10 steps instead of keeping most of its initial weights
        n = int(count)
        decay = min(self.decay, (1 + n) / (10 + n))
        torch._foreach_lerp_(averaged, current, 1.0 - decay)

    def to_device(self, device: torch.device) -> "GeneratorEMA":
        self.averaged.to(device)
        return self

    def update(self, generator: nn.Module) -> None:
        self.averaged.update_parameters(generator)

    @property
    def module(self) -> nn.Module:
        return self.averaged.module

    @torch.no_grad()
    def generator(self) -> nn.Module:
        """The averaged generator in eval mode, its batch-norm statistics matching its weights."""
        from torch.optim.swa_utils import update_bn

        count = int(self.averaged.n_averaged)
        if count != self._bn_fresh_at:
            device = next(self.module.parameters()).device
            g = torch.Generator().manual_seed(0)
            noise: Iterable[torch.Tensor] = [
                torch.randn(self.bn_batch_size, self.z_dim, generator=g).to(device) for _ in range(self.bn_batches)]
            update_bn(noise, self.module)
            self._bn_fresh_at = count
        return self.module.eval()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.averaged.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.averaged.load_state_dict(state)
        self._bn_fresh_at = -1


class Sampler(nn.Module):
    """What generation code calls ``.generate(z)`` on: the averaged generator where there is one."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator
        self.train(False)

    def train(self, mode: bool = True) -> "Sampler":
        return super().train(False)  # the averaged generator only ever samples, with its own statistics

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)


__all__ = ["RECIPES", "AUGMENTS", "diff_augment", "GeneratorEMA", "Sampler"]
