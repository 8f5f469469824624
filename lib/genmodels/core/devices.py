"""Which CUDA devices this machine has, and whether a run's `device` names one of them.

Counting GPUs needs torch, imported on first use (so `import genmodels` and the CLI's --help stay light);
deciding whether a device string fits a count is plain logic, so a sweep checks every run's device before any
run starts, and tests give a count of their own (or patch ``torch.cuda.device_count``) on a machine without
a GPU.
"""

from __future__ import annotations


def cuda_count() -> int:
    """CUDA devices visible to this process (0 without CUDA); read anew each time, so a patched torch counts."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def device_problem(device: str, gpus: int) -> str | None:
    """Why a run asking for `device` cannot run on a machine with `gpus` CUDA devices; None when it can.

    "auto" and "cpu" always can ("auto" falls back to the CPU); "cuda" needs one GPU, "cuda:N" the N-th."""
    if not device.startswith("cuda"):
        return None
    if gpus == 0:
        return f"device={device!r} was asked for but no CUDA device is available; use device='auto' or 'cpu'."
    index = device.partition(":")[2]
    if index.isdigit() and int(index) >= gpus:
        return f"device={device!r}: this machine has {gpus} CUDA device(s), numbered from 0."
    return None


__all__ = ["cuda_count", "device_problem"]
