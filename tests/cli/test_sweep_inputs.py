"""Bad sweep files and flags to ``genmodels sweep FILE --dry-run`` (or, for flags that only matter when running,
without --dry-run): one line, exit status 2, nothing run; damaged finished runs reported and run again,
repeated grid entries noted, ordinary YAML anchors still loading.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
import torch

from genmodels.cli import main
from genmodels.core.config import MAX_SEED, RunConfig
from bad_input_cases import ROOT, TINY, Env, assert_one_line, run_cli
from bad_input_cases import env  # noqa: F401  (a fixture: pytest finds it by name)

pytestmark = pytest.mark.usefixtures("single_thread")


def alias_bomb() -> str:
    """The "billion laughs": nine levels of nine aliases, 9**9 strings from a few hundred bytes."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\ngrid:\n  - {model: vae, depth: *l8}\n"


FOLDER = b"<a folder>"  # the sweep file's path is a folder
FIFO = b"<a FIFO>"  # the sweep file is a named pipe: reading it would wait for a writer forever
SWEEP_CASES: list[tuple[str, bytes | str | None, list[str], list[str]]] = [
    # (id, file content (None: no file), extra flags, fragments)
    ("missing file", None, [], ["sweep.yaml", "not found"]),
    ("a folder for a sweep file", FOLDER, [], ["sweep.yaml", "is a folder"]),  # a folder, not "not found"
    ("empty file", "", [], ["sweep.yaml", "'grid'"]),
    ("binary file", bytes(range(256)) * 8, [], ["sweep.yaml", "not a text file"]),
    ("invalid YAML", "grid: [\n", [], ["sweep.yaml", "not valid YAML"]),
    ("two documents", "grid: [{model: vae}]\n---\ngrid: [{model: gan}]\n", [], ["sweep.yaml", "not valid YAML"]),
    ("nested too deeply", "grid: " + "[" * 5000 + "]" * 5000 + "\n", [], ["sweep.yaml", "nested too deeply"]),
    ("alias bomb", alias_bomb(), [], ["sweep.yaml", "aliases", "expand to more than"]),
    ("recursive alias", "a: &a [*a]\ngrid: [{model: vae}]\n", [], ["sweep.yaml", "alias"]),
    ("duplicate top-level key", "grid: [{model: vae}]\ngrid: [{model: gan}]\n", [], ["duplicate key 'grid'", "line 2"]),
    ("duplicate key in a block", "grid:\n  - model: vae\n    depth: 2\n    depth: 3\n", [],
     ["duplicate key 'depth'", "line 4"]),
    ("no grid", "defaults: {model: vae}\n", [], ["sweep.yaml", "'grid'"]),
    ("unknown top-level key", "grid: [{model: vae}]\nextra: 1\n", [], ["unknown top-level key", "extra"]),
    ("empty grid", "grid: []\n", [], ["'grid'", "non-empty"]),
    # one all-defaults run that a real sweep would train
    ("empty grid mapping", "grid: {}\n", [], ["'grid'", "non-empty"]),
    ("an empty grid entry", TINY + "grid: [{model: vae}, {}]\n", [], ["grid entry 2 is empty"]),
    ("grid entry not a mapping", "grid: [vae]\n", [], ["grid entry 1", "mapping"]),
    ("defaults not a mapping", "defaults: [1]\ngrid: [{model: vae}]\n", [], ["'defaults'", "mapping"]),
    ("unknown field", TINY + "grid: [{modle: vae}]\n", [], ["grid entry 1", "'modle'", "did you mean 'model'"]),
    ("depth 6", TINY + "grid: [{model: vae, depth: [3, 6]}]\n", [], ["grid entry 1", "depth=6", "depth must be"]),
    ("lipschitz on a vae", TINY + "grid: [{model: vae, lipschitz: gp}]\n", [], ["lipschitz"]),
    ("a float for an integer", TINY + "grid: [{model: vae, depth: 2.5}]\n", [], ["depth", "2.5"]),
    ("a mapping for a path", TINY + "grid: [{model: vae, data_root: {a: 1}}]\n", [],
     ["grid entry 1", "data_root must be a string"]),
    ("a string for a flag", TINY + "grid: [{model: vae, progress: 'yes'}]\n", [], ["progress", "true or false"]),
    ("out_dir in defaults", "defaults: {out_dir: runs}\ngrid: [{model: vae}]\n", [], ["out_dir", "remove out_dir"]),
    ("out_dir in a block", TINY + "grid: [{model: vae, out_dir: runs}]\n", [], ["out_dir", "sweep decides"]),
    ("an empty list", TINY + "grid: [{model: []}]\n", [], ["grid entry 1", "model is an empty list"]),
    ("blocks differing only in sample_every", TINY + "grid:\n  - {model: vae, sample_every: 100}\n"
     "  - {model: vae, sample_every: 200}\n", [], ["grid entry 2", "grid entry 1", "only in sample_every"]),
    ("a list of device values", TINY + "grid: [{model: gan, device: [cpu, auto]}]\n", [], ["only in device"]),
    ("seed 2**70", TINY + f"grid: [{{model: vae, seed: {2**70}}}]\n", [], ["seed", str(MAX_SEED)]),
    ("metric_samples 2", "grid: [{model: vae, metric_samples: 2}]\n", [], ["metric_samples", ">= 20"]),
    ("batch_size 1", TINY + "grid: [{model: gan, batch_size: 1}]\n", [], ["batch_size", "batch norm"]),
    ("width 100000", TINY + "grid: [{model: gan, width: 100000}]\n", [], ["grid entry 1", "width=100000"]),
    ("--only matching nothing", TINY + "grid: [{model: vae}]\n", ["--only", "nothing*"], ["--only", "nothing*"]),
    ("--jobs 0", TINY + "grid: [{model: vae}]\n", ["--jobs", "0", "--no-progress"], ["--jobs"]),
    # GPU settings, checked for every run before any starts
    ("--runs-per-gpu 0", TINY + "grid: [{model: vae}]\n", ["--runs-per-gpu", "0", "--no-progress"],
     ["--runs-per-gpu must be an integer >= 1, got 0"]),
    ("--runs-per-gpu with --jobs", TINY + "grid: [{model: vae}]\n",
     ["--runs-per-gpu", "2", "--jobs", "2", "--no-progress"], ["--jobs 2 and --runs-per-gpu 2"]),
    ("a device beyond the GPUs present", TINY + "grid: [{model: vae}, {model: gan, device: 'cuda:99'}]\n", [],
     ["mnist-5k/gan/", "device='cuda:99'"]),
    # executor flags, checked by a dry run too, and --jobs within a bound
    ("--executor bogus, dry run", TINY + "grid: [{model: vae}]\n", ["--executor", "bogus"], ["unknown executor 'bogus'"]),
    ("--threads 0, dry run", TINY + "grid: [{model: vae}]\n", ["--threads", "0"], ["--threads", ">= 1"]),
    ("--jobs 1000, dry run", TINY + "grid: [{model: vae}]\n", ["--jobs", "1000", "--dry-run"], ["--jobs", "at most"]),
    ("--jobs 1000", TINY + "grid: [{model: vae}]\n", ["--jobs", "1000", "--no-progress"], ["--jobs", "at most"]),
    ("--threads 5000", TINY + "grid: [{model: vae}]\n", ["--threads", "5000", "--dry-run"], ["--threads", "at most 1024"]),
    ("--results in /proc", TINY + "grid: [{model: vae}]\n", ["--results", "/proc/genmodels-test", "--no-progress"],
     ["--results", "/proc/genmodels-test"]),
    ("--results is a file", TINY + "grid: [{model: vae}]\n", ["--results", "{tmp}/afile", "--no-progress"],
     ["--results", "{tmp}/afile", "is a file"]),
    # files that are not small regular files, grids counted before they are expanded, bounded retries
    ("a FIFO for a sweep file", FIFO, [], ["sweep.yaml", "is a FIFO, not a regular file"]),
    ("a sweep file over 1 MiB", "# " + "x" * (1 << 20) + "\ngrid: [{model: vae}]\n", [],
     ["sweep.yaml", "more than the 1,048,576"]),
    ("a grid crossing to 5,000,000 runs", TINY + "grid: [{model: vae, seed: [" + ", ".join(map(str, range(1000)))
     + "], depth: [1, 2, 3, 4, 5], z_dim: [" + ", ".join(map(str, range(1, 1001))) + "]}]\n", [],
     ["grid entry 1 crosses to 5,000,000 configurations", "10,000"]),
    ("--retries 11", TINY + "grid: [{model: vae}]\n", ["--retries", "11"], ["--retries must be at most 10"]),
    ("--retries 11 on dask", TINY + "grid: [{model: vae}]\n", ["--executor", "dask", "--retries", "11"],
     ["--retries must be at most 10"]),
]


if not torch.cuda.is_available():
    SWEEP_CASES.append(("device cuda without CUDA", TINY + "grid: [{model: vae, device: cuda}]\n", [],
                        ["mnist-5k/vae/", "device='cuda'", "no CUDA device"]))


@pytest.mark.parametrize(("content", "extra", "fragments"), [c[1:] for c in SWEEP_CASES],
                         ids=[c[0] for c in SWEEP_CASES])
def test_bad_sweep_file_is_one_line(content: bytes | str | None, extra: list[str], fragments: list[str], env: Env,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = env.tmp / "sweep.yaml"
    if content is FOLDER:
        path.mkdir()
    elif content is FIFO:
        os.mkfifo(path)
    elif content is not None:
        env.file("sweep.yaml", content)
    env.file("afile")
    flags_ = [f.replace("{tmp}", str(env.tmp)) for f in extra]
    # flags that only matter when runs would start go without --dry-run, unless the case asks for it
    runs = any(f in flags_ for f in ("--jobs", "--runs-per-gpu", "--results", "--dry-run"))
    results = [] if "--results" in flags_ else ["--results", str(env.tmp / "results")]
    argv = ["sweep", str(path), *results, *flags_, *([] if runs else ["--dry-run"])]
    assert_one_line(*run_cli(argv, capsys), fragments, env.tmp)
    assert not (env.tmp / "results").exists()  # nothing ran


def test_a_misspelt_offline_switch_is_one_line_for_a_sweep(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """What `train` says of $GENMODELS_OFFLINE, a sweep says too, before it lists or runs anything."""
    env.monkeypatch.setenv("GENMODELS_OFFLINE", "TRUEE")
    path = env.file("sweep.yaml", TINY + "grid: [{model: vae}]\n")
    argv = ["sweep", str(path), "--dry-run", "--results", str(env.tmp / "results")]
    assert_one_line(*run_cli(argv, capsys), ["$GENMODELS_OFFLINE", "'TRUEE'"], env.tmp)


@pytest.mark.slow
def test_a_real_process_refuses_an_alias_bomb(env: Env) -> None:
    path = env.file("sweep.yaml", alias_bomb())
    done = subprocess.run([sys.executable, "-m", "genmodels", "sweep", str(path), "--dry-run"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT / "lib")})
    assert_one_line(done.returncode, done.stdout, done.stderr, ["sweep.yaml", "aliases"], env.tmp)


# three ways a finished run folder gets damaged, and what each must be reported as
DAMAGES: dict[str, tuple[Callable[[Path], object], str]] = {
    "deleted checkpoint": (lambda run: (run / "checkpoint.pt").unlink(), "checkpoint.pt is missing"),
    "emptied metrics.json": (lambda run: (run / "metrics.json").write_text(""), "metrics.json is empty"),
    "config.json holding a list": (lambda run: (run / "config.json").write_text("[1, 2]"),
                                   "config.json holds a list, not a JSON object"),
}


def test_damaged_finished_runs_are_reported_as_damaged_and_run_again(env: Env,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A finished run whose checkpoint was deleted, whose metrics.json was emptied, or whose config.json holds a
    list stayed "complete" (the sweep skipped it, the report counted it, with the wrong reason for the missing
    metrics). Each is "damaged" with what is wrong in `results`, `sweep --dry-run` and the report, and the next
    sweep's run of it (`run_config`, what the notebook calls) completes it again: the emptied metrics by resuming
    at its last step, without training again."""
    from genmodels.report import collect_runs
    from genmodels.report.tables import unfinished_table
    from genmodels.core import store
    from genmodels.runs.run import run_config
    from genmodels.runs.sweep import load_sweep

    sweep = env.file("s.yaml", "defaults: {dataset: mnist-5k, depth: 1, z_dim: 4, width: 4, steps: 2, n_train: 64, "
                               "batch_size: 8, metric_samples: 0, sample_every: 0, progress: false}\n"
                               "grid: [{model: gan, seed: [0, 1, 2]}]\n")
    results = env.tmp / "results"
    specs = load_sweep(sweep, results)
    for spec, (damage, _) in zip(specs, DAMAGES.values()):
        run_config(spec.config, spec.run_dir, evaluate=None)
        (spec.run_dir / store.EXECUTED).write_text("{}")  # as a sweep leaves it
        assert spec.is_complete()
        damage(spec.run_dir)
    reasons = [reason for _, reason in DAMAGES.values()]
    assert [s.status() for s in specs] == [store.Status.DAMAGED] * 3
    assert [store.damage(s.run_dir) for s in specs] == reasons
    assert not any(s.is_complete() for s in specs)  # so a real sweep runs them (run_sweep skips complete ones)

    assert main(["sweep", str(sweep), "--results", str(results), "--dry-run"]) == 0
    table = capsys.readouterr().out
    assert table.count("damaged  ") == 3 and all(reason in table for reason in reasons), table
    assert main(["results", str(sweep), "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert "3 runs: 3 damaged" in out and all(f"is damaged: {reason}" in err for reason in reasons), (out, err)
    assert main(["results", "--results", str(results)]) == 0  # without the sweep: the same states, same reasons
    out, err = capsys.readouterr()
    assert "3 runs: 3 damaged" in out and all(f"is damaged: {reason}" in err for reason in reasons), (out, err)
    assert "<NA>" not in out
    runs = collect_runs(sweep, results)
    assert list(runs.status) == ["damaged"] * 3
    assert list(unfinished_table(runs).why) == reasons

    for spec in specs:
        run_config(spec.config, spec.run_dir, evaluate=None)
    assert [s.status() for s in specs] == [store.Status.COMPLETE] * 3
    history = pd.read_csv(specs[1].run_dir / store.HISTORY)
    assert history["step"].tolist() == [1, 2]  # resumed at its last step, not trained twice
    assert json.loads((specs[1].run_dir / store.META).read_text())["resumed_from_step"] == 2


def test_identical_grid_entries_are_said(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Entries that are the same run run once, and each repeat is a note, never merged silently."""
    sweep = env.file("s.yaml", TINY + "grid:\n  - {model: vae}\n  - {model: vae, seed: [0, 1]}\n")
    assert main(["sweep", str(sweep), "--results", str(env.tmp / "results"), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith("2 configurations, 0 complete; 2 todo")
    first = RunConfig(model="vae", dataset="mnist-5k", width=8, steps=2, metric_samples=0).config_hash()
    assert err == (f"note: {sweep}: grid entry 2 (model='vae', seed=0) is the same run as grid entry 1 "
                   f"(model='vae') (hash {first}); it runs once\n")


def test_yaml_merge_keys_and_small_aliases_still_load(tmp_path: Path) -> None:
    """The safe loader refuses bombs and duplicate keys, not ordinary anchors: a merged block may override a key."""
    from genmodels.runs.sweep import load_sweep

    path = tmp_path / "s.yaml"
    path.write_text("defaults: {width: 8}\ngrid:\n  - &vae {model: vae, depth: 2}\n  - {<<: *vae, depth: 3}\n")
    assert [(s.config.model, s.config.depth, s.config.width) for s in load_sweep(path, tmp_path)] == [
        ("vae", 2, 8), ("vae", 3, 8)]
