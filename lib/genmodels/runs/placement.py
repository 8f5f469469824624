"""How many runs a sweep trains at once, on which GPU each, and whether the devices its runs ask for exist here.

One run at a time leaves a GPU mostly idle: these networks are small, so a step's time is kernel launches from
one CPU thread, not arithmetic. Separate processes sharing one GPU fill it. Measured on
one NVIDIA H200 with 16 CPU cores (torch 2.11 + CUDA 13), each process training the LSGAN (depth 3, width 64,
batch 64, 500 steps of `Trainer.fit` on cuda), aggregate steps per second: `MEASURED_LSGAN_STEPS_PER_S`.
Reproduce with ``bench/runs_per_gpu.py``.

So on CUDA a sweep runs `default_runs_per_gpu` configurations per GPU: the most that was measured to help
(16), but at most one per CPU core, since each run's process needs a core of its own to queue its GPU's
kernels. Runs are spread over the GPUs round-robin (`slot_device`).
"""

from __future__ import annotations

from typing import Iterable

from genmodels.core.config import ConfigError, RunConfig
from genmodels.core.devices import cuda_count, device_problem

# runs sharing one H200 -> aggregate LSGAN steps/s (bench/runs_per_gpu.py measures it anew)
MEASURED_LSGAN_STEPS_PER_S = {1: 90, 4: 288, 16: 423}
# the most runs per GPU measured; beyond it nothing is known, so the default never goes further
MAX_DEFAULT_RUNS_PER_GPU = max(MEASURED_LSGAN_STEPS_PER_S)


def default_runs_per_gpu(gpus: int, cores: int) -> int:
    """Runs trained at once on each GPU when none is asked for: `MAX_DEFAULT_RUNS_PER_GPU` (16: 4.7x the
    steps/s of one run), but no more than this machine's CPU cores per GPU, and at least one."""
    return max(1, min(MAX_DEFAULT_RUNS_PER_GPU, cores // max(1, gpus)))


def threads_per_run(jobs: int, cores: int) -> int:
    """Torch CPU threads for each of `jobs` runs side by side: the cores shared out, at least one each."""
    return max(1, cores // max(1, jobs))


def slot_device(slot: int, gpus: int) -> str | None:
    """The device of the run in side-by-side slot `slot`: GPU ``slot % gpus`` where there are several (so N runs
    per GPU land N on each); None (the run's own ``device``, "auto" taking the one GPU) otherwise."""
    return f"cuda:{slot % gpus}" if gpus > 1 else None


def check_devices(configs: Iterable[tuple[str, RunConfig]], gpus: int | None = None) -> None:
    """Every run's ``device`` exists on this machine, or a `ConfigError` naming the first run that asks for one
    that does not: before anything trains, not as one failure per run. `configs` are (label, config) pairs;
    `gpus` defaults to this machine's count, which is only counted (importing torch) when a run asks for CUDA."""
    for label, config in configs:
        if not config.device.startswith("cuda"):
            continue
        gpus = cuda_count() if gpus is None else gpus
        problem = device_problem(config.device, gpus)
        if problem:
            raise ConfigError(f"{label}: {problem}")


__all__ = ["MEASURED_LSGAN_STEPS_PER_S", "MAX_DEFAULT_RUNS_PER_GPU", "default_runs_per_gpu", "threads_per_run",
           "slot_device", "check_devices"]
