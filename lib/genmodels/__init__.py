"""genmodels: a VAE, a least-squares GAN and a WGAN on 32x32 images, trained, measured and reported.

The public API: `RunConfig` (one run's knobs), `run_config` (train, evaluate, draw), `Trainer` (the training
loop alone), `build_model`, `load_dataset`, `default_evaluator`, `load_run` / `TrainedRun` (a finished run),
`results_frame` (every run as a row), and the registries (`register_model`, `register_dataset`, `ModelSpec`,
`DatasetSpec`, `model_spec`, `dataset_spec`) through which a model or data set is added.

``import genmodels`` stays light (no torch, no pandas): the names below that need them are imported on
first use (PEP 562 module ``__getattr__``), so the CLI's ``--help`` and config checks start at once.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from genmodels.core.config import ConfigError, RunConfig
from genmodels.core.registry import DatasetSpec, ModelSpec, dataset_spec, model_spec, register_dataset, register_model
from genmodels import builtin  # noqa: F401  registers the shipped models and data sets (the registry imports no model)

__version__ = "0.1.0"

# name -> module that defines it, imported when the name is first used
_LAZY = {
    "load_run": "runs.trained", "TrainedRun": "runs.trained", "RunError": "runs.trained",
    "results_frame": "runs.results",
    "build_model": "models",
    "run_config": "runs.run",
    "Trainer": "training.loop",
    "default_evaluator": "quality.evaluation",
    "load_dataset": "data",
}

__all__ = ["RunConfig", "ConfigError", "ModelSpec", "DatasetSpec", "register_model", "register_dataset",
           "model_spec", "dataset_spec", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later uses skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
