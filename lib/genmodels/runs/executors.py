"""Where a sweep's runs execute: side by side on this machine, or as tasks on a Dask cluster.

Both run each configuration with `genmodels.runs.execute.execute_spec` (papermill in a kernel process) and yield
outcomes as runs finish. An executor is a context manager: entering it connects (or starts a cluster), so a
bad address or a missing package is one clear error before any run starts.

Threads: small networks use one core each far better than they share two (README "Budgets"), so each run
pins its torch threads explicitly (`threads`, or a Dask worker's own thread count) instead of trusting
OMP_NUM_THREADS, which Dask's nanny sets to 1 for every worker process.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

from genmodels.core.config import MAX_THREADS
from genmodels.runs import kernels
from genmodels.runs.execute import NOTEBOOK, RunOutcome, RunSpec, execute_spec
from genmodels.runs.kernels import kernel_name

GPU = "GPU"  # the Dask worker resource one run on a GPU takes


class ExecutorError(ValueError):
    """An executor cannot start (bad settings, unreachable scheduler, dask not installed)."""


class Executor(Protocol):
    """Where runs execute. `map` yields outcomes as runs finish, in any order."""

    def __enter__(self) -> "Executor": ...

    def __exit__(self, *exc: Any) -> None: ...

    def map(self, specs: Iterable[RunSpec]) -> Iterator[RunOutcome]: ...

    def describe(self) -> str: ...


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def cuda_devices() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def default_jobs() -> tuple[int, int | None]:
    """(runs side by side, torch threads per run) for this machine.

    On a CPU: one single-threaded run per core, at most 8 (measured here, bench/parallel_runs.py: two one-thread
    runs side by side finish 1.33x sooner than the same runs one after another on two threads each). With
    CUDA: one run per GPU, with torch's default threads for its CPU-side work.
    """
    gpus = cuda_devices()
    if gpus:
        return gpus, None
    cores = usable_cores()
    jobs = max(1, min(cores, 8))
    return jobs, max(1, cores // jobs)


def max_jobs() -> int:
    """The most runs (or local Dask workers) side by side on this machine: two per CPU core, or per GPU where
    there are more GPUs. Each is a kernel process of its own, about half a GB before it trains; beyond this they
    only queue for a core and fill the memory (`--jobs 1000` on 2 cores was taken)."""
    return 2 * max(usable_cores(), cuda_devices())


def _at_least(name: str, value: int | None, minimum: int = 1, maximum: int | None = None, why: str = "") -> None:
    if value is not None and (not isinstance(value, int) or value < minimum):
        raise ExecutorError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value is not None and maximum is not None and value > maximum:
        raise ExecutorError(f"{name} must be at most {maximum} ({why}), got {value!r}")


def _side_by_side(name: str, value: int | None) -> None:
    """Runs (or workers) side by side: at least 1, at most `max_jobs()`."""
    _at_least(name, value, 1, max_jobs(), f"two per CPU core here ({usable_cores()}) or per GPU: each is a "
                                          "process of its own, and more only wait for a core")


def with_retries(spec: RunSpec, retries: int, **options: Any) -> RunOutcome:
    """Run a spec, and again up to `retries` times while it fails (a retry resumes from its checkpoint)."""
    for attempt in range(1, retries + 2):
        outcome = execute_spec(spec, **options)
        outcome.attempts = attempt
        if outcome.status != "failed":
            break
    return outcome


class LocalExecutor:
    """Runs on this machine, `jobs` at a time, each pinned to `threads` torch threads (None: torch's default).
    With several GPUs, run k of the `jobs` side by side gets GPU k % GPUs."""

    def __init__(self, notebook: Path = NOTEBOOK, kernel: str | None = None, jobs: int = 1,
                 threads: int | None = None, retries: int = 0) -> None:
        _side_by_side("--jobs", jobs)
        _at_least("--threads", threads, 1, MAX_THREADS, "a run's torch threads, as the config's threads field")
        _at_least("--retries", retries, 0)
        self.notebook, self.kernel, self.jobs, self.threads, self.retries = notebook, kernel, jobs, threads, retries

    def __enter__(self) -> "LocalExecutor":
        return self

    def describe(self) -> str:
        return f"{self.jobs} run(s) at a time" + (f", {self.threads} torch thread(s) each" if self.threads else "")

    def __exit__(self, *exc: Any) -> None:
        pass

    def map(self, specs: Iterable[RunSpec]) -> Iterator[RunOutcome]:
        from concurrent.futures import ThreadPoolExecutor, as_completed
        from queue import SimpleQueue

        kernel = self.kernel or kernel_name()
        options = {"notebook": self.notebook, "kernel": kernel, "threads": self.threads}
        if self.jobs == 1:
            for spec in specs:
                yield with_retries(spec, self.retries, **options)
            return
        gpus = cuda_devices()
        slots: SimpleQueue[int] = SimpleQueue()  # which GPU (or CPU slot) a run side by side takes
        for slot in range(self.jobs):
            slots.put(slot)

        def run(spec: RunSpec) -> RunOutcome:
            slot = slots.get()
            try:
                device = f"cuda:{slot % gpus}" if gpus > 1 else None
                return with_retries(spec, self.retries, **options, device=device)
            finally:
                slots.put(slot)

        # each worker thread only waits on its papermill kernel (a separate process), so threads suffice here
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="sweep-run")
        futures = [pool.submit(run, spec) for spec in specs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:  # Ctrl-C, SIGTERM, or the caller closing the generator: stop the runs now
            kernels.interrupt_all()
            raise
        finally:
            for future in futures:
                future.cancel()  # on an interrupt, start nothing new (the running kernels were interrupted)
            pool.shutdown(wait=True)


class RunFailed(Exception):
    """Raised inside a Dask task for a failed run, so that Dask's `retries` apply; carries the outcome."""

    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


def dask_task(spec: RunSpec, notebook: str, kernel: str | None) -> RunOutcome:
    """One run on a Dask worker: its torch threads are the worker's threads, its GPU the worker's own."""
    from distributed import get_worker

    worker = get_worker()
    threads = worker.state.nthreads
    device = None
    gpus = cuda_devices()
    if gpus > 1 and GPU in (worker.state.total_resources or {}):
        index = worker.name if isinstance(worker.name, int) else abs(hash(worker.name))
        device = f"cuda:{index % gpus}"  # a LocalCluster's workers are named 0..n-1: one GPU each
    outcome = execute_spec(spec, Path(notebook), kernel, threads=threads, device=device)
    if outcome.status == "failed":
        raise RunFailed(outcome)
    return outcome


class DaskExecutor:
    """Each run is one Dask task, on a LocalCluster started here (`workers` x `threads_per_worker`) or on
    the cluster whose scheduler is at `scheduler`. Runs on a GPU take the worker resource "GPU" (one run per
    GPU); a failed run is retried `retries` times (Dask's task retries), and a run whose worker died is
    rescheduled by Dask and resumes from its checkpoint."""

    def __init__(self, workers: int | None = None, threads_per_worker: int = 1, scheduler: str | None = None,
                 retries: int = 1, notebook: Path = NOTEBOOK, kernel: str | None = None) -> None:
        if scheduler is None:  # a cluster started here, on this machine's cores
            _side_by_side("--workers", workers)
        else:
            _at_least("--workers", workers)
        _at_least("--threads-per-worker", threads_per_worker, 1, MAX_THREADS, "a run's torch threads, as the "
                                                                              "config's threads field")
        _at_least("--retries", retries, 0)
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ExecutorError("--executor dask needs dask.distributed: pip install 'genmodels[dask]' "
                                "(or `pip install dask distributed`)") from None
        self.workers, self.threads, self.scheduler = workers, threads_per_worker, scheduler
        self.retries, self.notebook, self.kernel = retries, notebook, kernel
        self.client: Any = None
        self.cluster: Any = None
        self.gpus = 0

    def __enter__(self) -> "DaskExecutor":
        import logging

        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as err:
                raise ExecutorError(f"cannot reach the Dask scheduler at {self.scheduler!r} "
                                    f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
            workers = self.client.scheduler_info()["workers"].values()
            self.gpus = sum(1 for w in workers if GPU in (w.get("resources") or {}))
            return self
        self.gpus = cuda_devices()
        workers = self.workers or (self.gpus or max(1, usable_cores() // self.threads))
        self.cluster = LocalCluster(n_workers=workers, threads_per_worker=self.threads, processes=True,
                                    resources={GPU: 1} if self.gpus else None, dashboard_address=None,
                                    silence_logs=logging.ERROR)
        self.client = Client(self.cluster)
        return self

    def describe(self) -> str:
        where = f"the Dask cluster at {self.scheduler}" if self.scheduler else "a local Dask cluster"
        workers = self.client.scheduler_info()["workers"].values() if self.client is not None else []
        threads = sorted({w.get("nthreads") for w in workers})
        return (f"{where}: {len(workers)} worker(s) x {'/'.join(map(str, threads)) or '?'} thread(s)"
                + (", one run per GPU" if self.gpus else ""))

    def __exit__(self, *exc: Any) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def map(self, specs: Iterable[RunSpec]) -> Iterator[RunOutcome]:
        from distributed import as_completed

        if self.client is None:
            raise ExecutorError("DaskExecutor.map needs `with DaskExecutor(...) as executor:`")
        kernel = self.kernel or None
        resources = {GPU: 1} if self.gpus else None
        futures = {}
        for spec in specs:
            # absolute paths: a worker elsewhere resolves relative ones against its own working directory
            absolute = dataclasses.replace(spec, run_dir=spec.run_dir.resolve(), results_root=spec.results_root.resolve())
            future = self.client.submit(dask_task, absolute, str(self.notebook), kernel, retries=self.retries,
                                        resources=resources, pure=False, key=f"run-{spec.label}-{uuid.uuid4().hex}")
            futures[future] = spec
        try:
            for future in as_completed(futures):
                yield self._outcome(future, futures[future])
        finally:
            for future in futures:
                future.cancel()

    def _outcome(self, future: Any, spec: RunSpec) -> RunOutcome:
        """The task's outcome, told about the spec as the sweep knows it (with its own, maybe relative, paths)."""
        try:
            outcome: RunOutcome = future.result()
        except RunFailed as failed:
            outcome = failed.outcome
            outcome.attempts = self.retries + 1
        except Exception as err:  # e.g. KilledWorker: the task took down its worker too often
            from genmodels.runs.execute import error_text

            outcome = RunOutcome(spec, "failed", error=error_text(err).splitlines()[0][:300],
                                 attempts=self.retries + 1)
        outcome.spec = spec
        return outcome


def make_executor(name: str, *, jobs: int | None = None, threads: int | None = None, workers: int | None = None,
                  threads_per_worker: int | None = None, scheduler: str | None = None,
                  retries: int | None = None) -> Executor:
    """The executor the CLI asks for by name ("local" or "dask"), with this machine's defaults filled in."""
    options = {"local": {"--jobs": jobs, "--threads": threads},
               "dask": {"--workers": workers, "--threads-per-worker": threads_per_worker, "--scheduler": scheduler}}
    if name not in options:
        raise ExecutorError(f"unknown executor {name!r}; choose local or dask")
    for other, flags in options.items():
        given = [flag for flag, value in flags.items() if value is not None]
        if other != name and given:
            raise ExecutorError(f"{', '.join(given)} belong(s) to --executor {other}, not {name}")
    if name == "local":
        auto_jobs, auto_threads = default_jobs()
        chosen_jobs = jobs if jobs is not None else auto_jobs
        chosen_threads = threads if threads is not None else (auto_threads if jobs is None else None)
        if chosen_jobs and chosen_jobs > 1 and chosen_threads is None and not cuda_devices():
            chosen_threads = max(1, usable_cores() // chosen_jobs)
        return LocalExecutor(jobs=chosen_jobs, threads=chosen_threads, retries=retries or 0)
    return DaskExecutor(workers=workers, threads_per_worker=1 if threads_per_worker is None else threads_per_worker,
                        scheduler=scheduler, retries=1 if retries is None else retries)
