"""Loading finished runs back for interactive exploration (notebooks/explore.ipynb).

Loading itself is `genmodels.runs.trained` (`load_run` there returns a `TrainedRun`); this module keeps the
notebook's (model, config) form of it and finds the newest finished run.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from genmodels.core.config import RunConfig
from genmodels.core.store import BEST, CHECKPOINT, find_results_root, finished_runs
from genmodels.runs.trained import load_config
from genmodels.runs import trained


def newest_run(results_root: str | os.PathLike[str] | None = None) -> Path:
    """The newest finished run under `results_root` (default: the project's results folder, found from the
    current directory upwards, so a notebook kernel started in notebooks/ finds it too)."""
    results_root = results_root or find_results_root()
    runs = finished_runs(results_root)
    if not runs:
        raise FileNotFoundError(f"no finished run under {results_root}/; train one first "
                                "(notebooks/train.ipynb or `python -m genmodels train`)")
    return runs[-1]


def load_run(run_dir: str | os.PathLike[str], checkpoint: str = CHECKPOINT,
             device: str | torch.device = "cpu") -> tuple[nn.Module, RunConfig]:
    """The trained model of a run (in eval mode) and its config; `checkpoint` is a file name (``best.pt`` for
    the best by FID). Where the run kept a generator average (tuned recipe), the model's generator is that
    average. `genmodels.load_run` gives the same model with its metrics and sampling methods."""
    if checkpoint not in (CHECKPOINT, BEST):
        raise trained.RunError(f"checkpoint must be {CHECKPOINT} or {BEST}; got {checkpoint!r}")
    run = trained.load_run(run_dir, "best" if checkpoint == BEST else "final", device)
    return run.model, run.config


__all__ = ["newest_run", "load_run", "load_config"]
