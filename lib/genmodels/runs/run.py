"""One configuration, end to end: train, evaluate, draw, and write a complete run folder.

Layout of ``<out_dir>``: ``config.json``, ``history.csv``, ``metrics.json``, ``meta.json``, ``checkpoint.pt``
(+ ``best.pt`` once quality metrics run), ``samples/step_*.png``, ``figures/*.png``, ``tensorboard/`` (with
``log: tensorboard``), and ``complete.json``.
The layout, file names, atomic writes and completeness are `genmodels.core.store`'s; ``complete.json`` is written
last: a folder without it is a run still going or interrupted, never a finished one.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import matplotlib.pyplot as plt
import pandas as pd
import torch

from genmodels import plots
from genmodels.core import store
from genmodels.core.config import ConfigError, RunConfig
from genmodels.core.files import OutputError, check_own_folder, check_writable_dir, missing_folders
from genmodels.data import DataError, ImageSet, data_root, load_dataset
from genmodels.data.files import check_data_root
from genmodels.training.generate import in_eval_mode, interpolation_grid
from genmodels.core.registry import model_spec
from genmodels.training.hooks import BOOKKEEPING_COLUMNS, Hook
from genmodels.training.loop import Trainer, make_trainer

T = TypeVar("T")


@dataclass
class RunResult:
    out_dir: Path
    config: RunConfig
    trainer: Trainer
    metrics: dict[str, Any]
    meta: dict[str, Any]
    figures: dict[str, Path] = field(default_factory=dict)


def final_losses(history: list[dict[str, float]], fraction: float = 0.1) -> dict[str, float]:
    """Mean of each loss term over the last `fraction` of steps: one step's value is too noisy to report."""
    frame = pd.DataFrame(history)
    tail = frame.tail(max(1, int(len(frame) * fraction)))
    return {k: float(tail[k].mean()) for k in frame.columns if k not in BOOKKEEPING_COLUMNS}


def execute_run(config: RunConfig, out_dir: str | os.PathLike[str], resume: bool = True,
                hooks: list[Hook] | None = None, evaluate: Any = "auto",
                results_root: str | os.PathLike[str] = store.DEFAULT_ROOT) -> dict[str, Any]:
    """Train `config` into `out_dir` and write every artifact; returns a short summary."""
    return run_config(config, out_dir, resume, hooks, evaluate, results_root).meta["summary"]


def run_config(config: RunConfig, out_dir: str | os.PathLike[str], resume: bool = True,
               hooks: list[Hook] | None = None, evaluate: Any = "auto",
               results_root: str | os.PathLike[str] = store.DEFAULT_ROOT) -> RunResult:
    """Train, evaluate and draw one config. `evaluate="auto"`: quality metrics unless metric_samples is 0;
    None: none; or an `Evaluator` (genmodels.quality.evaluation). `results_root` is where cached classifiers live.

    The run folder is locked for the whole run (`store.folder_lock`): a second process asking for the same
    folder waits up to `LOCK_WAIT` seconds (a killed run's kernel takes a moment to go), then gets `FolderBusy`
    naming the process that holds it. Under that lock the folder must be empty or hold a run of this
    configuration (`check_run_folder`): nothing a user or another run put there is overwritten.
    A run that is already complete (the same config, finished by this or another process) is loaded, not
    trained or evaluated again. A run that stops before its first checkpoint in a folder this call created
    leaves no folder behind (`store.remove_unstarted`)."""
    if not isinstance(config, RunConfig):
        raise ConfigError(f"run_config takes a RunConfig (RunConfig(**fields) or RunConfig.from_dict(values)), got a "
                          f"{type(config).__name__}")
    out = Path(out_dir)
    lock_is_new = not os.path.lexists(out / store.LOCK)  # a refused run removes the lock file it made
    try:
        created = missing_folders(out)  # what this call creates: undone if the run stops before a checkpoint
    except OSError:
        created = []  # a name the file system refuses: the lock's mkdir below says so
    try:
        with store.folder_lock(out, wait=LOCK_WAIT):
            check_run_folder(out, config, resume)  # under the lock: no second process writes between check and run
            if resume and store.is_complete(out, config.config_hash()):
                return load_finished(config, out)
            return _run_locked(config, out, resume, hooks, evaluate, results_root)
    except BaseException:
        store.remove_unstarted(out, created, lock_is_new)  # refused at start-up: nothing left that it made
        raise


# how long a run waits for another process that holds its folder (e.g. the kernel of a killed sweep worker)
LOCK_WAIT = 30.0


def _run_locked(config: RunConfig, out: Path, resume: bool, hooks: list[Hook] | None, evaluate: Any,
                results_root: str | os.PathLike[str]) -> RunResult:
    started = time.time()
    if evaluate == "auto":
        from genmodels.quality.evaluation import default_evaluator

        evaluate = default_evaluator(config, results_root)
    resolved = config.resolved()
    if resolved.log == "tensorboard":
        from genmodels.training.tensorboard_log import summary_writer_class

        summary_writer_class()  # the package is there, or one line now, before the folder is touched
    resumed_from = check_resumable(resolved, out) if resume else 0
    train_data, data_warnings = _with_warnings(lambda: load_dataset(resolved.dataset, "train", resolved.data_root))
    test_data, test_warnings = _with_warnings(lambda: _load_test(resolved))
    data_warnings += test_warnings  # a missing or damaged test split is why quality is null: meta.json says so

    extra_hooks = list(hooks or [])
    if evaluate is not None:
        extra_hooks.append(evaluate.hook(test_data))
    trainer = make_trainer(resolved, out, train_data=train_data, hooks=extra_hooks)
    if resume and os.path.lexists(out / store.CHECKPOINT):
        # loaded in full before anything in the folder changes: a checkpoint refused here leaves it as it was
        trainer.load_checkpoint(out / store.CHECKPOINT)
    out.mkdir(parents=True, exist_ok=True)
    store.mark_started(out)
    store.write_json(out / store.CONFIG, {**resolved.to_dict(), "config_hash": config.config_hash()})
    trainer.fit(resume=False)

    figures = draw_figures(trainer, test_data, out / store.FIGURES)
    metrics: dict[str, Any] = {"recipe": resolved.recipe, "final_losses": final_losses(trainer.history),
                               "step": trainer.step}
    if evaluate is not None:
        metrics.update(evaluate.final(trainer, test_data))
    store.write_json(out / store.METRICS, metrics)
    if resolved.log == "tensorboard":
        from genmodels.training.tensorboard_log import log_final

        log_final(out, trainer.step, metrics)
    cpu_seconds = None if trainer.cpu_elapsed is None else round(trainer.cpu_elapsed, 2)
    summary = {"steps": trainer.step, "seconds": trainer.elapsed, "cpu_seconds": cpu_seconds,
               "images": trainer.stream.images_seen}
    meta = {
        "run_name": config.run_name(), "config_hash": config.config_hash(),
        "data": {"folder": str(data_root(resolved.data_root).resolve()),  # its checksums fingerprint the images
                 "train": train_data.meta, "test": test_data.meta if test_data else None, "warnings": data_warnings},
        "device": _device_info(trainer.device), "versions": package_versions(), "git": git_commit(),
        "wall_seconds": {"training": round(trainer.elapsed, 2), "this_invocation": round(time.time() - started, 2)},
        "cpu_seconds": {"training": cpu_seconds},  # null: resumed from a checkpoint that did not count it
        "summary": summary, "resumed_from_step": resumed_from, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    store.write_json(out / store.META, meta)
    store.mark_complete(out, config.config_hash(), meta["finished"])
    return RunResult(out, resolved, trainer, metrics, meta, figures)


def load_finished(config: RunConfig, out: Path) -> RunResult:
    """A complete run folder as a `RunResult`: its final checkpoint, metrics, meta and figures from disk."""
    trainer = Trainer(config.resolved(), out)
    trainer.load_checkpoint(out / store.CHECKPOINT)
    figures = {path.stem: path for path in sorted((out / store.FIGURES).glob("*.png"))}
    metrics = store.read_json(out / store.METRICS) or {}
    meta = store.read_json(out / store.META) or {}
    return RunResult(out, trainer.config, trainer, metrics, meta, figures)


# ---------------------------------------------------------------------------------------------- output folders
def check_train(config: RunConfig, out: str | os.PathLike[str], results_root: str | os.PathLike[str],
                no_metrics: bool = False) -> tuple[Path, bool]:
    """What `train` checks before any start-up, each fault one typed error (a user error of the CLI): a GPU this
    machine lacks, an output folder that is not the run's own or cannot be written, a data root that cannot be
    written, quality asked for and turned off at once, a classifier cache that cannot be written. Returns the run
    folder and whether the run measures quality; the folder's content is checked under its lock
    (`check_run_folder`), where no second process can write between the check and the run."""
    from genmodels.data import downloads_allowed
    from genmodels.runs.placement import check_devices

    check_devices([("--device", config)])
    downloads_allowed()  # a misspelt $GENMODELS_OFFLINE is one line now, not after the run's start-up
    folder = check_output_folder(out, "--out", results_root)
    check_data_root(config.data_root, "--data-root")
    if no_metrics and config.metrics_every:
        raise ConfigError(f"--metrics-every {config.metrics_every} asks for quality metrics during training, but "
                          "--no-metrics turns them off; drop one of them")
    measures = not no_metrics and config.metric_samples != 0
    if measures:
        from genmodels.quality.classifier import check_cache_writable

        check_cache_writable(config.dataset, results_root)  # a classifier trained for the metrics is cached there
    return folder, measures


def check_output_folder(out: str | os.PathLike[str], what: str, results_root: str | os.PathLike[str]) -> Path:
    """Where a run may go, checked before anything starts: a folder this process can write, of its own (not the
    current, home or results folder: `files.check_own_folder`), and not inside another run's folder."""
    folder = check_writable_dir(out, what)
    check_own_folder(out, what, results_root)
    inside = enclosing_run(folder)
    if inside is not None:
        raise OutputError(f"{what} {out} is inside the run folder {inside}; choose a folder outside it")
    return folder


def check_run_folder(out: Path, config: RunConfig, resume: bool) -> None:
    """A run writes `out` only when it is empty or holds a run of the same configuration (which it resumes, or
    starts again without a checkpoint); anything else there -- a user's files, files named like a run's, another
    configuration's run -- is refused in one line, and nothing in the folder is touched."""
    content = sorted(p.name for p in out.iterdir() if not _bookkeeping(out, p.name)) if out.is_dir() else []
    if not content:
        return
    if not same_run(out, config):
        if holds_run(out):
            raise OutputError(f"{out} holds a run of another configuration; choose another output folder (or delete "
                              "that one)")
        shown = ", ".join(content[:4]) + (f" and {len(content) - 4} more" if len(content) > 4 else "")
        raise OutputError(f"{out} holds files that are not a run of this configuration ({shown}); choose an empty or "
                          "new output folder")
    if not resume and (out / store.CHECKPOINT).exists():
        raise OutputError(f"{out} already holds a run; pass --resume to continue it or choose another --out.")


def _bookkeeping(out: Path, name: str) -> bool:
    """Files that say nothing about what a folder holds: locks, temporary and partial files, and in a folder a
    sweep claimed, its notebooks and error.txt (a run that failed before it wrote its config)."""
    if name in (store.LOCK, store.CLAIM) or (name.startswith(".") and (name.endswith(".tmp") or ".partial" in name)):
        return True
    return name in (store.ERROR, store.FAILED, store.EXECUTED) and (out / store.CLAIM).exists()


def holds_run(folder: Path) -> bool:
    """Whether `folder` holds a run (finished or not): its complete.json, its checkpoint, or a run's config.json."""
    if (folder / store.COMPLETE).is_file() or (folder / store.CHECKPOINT).is_file():
        return True
    config = store.read_json(folder / store.CONFIG)
    return isinstance(config, dict) and "config_hash" in config


def enclosing_run(path: str | os.PathLike[str]) -> Path | None:
    """The run folder that `path` lies inside (the nearest folder above it that `holds_run`), or None: an output
    there would land among a run's files."""
    for folder in Path(path).expanduser().absolute().parents:
        if holds_run(folder):
            return folder
    return None


def same_run(folder: Path, config: RunConfig) -> bool:
    """Whether `folder` holds a run of `config`'s model (`checkpoint.model_identity`: the budget may differ), by its
    config.json, or by its checkpoint where that file is unreadable. A damaged checkpoint that is the only witness
    is a `CheckpointError` naming it."""
    from genmodels.training import checkpoint

    saved = store.read_json(folder / store.CONFIG)
    if isinstance(saved, dict):
        try:
            found = RunConfig.from_dict({k: v for k, v in saved.items() if k != "config_hash"})
        except (ConfigError, TypeError):
            found = None
        if found is not None:
            return checkpoint.model_identity(found) == checkpoint.model_identity(config)
    path = folder / store.CHECKPOINT
    if not path.is_file():
        return False
    state = checkpoint.read(path)
    return checkpoint.model_identity(checkpoint.config_of(state, path)) == checkpoint.model_identity(config)


def check_resumable(config: RunConfig, out: Path) -> int:
    """The step a run folder's checkpoint would resume from (0 if none); a clear error if it can't be resumed."""
    from genmodels.training import checkpoint

    path = out / store.CHECKPOINT
    if not os.path.lexists(path):
        return 0
    state = checkpoint.read(path, inside=out)  # not a file (/dev/zero) or a link out of the folder: refused
    checkpoint.check_resumable(state, path, config)
    if state["step"] > config.total_steps:
        raise ConfigError(f"{out} has already trained {state['step']} steps, more than the {config.total_steps} "
                          "asked for; raise steps or choose another output folder")
    return int(state["step"])


def _with_warnings(load: Callable[[], T]) -> tuple[T, list[str]]:
    """`load()`'s result and the warnings it raised, which are raised again (for the console) and returned (for
    meta.json's data warnings, which metrics.json points to when quality could not be measured)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = load()
    messages = [str(w.message) for w in caught]
    for message in messages:
        warnings.warn(message, stacklevel=3)
    return result, messages


def _load_test(config: RunConfig) -> ImageSet | None:
    """The held-out split for reconstructions and metrics; a run without one still trains, and says so."""
    try:
        return load_dataset(config.dataset, "test", config.data_root)
    except DataError as err:
        warnings.warn(f"no test split: {err}", stacklevel=3)
        return None


def draw_figures(trainer: Trainer, test_data: ImageSet | None, folder: Path) -> dict[str, Path]:
    c = trainer.config
    figures: dict[str, Any] = {
        "loss_curves": plots.loss_curves(pd.DataFrame(trainer.history), c.model),
        "samples": plots.image_grid(trainer.samples(), f"{c.model.upper()} samples, step {trainer.step}"),
        "interpolation": plots.interpolation(
            interpolation_grid(trainer.sampler(), c.z_dim, rows=4, steps=10, seed=c.seed, device=trainer.device), 10),
    }
    grids = store.sample_grids(trainer.out_dir)
    if grids:
        figures["sample_progression"] = plots.sample_progression(grids)
    if model_spec(c.model).reconstructs and test_data is not None:
        # spread over the split: the offline held-out split is ordered by digit, so its first 8 are all zeros
        x = test_data.batch(torch.linspace(0, len(test_data) - 1, 8).long(), trainer.device)
        with in_eval_mode(trainer.model), torch.no_grad():
            recon = trainer.model.reconstruct(x)
        figures["reconstructions"] = plots.reconstructions(x, recon)
    paths = {}
    for name, fig in figures.items():
        paths[name] = store.write_atomic(folder / f"{name}.png",
                                         lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight"))
        plt.close(fig)
    return paths


def _device_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"type": device.type, "torch_threads": torch.get_num_threads(),
                            "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
    return info


def package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("genmodels", "torch", "torchvision", "torchmetrics", "numpy", "papermill"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> dict[str, Any]:
    """The project commit a run came from (and whether the tree had uncommitted changes)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None}
    if commit.returncode != 0:
        return {"commit": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def metrics_table(metrics: dict[str, Any]) -> str:
    """A Markdown table of a run's metrics.json, for notebooks."""
    rows = [("final " + k, v) for k, v in metrics.get("final_losses", {}).items()]
    for section in ("quality", "test_reconstruction"):
        for k, v in (metrics.get(section) or {}).items():
            rows.append((k, v))
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)
