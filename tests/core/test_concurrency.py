"""Two processes on one run folder: the check of what the folder holds and the run's writes happen under one lock,
so a second `train` either waits for the first and is then refused (the folder holds another configuration's
run), or says in one line which process holds the folder; the first run is never overwritten."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genmodels.cli import main
from genmodels.core import store
from genmodels.runs import run as run_module

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ["train", "--model", "gan", "--dataset", "mnist-5k", "--depth", "1", "--z-dim", "4", "--width", "4",
         "--steps", "2", "--n-train", "64", "--batch-size", "8", "--metric-samples", "0", "--sample-every", "0",
         "--no-progress"]

pytestmark = pytest.mark.usefixtures("single_thread")


def snapshot(folder: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def test_a_held_folder_is_one_line_naming_its_holder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """While another process holds the folder (here: this one, through the store's lock), `train` waits its while,
    then says who holds it, in one line, and writes nothing."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("kept\n")
    monkeypatch.setattr(run_module, "LOCK_WAIT", 0.3)
    with store.folder_lock(out):
        before = snapshot(tmp_path)
        code = main([*TRAIN, "--out", str(out), "--results", str(tmp_path / "results")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    if Path("/proc/locks").is_file():
        assert f"being written by another process (process {os.getpid()}" in err, err
    assert snapshot(tmp_path) == before


@pytest.mark.slow  # two fresh interpreters import torch and train: ~15 s on two busy cores
def test_two_trains_on_one_folder_never_overwrite_each_other(tmp_path: Path) -> None:
    """Two `train`s of different configurations on one --out, started half a second apart: one trains, the other is
    refused in one line once the first is done (both printed "done" and the first run was overwritten)."""
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "OMP_NUM_THREADS": "1"}
    commands = [[*TRAIN, "--seed", str(seed), "--out", str(out), "--results", str(tmp_path / "results")]
                for seed in (0, 1)]
    first = subprocess.Popen([sys.executable, "-m", "genmodels", *commands[0]], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    second = subprocess.Popen([sys.executable, "-m", "genmodels", *commands[1]], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = [(p.wait(timeout=300), *p.communicate()) for p in (first, second)]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    winner = next(i for i, (code, _, _) in enumerate(results) if code == 0)
    loser_err = results[1 - winner][2]
    assert loser_err.count("\n") == 1 and "Traceback" not in loser_err, loser_err
    assert "holds a run of another configuration" in loser_err or "being written by another process" in loser_err
    written = json.loads((out / store.CONFIG).read_text())
    assert written["seed"] == winner and store.is_complete(out, written["config_hash"])
