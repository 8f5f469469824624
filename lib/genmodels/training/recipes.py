"""Training recipes: how a model is trained, apart from what it is (layers, norms, losses stay the seed's).

Two recipes, chosen by the config field ``recipe``:

- ``seed``: the seed-faithful loop, as a pytorch/examples-style script would do it: plain alternating
  updates with the literature's optimiser settings and batch size 64, no weight averaging.
- ``tuned`` (the default): what measured more quality per CPU-second in ``bench/time_to_quality.py``
  (docs/recipes.md): batch 32 at higher learning rates, one critic step per generator step for
  WGAN-GP, and an exponential moving average of the generator's weights from which every sample is drawn
  (Yazici et al. 2019; batch-norm statistics recomputed for the averaged weights; the decay warms up with the
  step count, as TensorFlow's EMA does).

In both, the generator step reuses the last critic step's fake batch, as the seed (one forward pass for both
losses) and pytorch/examples' DCGAN do. Differentiable augmentation of the discriminator's inputs (DiffAugment,
Zhao et al. 2020) is implemented and selectable (``augment``), but measured worse here at these budgets (docs/recipes.md),
so neither recipe uses it. Every ingredient is a config field of its own (``lr``, ``batch_size``, ``n_critic``,
``ema``, ``augment``); ``None`` takes the recipe's value.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from genmodels.core.config import AUGMENTS, RECIPES


# What each recipe sets per model is the model's `registry.ModelSpec.recipes` (genmodels.builtin).


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


__all__ = ["RECIPES", "AUGMENTS", "GeneratorEMA", "Sampler"]
