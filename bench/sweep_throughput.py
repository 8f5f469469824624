"""Wall time of one small sweep with each executor, side by side in one invocation: which should `make report` use?

Run: `.venv/bin/python bench/sweep_throughput.py [--repeats 2] [--steps 300]`. The same sweep (LSGAN, WGAN-GP
and VAE at depth 2, two seeds each: 6 runs, width 16, MNIST, quality metrics on 500 samples) is run from an
empty results folder by `python -m genmodels sweep` with

- local, 1 x 2: one run at a time with two torch threads (`--jobs 1 --threads 2`);
- local, 2 x 1: two runs side by side, one thread each (`--jobs 2 --threads 1`, the default here);
- dask, 2 x 1: a two-worker LocalCluster, one thread each (`--executor dask --workers 2`);

in turn, `--repeats` times, and prints the median wall time of each and its ratio to the slowest. The feature
classifier is trained once beforehand and shared, so every timing is the sweep's own work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

WAYS = {
    "local, 1 x 2 threads": ["--jobs", "1", "--threads", "2"],
    "local, 2 x 1 thread": ["--jobs", "2", "--threads", "1"],
    "dask, 2 workers x 1 thread": ["--executor", "dask", "--workers", "2", "--threads-per-worker", "1"],
}


def sweep_file(folder: Path, steps: int) -> Path:
    path = folder / "throughput.yaml"
    path.write_text(yaml.safe_dump({
        "name": "throughput",
        "defaults": {"dataset": "mnist", "depth": 2, "width": 16, "steps": steps, "metric_samples": 500,
                     "sample_every": 100, "checkpoint_every": 100},
        "grid": [{"model": ["gan", "wgan", "vae"], "seed": [0, 1]}],
    }))
    return path


def run(sweep: Path, results: Path, flags: list[str], env: dict[str, str]) -> float:
    shutil.rmtree(results, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "genmodels", "sweep", str(sweep), "--results", str(results),
                           "--no-progress", *flags], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or "6 done" not in done.stdout:
        raise SystemExit(f"sweep {flags} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the timings here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="genmodels-sweep-bench-"))
    env = {**os.environ, "GENMODELS_CLASSIFIERS": str(work / "classifiers")}
    sweep = sweep_file(work, args.steps)
    subprocess.run([sys.executable, "-c", "from genmodels.quality.classifier import get_classifier; get_classifier('mnist')"],
                   env=env, check=True, capture_output=True)
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    for repeat in range(args.repeats):
        for way, flags in WAYS.items():
            times[way].append(run(sweep, work / "results", flags, env))
            print(f"repeat {repeat + 1}: {way:<28} {times[way][-1]:6.1f} s", flush=True)
    medians = {way: statistics.median(values) for way, values in times.items()}
    slowest = max(medians.values())
    print(f"\n6 runs, {args.steps} steps each, {args.repeats} repeats; median wall time (speed-up over the slowest):")
    for way, median in medians.items():
        print(f"  {way:<28} {median:6.1f} s  ({slowest / median:.2f}x)  [{', '.join(f'{v:.1f}' for v in times[way])}]")
    if args.json:
        args.json.write_text(json.dumps({"steps": args.steps, "repeats": args.repeats, "seconds": times,
                                         "median": medians}, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
