"""Issue 23's device session checked without a GPU: bench/gpu_session.py (its parts, each under a time limit),
bench/full_slice.py (the packed slice of configs/full.yaml and the study's projection), bench/cuda_graphs.py
(eager, graph and bf16 arms), the wheels a device call carries, and the call docs/gpu.md gives.

What they decide on the CPU side is tested directly on made-up numbers and toy commands; the whole
``--device cpu --tiny`` session (every part through papermill, the report twice) is in the slow tier.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
import yaml

from genmodels.runs.sweep import expand

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def bench(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))  # gpu_session and full_slice import their siblings
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[spec.name] = module  # type: ignore[union-attr]  (dataclasses look their module up there)
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module
    finally:
        sys.path.remove(str(BENCH))


gpu_session, full_slice, cuda_graphs, time_limit = (bench(n) for n in ("gpu_session", "full_slice", "cuda_graphs",
                                                                        "time_limit"))
FULL = yaml.safe_load((ROOT / "configs" / "full.yaml").read_text())


# ------------------------------------------------------------------ the slice (part 4)
def test_the_slice_is_sixteen_of_the_full_studys_own_mnist_runs_at_their_full_length(tmp_path: Path) -> None:
    specs = expand(full_slice.slice_document(FULL, device="cuda"), tmp_path)
    assert len(specs) == 16
    kinds = sorted((s.config.model, s.config.depth, s.config.z_dim, s.config.resolved().lipschitz) for s in specs)
    at_depth_3 = [(m, 3, z, lip) for m, lip in (("gan", None), ("vae", None), ("wgan", "gp")) for z in (2, 16, 100)]
    ends = [(m, d, 100, lip) for m, lip in (("gan", None), ("vae", None), ("wgan", "gp")) for d in (1, 5)]
    assert kinds == sorted(at_depth_3 + ends + [("wgan", 3, 100, "clip")])
    assert {(s.config.dataset, s.config.steps, s.config.metric_samples, s.config.device) for s in specs} == {
        ("mnist", 10_000, 10_000, "cuda")}
    study = {s.config.config_hash() for s in expand(FULL, tmp_path)}
    assert {s.config.config_hash() for s in specs} <= study  # the study's own runs: its results, reusable


def test_the_tiny_slice_is_one_toy_run_per_model(tmp_path: Path) -> None:
    specs = expand(full_slice.slice_document(FULL, device="cpu", tiny=True), tmp_path)
    assert sorted(s.config.model for s in specs) == ["gan", "vae", "wgan"]
    assert {(s.config.width, s.config.steps, s.config.depth, s.config.device) for s in specs} == {(8, 4, 1, "cpu")}


def test_the_study_projected_is_the_115_mnist_and_fashion_runs_of_full_yaml() -> None:
    study = full_slice.study_runs()
    assert {k: v["runs"] for k, v in study.items()} == {"gan": 45, "vae": 38, "wgan-gp": 30, "wgan-clip": 2}
    assert all(v["steps"] == 10_000 * v["runs"] for v in study.values())


def run(cost: str, steps: int, train: float, total: float, **extra: Any) -> dict[str, Any]:
    return {"cost": cost, "steps": steps, "train s": train, "total s": total, **extra}


def test_the_projection_fills_run_slots_side_by_side_and_shows_its_arithmetic() -> None:
    rows = [run("vae", 10_000, 50.0, 80.0), run("vae", 10_000, 70.0, 90.0), run("gan", 10_000, 100.0, 130.0),
            run("wgan-gp", 3_000, 60.0, None)]  # stopped at its limit: its checkpoint's steps and seconds
    study = {"vae": {"runs": 4, "steps": 40_000}, "gan": {"runs": 2, "steps": 20_000},
             "wgan-gp": {"runs": 1, "steps": 10_000}, "wgan-clip": {"runs": 1, "steps": 10_000}}
    p = full_slice.projection(rows, study, side_by_side=2, startup_s=5.0)
    by = {c["class"]: c for c in p["classes"]}
    assert by["vae"]["s_per_step"] == pytest.approx(0.006) and by["vae"]["overhead_s"] == pytest.approx(25.0)
    assert by["vae"]["slot_s"] == pytest.approx(40_000 * 0.006 + 4 * 25.0)  # 340
    assert by["gan"]["slot_s"] == pytest.approx(20_000 * 0.01 + 2 * 30.0)  # 260
    # the unfinished WGAN-GP run gives its rate (20 ms a step); its overhead is the finished runs' mean (26.67 s)
    assert by["wgan-gp"]["slot_s"] == pytest.approx(10_000 * 0.02 + 80 / 3)
    # no clipping run trained: every run's rate (280 s over 33,000 steps) and the finished runs' overhead
    assert by["wgan-clip"]["timed_runs"] == 0
    assert by["wgan-clip"]["slot_s"] == pytest.approx(10_000 * 280 / 33_000 + 80 / 3)
    assert p["slot_s"] == pytest.approx(340 + 260 + 200 + 80 / 3 + 10_000 * 280 / 33_000 + 80 / 3)
    assert p["wall_s"] == pytest.approx(p["slot_s"] / 2 + 5.0) and p["runs"] == 8
    assert p["lines"][0] == ("gan: 20,000 steps x 10.00 ms + 2 runs x 30.0 s = 260 s of run slots (rate of 1 run(s), "
                             "overhead of 1 finished)")
    assert p["lines"][2].endswith("(rate of all 4 run(s), overhead of all 3 finished)")
    assert p["lines"][3].endswith("(rate of 1 run(s), overhead of all 3 finished)")
    assert p["lines"][-1] == (f"8 runs: {p['slot_s']:,.0f} s of run slots / 2 side by side + 5 s start-up = "
                              f"{p['wall_s']:,.0f} s = {p['wall_s'] / 60:.1f} min")


def test_no_finished_run_projects_nothing() -> None:
    p = full_slice.projection([run("vae", 10_000, 50.0, None)], {"vae": {"runs": 1, "steps": 10_000}}, 16, 0.0)
    assert p["wall_s"] is None and p["lines"] == ["no finished run to project from"]


def test_a_run_stopped_at_the_limit_gives_its_last_checkpoints_steps_and_seconds(tmp_path: Path) -> None:
    from genmodels.core.config import RunConfig
    from genmodels.training.loop import Trainer

    trainer = Trainer(RunConfig(model="gan", depth=1, z_dim=2, width=4, batch_size=8, steps=2, progress=False,
                                sample_every=0, checkpoint_every=0, metric_samples=0, device="cpu"),
                      tmp_path / "run", train_data=cuda_graphs.random_images(32))
    trainer.fit(resume=False)  # its last act: the checkpoint
    assert full_slice.checkpointed(tmp_path / "run") == (2, trainer.elapsed)
    assert full_slice.checkpointed(tmp_path / "none") == (None, None)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert full_slice.checkpointed(tmp_path / "bad") == (None, None)


def test_the_best_run_of_each_family() -> None:
    rows = [{"run": "a", "model": "vae", "FID": 3.0, "IS": 9.1}, {"run": "b", "model": "vae", "FID": 2.5, "IS": 8.0},
            {"run": "c", "model": "gan", "FID": None, "IS": None}]
    best = full_slice.best_per_family(rows)
    assert best["vae"] == {"FID": 2.5, "FID run": "b", "IS": 9.1, "IS run": "a"}
    assert best["gan"] == {"FID": None, "FID run": None, "IS": None, "IS run": None}


def test_the_slice_runs_as_many_side_by_side_as_asked_but_no_more_than_it_has() -> None:
    assert full_slice.side_by_side(32, 16, "cuda") == 16
    assert full_slice.side_by_side(8, 16, "cuda") == 8


# ------------------------------------------------------------------ the session: parts under time limits
def fake_part(name: str, code: str, limit: float, tmp_path: Path) -> Any:
    result = tmp_path / "work" / name / "result.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    return gpu_session.Part(name, lambda _: [sys.executable, "-S", "-c", code.replace("RESULT", str(result))], limit,
                            result, f"{name}.json")


def test_a_part_past_its_limit_is_recorded_with_what_it_wrote_and_the_next_part_runs(tmp_path: Path) -> None:
    slow = fake_part("slow", "import json, time; open('RESULT', 'w').write(json.dumps({'rows': [{'a': 1}]})); "
                             "print('half-way', flush=True); time.sleep(30)", 0.5, tmp_path)
    quick = fake_part("quick", "import json; open('RESULT', 'w').write(json.dumps({'rows': [{'b': 2}]}))", 20,
                      tmp_path)
    broken = fake_part("broken", "raise SystemExit(3)", 20, tmp_path)
    out = tmp_path / "out"
    session = gpu_session.run_session([slow, quick, broken], out, out / "session.log", {"started": "now"})
    parts = session["parts"]
    assert parts["slow"]["status"] == "timed out after 0 s" and parts["slow"]["seconds"] < 10
    assert parts["quick"]["status"] == "ok"
    assert parts["broken"]["status"] == "failed (exit 3), no result.json" and parts["broken"]["file"] is None
    assert json.loads((out / "slow.json").read_text()) == {"rows": [{"a": 1}]}  # what it wrote before its limit
    assert sorted(p.name for p in out.iterdir()) == ["quick.json", "session.json", "session.log", "session.md",
                                                     "slow.json"]
    md = (out / "session.md").read_text()
    assert "## slow: timed out after 0 s" in md and "| a |" in md and "| 1 |" in md and "| 2 |" in md
    assert "## broken: failed (exit 3), no result.json" in md and "no result written" in md
    assert "half-way" in (out / "session.log").read_text()
    assert json.loads((out / "session.json").read_text())["finished"]


def test_the_time_limit_stops_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    code = (f"import subprocess, sys; subprocess.Popen([sys.executable, '-S', '-c', "
            f"\"import time; time.sleep(0.6); open('{marker}', 'w')\"]); import time; time.sleep(30)")
    done = time_limit.run_limited([sys.executable, "-S", "-c", code], 0.2, tmp_path / "log", grace=0.1)
    assert done.timed_out and done.status() == "timed out after 0 s"
    time.sleep(0.7)
    assert not marker.exists()  # the child of the part was stopped with it


def test_part_4_packs_at_the_count_part_2_measured_best() -> None:
    rows = [{"runs": 1, "aggregate_steps_per_s": 90.0}, {"runs": 16, "aggregate_steps_per_s": 950.0},
            {"runs": 32, "aggregate_steps_per_s": 950.0}, {"runs": 8, "aggregate_steps_per_s": 700.0}]
    assert gpu_session.best_count(rows) == 16  # a tie goes to the fewer runs
    assert gpu_session.best_count([]) is None
    args = gpu_session.argparse.Namespace(tiny=False, limits={}, runs_per_gpu=None, parts=list(gpu_session.PARTS))
    todo = gpu_session.parts(args, Path("/w"), Path("/o/session.log"))
    assert [p.name for p in todo] == ["gpu-check", "runs-per-gpu", "full-slice", "cuda-graphs"]
    slice_argv = todo[2].argv({"best_runs_per_gpu": 16})
    assert slice_argv[slice_argv.index("--runs-per-gpu") + 1] == "16"
    assert "--runs-per-gpu" not in todo[2].argv({})  # nothing measured: the sweep's own default
    assert slice_argv[slice_argv.index("--limit") + 1] == str(gpu_session.LIMITS["full-slice"] - 10)
    assert "1,4,8,16,32" in todo[1].argv({})


def test_the_default_limits_fit_one_ten_minute_call_with_the_install() -> None:
    assert 480 <= sum(gpu_session.LIMITS.values()) <= 540


def test_bad_session_arguments_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, said in ((["--out", "x", "--parts", "gpu-check,nope"], "unknown part(s) nope"),
                       (["--out", "x", "--limits", "gpu-check=soon"], "expected PART=SECONDS"),
                       (["--out", "x", "--tiny"], "--tiny goes with --device cpu")):
        with pytest.raises(SystemExit):
            gpu_session.main(argv)
        assert said in capsys.readouterr().err


@pytest.mark.parametrize("module", ["gpu_session", "full_slice", "cuda_graphs"])
def test_without_cuda_each_new_script_says_one_line_and_does_nothing(module: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert {"gpu_session": gpu_session, "full_slice": full_slice, "cuda_graphs": cuda_graphs}[module].main(
        ["--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1 and "no CUDA device" in out
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ part 3's table
def test_the_graph_table_compares_each_arm_with_the_trainer() -> None:
    rows = [{"arm": "trainer", "steps_per_s": 100.0, "ms_per_step": 10.0, "peak_gpu_mib": 210.4},
            {"arm": "graph", "steps_per_s": 250.0, "ms_per_step": 4.0, "peak_gpu_mib": 300.0},
            {"arm": "graph-bf16", "error": "RuntimeError: capture failed"}]
    lines = cuda_graphs.table(rows).splitlines()
    assert lines[1].split() == ["trainer", "100.0", "10.00", "1.00x", "210"]
    assert lines[2].split() == ["graph", "250.0", "4.00", "2.50x", "300"]
    assert lines[3].split()[:2] == ["graph-bf16", "failed:"]


# ------------------------------------------------------------------ what a device call carries, and the call
def test_the_carried_wheels_are_the_packages_the_device_lacks_at_the_projects_pins() -> None:
    norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
    pins = dict(line.split("==") for line in (BENCH / "gpu_wheels.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    constraints = {norm(k): v.strip() for k, v in (line.split("==") for line in
                                                   (ROOT / "constraints.txt").read_text().splitlines() if "==" in line)}
    assert {norm(k): v for k, v in pins.items()} == {norm(k): constraints[norm(k)] for k in pins}
    missing_there = {"papermill", "ipykernel", "jupyter-client", "nbformat", "nbconvert", "dask", "distributed", "prdc",
                     "mlxtend", "latex2mathml"}
    assert missing_there <= {norm(k) for k in pins}
    assert not {"torch", "numpy", "pandas", "matplotlib", "jinja2", "pyyaml"} & {norm(k) for k in pins}


def test_the_device_call_in_the_docs_fits_the_tool_and_carries_what_the_preparation_makes() -> None:
    section = (ROOT / "docs" / "gpu.md").read_text().split("## The device script", 1)[1].split("\n## ", 1)[0]
    command = re.search(r"command: `([^`]+)`", section)
    carry = re.search(r"carry: `(\[[^`]+\])`", section)
    assert command and carry, "docs/gpu.md's device script section names its command and carry list"
    assert len(command.group(1)) <= 2000 and "bench/gpu_session.sh" in command.group(1)
    assert json.loads(carry.group(1)) == [".whl", ".gpu-data"]
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/.whl/" in ignored and "/.gpu-data/" in ignored  # a call carries only ignored paths
    prepare = (BENCH / "gpu_prepare.sh").read_text()
    assert "-d .whl" in prepare and ".gpu-data/MNIST/raw" in prepare and "--python-version 3.12" in prepare
    script = (BENCH / "gpu_session.sh").read_text()
    assert 'GENMODELS_IMPORT="$PWD/.gpu-data"' in script and "GENMODELS_OFFLINE=1" in script
    # the wheels put nbconvert's templates where only JUPYTER_PATH finds them (without it the report failed in a
    # device-like environment), and a python3 kernelspec that would start a bare `python`
    assert 'export JUPYTER_PATH="$SITE/share/jupyter"' in script and 'rm -rf "$SITE/share/jupyter/kernels"' in script


# ------------------------------------------------------------------ the whole session at toy size
@pytest.mark.slow  # seven papermill kernels, two reports and three short benchmarks: minutes on two busy cores
def test_the_whole_session_runs_at_toy_size_on_the_cpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = gpu_session.main(["--device", "cpu", "--tiny", "--out", str(out), "--work", str(tmp_path / "work")])
    assert code == 0, (out / "session.md").read_text() if (out / "session.md").exists() else capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["session.md", "session.json", "session.log", "gpu_check.json", "runs_per_gpu.json", "full_slice.json",
         "cuda_graphs.json", "report.html"])
    session = json.loads((out / "session.json").read_text())
    assert list(session["parts"]) == ["gpu-check", "runs-per-gpu", "full-slice", "cuda-graphs"]
    assert all(part["status"] == "ok" for part in session["parts"].values())
    # part 1 is `make gpu-check`'s whole path (bench/cuda_check.py): every model and Lipschitz method trained
    # through papermill, each run folder checked, its best weights sampled, the report built
    check = json.loads((out / "gpu_check.json").read_text())
    assert check["problems"] == [] and len(check["runs"]) == 4
    assert all(r["status"] == "complete" and r["sample"] == "ok" and r["best.pt"] for r in check["runs"])
    assert check["report"]["html"]
    sliced = json.loads((out / "full_slice.json").read_text())
    assert [r["status"] for r in sliced["runs"]] == ["complete"] * 3 and sliced["report"]["html"]
    assert sliced["projection"]["runs"] == 115 and sliced["projection"]["wall_s"] > 0
    assert set(sliced["best"]) == {"vae", "gan", "wgan"}
    arms = json.loads((out / "cuda_graphs.json").read_text())
    assert [r["arm"] for r in arms["rows"]] == ["trainer", "trainer-bf16", "step"] and len(arms["skipped"]) == 2
    md = (out / "session.md").read_text()
    assert "## full-slice: ok" in md and "projection: 115 runs:" in md and "graph: skipped" in md
