"""One configuration of a sweep, executed: papermill runs notebooks/train.ipynb with the config as parameters.

This is the unit every executor (genmodels.runs.executors) runs, on this machine or on a Dask worker elsewhere;
it never raises for a failed run: the failure is recorded in the run folder and returned as an outcome.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client import AsyncKernelManager

from genmodels.core import store
from genmodels.core.config import RunConfig

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "train.ipynb"
KERNEL = "genmodels"
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

    def status(self) -> store.Status:
        return store.run_status(self.run_dir, self.config.config_hash(), notebook=True)

    def is_complete(self) -> bool:
        return store.is_complete(self.run_dir, self.config.config_hash(), notebook=True)


@dataclass
class RunOutcome:
    spec: RunSpec
    status: str  # "done", "skipped" (already complete), "busy" (another process holds it) or "failed"
    seconds: float = 0.0
    error: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1


class IPCKernelManager(AsyncKernelManager):
    """A kernel that talks over Unix sockets with a unique name instead of TCP ports.

    jupyter_client picks TCP ports by binding and releasing them, so kernels started at the same moment (runs
    side by side, Dask workers) can pick the same port; its IPC transport with the default name has the same
    race on socket files. A fresh name per kernel has none."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("transport", "ipc")
        kwargs.setdefault("ip", os.path.join(tempfile.gettempdir(), f"genmodels-kernel-{uuid.uuid4().hex[:12]}"))
        super().__init__(**kwargs)

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        kw.setdefault("env", kernel_environment())
        return await super()._async_pre_start_kernel(**kw)


# Set by Dask's nanny in every worker for the worker's own memory, and inherited by the kernels a worker starts,
# where it made training 1.75x slower (bench: a WGAN-GP at width 16 took 7.6-8.0 s with it, 4.4-4.5 s without):
# PyTorch frees and reallocates its buffers every step, and each free then returns memory to the OS.
NOT_FOR_KERNELS = ("MALLOC_TRIM_THRESHOLD_",)


def kernel_environment() -> dict[str, str]:
    """This process's environment, less what only suits the process itself (`NOT_FOR_KERNELS`). A run's
    threads are set explicitly (its `threads` parameter), so the OMP/MKL variables Dask sets do not matter."""
    return {k: v for k, v in os.environ.items() if k not in NOT_FOR_KERNELS}


def kernel_name() -> str:
    """The project's kernel when it runs this very Python (`make setup` registers it into the venv);
    otherwise ipykernel's built-in "python3", which also runs the current interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv0 = KernelSpecManager().get_kernel_spec(KERNEL).argv[0]
    except NoSuchKernel:
        return "python3"
    same = Path(argv0).resolve() == Path(sys.executable).resolve() or argv0 in ("python", "python3")
    return KERNEL if same else "python3"


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
        return RunOutcome(spec, "skipped", metrics=read_metrics(spec.run_dir))
    partial = store.partial_notebook(spec.run_dir)
    try:
        pm.execute_notebook(str(notebook), str(partial), parameters=notebook_parameters(spec, threads, device),
                            kernel_name=kernel or kernel_name(), progress_bar=False, cwd=str(Path.cwd()),
                            report_mode=False, kernel_manager_class=IPCKernelManager)
    except Exception as err:  # papermill raises PapermillExecutionError for cell errors; keep going either way
        if getattr(err, "ename", None) == "FolderBusy":  # written by a process outside any sweep (`train`)
            partial.unlink(missing_ok=True)
            return RunOutcome(spec, "busy", time.perf_counter() - started, "another process is running it")
        message = error_text(err)
        if partial.exists():
            _replace_quietly(partial, spec.run_dir / store.FAILED)
        message = store.record_failure(spec.run_dir, message)
        return RunOutcome(spec, "failed", time.perf_counter() - started, message.splitlines()[0][:300])
    partial.replace(spec.run_dir / store.EXECUTED)
    store.clear_partial_notebooks(spec.run_dir)
    return RunOutcome(spec, "done", time.perf_counter() - started, metrics=read_metrics(spec.run_dir))


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


def read_metrics(run_dir: Path) -> dict[str, Any]:
    metrics = store.read_json(Path(run_dir) / store.METRICS)
    return metrics if isinstance(metrics, dict) else {}
