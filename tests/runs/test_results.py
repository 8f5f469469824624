"""Results as a table: `genmodels.results_frame` and ``python -m genmodels results`` (table, CSV, JSON), with and
without a sweep file, on tiny real runs.

The fast tests train two of a three-configuration sweep's runs with `run_config` (what the sweep's notebook
calls) and leave the third to do; the quality section of their metrics.json is then set to known numbers, which
the table must show, since training the metrics' classifier is too slow for this tier. The slow test checks the
quick profile's real sweep against its metrics files.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import genmodels
from genmodels.core import store
from genmodels.cli import main
from genmodels.runs.results import SUMMARY_COLUMNS, results_frame
from genmodels.runs.run import run_config
from genmodels.runs.sweep import load_sweep

SWEEP = {
    "name": "tiny",
    "defaults": {"dataset": "mnist-5k", "depth": 1, "z_dim": 4, "width": 8, "batch_size": 8, "steps": 6,
                 "n_train": 64, "sample_every": 0, "checkpoint_every": 0, "metric_samples": 0, "progress": False,
                 "device": "cpu"},
    "grid": [{"model": ["vae", "gan"]}, {"model": "wgan", "steps": 4}],
}
# the quality each finished run is given: FID, IS (a collapsed GAN: IS < 1.5)
QUALITY = {"vae": (41.25, 4.5), "gan": (250.0, 1.2)}

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, single_thread: None) -> tuple[Path, Path]:
    """(sweep file, results root): vae and gan finished, wgan not run."""
    folder = tmp_path_factory.mktemp("results")
    sweep_file, root = folder / "tiny.yaml", folder / "results"
    sweep_file.write_text(yaml.safe_dump(SWEEP))
    for spec in load_sweep(sweep_file, root):
        if spec.config.model in QUALITY:
            run_config(spec.config, spec.run_dir, evaluate=None)
            (spec.run_dir / store.EXECUTED).write_text("{}")  # the notebook papermill executed, as a sweep leaves it
            fid, inception = QUALITY[spec.config.model]
            metrics = json.loads((spec.run_dir / store.METRICS).read_text())
            metrics["quality"] = {"fid": fid, "kid_mean": 0.0125, "inception_score_mean": inception,
                                  "precision": 0.5, "recall": 0.25}
            store.write_json(spec.run_dir / store.METRICS, metrics)
    return sweep_file, root


def test_frame_of_a_sweep_lists_every_configuration(sweep: tuple[Path, Path]) -> None:
    sweep_file, root = sweep
    frame = genmodels.results_frame(results_root=root, sweep=sweep_file)
    assert list(frame.model) == ["vae", "gan", "wgan"]  # file order, the unrun one included
    assert list(frame.status) == ["complete", "complete", "todo"]
    done = frame.set_index("model")
    assert (done.loc["vae", "FID"], done.loc["gan", "IS"]) == (41.25, 1.2)
    assert (done.loc["vae", "collapsed"], done.loc["gan", "collapsed"]) == (False, True)
    assert done.loc["wgan", "steps"] == 4 and done.loc["gan", "variant"] == "linear output"
    assert done.loc["vae", "seconds"] >= 0  # rounded to 0.01 s: a tiny run on a fast machine may show 0.0
    meta = json.loads((Path(done.loc["vae", "run_dir"]) / store.META).read_text())
    assert done.loc["vae", "seconds"] == meta["wall_seconds"]["training"]
    assert done.loc["vae", "cpu_seconds"] == meta["cpu_seconds"]["training"] >= 0
    assert done.loc["vae", "device"] == "cpu" and pd.isna(done.loc["wgan", "cpu_seconds"])


def test_frame_without_a_sweep_lists_the_run_folders(sweep: tuple[Path, Path]) -> None:
    _, root = sweep
    frame = results_frame(root)
    assert sorted(frame.model) == ["gan", "vae"] and set(frame.status) == {"complete"}
    assert list(frame.label) == sorted(frame.label)
    assert all(label.startswith("mnist-5k/") for label in frame.label)


def test_report_collects_the_same_rows(sweep: tuple[Path, Path]) -> None:
    """The report's table of runs is this frame (one row builder for both), with a run's cost counted in
    CPU-seconds where it trained on the CPU, and its wall-clock seconds kept."""
    from genmodels.report import collect_runs

    sweep_file, root = sweep
    report, frame = collect_runs(sweep_file, root), results_frame(root, sweep_file)
    assert report.drop(columns=["seconds", "wall_seconds", "clock"]).equals(frame.drop(columns="seconds"))
    assert report.wall_seconds.equals(frame.seconds)
    done = report[report.status == "complete"]
    assert done.seconds.equals(done.cpu_seconds) and set(done.clock) == {"CPU time"}


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["results", *args]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def test_results_table(sweep: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    sweep_file, root = sweep
    out = _cli(capsys, str(sweep_file), "--results", str(root))
    header, rule, *rows, total = out.strip().splitlines()
    assert header.split()[:3] == ["run", "model", "dataset"] and "FID" in header and "collapsed" in header
    assert "status train s cpu s FID" in " ".join(header.split())  # the steps' wall-clock and CPU seconds
    assert set(rule) <= {"-", " "}
    assert len(rows) == 3 and total == "3 runs: 2 complete, 1 todo"
    gan = next(r for r in rows if " gan " in r)
    assert "250.00" in gan and "1.20" in gan and gan.rstrip().endswith("yes")
    assert "todo" in next(r for r in rows if " wgan " in r)


def test_results_csv(sweep: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    sweep_file, root = sweep
    rows = list(csv.DictReader(io.StringIO(_cli(capsys, str(sweep_file), "--results", str(root), "--format", "csv"))))
    assert list(rows[0]) == [*SUMMARY_COLUMNS, "run_dir"]
    assert [r["model"] for r in rows] == ["vae", "gan", "wgan"]
    assert float(rows[0]["FID"]) == 41.25 and rows[2]["FID"] == "" and rows[2]["status"] == "todo"


def test_results_json(sweep: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, root = sweep
    records: list[dict[str, Any]] = json.loads(_cli(capsys, "--results", str(root), "--format", "json"))
    assert {r["model"] for r in records} == {"vae", "gan"}
    gan = next(r for r in records if r["model"] == "gan")
    assert (gan["FID"], gan["KID"], gan["collapsed"], gan["depth"]) == (250.0, 0.0125, True, 1)
    assert gan["cpu_seconds"] == json.loads((Path(gan["run_dir"]) / store.META).read_text())["cpu_seconds"]["training"]
    assert Path(gan["run_dir"]).is_dir()


def test_unreadable_folder_is_named_and_listed_with_unknown_knobs(sweep: tuple[Path, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    _, root = sweep
    copy = shutil.copytree(root, tmp_path / "results")
    odd = copy / "mnist" / "vae" / "from-the-future"
    odd.mkdir(parents=True)
    (odd / store.CONFIG).write_text(json.dumps({"model": "vae", "latent_prior": "flow"}))
    assert main(["results", "--results", str(copy), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert [(r["run"], r["status"], r["depth"]) for r in rows][-1] == ("from-the-future", "partial", "")
    assert {r["depth"] for r in rows[:-1]} == {"1"}  # whole numbers stay whole beside the unknown knobs
    assert captured.err.startswith("note: ") and str(odd / store.CONFIG) in captured.err
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize("args", [["--results", "no/such/folder"], ["no-such-sweep.yaml"]])
def test_bad_input_is_one_line(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["results", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err


def test_empty_results_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(capsys, "--results", str(tmp_path)) == f"no runs under {tmp_path}\n"
    assert json.loads(_cli(capsys, "--results", str(tmp_path), "--format", "json")) == []


@pytest.mark.slow
def test_quick_profile_results_match_the_metrics_files(quick_results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real sweep: every configuration listed, every finished run's numbers those of its metrics.json."""
    quick = Path(__file__).resolve().parents[2] / "configs" / "quick.yaml"
    records = json.loads(_cli(capsys, str(quick), "--results", str(quick_results), "--format", "json"))
    assert len(records) == len(load_sweep(quick, quick_results))
    for record in records:
        assert record["status"] == "complete"
        quality = json.loads((Path(record["run_dir"]) / store.METRICS).read_text())["quality"]
        assert (record["FID"], record["IS"]) == (quality["fid"], quality["inception_score_mean"])


def test_a_data_set_whose_runs_trained_on_different_images_is_flagged(sweep: tuple[Path, Path], tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """As when one worker of a cluster fell back to other data: the fingerprints in meta.json differ."""
    import shutil

    _, root = sweep
    copy = Path(shutil.copytree(root, tmp_path / "results"))
    frame = results_frame(copy)
    assert not frame.data_differs.any() and frame.data_fingerprint.nunique() == 1
    assert set(frame.data_folder.dropna()) == {str(Path(genmodels.data.data_root()).resolve())}
    meta_file = Path(frame[frame.model == "gan"].run_dir.iloc[0]) / store.META
    meta = json.loads(meta_file.read_text())
    meta["data"] = {**meta["data"], "folder": "/elsewhere", "train": {**meta["data"]["train"], "checksum": "0" * 16}}
    store.write_json(meta_file, meta)
    with pytest.warns(UserWarning, match="complete runs of mnist-5k trained on 2 different sets of images .*/elsewhere"):
        frame = results_frame(copy)
    assert frame.data_differs.tolist() == [True, True]
    assert main(["results", "--results", str(copy)]) == 0
    assert "note: the complete runs of mnist-5k trained on 2 different sets" in capsys.readouterr().err
