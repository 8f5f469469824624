"""Images as uint8 tensors: a whole split in memory (`ImageSet`), the conversions to and from the models'
[-1, 1] floats, the 32x32 padding every model's five stride-2 layers need, and a split's checksum."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from genmodels.data.errors import DataError


@dataclass
class ImageSet:
    """A whole split as uint8 images (N, C, 32, 32) and labels (N,); batches are made by indexing."""

    images: torch.Tensor
    labels: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    def batch(self, index: torch.Tensor | slice, device: torch.device | str = "cpu") -> torch.Tensor:
        """Float images in [-1, 1] for the given indices."""
        return to_float(self.images[index].to(device))

    def subset(self, n: int) -> "ImageSet":
        n = min(n, len(self))
        meta = dict(self.meta, images=n, checksum=checksum(self.images[:n]))
        return ImageSet(self.images[:n], self.labels[:n], meta)


def to_float(images_u8: torch.Tensor) -> torch.Tensor:
    return images_u8.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def checksum(images: torch.Tensor) -> str:
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()[:16]


def pad_to_32(images: torch.Tensor) -> torch.Tensor:
    """Pad 28x28 images by 2 pixels of background to 32x32, so five stride-2 layers fit exactly."""
    side = images.shape[-1]
    if side == 32:
        return images.contiguous()
    if side == 28:
        return F.pad(images, (2, 2, 2, 2), value=0).contiguous()
    raise DataError(f"expected 28x28 or 32x32 images, got {tuple(images.shape[-2:])}")


__all__ = ["ImageSet", "to_float", "to_uint8", "checksum", "pad_to_32"]
