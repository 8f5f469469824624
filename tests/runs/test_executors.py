"""Where sweeps run: the results store's locks and status, the local and Dask executors, and their faults."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import fake_finished_run
from genmodels.core import store
from genmodels.cli import main
from genmodels.runs.notebook_run import error_text
from genmodels.core.files import OutputError
from genmodels.runs.sweep import load_sweep

ROOT = Path(__file__).resolve().parents[2]


def write_sweep(path: Path, grid: list[dict], defaults: dict | None = None) -> Path:
    base = {"dataset": "mnist-5k", "width": 8, "n_train": 256, "metric_samples": 0, "sample_every": 1000}
    path.write_text(yaml.safe_dump({"name": "t", "defaults": {**base, **(defaults or {})}, "grid": grid}))
    return path


def sweep_command(sweep: Path, results: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "genmodels", "sweep", str(sweep), "--results", str(results), "--no-progress", *flags]


def steps_once(run_dir: Path, steps: int) -> bool:
    return pd.read_csv(run_dir / store.HISTORY)["step"].tolist() == list(range(1, steps + 1))


# ------------------------------------------------------------------ the store
def test_status_follows_the_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert store.run_status(run) is store.Status.TODO
    store.write_json(run / store.CONFIG, {"model": "vae"})
    assert store.run_status(run) is store.Status.PARTIAL
    store.record_failure(run, "DataError: no data\n\ntraceback")
    assert store.run_status(run) is store.Status.FAILED and store.error_summary(run) == "DataError: no data"
    fake_finished_run(run, "abc")
    assert store.run_status(run, "abc") is store.Status.COMPLETE
    assert store.run_status(run, "other") is store.Status.FAILED  # complete, but of another config
    assert store.run_status(run, "abc", notebook=True) is store.Status.FAILED  # a sweep also needs its notebook
    store.mark_started(run)
    assert store.run_status(run, "abc") is store.Status.PARTIAL


def test_full_disk_while_recording_a_failure_is_reported_not_raised(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def full(path: Path, text: str) -> Path:
        raise OutputError(f"no space left on device while writing {path}")

    monkeypatch.setattr(store, "write_text", full)
    message = store.record_failure(tmp_path, "RuntimeError: boom\n\ntraceback")
    assert message.startswith("RuntimeError: boom (and ") and "could not be written" in message


def test_a_dead_kernel_is_summarised_by_its_own_line() -> None:
    from nbclient.exceptions import DeadKernelError

    assert error_text(DeadKernelError("Kernel died")).splitlines()[0] == "DeadKernelError: Kernel died"


def test_a_folder_lock_excludes_other_processes_and_dies_with_its_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from genmodels.core import store
        with store.folder_lock({str(tmp_path)!r}):
            print("held", flush=True)
            time.sleep(120)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not store.lock_is_free(tmp_path, wait=0.5)
        with pytest.raises(store.FolderBusy, match="being written by another process"):
            with store.folder_lock(tmp_path, wait=0):
                pass
    finally:
        holder.kill()
        holder.wait()
    assert store.lock_is_free(tmp_path, wait=5)  # no stale lock after a crash


def test_find_results_root_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    assert store.find_results_root(tmp_path / "notebooks") == tmp_path / "results"


# ------------------------------------------------------------------ bad executor settings: one line, nothing runs
@pytest.mark.parametrize("flags, message", [
    (["--executor", "spark"], "unknown executor 'spark'; choose local or dask"),
    (["--executor", "dask", "--workers", "0"], "--workers must be an integer >= 1, got 0"),
    (["--executor", "dask", "--threads-per-worker", "0"], "--threads-per-worker must be an integer >= 1"),
    (["--executor", "dask", "--retries", "-1"], "--retries must be an integer >= 0"),
    (["--executor", "dask", "--jobs", "2"], "--jobs belong(s) to --executor local, not dask"),
    (["--workers", "2"], "--workers belong(s) to --executor dask, not local"),
    (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"),
])
def test_bad_executor_settings_are_one_line_before_anything_runs(tmp_path: Path, flags: list[str], message: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    sweep = write_sweep(tmp_path / "s.yaml", [{"model": "vae", "depth": 1, "z_dim": 2, "steps": 2}])
    assert main(["sweep", str(sweep), "--results", str(tmp_path / "r"), "--no-progress", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_dask_not_installed_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises ImportError
    sweep = write_sweep(tmp_path / "s.yaml", [{"model": "vae", "depth": 1, "z_dim": 2, "steps": 2}])
    assert main(["sweep", str(sweep), "--results", str(tmp_path / "r"), "--executor", "dask"]) == 2
    assert "--executor dask needs dask.distributed: pip install" in capsys.readouterr().err


# ------------------------------------------------------------------ executors end to end
def _final_numbers(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / store.METRICS).read_text())
    quality = metrics.get("quality") or {}
    return {"losses": metrics["final_losses"], **{k: quality.get(k) for k in ("fid", "kid_mean", "inception_score_mean")}}


# two of the quick profile's runs, one per family of loss (a VAE and a critic with its gradient penalty): the Dask
# comparison's sweep, whose run folders and hashes are those of the session's quick profile
QUICK_SUBSET = [{"model": ["vae", "wgan"], "depth": 2, "z_dim": 16, "seed": 0}]


@pytest.mark.slow
def test_quick_profile_runs_on_dask_match_the_local_executor(tmp_path: Path, quick_results: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The same run folders, hashes and final metrics (CPU, one thread per run) from both executors; a second
    sweep of the same file skips everything. The local executor's runs are the session's quick profile
    (conftest.quick_results: two runs at a time, one thread each, as the Dask workers here); Dask trains two of
    them again, each on its own worker."""
    document = yaml.safe_load((ROOT / "configs" / "quick.yaml").read_text())
    subset = tmp_path / "quick-subset.yaml"
    subset.write_text(yaml.safe_dump({**document, "grid": QUICK_SUBSET}))
    local, dask = quick_results, tmp_path / "dask"
    assert main(["sweep", str(subset), "--results", str(dask), "--no-progress", "--executor", "dask",
                 "--workers", "2", "--threads-per-worker", "1"]) == 0
    specs = load_sweep(subset, local)
    assert len(specs) == 2 and all(spec.is_complete() for spec in specs)  # the same folders as the quick profile's
    folders = {str(p.relative_to(dask)) for p in dask.glob("*/*/*") if (p / store.CONFIG).is_file()}
    assert folders == {str(spec.run_dir.relative_to(local)) for spec in specs}
    for spec, shipped in zip(specs, load_sweep(subset, dask)):
        assert shipped.is_complete()
        a, b = spec.run_dir, shipped.run_dir
        assert json.loads((a / store.CONFIG).read_text())["config_hash"] == json.loads((b / store.CONFIG).read_text())["config_hash"]
        assert _final_numbers(a) == _final_numbers(b), a.name
        assert json.loads((b / store.META).read_text())["device"]["torch_threads"] == 1
    capsys.readouterr()
    assert main(["sweep", str(subset), "--results", str(dask), "--no-progress", "--executor", "dask",
                 "--workers", "2"]) == 0
    again = capsys.readouterr().out
    assert "0 done, 2 skipped, 0 failed" in again, again


def _kernels_of(pid: int) -> list:
    import psutil

    def is_kernel(process: psutil.Process) -> bool:
        try:
            return "ipykernel" in " ".join(process.cmdline())
        except psutil.Error:  # a short-lived child that ended between the listing and this look
            return False

    return [p for p in psutil.Process(pid).children(recursive=True) if is_kernel(p)]


@pytest.mark.slow
def test_killing_a_dask_worker_mid_sweep_loses_no_run(tmp_path: Path) -> None:
    """SIGKILL the worker whose kernel is training; Dask reschedules the task, which resumes from the run's
    checkpoint: every run completes, every step is trained exactly once."""
    steps = 600
    sweep = write_sweep(tmp_path / "s.yaml", [{"model": "vae", "depth": 1, "z_dim": [2, 3], "steps": steps,
                                               "checkpoint_every": 50}])
    results = tmp_path / "results"
    process = subprocess.Popen(sweep_command(sweep, results, "--executor", "dask", "--workers", "2"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    specs = load_sweep(sweep, results)
    deadline = time.time() + 300
    while time.time() < deadline and not any((s.run_dir / store.CHECKPOINT).exists() for s in specs):
        time.sleep(0.2)
    kernels = _kernels_of(process.pid)
    assert kernels, "no kernel found under the sweep process"
    worker = kernels[0].parent()
    victim = next(s for s in specs if (s.run_dir / store.CHECKPOINT).exists())
    worker.send_signal(signal.SIGKILL)
    try:
        out, _ = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, out
    assert re.search(r"2 done, 0 skipped, 0 failed", out), out
    for spec in specs:
        assert spec.is_complete() and steps_once(spec.run_dir, steps)
    assert victim.run_dir.exists()


@pytest.mark.slow
def test_two_sweeps_at_once_run_each_configuration_once(tmp_path: Path) -> None:
    """Two sweeps of one file on one results root, started a second apart: every run is trained by exactly one
    of them (the other waits for it and skips it, or reports it busy), and no run folder is corrupted."""
    steps = 300
    sweep = write_sweep(tmp_path / "s.yaml", [{"model": "vae", "depth": 1, "z_dim": [2, 3, 4], "steps": steps}])
    results = tmp_path / "results"
    command = sweep_command(sweep, results, "--jobs", "1", "--threads", "1")
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = [p.communicate(timeout=900)[0] for p in (first, second)]
    assert all(p.returncode == 0 for p in (first, second)), outputs
    done = [int(re.search(r"(\d+) done", out).group(1)) for out in outputs]
    assert sum(done) == 3, outputs  # each configuration trained once, by one of the two sweeps
    for spec in load_sweep(sweep, results):
        assert spec.is_complete() and steps_once(spec.run_dir, steps)
        meta = json.loads((spec.run_dir / store.META).read_text())
        assert meta["resumed_from_step"] == 0  # never interleaved: nobody resumed someone else's run


@pytest.mark.slow
def test_a_failing_run_on_dask_is_retried_recorded_and_the_sweep_goes_on(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    sweep = write_sweep(tmp_path / "s.yaml", [
        {"model": "vae", "depth": 1, "z_dim": 2, "steps": 6},
        {"model": "vae", "depth": 1, "z_dim": 2, "steps": 6, "n_train": 5000},  # more images than mnist-5k has
    ])
    results = tmp_path / "results"
    assert main(["sweep", str(sweep), "--results", str(results), "--no-progress", "--executor", "dask",
                 "--workers", "2", "--retries", "2"]) == 1
    out = capsys.readouterr().out
    assert "1 done, 0 skipped, 1 failed" in out and "after 3 attempts" in out and "ConfigError" in out
    ok, failed = load_sweep(sweep, results)
    assert ok.is_complete() and failed.status() is store.Status.FAILED
    assert "n_train must be at most" in (failed.run_dir / store.ERROR).read_text()


@pytest.mark.slow
def test_a_killed_kernel_is_summarised_by_its_own_line_and_the_run_resumes(tmp_path: Path) -> None:
    """SIGKILL the notebook's kernel mid-run: the sweep records `DeadKernelError: …` (not "Traceback …"), goes on,
    and the same command again resumes that run from its checkpoint."""
    steps = 600
    sweep = write_sweep(tmp_path / "s.yaml", [{"model": "vae", "depth": 1, "z_dim": 2, "steps": steps,
                                               "checkpoint_every": 50}])
    results = tmp_path / "results"
    command = sweep_command(sweep, results, "--jobs", "1", "--threads", "1")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    spec = load_sweep(sweep, results)[0]
    deadline = time.time() + 300
    while time.time() < deadline and not (spec.run_dir / store.CHECKPOINT).exists():
        time.sleep(0.2)
    kernels = _kernels_of(process.pid)
    assert kernels, "no kernel found under the sweep process"
    kernels[0].send_signal(signal.SIGKILL)
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 1 and "0 done, 0 skipped, 1 failed" in out, out
    assert "error: DeadKernelError: Kernel died" in out and "Traceback" not in out, out
    assert store.error_summary(spec.run_dir).startswith("DeadKernelError: Kernel died")
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "1 done" in again.stdout, again.stdout
    assert steps_once(spec.run_dir, steps)
    assert json.loads((spec.run_dir / store.META).read_text())["resumed_from_step"] > 0


def kernel_files(temp: Path) -> list[Path]:
    """What kernels leave in a temporary folder: runtime folders, sockets, connection files."""
    return [p for p in temp.iterdir() if p.name.startswith(("genmodels-kernel", ".genmodels-kernel"))
            or p.is_socket() or p.suffix == ".json"]


@pytest.mark.slow
@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
                         ids=["ctrl-c", "sigterm"])
def test_a_stopped_sweep_says_one_line_and_leaves_nothing_behind(tmp_path: Path, short_tmp: Path, signum: int,
                                                                 code: int, word: str) -> None:
    """Ctrl-C (SIGINT to the sweep's process group, as a terminal sends it) or SIGTERM while two runs train side
    by side: the sweep stops its kernels now (it waited for them to finish before), prints its one line and
    nothing else (ipykernel's "KeyboardInterrupt caught in kernel" and a 19-line ZMQ traceback before), leaves no
    kernel process and no socket or connection file in the temporary folder, and records no failure: both runs
    are partial, to be resumed."""
    import psutil

    temp = short_tmp
    sweep = write_sweep(tmp_path / "s.yaml", [{"model": "vae", "depth": 1, "z_dim": [2, 3], "steps": 100000,
                                               "checkpoint_every": 5}])
    results = tmp_path / "results"
    process = subprocess.Popen(sweep_command(sweep, results, "--jobs", "2", "--threads", "1"), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                               env={**os.environ, "TMPDIR": str(temp)},
                               # a shell's background job ignores SIGINT; a terminal's foreground job does not
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    specs = load_sweep(sweep, results)
    deadline = time.time() + 300
    while time.time() < deadline and not all((s.run_dir / store.CHECKPOINT).exists() for s in specs):
        time.sleep(0.2)
    kernels = _kernels_of(process.pid)
    assert len(kernels) == 2, kernels
    os.killpg(process.pid, signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == code, (out, err)
    assert err == f"{word}; re-run the same command: finished runs are skipped, the interrupted one resumes\n", err
    assert "Traceback" not in out and "0 done, 0 skipped, 0 failed" in out, out
    _, alive = psutil.wait_procs(kernels, timeout=30)
    assert not alive, alive
    assert kernel_files(temp) == []
    assert [s.status() for s in specs] == [store.Status.PARTIAL] * 2


def test_kernels_do_not_inherit_dasks_malloc_trimming(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers; in a training kernel it cost 1.75x the time."""
    from genmodels.runs.kernels import kernel_environment

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    monkeypatch.setenv("GENMODELS_SOMETHING", "kept")
    env = kernel_environment()
    assert "MALLOC_TRIM_THRESHOLD_" not in env and env["GENMODELS_SOMETHING"] == "kept"


@pytest.mark.parametrize("stopping, status", [(True, "interrupted"), (False, "failed")])
def test_a_run_ending_while_the_sweep_stops_is_interrupted_not_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       stopping: bool, status: str) -> None:
    """A kernel still in its cell when the stop's grace period ends is killed, and papermill reports a dead kernel:
    while the sweep is stopping that run was stopped, so nothing is recorded and it resumes (CI saw it recorded as
    failed under load). The same error outside a stop is a failure with its error.txt."""
    import papermill

    from genmodels.runs import kernels, notebook_run

    spec = load_sweep(write_sweep(tmp_path / "s.yaml", [{"model": "vae", "steps": 5}]), tmp_path / "results")[0]
    spec.run_dir.mkdir(parents=True)

    def dead_kernel(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Kernel died before replying to execute request")

    monkeypatch.setattr(papermill, "execute_notebook", dead_kernel)
    if stopping:
        monkeypatch.setattr(kernels._stopping, "is_set", lambda: True)
    outcome = notebook_run._execute_claimed(spec, notebook_run.NOTEBOOK, None, 1, None)
    assert outcome.status == status
    assert (spec.run_dir / store.ERROR).exists() == (status == "failed")


# ------------------------------------------------------------------ data on a cluster
def test_a_shipped_run_has_every_path_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GENMODELS_DATA")
    spec = load_sweep(write_sweep(tmp_path / "s.yaml", [{"model": "vae"}]), Path("results"))[0]
    shipped = spec.shippable()
    assert shipped.run_dir == tmp_path / spec.run_dir and shipped.results_root == tmp_path / "results"
    assert shipped.config.data_root == str(tmp_path / "data") and (tmp_path / "data").is_dir()
    assert shipped.config.config_hash() == spec.config.config_hash() and shipped.label == spec.label


def test_a_worker_that_cannot_read_the_data_folder_fails_the_run_in_one_line(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Never a silent fallback to what that machine has (the 5k subset for MNIST): papermill is not even started."""
    import dataclasses

    import papermill

    from genmodels.runs.notebook_run import execute_spec

    spec = load_sweep(write_sweep(tmp_path / "s.yaml", [{"model": "vae"}]), tmp_path / "results")[0]
    spec = dataclasses.replace(spec, config=dataclasses.replace(spec.config, data_root=str(tmp_path / "elsewhere")))
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a run started"))
    outcome = execute_spec(spec)
    assert outcome.status == "failed" and "\n" not in outcome.error
    assert outcome.error.startswith(f"DataError: the data folder {tmp_path / 'elsewhere'} is not readable on ")
    assert spec.state() == store.RunState(store.Status.FAILED, outcome.error)


@pytest.mark.slow
def test_a_cluster_started_in_another_folder_trains_on_the_sweeps_data(tmp_path: Path, short_tmp: Path) -> None:
    """A scheduler and a worker started in their own folder, the sweep from the project's: the run trains on the
    project's data folder (recorded absolute in meta.json, with its fingerprint), and nothing lands in the
    worker's folder. One cluster, one tiny run."""
    project, home = tmp_path / "project", tmp_path / "worker-home"
    project.mkdir(), home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "GENMODELS_DATA"} | {"TMPDIR": str(short_tmp)}
    scheduler_file = short_tmp / "scheduler.json"
    dask = str(Path(sys.executable).with_name("dask"))
    cluster = [subprocess.Popen([dask, "scheduler", "--port", "0", "--no-dashboard", "--scheduler-file",
                                 str(scheduler_file)], cwd=home, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.5)
        address = json.loads(scheduler_file.read_text())["address"]
        cluster.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard"], cwd=home,
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True))
        sweep = write_sweep(project / "s.yaml", [{"model": "vae", "depth": 1, "z_dim": 2, "steps": 2,
                                                  "n_train": 64, "width": 4, "sample_every": 0}])
        done = subprocess.run([sys.executable, "-m", "genmodels", "sweep", "s.yaml", "--no-progress", "--executor",
                               "dask", "--scheduler", address], cwd=project, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0 and "1 done" in done.stdout, done.stdout + done.stderr
    finally:
        for process in reversed(cluster):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    spec = load_sweep(sweep, project / "results")[0]
    assert spec.is_complete()
    data = json.loads((spec.run_dir / store.META).read_text())["data"]
    assert data["folder"] == str((project / "data").resolve()) and data["train"]["checksum"]
    assert str(project / "data") in data["train"]["source"] and not (home / "data").exists()
