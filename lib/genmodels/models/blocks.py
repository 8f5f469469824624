"""Shared layer arithmetic for 32x32 images: every stride-2 layer halves (or doubles) the side."""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SIZE = 32
MAX_WIDTH_MULT = 8  # channels double per layer up to 8x the base width (DCGAN's 64 -> 512)


def channels(width: int, layer: int) -> int:
    """Channels of the `layer`-th (0-based) conv of an encoder/discriminator; decoders mirror it."""
    return width * min(2**layer, MAX_WIDTH_MULT)


def side_after(depth: int) -> int:
    """Feature-map side after `depth` stride-2 layers starting from 32x32 (depth 5 -> 1)."""
    return IMAGE_SIZE >> depth


def down(c_in: int, c_out: int) -> nn.Conv2d:
    # kernel 4, stride 2, padding 1: exact halving, the DCGAN choice (Radford et al. 2016)
    return nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)


def up(c_in: int, c_out: int, bias: bool = False) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)


def norm2d(kind: str, c: int) -> nn.Module:
    """Batch norm as the seed draws it; layer norm where batch norm breaks the per-sample gradient penalty."""
    if kind == "batch":
        return nn.BatchNorm2d(c)
    if kind == "layer":
        return nn.GroupNorm(1, c)  # one group = layer norm over (C, H, W), WGAN-GP Section 4
    raise ValueError(f"unknown norm {kind!r}")


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) conv/linear weights, N(1, 0.02) norm scales (Radford et al. 2016, Section 4)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm, nn.BatchNorm1d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def check_images(x: torch.Tensor, channels_expected: int) -> None:
    if x.dim() != 4 or x.shape[1:] != (channels_expected, IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(
            f"expected images of shape (B, {channels_expected}, {IMAGE_SIZE}, {IMAGE_SIZE}), got {tuple(x.shape)}"
        )
