"""Sweeps: expansion and hashing, skip-completed, failure isolation, interrupt-and-resume."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from genmodels.core import store
from genmodels.cli import main
from genmodels.core.store import EXECUTED, PARTIAL
from genmodels.runs.sweep import SweepError, expand, load_sweep, select

ROOT = Path(__file__).resolve().parents[2]
TINY = {"dataset": "mnist-5k", "width": 8, "batch_size": 16, "n_train": 256, "sample_every": 0,
        "checkpoint_every": 5, "metric_samples": 0}


def write_sweep(path: Path, grid: list[dict], defaults: dict | None = None) -> Path:
    path.write_text(yaml.safe_dump({"name": "test", "defaults": {**TINY, **(defaults or {})}, "grid": grid}))
    return path


# ------------------------------------------------------------------ expansion and hashing
def test_expand_crosses_lists_and_fixes_scalars(tmp_path: Path) -> None:
    specs = expand({"defaults": {"width": 8}, "grid": [
        {"model": ["vae", "gan"], "depth": [1, 2], "z_dim": 4},
        {"model": "vae", "kl_factor": [0.1, 1.0]},
    ]}, tmp_path)
    labels = [(s.config.model, s.config.depth, s.config.z_dim, s.config.kl_factor) for s in specs]
    assert labels == [("vae", 1, 4, None), ("vae", 2, 4, None), ("gan", 1, 4, None), ("gan", 2, 4, None),
                      ("vae", 3, 100, 0.1), ("vae", 3, 100, 1.0)]
    assert all(s.config.width == 8 for s in specs)
    assert all(s.run_dir.parent == tmp_path / "mnist" / s.config.model for s in specs)


def test_expand_deduplicates_configs_that_resolve_alike(tmp_path: Path) -> None:
    # kl_factor None resolves to the VAE default 1e-3: the same run, listed once
    specs = expand({"grid": [{"model": "vae", "kl_factor": [None, 0.001]}]}, tmp_path)
    assert len(specs) == 1


def test_editing_the_grid_changes_only_the_edited_hashes(tmp_path: Path) -> None:
    before = expand({"grid": [{"model": "gan", "depth": [1, 2, 3]}]}, tmp_path)
    after = expand({"grid": [{"model": "gan", "depth": [1, 2, 4]}]}, tmp_path)
    old = {s.config.config_hash() for s in before}
    new = {s.config.config_hash() for s in after}
    assert len(old & new) == 2 and len(new - old) == 1


def test_hash_ignores_where_a_run_executes(tmp_path: Path) -> None:
    a = expand({"grid": [{"model": "vae", "device": "cpu", "sample_every": 5}]}, tmp_path)[0]
    b = expand({"grid": [{"model": "vae"}]}, tmp_path)[0]
    assert a.config.config_hash() == b.config.config_hash()


@pytest.mark.parametrize("document, message", [
    ({"grid": [{"model": "vae", "depth": [3, 6]}]}, "grid entry 1 (model='vae', depth=6): depth must be an integer between 1 and 5"),
    ({"grid": [{"model": "vae", "lipschitz": "gp"}]}, "lipschitz applies only to model wgan"),
    ({"grid": [{"modle": "vae"}]}, "unknown config field 'modle' (did you mean 'model'?)"),
    ({"defaults": {}, "grids": []}, "expected a mapping with 'grid'"),
    ({"grid": [], "extra": 1}, "unknown top-level key(s) ['extra']"),
    ({"grid": ["vae"]}, "grid entry 1 must be a mapping"),
])
def test_bad_sweep_files_give_one_clear_message(tmp_path: Path, document: dict, message: str) -> None:
    with pytest.raises(SweepError) as err:
        expand(document, tmp_path, source="s.yaml")
    assert message in str(err.value)


def test_cli_reports_bad_sweep_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid:\n  - {model: vae, depth: 0}\n")
    assert main(["sweep", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "depth must be" in err and "Traceback" not in err
    assert main(["sweep", str(tmp_path / "missing.yaml")]) == 2


def test_select_matches_globs_and_substrings(tmp_path: Path) -> None:
    specs = expand({"grid": [{"model": ["vae", "gan"], "depth": [1, 2]}]}, tmp_path)
    assert {s.config.model for s in select(specs, "mnist/gan/*")} == {"gan"}
    assert {s.config.depth for s in select(specs, "d2-")} == {2}


def test_shipped_profiles_expand(tmp_path: Path) -> None:
    for profile in ("quick", "default", "full"):
        specs = load_sweep(ROOT / "configs" / f"{profile}.yaml", tmp_path)
        assert {s.config.model for s in specs} == {"vae", "gan", "wgan"}, profile


# ------------------------------------------------------------------ running
@pytest.mark.slow
def test_failures_are_isolated_and_completed_runs_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One run fails (it asks for more training images than the data set has, which only training finds out; a
    data set missing altogether is set aside before anything runs, tests/runs/test_availability.py), the other
    completes; the command ends non-zero with a summary."""
    sweep = write_sweep(tmp_path / "s.yaml", [
        {"model": "vae", "depth": 1, "z_dim": 2, "steps": 6},
        {"model": "vae", "depth": 1, "z_dim": 2, "steps": 6, "n_train": 5000},
    ])
    results = tmp_path / "results"
    assert main(["sweep", str(sweep), "--results", str(results), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "1 done, 0 skipped, 1 failed" in out and "ConfigError" in out
    ok, failed = load_sweep(sweep, results)
    assert ok.is_complete() and (ok.run_dir / EXECUTED).is_file()
    assert not failed.is_complete()
    assert (failed.run_dir / "failed.ipynb").is_file() and "n_train must be at most" in (failed.run_dir / "error.txt").read_text()
    # second invocation: the finished run is skipped, the failed one is tried again
    assert main(["sweep", str(sweep), "--results", str(results), "--no-progress"]) == 1
    assert "0 done, 1 skipped, 1 failed" in capsys.readouterr().out
    # a finished run whose checkpoint was deleted is damaged, not skipped: the next sweep trains it again
    (ok.run_dir / "checkpoint.pt").unlink()
    assert ok.status().value == "damaged"
    assert main(["sweep", str(sweep), "--results", str(results), "--no-progress"]) == 1
    assert "1 done, 0 skipped, 1 failed" in capsys.readouterr().out
    assert ok.is_complete() and (ok.run_dir / "checkpoint.pt").is_file()


@pytest.mark.slow
def test_interrupted_sweep_resumes_and_completes_each_run_once(tmp_path: Path, short_tmp: Path) -> None:
    """Kill the sweep mid-training; re-running resumes the interrupted run and finishes every run exactly once."""
    import json

    import torch

    # the first checkpoint (step 5) triggers the kill; the orphaned kernel trains on for about a second (measured
    # here: ~150 steps a second on one busy core), so 1,500 steps leave the run unfinished with a wide margin
    steps = 1500
    sweep = write_sweep(tmp_path / "s.yaml", [{"model": "vae", "depth": 1, "z_dim": [2, 3], "steps": steps}])
    results = tmp_path / "results"
    command = [sys.executable, "-m", "genmodels", "sweep", str(sweep), "--results", str(results), "--no-progress"]
    temp = short_tmp  # the kernels' sockets and connection files go here
    env = {**os.environ, "TMPDIR": str(temp)}
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env)
    first = load_sweep(sweep, results)[0]
    deadline = time.time() + 300
    while time.time() < deadline and not (first.run_dir / "checkpoint.pt").exists():
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the sweep; its kernel notices its parent is gone and exits
    process.wait()
    # its kernel, in a session of its own, may train (and checkpoint) until its parent poller notices, about a
    # second: read the checkpoint only once the run folder's lock, held by that kernel, is free
    assert store.lock_is_free(first.run_dir, wait=60), "the orphaned kernel still holds the run after 60 s"
    assert not first.is_complete()
    interrupted_at = torch.load(first.run_dir / "checkpoint.pt", weights_only=True)["step"]
    assert 0 < interrupted_at < steps

    assert list(temp.glob("genmodels-kernels-*"))  # a killed process cannot clean up: its kernel's files stay

    # the very same command again: the interrupted run resumes from its checkpoint, the other starts
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    for spec in load_sweep(sweep, results):
        assert spec.is_complete()
        assert not list(spec.run_dir.glob(PARTIAL))
        history = pd.read_csv(spec.run_dir / "history.csv")
        assert history["step"].tolist() == list(range(1, steps + 1))  # each step exactly once
    meta = json.loads((first.run_dir / "meta.json").read_text())
    assert meta["resumed_from_step"] == interrupted_at > 0  # resumed, not restarted
    # the killed sweep's runtime folder (sockets, connection file) went when the next one started, and that
    # one's own when it ended
    assert not [p for p in temp.iterdir() if "genmodels-kernel" in p.name or p.is_socket() or p.suffix == ".json"]
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "0 done, 2 skipped, 0 failed" in again.stdout


@pytest.mark.parametrize("document, message", [
    ({"grid": None}, "'grid' must be a non-empty list"),
    ({"defaults": [1], "grid": [{"model": "vae"}]}, "'defaults' must be a mapping"),
])
def test_malformed_sweep_structure_is_one_message(tmp_path: Path, document: dict, message: str) -> None:
    with pytest.raises(SweepError, match=re.escape(message)):
        expand(document, tmp_path)


def test_yaml_scientific_notation_reaches_float_fields(tmp_path: Path) -> None:
    """PyYAML reads 1e-3 as a string; the config gets the number the user wrote."""
    document = yaml.safe_load("grid:\n  - {model: vae, kl_factor: 1e-3, lr: 3e-4}\n")
    spec = expand(document, tmp_path)[0]
    assert spec.config.kl_factor == 0.001 and spec.config.lr == 0.0003


@pytest.mark.parametrize("flags", [["--jobs", "0"], ["--threads", "0"], ["--jobs", "2", "--threads", "-1"]])
def test_bad_jobs_or_threads_are_one_line_before_anything_runs(tmp_path: Path, flags: list[str],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    sweep = write_sweep(tmp_path / "s.yaml", [{"model": "vae", "depth": 1, "z_dim": 2, "steps": 2}])
    assert main(["sweep", str(sweep), "--results", str(tmp_path / "r"), *flags]) == 2
    err = capsys.readouterr().err
    assert re.match(r"error: --(jobs|threads) must be an integer >= 1, got -?\d", err) and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_runs_side_by_side_are_pinned_to_their_threads(tmp_path: Path) -> None:
    """Two runs at once, one thread each: both complete, and each run's meta.json records one torch thread."""
    import json

    sweep = write_sweep(tmp_path / "s.yaml", [{"model": ["vae", "gan"], "depth": 1, "z_dim": 2, "steps": 3}])
    results = tmp_path / "r"
    assert main(["sweep", str(sweep), "--results", str(results), "--jobs", "2", "--threads", "1",
                 "--no-progress"]) == 0
    metas = sorted(results.glob("*/*/*/meta.json"))
    assert len(metas) == 2
    assert all(json.loads(m.read_text())["device"]["torch_threads"] == 1 for m in metas)


def test_blocks_adding_up_past_the_limit_are_refused_naming_the_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each entry is counted before it is expanded, and the sweep as a whole too (a limit of 5 stands for 10,000)."""
    from genmodels.runs import sweep as sweep_module

    monkeypatch.setattr(sweep_module, "MAX_CONFIGURATIONS", 5)
    grid = [{"model": "vae", "seed": [0, 1, 2]}, {"model": "gan", "seed": [0, 1, 2]}]
    with pytest.raises(sweep_module.SweepError, match="grid entry 2 takes the sweep past 5 configurations"):
        sweep_module.expand({"grid": grid})
    with pytest.raises(sweep_module.SweepError, match="grid entry 1 crosses to 6 configurations, more than the 5"):
        sweep_module.expand({"grid": [{"model": "vae", "seed": [0, 1, 2], "depth": [1, 2]}]})


def test_the_summary_counts_every_run_whatever_its_outcome(tmp_path: Path) -> None:
    from genmodels.runs.sweep import RunOutcome, SweepReport, expand

    specs = expand({"grid": [{"model": "vae", "seed": list(range(5))}]}, tmp_path)
    statuses = ["done", "failed", "busy", "interrupted", "failed"]
    report = SweepReport([RunOutcome(s, status, attempts=3) for s, status in zip(specs, statuses)])
    assert report.table().splitlines()[-1] == ("1 done, 0 skipped, 2 failed, 1 busy (running in another process), "
                                               "1 interrupted")
    assert len(report.failed) == 2
