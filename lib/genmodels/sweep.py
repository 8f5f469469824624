"""Sweeps: a YAML grid expanded into run configs, each executed as a papermill run of notebooks/train.ipynb.

YAML format (see configs/*.yaml)::

    name: default
    defaults: {width: 32, steps: 600}      # shared RunConfig fields
    grid:                                  # blocks; in each, lists are crossed, scalars are fixed
      - {model: [vae, gan, wgan], dataset: [mnist], depth: [1, 2, 3, 4, 5]}
      - {model: vae, kl_factor: [0.0001, 0.001, 0.01, 0.1]}

A run is identified by the hash of its resolved config, so editing the grid re-runs only what changed.
A run is complete when its folder holds ``complete.json`` with that hash and the executed notebook; the
notebook is written under a temporary name and renamed only on success, so an interrupted run is never
mistaken for a finished one, and is resumed from its last checkpoint when the sweep is run again.

Where a run executes is one replaceable piece, an `Executor`: `LocalExecutor` runs `jobs` of them side by side
on this machine, each pinned to `threads` torch threads (small networks use one core each far better than they
share two: README "Budgets"); a cluster executor only has to implement `map`.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

from tqdm import tqdm

from .config import NON_IDENTITY_FIELDS, ConfigError, RunConfig
from .run import COMPLETE, is_complete

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "train.ipynb"
KERNEL = "genmodels"
EXECUTED = "train.ipynb"
PARTIAL = ".train.partial.ipynb"
FAILED = "failed.ipynb"
ERROR = "error.txt"


class SweepError(ValueError):
    """The sweep file is invalid; the message names the entry and the field."""


@dataclass
class RunSpec:
    config: RunConfig
    run_dir: Path

    @property
    def label(self) -> str:
        return f"{self.config.dataset}/{self.config.model}/{self.run_dir.name}"

    def is_complete(self) -> bool:
        return is_complete(self.run_dir, self.config.config_hash()) and (self.run_dir / EXECUTED).is_file()


@dataclass
class RunOutcome:
    spec: RunSpec
    status: str  # "done", "skipped" (already complete) or "failed"
    seconds: float = 0.0
    error: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------ expansion
def load_sweep(path: str | os.PathLike[str], results_root: str | os.PathLike[str] = "results") -> list[RunSpec]:
    from . import safe_yaml

    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file {path} not found; profiles are in configs/ (quick, default, full)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise SweepError(f"{path} is not a text file (byte {err.start} is not UTF-8); a sweep file is YAML text "
                         "like configs/quick.yaml") from None
    except OSError as err:
        raise SweepError(f"sweep file {path} cannot be read: {err.strerror or err}") from None
    try:  # safe types only; duplicate keys and alias bombs refused (genmodels.safe_yaml)
        document = safe_yaml.load(text) or {}
    except safe_yaml.YAMLInputError as err:
        raise SweepError(f"{path}: {err}") from None
    return expand(document, results_root, source=str(path))


def expand(document: dict[str, Any], results_root: str | os.PathLike[str] = "results",
           source: str = "sweep") -> list[RunSpec]:
    """Every configuration of the grid, deduplicated by config hash, in file order.

    Two entries of one hash that differ in execution fields (`NON_IDENTITY_FIELDS`, e.g. sample_every) are an
    error, not a silent choice of the first: they would write the same run folder.
    """
    if not isinstance(document, dict) or "grid" not in document:
        raise SweepError(f"{source}: expected a mapping with 'grid' (and optional 'defaults', 'name')")
    unknown = set(document) - {"name", "description", "defaults", "grid"}
    if unknown:
        raise SweepError(f"{source}: unknown top-level key(s) {sorted(unknown)}; allowed: name, description, defaults, grid")
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise SweepError(f"{source}: 'defaults' must be a mapping of field: value, got {type(defaults).__name__}")
    blocks = document["grid"]
    if isinstance(blocks, dict):
        blocks = [blocks]
    if not isinstance(blocks, list) or not blocks:
        raise SweepError(f"{source}: 'grid' must be a non-empty list of blocks (field: value or [values])")
    if "out_dir" in defaults or any(isinstance(b, dict) and "out_dir" in b for b in blocks):
        raise SweepError(f"{source}: out_dir is not a sweep field: a sweep decides run folders "
                         "(<results>/<dataset>/<model>/<run-name>); remove out_dir (or pass --results)")
    specs: dict[str, RunSpec] = {}
    origins: dict[str, str] = {}  # hash -> the entry it came from, for the message when another entry repeats it
    for number, block in enumerate(blocks, start=1):
        if not isinstance(block, dict):
            raise SweepError(f"{source}: grid entry {number} must be a mapping of field: value(s)")
        keys = list(block)
        empty = [k for k, v in block.items() if isinstance(v, list) and not v]
        if empty:
            raise SweepError(f"{source}: grid entry {number}: {empty[0]} is an empty list; give it at least one "
                             "value (or remove it to use the default)")
        values = [v if isinstance(v, list) else [v] for v in block.values()]
        for combination in itertools.product(*values):
            entry = {**defaults, **dict(zip(keys, combination))}
            where = f"grid entry {number} ({_short(entry, keys)})"
            try:
                config = RunConfig.from_dict(entry)
            except (ConfigError, TypeError) as err:
                raise SweepError(f"{source}: {where}: {err}") from None
            key = config.config_hash()
            if key in specs:
                first = specs[key].config
                differs = [f for f in NON_IDENTITY_FIELDS if getattr(config, f) != getattr(first, f)]
                if differs:
                    raise SweepError(f"{source}: {where} and {origins[key]} are the same run (hash {key}) and differ "
                                     f"only in {', '.join(differs)} (how a run executes, not what it computes); "
                                     "keep one of them")
                continue
            run_dir = Path(results_root) / config.dataset / config.model / config.run_name()
            specs[key], origins[key] = RunSpec(config, run_dir), where
    return list(specs.values())


def _short(entry: dict[str, Any], keys: list[str]) -> str:
    return ", ".join(f"{k}={entry[k]!r}" for k in keys if k in entry)


def select(specs: list[RunSpec], pattern: str | None) -> list[RunSpec]:
    """Keep runs whose label (dataset/model/run-name) matches a glob, e.g. 'mnist/gan/*' or '*d3*'."""
    if not pattern:
        return specs
    glob = pattern if any(ch in pattern for ch in "*?[") else f"*{pattern}*"
    return [s for s in specs if fnmatch.fnmatch(s.label, glob)]


# ------------------------------------------------------------------ execution
def kernel_name() -> str:
    """The project's kernel when it runs this very Python (`make setup` registers it into the venv);
    otherwise ipykernel's built-in "python3", which also runs the current interpreter."""
    import sys

    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv0 = KernelSpecManager().get_kernel_spec(KERNEL).argv[0]
    except NoSuchKernel:
        return "python3"
    same = Path(argv0).resolve() == Path(sys.executable).resolve() or argv0 in ("python", "python3")
    return KERNEL if same else "python3"


def execute_spec(spec: RunSpec, notebook: Path = NOTEBOOK, kernel: str | None = None,
                 threads: int | None = None) -> RunOutcome:
    """Run one configuration through papermill; failures are caught and recorded in the run folder.
    `threads` pins the run's torch threads unless its config sets them."""
    import papermill as pm

    started = time.perf_counter()
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    for stale in (FAILED, ERROR):
        (spec.run_dir / stale).unlink(missing_ok=True)
    parameters = {**spec.config.to_dict(), "out_dir": str(spec.run_dir), "progress": False}
    if spec.config.threads is None and threads is not None:
        parameters["threads"] = threads
    # the kernel inherits the environment: the results root tells it where cached classifiers live
    os.environ["GENMODELS_RESULTS"] = str(spec.run_dir.parents[2].resolve())
    partial = spec.run_dir / PARTIAL
    try:
        pm.execute_notebook(str(notebook), str(partial), parameters=parameters, kernel_name=kernel or kernel_name(),
                            progress_bar=False, cwd=str(Path.cwd()), report_mode=False)
    except Exception as err:  # papermill raises PapermillExecutionError for cell errors; keep going either way
        if partial.exists():
            partial.replace(spec.run_dir / FAILED)
        message = _error_text(err)
        (spec.run_dir / ERROR).write_text(message + "\n")
        return RunOutcome(spec, "failed", time.perf_counter() - started, message.splitlines()[0][:200])
    partial.replace(spec.run_dir / EXECUTED)
    return RunOutcome(spec, "done", time.perf_counter() - started, metrics=_read_metrics(spec.run_dir))


def _error_text(err: Exception) -> str:
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename:
        return f"{ename}: {evalue}\n\n" + "".join(getattr(err, "traceback", []) or [])
    return "".join(traceback.format_exception(err))


def _read_metrics(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


class Executor(Protocol):
    """Where runs execute. `map` yields outcomes as runs finish, in any order."""

    def map(self, specs: Iterable[RunSpec]) -> Iterator[RunOutcome]: ...


def default_jobs() -> tuple[int, int | None]:
    """(runs side by side, torch threads per run) for this machine.

    On a CPU: one single-threaded run per core, at most 8 (measured here, bench/parallel_runs.py: two one-thread
    runs side by side finish 1.33x sooner than the same runs one after another on two threads each). With
    CUDA: one run at a time on the GPU, with torch's default threads for its CPU-side work.
    """
    import torch

    if torch.cuda.is_available():
        return 1, None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    jobs = max(1, min(cores, 8))
    return jobs, max(1, cores // jobs)


class LocalExecutor:
    """Runs on this machine's papermill, `jobs` at a time, each pinned to `threads` torch threads
    (None: torch's default). Outcomes come back as runs finish."""

    def __init__(self, notebook: Path = NOTEBOOK, kernel: str | None = None, jobs: int = 1,
                 threads: int | None = None) -> None:
        if jobs < 1:
            raise SweepError(f"jobs must be an integer >= 1, got {jobs}")
        self.notebook, self.kernel, self.jobs, self.threads = notebook, kernel, jobs, threads

    def map(self, specs: Iterable[RunSpec]) -> Iterator[RunOutcome]:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        kernel = self.kernel or kernel_name()
        if self.jobs == 1:
            for spec in specs:
                yield execute_spec(spec, self.notebook, kernel, self.threads)
            return
        # each worker thread only waits on its papermill kernel (a separate process), so threads suffice here
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="sweep-run")
        futures = [pool.submit(execute_spec, spec, self.notebook, kernel, self.threads) for spec in specs]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()  # on an interrupt, start nothing new; running kernels finish or get the signal
            pool.shutdown(wait=True)


def prepare_classifiers(specs: Iterable[RunSpec], log: Any = print) -> None:
    """Train (or load) every feature classifier the runs will need, here and with every thread, before runs
    start side by side: otherwise the first run of a data set trains it on its one thread while others wait."""
    from .classifier import CLASSIFIER_DATA, get_classifier

    needed: dict[tuple[str, str | None, Path], None] = {}
    for spec in specs:
        if spec.config.metric_samples:
            key = CLASSIFIER_DATA.get(spec.config.dataset, spec.config.dataset)
            needed[(key, spec.config.data_root, spec.run_dir.parents[2])] = None
    for dataset, data_root, results in needed:
        try:
            get_classifier(dataset, results, data_root=data_root, log=log)
        except Exception as err:  # a data set that cannot load fails its runs, each with its own message
            log(f"no {dataset} classifier prepared ({type(err).__name__}: {err}); its runs will report it")


@dataclass
class SweepReport:
    outcomes: list[RunOutcome]

    @property
    def failed(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def table(self) -> str:
        lines = [f"{'status':<8} {'seconds':>8} {'FID':>8}  run"]
        for o in self.outcomes:
            fid = (o.metrics.get("quality") or {}).get("fid")
            fid_text = f"{fid:8.2f}" if isinstance(fid, (int, float)) else f"{'-':>8}"
            lines.append(f"{o.status:<8} {o.seconds:8.1f} {fid_text}  {o.spec.label}")
            if o.error:
                lines.append(f"{'':<18}  error: {o.error}  (see {o.spec.run_dir / ERROR})")
        counts = {s: sum(o.status == s for o in self.outcomes) for s in ("done", "skipped", "failed")}
        lines.append(", ".join(f"{n} {s}" for s, n in counts.items()))
        return "\n".join(lines)


def run_sweep(specs: list[RunSpec], executor: Executor | None = None, progress: bool = True) -> SweepReport:
    """Run every incomplete spec; one overall progress bar whose ETA is based on finished runs."""
    executor = executor or LocalExecutor()
    complete = {id(s): s.is_complete() for s in specs}  # one look at each run folder
    outcomes = [RunOutcome(s, "skipped", metrics=_read_metrics(s.run_dir)) for s in specs if complete[id(s)]]
    todo = [s for s in specs if not complete[id(s)]]
    if todo:
        prepare_classifiers(todo, log=tqdm.write)
    with tqdm(total=len(todo), desc="sweep", unit="run", disable=not progress, dynamic_ncols=True) as bar:
        if outcomes:
            bar.write(f"{len(outcomes)} of {len(specs)} runs already complete, skipped")
        try:
            for outcome in executor.map(todo):
                outcomes.append(outcome)
                bar.set_postfix_str(f"{outcome.status}: {outcome.spec.label}")
                if outcome.status == "failed":
                    bar.write(f"FAILED {outcome.spec.label}: {outcome.error}")
                bar.update(1)
        except KeyboardInterrupt:
            bar.close()
            print(SweepReport(_ordered(outcomes, specs)).table())
            raise
    return SweepReport(_ordered(outcomes, specs))


def _ordered(outcomes: list[RunOutcome], specs: list[RunSpec]) -> list[RunOutcome]:
    """Outcomes in sweep-file order (executors may finish runs in any order, on other machines)."""
    order = {s.config.config_hash(): i for i, s in enumerate(specs)}
    return sorted(outcomes, key=lambda o: order[o.spec.config.config_hash()])


def dry_run_table(specs: list[RunSpec]) -> str:
    lines = [f"{'state':<10} {'hash':<12}  run"]
    states = ["complete" if s.is_complete() else ("partial" if s.run_dir.exists() else "todo") for s in specs]
    for s, state in zip(specs, states):
        lines.append(f"{state:<10} {s.config.config_hash():<12}  {s.label}")
    lines.append(f"{len(specs)} configurations, {states.count('complete')} complete")
    return "\n".join(lines)


__all__ = ["load_sweep", "expand", "select", "run_sweep", "LocalExecutor", "default_jobs", "prepare_classifiers",
           "Executor", "RunSpec", "RunOutcome",
           "SweepError", "dry_run_table", "COMPLETE"]
