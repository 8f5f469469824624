"""A slice of configs/full.yaml trained as the study trains it (papermill, the runs packed side by side on one GPU,
then the report), with what each run costs beyond its training steps, the best FID and IS of each family, and
the projected time of the whole MNIST + Fashion-MNIST study on this machine.

Run: `.venv/bin/python bench/full_slice.py [--runs-per-gpu N] [--limit 300] [--report-time 60]`. It

1. writes ``<out>/full_slice.yaml``: configs/full.yaml's own MNIST runs (its defaults: width 64, batch 64, 10,000
   steps, quality on 10,000 samples every 2,000 steps) of every model at depth 3 with each of the file's z_dim,
   WGAN with clipping at depth 3, and every model at the file's shallowest and deepest depth (z_dim 100): 16 runs;
2. runs ``python -m genmodels sweep`` on it (N runs per GPU; the sweep's default without ``--runs-per-gpu``),
   stopped at ``--limit`` less ``--report-time`` seconds (the runs it finished stay finished);
3. builds the report from whatever finished: ``python -m genmodels report --allow-no-pdf``, in the time left;
4. reads every finished run: its training seconds (meta.json), its evaluation and figures (the rest of meta.json's
   ``this_invocation``), its kernel start and notebook (the executed notebook's papermill duration less that);
   of a run stopped at the limit, the steps and training seconds of its last checkpoint; the best FID and IS per
   family; and projects the time of configs/full.yaml's 115 MNIST and Fashion-MNIST runs (CIFAR-10 set aside
   offline) from them (`projection`, whose arithmetic it prints).

It writes ``<out>/full_slice.json`` after the sweep and again after the report, and exits 1 when a run did not
finish (the sweep stopped at its limit, or a run failed) or the report was not built. ``--device cpu --tiny`` trains
three width-8 runs of four steps (one per model) on the CPU instead: what the tests run to check the script.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from time_limit import Finished, run_limited

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT / "configs" / "full.yaml"
STUDY_DATASETS = ("mnist", "fashion-mnist")  # the study offline: CIFAR-10 cannot be downloaded there
TINY = {"width": 8, "batch_size": 16, "n_train": 256, "metric_samples": 20, "steps": 4, "metrics_every": 2,
        "checkpoint_every": 2, "sample_every": 2}
MIN_REPORT_S = 10  # less time than this left for the report: not started
COLUMNS = ("run", "model", "status", "steps", "train s", "steps/s", "eval+figures s", "kernel s", "total s", "FID",
           "IS")


# ------------------------------------------------------------------ what runs
def slice_document(full: dict[str, Any], device: str | None = None, tiny: bool = False) -> dict[str, Any]:
    """The slice's sweep: configs/full.yaml's defaults on MNIST, and its runs named in the module docstring (with
    `tiny`, one toy run per model at the shallowest depth and smallest z_dim instead)."""
    axes = full["grid"][0]  # the main grid: every model, dataset, depth and z_dim
    depths, z_dims, models = sorted(axes["depth"]), sorted(axes["z_dim"]), list(axes["model"])
    defaults = {**full["defaults"], "dataset": "mnist"}
    if device:
        defaults["device"] = device
    if tiny:
        defaults.update(TINY)
        grid: list[dict[str, Any]] = [{"model": models, "depth": depths[0], "z_dim": z_dims[0]}]
    else:
        grid = [{"model": models, "depth": 3, "z_dim": z_dims},
                {"model": "wgan", "depth": 3, "z_dim": 100, "lipschitz": "clip"},
                {"model": models, "depth": [depths[0], depths[-1]], "z_dim": 100}]
    return {"name": "full-slice", "description": "bench/full_slice.py: a packed slice of configs/full.yaml",
            "defaults": defaults, "grid": grid}


def cost_class(config: Any) -> str:
    """What a run's step costs depends on: its model, and for WGAN its Lipschitz method (clipping takes 5 critic
    steps per step, the penalty a double backward)."""
    c = config.resolved()
    return f"{c.model}-{c.lipschitz}" if c.lipschitz else c.model


def study_runs(full_file: Path = FULL, datasets: Sequence[str] = STUDY_DATASETS) -> dict[str, dict[str, int]]:
    """configs/full.yaml's runs on `datasets` by cost class: {class: {"runs": n, "steps": their steps in all}}."""
    import yaml

    from genmodels.runs.sweep import expand

    counts: dict[str, dict[str, int]] = {}
    for spec in expand(yaml.safe_load(full_file.read_text()), "results"):
        if spec.config.dataset in datasets:
            entry = counts.setdefault(cost_class(spec.config), {"runs": 0, "steps": 0})
            entry["runs"] += 1
            entry["steps"] += spec.config.resolved().total_steps
    return counts


# ------------------------------------------------------------------ what a run cost
def run_rows(sweep_file: Path, results: Path) -> list[dict[str, Any]]:
    """One row per run of the slice (`COLUMNS`, plus its cost class and when its notebook started). A run stopped
    at the time limit shows the steps and training seconds of its last checkpoint (it still measured its rate);
    a run finished by a later call (resumed) shows no overhead, since its notebook timed only that call."""
    from genmodels.core import store
    from genmodels.runs.results import results_frame

    rows = []
    for run in results_frame(results, sweep=sweep_file).to_dict("records"):
        run_dir = Path(run["run_dir"])
        meta = store.read_json(run_dir / store.META) or {}
        papermill = ((store.read_json(run_dir / store.EXECUTED) or {}).get("metadata") or {}).get("papermill") or {}
        train = _number(run.get("seconds"))
        steps = int(run["steps"]) if _number(run.get("steps")) is not None else None
        if run.get("status") != "complete":
            steps, train = checkpointed(run_dir)
        once = run.get("status") == "complete" and not meta.get("resumed_from_step")
        invocation = _number((meta.get("wall_seconds") or {}).get("this_invocation")) if once else None
        total = _number(papermill.get("duration")) if once else None
        rows.append({
            "run": run_dir.name, "model": run.get("model"), "status": run.get("status"), "steps": steps,
            "train s": train, "steps/s": steps / train if steps and train else None,
            "eval+figures s": invocation - train if invocation is not None and train is not None else None,
            "kernel s": total - invocation if total is not None and invocation is not None else None,
            "total s": total, "FID": _number(run.get("FID")), "IS": _number(run.get("IS")),
            "cost": (run["model"] + (f"-{run['lipschitz']}" if isinstance(run.get("lipschitz"), str) else "")),
            "started": _epoch(papermill.get("start_time"))})
    return rows


def checkpointed(run_dir: Path) -> tuple[int | None, float | None]:
    """(steps, training seconds) of an unfinished run's last checkpoint; (None, None) without a readable one."""
    from genmodels.core import store
    from genmodels.training import checkpoint

    if not (run_dir / store.CHECKPOINT).is_file():
        return None, None
    try:
        state = checkpoint.read(run_dir / store.CHECKPOINT, inside=run_dir)
    except (checkpoint.CheckpointError, OSError):
        return None, None
    return int(state["step"]) or None, _number(state.get("elapsed"))


def best_per_family(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per model: the lowest FID and the highest IS among its finished runs, each with the run."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = best.setdefault(row["model"], {"FID": None, "FID run": None, "IS": None, "IS run": None})
        if row["FID"] is not None and (entry["FID"] is None or row["FID"] < entry["FID"]):
            entry.update({"FID": row["FID"], "FID run": row["run"]})
        if row["IS"] is not None and (entry["IS"] is None or row["IS"] > entry["IS"]):
            entry.update({"IS": row["IS"], "IS run": row["run"]})
    return best


# ------------------------------------------------------------------ the study's time
def projection(rows: list[dict[str, Any]], study: dict[str, dict[str, int]], side_by_side: int,
               startup_s: float) -> dict[str, Any]:
    """The study's wall time on this machine, from the slice's runs (`rows` with "cost", "steps", "train s" and
    "total s"), trained `side_by_side` at a time as the slice was.

    Each cost class's runs take run slots: their steps at the slice's measured seconds per step (a slot's
    training time per step while `side_by_side` runs shared the GPU; from every run that trained, finished or
    stopped at a checkpoint), and each run its measured overhead (a finished run's notebook duration less its
    training: kernel start, evaluation, figures). The slots are filled `side_by_side` at a time, so the wall time
    is the slots' seconds over that, plus the sweep's start-up (once). The last wave's tail is not counted. A
    class the slice has no figure for takes all runs' figures, and says so."""
    timed = [r for r in rows if r.get("train s") and r.get("steps")]
    finished = [r for r in timed if r.get("total s")]
    if not finished or side_by_side < 1:
        return {"wall_s": None, "lines": ["no finished run to project from"]}
    classes, lines, slots = [], [], 0.0
    for name, want in sorted(study.items()):
        own_timed, own_finished = ([r for r in group if r["cost"] == name] for group in (timed, finished))
        per_step = _per_step(own_timed or timed)
        overhead = _overhead(own_finished or finished)
        seconds = want["steps"] * per_step + want["runs"] * overhead
        slots += seconds
        source = (f"rate of {len(own_timed) or f'all {len(timed)}'} run(s), overhead of "
                  f"{len(own_finished) or f'all {len(finished)}'} finished")
        classes.append({"class": name, "runs": want["runs"], "steps": want["steps"], "s_per_step": per_step,
                        "overhead_s": overhead, "slot_s": seconds, "timed_runs": len(own_timed),
                        "finished_runs": len(own_finished)})
        lines.append(f"{name}: {want['steps']:,} steps x {1000 * per_step:.2f} ms + {want['runs']} runs x "
                     f"{overhead:.1f} s = {seconds:,.0f} s of run slots ({source})")
    wall = slots / side_by_side + startup_s
    runs = sum(want["runs"] for want in study.values())
    lines.append(f"{runs} runs: {slots:,.0f} s of run slots / {side_by_side} side by side + {startup_s:.0f} s "
                 f"start-up = {wall:,.0f} s = {wall / 60:.1f} min")
    return {"classes": classes, "runs": runs, "slot_s": slots, "side_by_side": side_by_side, "startup_s": startup_s,
            "wall_s": wall, "wall_min": wall / 60, "lines": lines}


def _per_step(rows: list[dict[str, Any]]) -> float:
    """Slot seconds per training step of runs that trained."""
    return sum(r["train s"] for r in rows) / sum(r["steps"] for r in rows)


def _overhead(rows: list[dict[str, Any]]) -> float:
    """Mean seconds per finished run beyond its training."""
    return sum(r["total s"] - r["train s"] for r in rows) / len(rows)


def side_by_side(runs_per_gpu: int | None, runs: int, device: str) -> int:
    """How many of the slice's runs trained at once: the sweep's own rule (`default_jobs`), at most its runs."""
    from genmodels.runs.executors import default_jobs

    gpus = 1 if device.startswith("cuda") else 0
    return max(1, min(runs, default_jobs(gpus=gpus, runs_per_gpu=runs_per_gpu)[0]))


# ------------------------------------------------------------------ the run
def genmodels_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "genmodels", *args]


def child_env() -> dict[str, str]:
    """This environment with the project's lib/ first on PYTHONPATH, as bench/cuda_check.py runs the CLI."""
    path = os.pathsep.join(filter(None, [str(ROOT / "lib"), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def step_summary(done: Finished) -> dict[str, Any]:
    return {"status": done.status(), "exit": done.exit, "seconds": round(done.seconds, 1), "output": done.output}


def table(result: dict[str, Any]) -> str:
    """The runs, the best run of each family, and the projection's arithmetic, as plain text."""
    cells = [[_cell(row.get(c)) for c in COLUMNS] for row in result.get("runs", [])]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(COLUMNS)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    out = [line(list(COLUMNS)), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    for model, best in result.get("best", {}).items():
        out.append(f"best {model}: FID {_cell(best['FID'])} ({best['FID run'] or '-'}), "
                   f"IS {_cell(best['IS'])} ({best['IS run'] or '-'})")
    sweep, report = result.get("sweep", {}), result.get("report", {})
    out.append(f"sweep: {sweep.get('status', '-')} in {sweep.get('seconds', 0):.0f} s, "
               f"{result.get('side_by_side', '-')} runs side by side; report: {report.get('status', '-')}"
               + (f" in {report['seconds']:.0f} s" if "seconds" in report else ""))
    out += ["projection: " + text for text in (result.get("projection") or {}).get("lines", [])]
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if math.isfinite(value) else "nan"
    return "-" if value is None else str(value)


def _number(value: Any) -> float | None:
    """A finite number, else None (results_frame gives NaN for what a run did not record)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _epoch(stamp: Any) -> float | None:
    try:
        return datetime.fromisoformat(stamp).timestamp() if isinstance(stamp, str) else None
    except ValueError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="results/full-slice")
    parser.add_argument("--runs-per-gpu", type=int, help="runs side by side on the GPU (default: the sweep's)")
    parser.add_argument("--limit", type=float, default=300, help="seconds for the sweep and the report together")
    parser.add_argument("--report-time", type=float, default=60, help="seconds of --limit kept for the report")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu with --tiny")
    parser.add_argument("--tiny", action="store_true", help="three toy runs on the CPU (to check the script)")
    parser.add_argument("--log", help="where the sweep's and the report's output go (default <out>/full_slice.log)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    import torch
    import yaml

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("full_slice: no CUDA device here, nothing to measure (it trains a slice of the study on a GPU)")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sweep_file, results = out / "full_slice.yaml", out / "results"
    log = Path(args.log) if args.log else out / "full_slice.log"
    document = slice_document(yaml.safe_load(FULL.read_text()), args.device, args.tiny)
    sweep_file.write_text(yaml.safe_dump(document, sort_keys=False))
    cuda = args.device.startswith("cuda")
    flags = ["--runs-per-gpu", str(args.runs_per_gpu)] if args.runs_per_gpu and cuda else []
    where = torch.cuda.get_device_name(torch.device(args.device)) if cuda else "CPU"
    result: dict[str, Any] = {"torch": torch.__version__, "device": where, "sweep_file": document}
    sweep_started = time.time()
    done = run_limited(genmodels_argv("sweep", str(sweep_file), "--results", str(results), "--no-progress", *flags),
                       args.limit - args.report_time, log, child_env())
    result["sweep"] = step_summary(done)
    rows = run_rows(sweep_file, results)
    finished = [r for r in rows if r["status"] == "complete"]
    starts = [r["started"] for r in finished if r["started"]]
    result.update(runs=rows, best=best_per_family(finished), runs_per_gpu=args.runs_per_gpu,
                  side_by_side=side_by_side(args.runs_per_gpu, len(rows), args.device), study=study_runs())
    result["projection"] = projection(rows, result["study"], result["side_by_side"],
                                      min(starts) - sweep_started if starts else 0.0)
    (out / "full_slice.json").write_text(json.dumps(result, indent=1, default=str))
    left = args.limit - (time.perf_counter() - began)
    if not finished or left < MIN_REPORT_S:
        result["report"] = {"status": "skipped: " + ("no run finished" if not finished else "no time left")}
    else:
        done = run_limited(genmodels_argv("report", "--sweep", str(sweep_file), "--results", str(results), "--out",
                                          str(out / "report"), "--allow-no-pdf"), left, log, child_env())
        result["report"] = {**step_summary(done), "html": (out / "report" / "report.html").is_file()}
    (out / "full_slice.json").write_text(json.dumps(result, indent=1, default=str))
    print(f"torch {torch.__version__} on {where}")
    print(table(result))
    return 0 if result["report"].get("exit") == 0 and len(finished) == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
