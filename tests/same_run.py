"""Not a test: what the resume tests of several folders share. A resumed or re-run training must equal the
uninterrupted one bit for bit; these helpers compare two trainers' whole state and stop a run mid-way."""

from __future__ import annotations

from typing import Any

import torch

from genmodels.training.loop import Trainer


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Exact, recursive equality of nested state (tensors with torch.equal, no tolerance)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def without_seconds(history: list[dict[str, float]]) -> list[dict[str, float]]:
    """Wall time differs between runs; every other column must match exactly."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def assert_same_run(a: Trainer, b: Trainer) -> None:
    assert a.step == b.step
    assert_same(a.model.state_dict(), b.model.state_dict(), "model")
    for name in a.optimizers:
        assert_same(a.optimizers[name].state_dict(), b.optimizers[name].state_dict(), f"optimizer {name}")
    assert_same(a.stream.state_dict(), b.stream.state_dict(), "stream")
    assert without_seconds(a.history) == without_seconds(b.history)
    assert torch.equal(a.fixed_noise, b.fixed_noise)
    assert (a.ema is None) == (b.ema is None)
    if a.ema is not None and b.ema is not None:
        assert_same(a.ema.state_dict(), b.ema.state_dict(), "generator average")


class CrashAt:
    """A hook that kills the run at a given step, like a pre-empted job."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, trainer: Trainer) -> None:
        if trainer.step == self.step:
            raise KeyboardInterrupt

    def on_end(self, trainer: Trainer) -> None:
        pass
