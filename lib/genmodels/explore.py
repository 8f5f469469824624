"""Loading finished runs back for interactive exploration and for the report."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .config import RunConfig
from .models import build_model
from .store import CHECKPOINT, CONFIG, find_results_root, finished_runs, read_json
from .train import read_checkpoint


def newest_run(results_root: str | os.PathLike[str] | None = None) -> Path:
    """The newest finished run under `results_root` (default: the project's results folder, found from the
    current directory upwards, so a notebook kernel started in notebooks/ finds it too)."""
    results_root = results_root or find_results_root()
    runs = finished_runs(results_root)
    if not runs:
        raise FileNotFoundError(f"no finished run under {results_root}/; train one first "
                                "(notebooks/train.ipynb or `python -m genmodels train`)")
    return runs[-1]


def load_config(run_dir: str | os.PathLike[str]) -> RunConfig:
    values = read_json(Path(run_dir) / CONFIG)
    if not isinstance(values, dict):
        raise FileNotFoundError(f"{run_dir} holds no readable {CONFIG}; is it a run folder?")
    values.pop("config_hash", None)
    return RunConfig.from_dict(values)


def load_run(run_dir: str | os.PathLike[str], checkpoint: str = CHECKPOINT,
             device: str | torch.device = "cpu") -> tuple[nn.Module, RunConfig]:
    """The trained model of a run (in eval mode) and its config. `checkpoint="best.pt"` for the best by FID.
    Where the run kept a generator average (tuned recipe), the model's generator is that average."""
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    state = read_checkpoint(run_dir / checkpoint, map_location=device)
    channels = 3 if config.dataset == "cifar10" else 1
    model = build_model(config, channels).to(device)
    model.load_state_dict(state["model"])
    if state.get("ema"):  # the tuned recipe's averaged generator is what the run's samples and metrics used
        from .recipes import GeneratorEMA

        resolved = config.resolved()
        ema = GeneratorEMA(model.generator, resolved.ema or 0.999, resolved.z_dim).to_device(torch.device(device))
        ema.load_state_dict(state["ema"])
        model.generator = ema.generator()
    return model.eval(), config
