"""Two runs one after another on all threads, or side by side on one thread each: which finishes sooner here?

Run: `.venv/bin/python bench/parallel_runs.py [--steps 1000] [--repeats 3]`. The same pair of training runs
(LSGAN and VAE, depth 3, width 16, tuned recipe, MNIST, no metrics) is timed both ways, alternating, `--repeats`
times, in one invocation; it prints the median wall time of each way and their ratio. This is what the sweep's
default (`--jobs` = cores, one thread each) rests on.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def train_once(args: tuple[dict[str, Any], int]) -> float:
    import warnings

    import torch

    config_fields, threads = args
    torch.set_num_threads(threads)
    from genmodels.core.config import RunConfig
    from genmodels.data import load_dataset
    from genmodels.training.loop import Trainer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_dataset("mnist", "train")
    started = time.perf_counter()
    out = f"/tmp/genmodels-parallel-bench/{os.getpid()}-{config_fields['model']}"
    Trainer(RunConfig(**config_fields), out, train_data=data).fit(resume=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    pair = [{"model": model, "depth": 3, "width": 16, "steps": args.steps, "metric_samples": 0, "sample_every": 0,
             "checkpoint_every": 0, "progress": False} for model in ("gan", "vae")]
    times: dict[str, list[float]] = {"sequential": [], "side by side": []}
    with ProcessPoolExecutor(max_workers=2) as pool:
        pool.submit(time.sleep, 0).result()  # start the workers before timing
        for _ in range(args.repeats):
            started = time.perf_counter()
            for config in pair:  # one after another, each with every core's thread
                pool.submit(train_once, (config, cores)).result()
            times["sequential"].append(time.perf_counter() - started)
            started = time.perf_counter()
            list(pool.map(train_once, [(config, 1) for config in pair]))  # both at once, one thread each
            times["side by side"].append(time.perf_counter() - started)
    for way, values in times.items():
        print(f"{way:<14} median {statistics.median(values):6.1f} s  ({', '.join(f'{v:.1f}' for v in values)})")
    ratio = statistics.median(times["sequential"]) / statistics.median(times["side by side"])
    print(f"side by side, one thread each, finishes {ratio:.2f}x sooner than one after another on {cores} threads")


if __name__ == "__main__":
    main()
