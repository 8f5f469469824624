"""The generator's weight average, which the tuned recipe (genmodels.core.recipes) draws every sample from.

An exponential moving average of a generator's weights (Yazici et al. 2019), with batch-norm statistics
recomputed for the averaged weights and a decay that warms up with the step count, as TensorFlow's EMA does;
`Sampler` is what generation code calls ``.generate(z)`` on.
"""

from __future__ import annotations

import copy
from typing import Iterable

import torch
from torch import nn


class GeneratorEMA:
    """An exponential moving average of a generator's weights, with batch-norm statistics of its own.

    It computes what ``torch.optim.swa_utils.AveragedModel(generator, use_buffers=False)`` with the warm-up
    average below computed (the first update copies the weights; later ones lerp every parameter in one
    multi-tensor call; buffers follow the raw generator), bit for bit, and its `state_dict` has that class's
    format (``n_averaged`` and ``module.*``), so checkpoints written with it load. The one difference is where
    the update count lives: on the host, as a Python int. AveragedModel keeps it as a device tensor and asks
    ``bool(n_averaged == 0)`` every update, which on a GPU makes the CPU wait for the GPU once per training
    step.

    Batch-norm running statistics of the raw generator belong to the raw weights, so before the averaged
    generator draws samples its statistics are recomputed with ``torch.optim.swa_utils.update_bn`` over fixed
    noise batches (drawn from a private generator: sampling never moves the training RNG).
    """

    def __init__(self, generator: nn.Module, decay: float, z_dim: int, bn_batches: int = 8,
                 bn_batch_size: int = 128) -> None:
        self.decay, self.z_dim = decay, z_dim
        self.module = copy.deepcopy(generator)
        self.module.requires_grad_(False)
        self.n_averaged = 0  # updates so far, on the host
        self.bn_batches, self.bn_batch_size = bn_batches, bn_batch_size
        self._bn_fresh_at = -1  # n_averaged when the statistics were last recomputed

    def weight(self, count: int) -> float:
        """How far the average moves towards the current weights at update `count` (0-based, > 0).

        The decay warms up as in TensorFlow's ExponentialMovingAverage(num_updates): min(decay, (1+n)/(10+n)),
        so a short run averages over its last ~n/10 steps instead of keeping most of its initial weights."""
        return 1.0 - min(self.decay, (1 + count) / (10 + count))

    def to_device(self, device: torch.device) -> "GeneratorEMA":
        self.module.to(device)
        return self

    @torch.no_grad()
    def update(self, generator: nn.Module) -> None:
        """Move the average towards `generator`'s weights; its buffers (batch-norm statistics) are copied."""
        averaged, current = list(self.module.parameters()), [p.detach() for p in generator.parameters()]
        if self.n_averaged == 0:
            torch._foreach_copy_(averaged, current)
        else:
            torch._foreach_lerp_(averaged, current, self.weight(self.n_averaged))
        buffers = list(self.module.buffers())
        if buffers:  # the raw generator's batch-norm statistics, as AveragedModel(use_buffers=False) keeps them
            torch._foreach_copy_(buffers, [b.detach() for b in generator.buffers()])
        self.n_averaged += 1

    @torch.no_grad()
    def generator(self) -> nn.Module:
        """The averaged generator in eval mode, its batch-norm statistics matching its weights."""
        from torch.optim.swa_utils import update_bn

        if self.n_averaged != self._bn_fresh_at:
            device = next(self.module.parameters()).device
            g = torch.Generator().manual_seed(0)
            noise: Iterable[torch.Tensor] = [
                torch.randn(self.bn_batch_size, self.z_dim, generator=g).to(device) for _ in range(self.bn_batches)]
            update_bn(noise, self.module)
            self._bn_fresh_at = self.n_averaged
        return self.module.eval()

    def state_dict(self) -> dict[str, torch.Tensor]:
        """AveragedModel's format: the count as a long tensor beside the weights, then ``module.<name>``."""
        device = next(self.module.parameters()).device
        count = torch.tensor(self.n_averaged, dtype=torch.long, device=device)
        return {"n_averaged": count, **{f"{PREFIX}{k}": v for k, v in self.module.state_dict().items()}}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """A state of this class or of an `AveragedModel` (the same format); unknown keys are refused."""
        weights = {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
        unexpected = sorted(set(state) - {"n_averaged"} - {f"{PREFIX}{k}" for k in weights})
        if unexpected or "n_averaged" not in state:
            raise RuntimeError(f"not a weight average's state (unexpected keys {unexpected[:3]}"
                               f"{'' if 'n_averaged' in state else ', no n_averaged'})")
        self.module.load_state_dict(weights)
        self.n_averaged = int(state["n_averaged"])
        self._bn_fresh_at = -1


PREFIX = "module."  # AveragedModel keeps the averaged network as its submodule `module`


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


__all__ = ["GeneratorEMA", "Sampler"]
