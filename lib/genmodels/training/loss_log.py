"""Loss terms kept on the device and read back in batches, so a training step never waits for the GPU.

Reading one loss value (``.item()``) makes the CPU wait until the GPU has finished every kernel queued before
it: with one read per step, the CPU cannot queue the next step's kernels while the GPU works. Here
each step's terms stay on the device as detached tensors, and `PendingLosses.drain_into` reads every pending
step with one copy (one host-device synchronisation per read, not per step). The values read are the same
floats ``.item()`` gave: the terms are concatenated in their own dtype (or a wider one) and converted exactly.

A non-finite term is still caught, at the read: the error names the first step and term that went bad, and
the history keeps every step before it, as when each step was checked at once.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the step and the term."""


class PendingLosses:
    """History rows whose loss terms are still device tensors, in step order."""

    def __init__(self) -> None:
        self._rows: list[tuple[dict[str, Any], dict[str, torch.Tensor]]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: dict[str, Any], terms: dict[str, torch.Tensor]) -> None:
        """One step: its bookkeeping columns (`row`: step, images, seconds) and its loss terms, not read yet."""
        self._rows.append((row, {name: value.detach() for name, value in terms.items()}))

    def clear(self) -> None:
        self._rows.clear()

    def drain_into(self, history: list[dict[str, Any]]) -> None:
        """Read every pending step back with one copy, append its complete row to `history`, and empty.

        Raises `TrainingDiverged` at the first step with a NaN or infinite term (in step order, then term
        order); the steps before it are in `history`, that step and later ones are dropped."""
        if not self._rows:
            return
        pending, self._rows = self._rows, []
        tensors = [value.reshape(-1) for _, terms in pending for value in terms.values()]
        values = iter(torch.cat(tensors).tolist() if tensors else [])  # the one read of the device
        for row, terms in pending:
            read = {name: _one(name, tensor, values) for name, tensor in terms.items()}
            bad = next((name for name, value in read.items() if not math.isfinite(value)), None)
            if bad is not None:
                raise TrainingDiverged(f"{bad} became {read[bad]} at step {row['step']}; try a lower lr")
            history.append({**row, **read})


def _one(name: str, tensor: torch.Tensor, values: Any) -> float:
    """The next value read, for a term that must be a single number (as ``.item()`` required)."""
    if tensor.numel() != 1:
        raise ValueError(f"loss term {name!r} has {tensor.numel()} elements; a loss term is one number")
    return float(next(values))


__all__ = ["PendingLosses", "TrainingDiverged"]
