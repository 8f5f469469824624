"""The GPU scripts checked without a GPU: bench/cuda_check.py (the GPU path end to end) and bench/runs_per_gpu.py.

Both skip themselves with one line where there is no CUDA. What they decide on the CPU side -- the sweep they
run, which run-folder findings count as failures, the tables they print -- is tested directly. cuda_check's
``--device cpu --tiny`` path, the whole way (papermill sweep, run-folder checks, ``load_run(...).sample``, the
report), runs as part 1 of the device session's toy run (tests/project/test_gpu_session.py, slow tier).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from genmodels.runs.sweep import expand

ROOT = Path(__file__).resolve().parents[2]


def bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cuda_check, runs_per_gpu = bench("cuda_check"), bench("runs_per_gpu")


@pytest.mark.parametrize("script", ["cuda_check", "runs_per_gpu"])
def test_without_cuda_each_script_says_one_line_and_does_nothing(script: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench(script).main(["--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1 and "no CUDA device" in out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tiny", [False, True])
def test_the_check_sweeps_every_model_and_lipschitz_method(tiny: bool, tmp_path: Path) -> None:
    specs = expand(cuda_check.sweep_document(steps=600, device="cuda", tiny=tiny), tmp_path)
    assert sorted((s.config.model, s.config.resolved().lipschitz) for s in specs) == [
        ("gan", None), ("vae", None), ("wgan", "clip"), ("wgan", "gp")]
    c = specs[0].config
    assert (c.device, c.steps, c.metrics_every) == ("cuda", 600, 300) and c.metric_samples >= 20
    assert (c.width, c.depth) == ((8, 1) if tiny else (64, 3))


def row(**changes: Any) -> dict[str, Any]:
    good = {"run": "d3-z100-gp-s0-abc", "status": "complete", "device": "cuda", "steps": 600, "train s": 10.0,
            "steps/s": 60.0, "FID": 23.6, "IS": 5.55, "figures": 5, "best.pt": True, "sample": "ok"}
    return {**good, **changes}


REPORT = {"exit": 0, "seconds": 60.0, "html": True, "pdf": False, "error": ""}


def test_a_run_that_went_all_the_way_has_no_problem() -> None:
    assert cuda_check.problems([row(), row(run="x")], REPORT, "cuda") == []
    assert cuda_check.problems([row(device="cuda")], REPORT, "cuda:1") == []


def test_every_finding_is_named_with_its_run() -> None:
    found = cuda_check.problems([row(status="failed", device="cpu", figures=0, FID=None),
                                 row(run="y", **{"best.pt": False}, sample="RuntimeError: boom")],
                                {**REPORT, "html": False, "exit": 1, "error": "error: no runs"}, "cuda")
    assert found == ["d3-z100-gp-s0-abc: status failed", "d3-z100-gp-s0-abc: trained on cpu",
                     "d3-z100-gp-s0-abc: no figures", "d3-z100-gp-s0-abc: no FID", "y: no best.pt",
                     "y: sample: RuntimeError: boom", "report: no HTML (error: no runs)"]


def test_the_table_shows_every_measurement() -> None:
    text = cuda_check.table([row(), row(run="other", FID=float("nan"), IS=None, **{"best.pt": False})],
                            {"seconds": 95.2, "executor": "16 run(s) at a time", "exit": 0}, REPORT)
    lines = text.splitlines()
    assert lines[0].split() == ["run", "status", "device", "steps", "train", "s", "steps/s", "FID", "IS", "figures",
                                "best.pt", "sample"]
    assert lines[2].split() == ["d3-z100-gp-s0-abc", "complete", "cuda", "600", "10.00", "60.00", "23.60", "5.55",
                                "5", "yes", "ok"]
    assert lines[3].split()[6:9] == ["nan", "-", "5"] and lines[3].split()[9] == "no"
    assert lines[4] == "sweep: 2 runs in 95 s wall (16 run(s) at a time), exit 0"
    assert lines[5] == "report: exit 0 in 60 s; HTML yes, PDF no (needs xelatex and pandoc)"


def test_runs_per_gpu_aggregates_from_first_start_to_last_finish() -> None:
    rows = [runs_per_gpu.summary(1, 500, [(0.0, 5.0)]), runs_per_gpu.summary(4, 500, [(0.0, 6.0), (0.5, 7.0),
                                                                                     (0.2, 6.9), (0.1, 6.5)])]
    assert rows[0]["aggregate_steps_per_s"] == 100.0
    assert rows[1]["aggregate_steps_per_s"] == round(2000 / 7.0, 1)
    assert rows[1]["per_run_steps_per_s"] == round((500 / 6 + 500 / 6.5 + 500 / 6.7 + 500 / 6.4) / 4, 1)
    assert runs_per_gpu.table(rows).splitlines()[2].split() == ["4", "285.7", "2.9x", "78.3", "-"]


def test_runs_per_gpu_reports_the_largest_gpu_memory_of_one_run() -> None:
    row = runs_per_gpu.summary(2, 500, [(0.0, 5.0, 212.4), (0.0, 5.0, 230.6)])
    assert row["gpu_mib_per_run"] == 230.6
    assert runs_per_gpu.table([row]).splitlines()[1].split()[-1] == "231"
    assert runs_per_gpu.summary(1, 500, [(0.0, 5.0, None)])["gpu_mib_per_run"] is None
