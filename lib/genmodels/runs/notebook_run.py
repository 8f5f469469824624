"""One configuration of a sweep, executed: papermill runs notebooks/train.ipynb with the config as parameters.

This is the unit every executor (genmodels.runs.executors) runs, on this machine or on a Dask worker elsewhere;
it never raises for a failed run: the failure is recorded in the run folder and returned as an outcome.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
import traceback
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genmodels.core import store
from genmodels.core.config import RunConfig
from genmodels.data.files import data_root
from genmodels.runs import kernels
from genmodels.runs.kernels import kernel_name

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "train.ipynb"
# A run whose folder is held by another process is waited for this long before it counts as busy: long enough
# for the kernel of a killed worker to notice its parent is gone and exit (ipykernel checks every second).
LOCK_GRACE = 15.0


@dataclass
class RunSpec:
    """A configuration and where its run lives."""

    config: RunConfig
    run_dir: Path
    results_root: Path

    @property
    def label(self) -> str:
        return f"{self.config.dataset}/{self.config.model}/{self.run_dir.name}"

    def state(self) -> store.RunState:
        """The run folder's state as every command reports it (`store.run_state`)."""
        return store.run_state(self.run_dir, self.config.config_hash(), notebook=True)

    def status(self) -> store.Status:
        return self.state().status

    def is_complete(self) -> bool:
        return self.status() is store.Status.COMPLETE

    def shippable(self) -> "RunSpec":
        """This spec with every path absolute as this machine sees it (run folder, results root, data root), for
        a worker elsewhere, which would resolve a relative path against its own working folder. The data root
        is created here when missing, so that a worker that cannot see it can tell (`data_folder_problem`)."""
        folder = data_root(self.config.data_root).resolve()
        with suppress(OSError):  # a root that cannot be made here is reported by the run that needs it
            folder.mkdir(parents=True, exist_ok=True)
        return RunSpec(dataclasses.replace(self.config, data_root=str(folder)), self.run_dir.resolve(),
                       Path(self.results_root).resolve())


@dataclass
class RunOutcome:
    spec: RunSpec
    status: str  # "done", "skipped" (already complete), "busy" (another process holds it), "failed" or
    # "interrupted" (its kernel was interrupted: nothing is recorded, the run resumes next time)
    seconds: float = 0.0
    error: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1


def notebook_parameters(spec: RunSpec, threads: int | None = None, device: str | None = None) -> dict[str, Any]:
    """What papermill injects: the config's fields, its run folder and results root, and how it executes.
    `threads` applies unless the config sets it; `device` (the GPU of the run's slot) unless the config names
    a device itself: "auto" and "cuda" (any GPU) take the slot's, "cpu" and "cuda:N" stay."""
    parameters = {**spec.config.to_dict(), "out_dir": str(spec.run_dir), "progress": False,
                  "results_root": str(Path(spec.results_root).resolve())}
    if spec.config.threads is None and threads is not None:
        parameters["threads"] = threads
    if spec.config.device in ("auto", "cuda") and device is not None:
        parameters["device"] = device
    return parameters


def execute_spec(spec: RunSpec, notebook: Path = NOTEBOOK, kernel: str | None = None,
                 threads: int | None = None, device: str | None = None) -> RunOutcome:
    """Run one configuration through papermill; a failure is recorded in the run folder and returned.

    The run folder is claimed for the whole attempt (`store.CLAIM`); a run another sweep has claimed is
    waited for `LOCK_GRACE` seconds, then skipped when that sweep finished it, or reported "busy"."""
    try:
        with store.folder_lock(spec.run_dir, wait=LOCK_GRACE, name=store.CLAIM):
            return _execute_claimed(spec, notebook, kernel, threads, device)
    except store.FolderBusy:
        return RunOutcome(spec, "busy", error="another process is running it")


def _execute_claimed(spec: RunSpec, notebook: Path, kernel: str | None, threads: int | None,
                     device: str | None) -> RunOutcome:
    import papermill as pm

    started = time.perf_counter()
    if spec.is_complete():  # another sweep finished it while this one waited
        return RunOutcome(spec, "skipped", metrics=store.read_metrics(spec.run_dir))
    missing = data_folder_problem(spec.config.data_root)
    if missing:  # never trained on whatever this machine happens to have instead
        return RunOutcome(spec, "failed", error=store.record_failure(spec.run_dir, missing).splitlines()[0])
    partial = store.partial_notebook(spec.run_dir)
    log = kernels.runtime_dir() / f"{partial.stem}.log"  # the kernel's own output, kept if the run fails
    try:
        pm.execute_notebook(str(notebook), str(partial), parameters=notebook_parameters(spec, threads, device),
                            kernel_name=kernel or kernel_name(), progress_bar=False, cwd=str(Path.cwd()),
                            report_mode=False, kernel_manager_class=kernels.logging_to(log))
    except Exception as err:  # papermill raises PapermillExecutionError for cell errors; keep going either way
        if getattr(err, "ename", None) == "FolderBusy":  # written by a process outside any sweep (`train`)
            partial.unlink(missing_ok=True)
            return RunOutcome(spec, "busy", time.perf_counter() - started, "another process is running it")
        if getattr(err, "ename", None) == "KeyboardInterrupt" or kernels.stopping():  # stopped, not failed
            partial.unlink(missing_ok=True)
            return RunOutcome(spec, "interrupted", time.perf_counter() - started, "interrupted")
        message = error_text(err)
        tail = kernels.log_tail(log)
        if tail:
            message += f"\n\nThe kernel's own output (last lines):\n{tail}\n"
        if partial.exists():
            _replace_quietly(partial, spec.run_dir / store.FAILED)
        message = store.record_failure(spec.run_dir, message)
        return RunOutcome(spec, "failed", time.perf_counter() - started, message.splitlines()[0][:300])
    finally:
        log.unlink(missing_ok=True)
    partial.replace(spec.run_dir / store.EXECUTED)
    store.clear_partial_notebooks(spec.run_dir)
    return RunOutcome(spec, "done", time.perf_counter() - started, metrics=store.read_metrics(spec.run_dir))


def data_folder_problem(folder: str | None) -> str | None:
    """Why this machine cannot read the data folder a sweep shipped a run with (an absolute path: `shippable`),
    in one line; None when it can, or when the run names none (it runs where the sweep started)."""
    if folder is None or not os.path.isabs(folder):
        return None
    if os.path.isdir(folder) and os.access(folder, os.R_OK | os.X_OK):
        return None
    return (f"DataError: the data folder {folder} is not readable on {socket.gethostname()}, where this run was "
            "sent; make it reachable there at the same path (a shared file system) or set data_root to a folder "
            "every worker can read")


def _replace_quietly(source: Path, target: Path) -> None:
    try:
        source.replace(target)
    except OSError:
        source.unlink(missing_ok=True)


def error_text(err: BaseException) -> str:
    """"<Exception>: <message>" on the first line (a cell's own error, or the executor's, e.g. a dead
    kernel), then the traceback."""
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename:
        return f"{ename}: {evalue}\n\n" + "".join(getattr(err, "traceback", []) or [])
    first = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}".rstrip(": ")
    return first + "\n\n" + "".join(traceback.format_exception(err))

