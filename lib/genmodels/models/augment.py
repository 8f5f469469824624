"""What the critic sees through (config field ``augment``): differentiable augmentation of its inputs (DiffAugment,
Zhao et al. 2020) or Gaussian instance noise. Applied inside the adversarial models' critic, so it lives beside
them; which recipe selects what is each model's `ModelSpec.recipes` (genmodels.builtin)."""

from __future__ import annotations

import torch
from torch import nn


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
    (docs/recipes.md): it kept the LSGAN from collapsing in 3 of 3 seeds."""
    return x + INSTANCE_NOISE * torch.randn_like(x)


_TRANSFORMS = {"translation": _translation, "cutout": _cutout, "noise": _instance_noise}


__all__ = ["diff_augment", "INSTANCE_NOISE"]
