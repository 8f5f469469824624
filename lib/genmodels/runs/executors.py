"""Where a sweep's runs execute: side by side on this machine, or as tasks on a Dask cluster.

Both run each configuration with `genmodels.runs.notebook_run.execute_spec` (papermill in a kernel process) and yield
outcomes as runs finish. An executor is a context manager: entering it connects (or starts a cluster), so a
bad address or a missing package is one clear error before any run starts.

Threads: small networks use one core each far better than they share two (docs/study.md), so each run
pins its torch threads explicitly (`threads`, or a Dask worker's own thread count) instead of trusting
OMP_NUM_THREADS, which Dask's nanny sets to 1 for every worker process.

GPUs: several runs share each GPU at once (`--runs-per-gpu`, default from measurement: genmodels.runs.placement),
spread over the GPUs round-robin.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

from genmodels.core.config import MAX_THREADS
from genmodels.core.devices import cuda_count
from genmodels.runs import kernels
from genmodels.runs.notebook_run import NOTEBOOK, RunOutcome, RunSpec, execute_spec
from genmodels.runs.kernels import kernel_name
from genmodels.runs.placement import default_runs_per_gpu, slot_device, threads_per_run

# a run that failed this often fails for a reason that another try does not fix (each try may take hours)
MAX_RETRIES = 10
RETRIES_WHY = "a run failing that often fails for a reason another try does not fix"
GPU = "GPU"  # the Dask worker resource of a GPU; a run on one takes 1 / runs-per-GPU of it


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


def default_jobs(gpus: int | None = None, cores: int | None = None,
                 runs_per_gpu: int | None = None) -> tuple[int, int | None]:
    """(runs side by side, torch threads per run) for this machine (or for `gpus` and `cores` given).

    On a CPU: one single-threaded run per core, at most 8 (measured here, bench/parallel_runs.py: two one-thread
    runs side by side finish 1.33x sooner than the same runs one after another on two threads each). With
    CUDA: `runs_per_gpu` runs on each GPU (default `placement.default_runs_per_gpu`: up to 16, one per core),
    the cores shared out among them.
    """
    gpus = cuda_count() if gpus is None else gpus
    cores = usable_cores() if cores is None else cores
    if gpus:
        jobs = gpus * (runs_per_gpu or default_runs_per_gpu(gpus, cores))
        return jobs, threads_per_run(jobs, cores)
    jobs = max(1, min(cores, 8))
    return jobs, max(1, cores // jobs)


def max_jobs() -> int:
    """The most runs (or local Dask workers) side by side on this machine: two per CPU core, or per GPU where
    there are more GPUs. Each is a kernel process of its own, about half a GB before it trains; beyond this they
    only queue for a core and fill the memory (`--jobs 1000` on 2 cores would start a thousand kernels)."""
    return 2 * max(usable_cores(), cuda_count())


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
    With several GPUs, run k of the `jobs` side by side gets GPU k % GPUs (`gpus`: counted when not given)."""

    def __init__(self, notebook: Path = NOTEBOOK, kernel: str | None = None, jobs: int = 1,
                 threads: int | None = None, retries: int = 0, gpus: int | None = None) -> None:
        _side_by_side("--jobs", jobs)
        _at_least("--threads", threads, 1, MAX_THREADS, "a run's torch threads, as the config's threads field")
        _at_least("--retries", retries, 0, MAX_RETRIES, RETRIES_WHY)
        self.notebook, self.kernel, self.jobs, self.threads, self.retries = notebook, kernel, jobs, threads, retries
        self.gpus = gpus

    def __enter__(self) -> "LocalExecutor":
        return self

    def describe(self) -> str:
        gpus = self.gpus or 0
        per_gpu = f" ({-(-self.jobs // gpus)} per GPU on {gpus} GPU(s))" if gpus and self.jobs > 1 else ""
        return (f"{self.jobs} run(s) at a time{per_gpu}"
                + (f", {self.threads} torch thread(s) each" if self.threads else ""))

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
        gpus = cuda_count() if self.gpus is None else self.gpus
        slots: SimpleQueue[int] = SimpleQueue()  # which GPU (or CPU slot) a run side by side takes
        for slot in range(self.jobs):
            slots.put(slot)

        def run(spec: RunSpec) -> RunOutcome:
            slot = slots.get()
            try:
                return with_retries(spec, self.retries, **options, device=slot_device(slot, gpus))
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
            kernels.stopped()  # every run of this executor has ended, interrupted or not


class RunFailed(Exception):
    """Raised inside a Dask task for a failed run, so that Dask's `retries` apply; carries the outcome."""

    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


def dask_task(spec: RunSpec, notebook: str, kernel: str | None, runs_per_gpu: int = 1) -> RunOutcome:
    """One run on a Dask worker: its GPU is the worker's own; its torch threads are the worker's threads, shared
    out among the runs the worker holds at once (a worker with ``GPU=1`` and N threads holds `runs_per_gpu`)."""
    from distributed import get_worker

    worker = get_worker()
    gpu_share = (worker.state.total_resources or {}).get(GPU)
    on_gpu = gpu_share is not None
    at_once = min(worker.state.nthreads, int(gpu_share * runs_per_gpu + 1e-9)) if on_gpu else 1
    threads = threads_per_run(at_once, worker.state.nthreads)
    device = None
    gpus = cuda_count()
    if gpus > 1 and on_gpu:
        index = worker.name if isinstance(worker.name, int) else abs(hash(worker.name))
        device = f"cuda:{index % gpus}"  # a LocalCluster's workers are named 0..n-1: one GPU each
    outcome = execute_spec(spec, Path(notebook), kernel, threads=threads, device=device)
    if outcome.status == "failed":
        raise RunFailed(outcome)
    return outcome


class DaskExecutor:
    """Each run is one Dask task, on a LocalCluster started here (`workers` x `threads_per_worker`) or on
    the cluster whose scheduler is at `scheduler`. Runs on a GPU take 1 / `runs_per_gpu` of the worker resource
    "GPU": a LocalCluster here starts `runs_per_gpu` workers per GPU (default as for the local executor), and a
    worker of another cluster started with ``--resources GPU=1`` and that many threads holds that many runs at
    once. A failed run is retried `retries` times (Dask's task retries), and a run whose worker died is
    rescheduled by Dask and resumes from its checkpoint."""

    def __init__(self, workers: int | None = None, threads_per_worker: int = 1, scheduler: str | None = None,
                 retries: int = 1, notebook: Path = NOTEBOOK, kernel: str | None = None,
                 runs_per_gpu: int | None = None) -> None:
        if scheduler is None:  # a cluster started here, on this machine's cores
            _side_by_side("--workers", workers)
        else:
            _at_least("--workers", workers)
        _at_least("--threads-per-worker", threads_per_worker, 1, MAX_THREADS, "a run's torch threads, as the "
                                                                              "config's threads field")
        _at_least("--retries", retries, 0, MAX_RETRIES, RETRIES_WHY)
        _at_least("--runs-per-gpu", runs_per_gpu)
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ExecutorError("--executor dask needs dask.distributed: pip install 'genmodels[dask]' "
                                "(or `pip install dask distributed`)") from None
        self.workers, self.threads, self.scheduler = workers, threads_per_worker, scheduler
        self.retries, self.notebook, self.kernel = retries, notebook, kernel
        self.runs_per_gpu = runs_per_gpu
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
            self._check_runs_per_gpu("the cluster has no worker with a GPU resource")
            self.runs_per_gpu = self.runs_per_gpu or 1
            return self
        self.gpus = cuda_count()
        self._check_runs_per_gpu("this machine has no CUDA device")
        self.runs_per_gpu = self.runs_per_gpu or (default_runs_per_gpu(self.gpus, usable_cores()) if self.gpus else 1)
        workers = self.workers or (self.gpus * self.runs_per_gpu or max(1, usable_cores() // self.threads))
        # each local worker is one run's slice of a GPU: named 0..n-1, worker k trains on GPU k % GPUs
        self.cluster = LocalCluster(n_workers=workers, threads_per_worker=self.threads, processes=True,
                                    resources={GPU: self._share} if self.gpus else None, dashboard_address=None,
                                    silence_logs=logging.ERROR)
        self.client = Client(self.cluster)
        return self

    @property
    def _share(self) -> float:
        """The part of a GPU one run takes."""
        return 1.0 / (self.runs_per_gpu or 1)

    def _check_runs_per_gpu(self, why_not: str) -> None:
        if self.runs_per_gpu is not None and not self.gpus:
            raise ExecutorError(f"--runs-per-gpu {self.runs_per_gpu} needs a GPU, but {why_not}; leave it out "
                                "(runs on CPUs are counted by --workers)")

    def describe(self) -> str:
        where = f"the Dask cluster at {self.scheduler}" if self.scheduler else "a local Dask cluster"
        workers = self.client.scheduler_info()["workers"].values() if self.client is not None else []
        threads = sorted({w.get("nthreads") for w in workers})
        return (f"{where}: {len(workers)} worker(s) x {'/'.join(map(str, threads)) or '?'} thread(s)"
                + (f", {self.runs_per_gpu} run(s) per GPU" if self.gpus else ""))

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
        resources = {GPU: self._share} if self.gpus else None
        futures = {}
        for spec in specs:
            # absolute paths: a worker elsewhere resolves relative ones against its own working directory
            future = self.client.submit(dask_task, spec.shippable(), str(Path(self.notebook).resolve()), kernel,
                                        self.runs_per_gpu or 1,
                                        retries=self.retries,
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
            from genmodels.runs.notebook_run import error_text

            outcome = RunOutcome(spec, "failed", error=error_text(err).splitlines()[0][:300],
                                 attempts=self.retries + 1)
        outcome.spec = spec
        return outcome


def make_executor(name: str, *, jobs: int | None = None, threads: int | None = None, workers: int | None = None,
                  threads_per_worker: int | None = None, scheduler: str | None = None,
                  retries: int | None = None, runs_per_gpu: int | None = None) -> Executor:
    """The executor the CLI asks for by name ("local" or "dask"), with this machine's defaults filled in.
    `runs_per_gpu` (both executors) sets how many runs train on each GPU at once; `--jobs` counts all the
    runs side by side, so the two are not given together."""
    options = {"local": {"--jobs": jobs, "--threads": threads},
               "dask": {"--workers": workers, "--threads-per-worker": threads_per_worker, "--scheduler": scheduler}}
    if name not in options:
        raise ExecutorError(f"unknown executor {name!r}; choose local or dask")
    for other, flags in options.items():
        given = [flag for flag, value in flags.items() if value is not None]
        if other != name and given:
            raise ExecutorError(f"{', '.join(given)} belong(s) to --executor {other}, not {name}")
    _at_least("--runs-per-gpu", runs_per_gpu)
    if name == "local":
        gpus = cuda_count()
        if runs_per_gpu is not None and jobs is not None:
            raise ExecutorError(f"--jobs {jobs} and --runs-per-gpu {runs_per_gpu} both say how many runs train at "
                                "once; give one (--jobs counts them all, --runs-per-gpu those on each GPU)")
        if runs_per_gpu is not None and not gpus:
            raise ExecutorError(f"--runs-per-gpu {runs_per_gpu} needs a GPU, but this machine has no CUDA device; "
                                "use --jobs for runs side by side on the CPU")
        auto_jobs, auto_threads = default_jobs(gpus, usable_cores(), runs_per_gpu)
        chosen_jobs = jobs if jobs is not None else auto_jobs
        chosen_threads = threads if threads is not None else (auto_threads if jobs is None else None)
        if chosen_jobs and chosen_jobs > 1 and chosen_threads is None:
            chosen_threads = threads_per_run(chosen_jobs, usable_cores())
        return LocalExecutor(jobs=chosen_jobs, threads=chosen_threads, retries=retries or 0, gpus=gpus)
    return DaskExecutor(workers=workers, threads_per_worker=1 if threads_per_worker is None else threads_per_worker,
                        scheduler=scheduler, retries=1 if retries is None else retries, runs_per_gpu=runs_per_gpu)
