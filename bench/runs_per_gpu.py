"""Aggregate training throughput against the number of runs sharing one GPU. Skips itself without CUDA.

Run: `.venv/bin/python bench/runs_per_gpu.py [--counts 1,2,4,8,16] [--steps 500] [--device cuda:0]`. For each
count K, K separate processes each train the LSGAN (depth 3, z_dim 100, width 64, batch 64: the issue-17
measurement) with `Trainer.fit` on the same GPU, every process on cores / K torch threads as a sweep gives
them. Each process first trains a few warm-up steps (CUDA context, cuDNN's kernel choice), then all start
together; the aggregate is K x steps over the time from the first start to the last finish. The images are
random bytes: a step's cost does not depend on the pixels, and no data set needs to be on the machine.

It prints one table (runs per GPU, aggregate steps/s, speed-up over one run, steps/s of each run, the peak GPU
memory of one run) and writes ``<out>/runs_per_gpu.json`` after each count. The default runs per GPU of a sweep
(genmodels.runs.placement) rests on this.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any, Sequence

LSGAN = {"model": "gan", "depth": 3, "z_dim": 100, "width": 64, "batch_size": 64}
WARMUP_STEPS = 20


def train(device: str, steps: int, threads: int, start: Any, out: str) -> tuple[float, float, float | None]:
    """One process's run: warm up, wait for the others, then train `steps` steps; (start, end) wall times and the
    process's peak GPU memory in MiB (None on the CPU)."""
    import torch

    from genmodels.core.config import RunConfig
    from genmodels.data import ImageSet
    from genmodels.training.loop import Trainer

    torch.set_num_threads(threads)
    images = torch.randint(0, 256, (10_000, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    data = ImageSet(images, torch.zeros(10_000, dtype=torch.long))
    settings = {**LSGAN, "device": device, "progress": False, "sample_every": 0, "checkpoint_every": 0,
                "metric_samples": 0}
    Trainer(RunConfig(**settings, steps=WARMUP_STEPS), f"{out}/warmup-{os.getpid()}", train_data=data).fit(
        resume=False)
    start.wait()
    began = time.time()
    Trainer(RunConfig(**settings, steps=steps), f"{out}/run-{os.getpid()}", train_data=data).fit(resume=False)
    if not device.startswith("cuda"):
        return began, time.time(), None
    torch.cuda.synchronize(device)  # the last steps' kernels may still be queued
    return began, time.time(), torch.cuda.max_memory_allocated(device) / 2**20


def measure(count: int, device: str, steps: int, cores: int, out: str) -> dict[str, Any]:
    """`count` runs side by side on `device`: their aggregate and per-run steps/s."""
    context = mp.get_context("spawn")  # CUDA cannot be used in a forked child
    threads = max(1, cores // count)
    with context.Manager() as manager, context.Pool(count) as pool:
        start = manager.Barrier(count)
        spans = pool.starmap(train, [(device, steps, threads, start, out)] * count)
    return summary(count, steps, spans)


def summary(count: int, steps: int, spans: Sequence[tuple[float, ...]]) -> dict[str, Any]:
    """Aggregate steps/s (all runs' steps over first start to last finish), each run's own steps/s, and the
    largest peak GPU memory of one run (MiB; spans of (start, end, MiB), None where it is not known)."""
    wall = max(span[1] for span in spans) - min(span[0] for span in spans)
    memory = [span[2] for span in spans if len(span) > 2 and span[2] is not None]
    return {"runs": count, "steps_each": steps, "wall_s": round(wall, 2),
            "aggregate_steps_per_s": round(count * steps / wall, 1),
            "per_run_steps_per_s": round(sum(steps / (span[1] - span[0]) for span in spans) / count, 1),
            "gpu_mib_per_run": round(max(memory), 1) if memory else None}


def table(rows: list[dict[str, Any]]) -> str:
    """Runs per GPU, aggregate steps/s, speed-up over one run (where one run was measured), per-run steps/s."""
    one = next((r["aggregate_steps_per_s"] for r in rows if r["runs"] == 1), None)
    lines = ["runs per GPU  aggregate steps/s  x one run  steps/s per run  GPU MiB per run"]
    for r in rows:
        speedup = f"{r['aggregate_steps_per_s'] / one:.1f}x" if one else "-"
        memory = "-" if r.get("gpu_mib_per_run") is None else f"{r['gpu_mib_per_run']:.0f}"
        lines.append(f"{r['runs']:>12}  {r['aggregate_steps_per_s']:>17.1f}  {speedup:>9}  "
                     f"{r['per_run_steps_per_s']:>15.1f}  {memory:>15}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="1,2,4,8,16", help="runs per GPU to measure, comma-separated")
    parser.add_argument("--steps", type=int, default=500, help="timed steps of each run (default 500)")
    parser.add_argument("--device", default="cuda:0", help="cuda:N (default cuda:0); cpu only checks the script")
    parser.add_argument("--out", default="results/runs-per-gpu")
    args = parser.parse_args(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("runs_per_gpu: no CUDA device here, nothing to measure (it times runs sharing one GPU)")
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    where = torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda") else "CPU"
    print(f"torch {torch.__version__} on {where}, {cores} CPU cores")
    rows: list[dict[str, Any]] = []
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for count in (int(c) for c in args.counts.split(",")):
        rows.append(measure(count, args.device, args.steps, cores, args.out))
        print(json.dumps(rows[-1]), flush=True)
        # after every count, so a run stopped at a time limit (bench/gpu_session.py) keeps the counts it measured
        (Path(args.out) / "runs_per_gpu.json").write_text(json.dumps({"torch": torch.__version__, "device": where,
                                                                      "cores": cores, "rows": rows}, indent=1))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
