"""The training data as an endless stream of shuffled batches whose position is part of a checkpoint."""

from __future__ import annotations

from typing import Any

import torch

from genmodels.data.errors import DataError
from genmodels.data.images import ImageSet, to_float


class BatchStream:
    """Endless shuffled batches drawn by indexing one tensor; its state makes resumed runs exact.

    Each epoch is a fresh permutation from a private generator, so the data order does not depend on
    how many random numbers the model drew. The permutation is drawn on the CPU (the same order on every
    device) and copied to the images' device once per epoch: a copy per batch would make the CPU wait for the
    GPU at every step.
    """

    def __init__(self, data: ImageSet, batch_size: int, seed: int, device: torch.device | str = "cpu") -> None:
        if len(data) < batch_size:
            raise DataError(f"batch_size {batch_size} is larger than the data set ({len(data)} images)")
        self.images = data.images.to(device)
        self.batch_size, self.device = batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.position = 0, 0
        self.order = torch.randperm(len(data), generator=self.generator)
        self._device_order = self.order.to(self.images.device)
        self.images_seen = 0

    def next(self) -> torch.Tensor:
        if self.position + self.batch_size > len(self.order):  # drop the ragged last batch
            self.epoch += 1
            self.position = 0
            self.order = torch.randperm(len(self.order), generator=self.generator)
            self._device_order = self.order.to(self.images.device)
        index = self._device_order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        self.images_seen += self.batch_size
        return to_float(self.images[index])

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(), "epoch": self.epoch, "position": self.position,
            "order": self.order, "images_seen": self.images_seen,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.epoch, self.position = state["epoch"], state["position"]
        self.order, self.images_seen = state["order"], state["images_seen"]
        self._device_order = self.order.to(self.images.device)


__all__ = ["BatchStream"]
