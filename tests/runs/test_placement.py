"""Several runs per GPU, spread over the GPUs, and devices checked before anything trains -- without a GPU.

The GPU count is injected (`torch.cuda.is_available` / `device_count` patched, or passed in), so every rule of
genmodels.runs.placement and its use by both executors is checked on a CPU-only machine. Nothing here starts
a kernel or a Dask process: runs and clusters are replaced by recorders.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from genmodels.core.config import ConfigError, RunConfig
from genmodels.runs import executors
from genmodels.runs.notebook_run import RunOutcome, RunSpec
from genmodels.runs.executors import DaskExecutor, ExecutorError, LocalExecutor, default_jobs, make_executor
from genmodels.runs.placement import (MAX_DEFAULT_RUNS_PER_GPU, MEASURED_LSGAN_STEPS_PER_S, check_devices,
                                      default_runs_per_gpu, slot_device)


def fake_machine(monkeypatch: pytest.MonkeyPatch, gpus: int, cores: int) -> None:
    """This process sees `gpus` CUDA devices and `cores` CPU cores."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(executors, "usable_cores", lambda: cores)


def spec(n: int, device: str = "auto") -> RunSpec:
    config = RunConfig(model="vae", dataset="mnist-5k", depth=1, seed=n, device=device)
    return RunSpec(config, Path(f"/nonexistent/run{n}"), Path("/nonexistent"))


# ---------------------------------------------------------------------------------------------- the default
def test_the_default_is_the_largest_measured_count_bounded_by_cores() -> None:
    """16 runs per GPU (4.7x one run's steps/s on the H200), never more than a core each, never fewer than one."""
    assert MAX_DEFAULT_RUNS_PER_GPU == 16 and MEASURED_LSGAN_STEPS_PER_S[16] / MEASURED_LSGAN_STEPS_PER_S[1] > 4.6
    assert default_runs_per_gpu(gpus=1, cores=16) == 16  # the machine
    assert default_runs_per_gpu(gpus=1, cores=64) == 16
    assert default_runs_per_gpu(gpus=2, cores=16) == 8
    assert default_runs_per_gpu(gpus=1, cores=4) == 4
    assert default_runs_per_gpu(gpus=8, cores=4) == 1


@pytest.mark.parametrize(("gpus", "cores", "per_gpu", "expected"), [
    (0, 2, None, (2, 1)),  # CPU: one one-thread run per core, as before
    (0, 32, None, (8, 4)),
    (1, 16, None, (16, 1)),
    (2, 16, None, (16, 1)),
    (1, 16, 4, (4, 4)),
    (4, 8, 3, (12, 1)),
])
def test_default_jobs_and_threads(gpus: int, cores: int, per_gpu: int | None, expected: tuple[int, int]) -> None:
    assert default_jobs(gpus, cores, per_gpu) == expected


def test_runs_go_round_robin_over_several_gpus() -> None:
    assert [slot_device(k, 2) for k in range(4)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert slot_device(3, 1) is None and slot_device(0, 0) is None  # the run's own device ("auto": the one GPU)


@pytest.mark.parametrize(("device", "given"), [("auto", "cuda:1"), ("cuda", "cuda:1"), ("cpu", "cpu"),
                                               ("cuda:0", "cuda:0")])
def test_a_runs_slot_gpu_applies_unless_it_names_a_device(device: str, given: str) -> None:
    from genmodels.runs.notebook_run import notebook_parameters

    assert notebook_parameters(spec(0, device), device="cuda:1")["device"] == given


# ---------------------------------------------------------------------------------------------- the local executor
def test_local_executor_on_a_gpu_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_machine(monkeypatch, gpus=2, cores=16)
    chosen = make_executor("local")
    assert isinstance(chosen, LocalExecutor) and (chosen.jobs, chosen.threads, chosen.gpus) == (16, 1, 2)
    assert chosen.describe() == "16 run(s) at a time (8 per GPU on 2 GPU(s)), 1 torch thread(s) each"
    per_gpu = make_executor("local", runs_per_gpu=3)
    assert (per_gpu.jobs, per_gpu.threads) == (6, 2)  # type: ignore[attr-defined]
    jobs = make_executor("local", jobs=5)  # --jobs still overrides the default
    assert (jobs.jobs, jobs.threads) == (5, 3)  # type: ignore[attr-defined]


def test_local_executor_spreads_concurrent_runs_evenly(monkeypatch: pytest.MonkeyPatch) -> None:
    """6 runs, 3 per GPU on 2 GPUs: the first 6 runs hold every slot at once, 3 on each GPU."""
    fake_machine(monkeypatch, gpus=2, cores=6)
    together = threading.Barrier(6, timeout=30)
    devices: list[str | None] = []

    def run(spec: RunSpec, retries: int, **options: Any) -> RunOutcome:
        devices.append(options["device"])
        together.wait()  # all six side by side
        return RunOutcome(spec, "done")

    monkeypatch.setattr(executors, "with_retries", run)
    monkeypatch.setattr(executors, "kernel_name", lambda: "python3")
    executor = make_executor("local", runs_per_gpu=3)
    outcomes = list(executor.map([spec(n) for n in range(6)]))
    assert len(outcomes) == 6 and sorted(devices, key=str) == ["cuda:0"] * 3 + ["cuda:1"] * 3  # type: ignore[operator]


@pytest.mark.parametrize(("kwargs", "gpus", "message"), [
    ({"runs_per_gpu": 0}, 1, "--runs-per-gpu must be an integer >= 1, got 0"),
    ({"jobs": 0}, 1, "--jobs must be an integer >= 1, got 0"),
    ({"runs_per_gpu": 2}, 0, "--runs-per-gpu 2 needs a GPU, but this machine has no CUDA device"),
    ({"runs_per_gpu": 2, "jobs": 4}, 1, "--jobs 4 and --runs-per-gpu 2 both say how many runs"),
])
def test_bad_counts_are_refused(kwargs: dict[str, int], gpus: int, message: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    fake_machine(monkeypatch, gpus=gpus, cores=8)
    with pytest.raises(ExecutorError, match="^" + message.replace("+", r"\+")):
        make_executor("local", **kwargs)


# ---------------------------------------------------------------------------------------------- the Dask executor
class Future:
    def cancel(self) -> None:
        pass


class Recorder:
    """Stands in for distributed's LocalCluster (and, as `Client`, its client): records what is asked of them."""

    made: list[dict[str, Any]] = []
    submitted: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Recorder.made.append(kwargs)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        Recorder.submitted.append((args, kwargs))
        return Future()

    def scheduler_info(self) -> dict[str, Any]:
        return {"workers": {}}

    def close(self) -> None:
        pass


class Client(Recorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:  # the cluster it connects to was recorded
        pass


@pytest.fixture
def recorded_dask(monkeypatch: pytest.MonkeyPatch) -> type[Recorder]:
    import distributed

    Recorder.made, Recorder.submitted = [], []
    monkeypatch.setattr(distributed, "LocalCluster", Recorder)
    monkeypatch.setattr(distributed, "Client", Client)
    monkeypatch.setattr(distributed, "as_completed", lambda futures: iter(()))
    return Recorder


@pytest.mark.parametrize(("per_gpu", "workers", "share"), [(None, 8, 0.25), (2, 4, 0.5)])
def test_dask_starts_several_workers_per_gpu_and_runs_take_a_share(
        per_gpu: int | None, workers: int, share: float, monkeypatch: pytest.MonkeyPatch,
        recorded_dask: type[Recorder]) -> None:
    """2 GPUs, 8 cores: by default 4 workers per GPU (one run each), each run 1/4 of the resource "GPU"."""
    fake_machine(monkeypatch, gpus=2, cores=8)
    with DaskExecutor(runs_per_gpu=per_gpu) as executor:
        list(executor.map([spec(0)]))
    cluster = recorded_dask.made[0]
    assert cluster["n_workers"] == workers and cluster["resources"] == {"GPU": share}
    args, kwargs = recorded_dask.submitted[0]
    assert kwargs["resources"] == {"GPU": share} and args[4] == workers // 2


def test_dask_without_gpus_refuses_a_per_gpu_count(monkeypatch: pytest.MonkeyPatch,
                                                   recorded_dask: type[Recorder]) -> None:
    fake_machine(monkeypatch, gpus=0, cores=8)
    with pytest.raises(ExecutorError, match="--runs-per-gpu 2 needs a GPU, but this machine has no CUDA device"):
        DaskExecutor(runs_per_gpu=2).__enter__()
    with DaskExecutor() as executor:  # without it: one single-threaded worker per core, no GPU resource
        assert recorded_dask.made[-1]["n_workers"] == 8 and recorded_dask.made[-1]["resources"] is None
        assert executor.runs_per_gpu == 1


@pytest.mark.parametrize(("resource", "nthreads", "name", "threads", "device"), [
    (0.25, 1, 5, 1, "cuda:1"),  # a local worker: one run, GPU 5 % 2
    (1, 4, 0, 1, "cuda:0"),  # a worker of another cluster with GPU=1 and 4 threads holds 4 runs: a thread each
    (None, 3, 2, 3, None),  # a CPU worker: its threads are the run's
])
def test_a_dask_task_takes_its_workers_gpu_and_share_of_threads(
        resource: float | None, nthreads: int, name: int, threads: int, device: str | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import distributed

    fake_machine(monkeypatch, gpus=2, cores=8)
    resources = {} if resource is None else {"GPU": resource}
    worker = SimpleNamespace(name=name, state=SimpleNamespace(nthreads=nthreads, total_resources=resources))
    monkeypatch.setattr(distributed, "get_worker", lambda: worker)
    seen: dict[str, Any] = {}

    def execute(spec: RunSpec, notebook: Path, kernel: Any, threads: int, device: str | None) -> RunOutcome:
        seen.update(threads=threads, device=device)
        return RunOutcome(spec, "done")

    monkeypatch.setattr(executors, "execute_spec", execute)
    executors.dask_task(spec(0), "nb.ipynb", None, 4)
    assert seen == {"threads": threads, "device": device}


# ---------------------------------------------------------------------------------------------- devices checked first
def test_devices_are_checked_against_the_gpus_present() -> None:
    check_devices([("a", spec(0).config), ("b", spec(1, "cpu").config), ("c", spec(2, "cuda:1").config)], gpus=2)
    with pytest.raises(ConfigError, match=r"^c: device='cuda:2': this machine has 2 CUDA device\(s\), numbered"):
        check_devices([("a", spec(0).config), ("c", spec(2, "cuda:2").config)], gpus=2)
    with pytest.raises(ConfigError, match="^b: device='cuda' was asked for but no CUDA device is available"):
        check_devices([("b", spec(1, "cuda").config)], gpus=0)


def test_gpus_are_only_counted_when_a_run_asks_for_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_count() -> int:
        raise AssertionError("counted GPUs for runs that need none")

    monkeypatch.setattr("genmodels.runs.placement.cuda_count", no_count)
    check_devices([("a", spec(0).config), ("b", spec(1, "cpu").config)])


def test_training_resolves_a_device_beyond_the_gpus_present_as_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from genmodels.training.loop import resolve_device

    fake_machine(monkeypatch, gpus=2, cores=8)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ConfigError, match=r"device='cuda:2': this machine has 2 CUDA device\(s\)"):
        resolve_device("cuda:2")
