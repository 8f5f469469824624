"""LSGAN training steps per second on one GPU: eager, as a CUDA graph, and under bf16 autocast, side by side in one
process, with each arm's peak GPU memory. Skips itself without CUDA; ``--device cpu --tiny`` checks the script.

Run: `.venv/bin/python bench/cuda_graphs.py [--steps 500] [--arms trainer,trainer-bf16,step,graph,graph-bf16]`.
Every arm trains the network of bench/runs_per_gpu.py (LSGAN, depth 3, z_dim 100, width 64, batch 64, the tuned
recipe with its generator weight average) on random images, after `--warmup` steps of its own:

- ``trainer``: `Trainer.fit` as a run trains, fp32: the reference;
- ``trainer-bf16``: `Trainer.fit` with ``precision: bf16`` (the library's autocast option);
- ``step``: the library's own `adversarial_step` and weight-average update on a `Trainer`'s model, optimizers and
  data stream, in a plain loop that keeps no loss log: what the graph arms replay, run eagerly;
- ``graph``: that step captured once with ``torch.cuda.graph`` and replayed, each batch copied into the graph's
  input; ``graph-bf16``: the same under bf16 autocast (its weight-cast cache off, as capture requires).

Why a replica rather than `Trainer.fit` itself: as it stands the loop cannot be captured (its optimizers are not
capturable, the stream uploads a new order each epoch, the loss log reads the device every 100 steps), so the
graph arms make the Trainer's optimizers capturable and capture its step function; the weight average's decay
is fixed at its value at capture (0.999 after ~9,000 steps of a real run). ``step`` against ``trainer`` is what
the loop around the step costs; ``graph`` against ``step`` is what the graph saves.

It prints one table (arm, steps/s, ms per step, speed against ``trainer``, peak GPU MiB) and rewrites
``<out>/cuda_graphs.json`` after every arm, so a run stopped early keeps the arms it finished. An arm that
raises is a row with its error, and the next arm runs.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Sequence

LSGAN = {"model": "gan", "depth": 3, "z_dim": 100, "width": 64, "batch_size": 64}  # bench/runs_per_gpu.py's
TINY = {"model": "gan", "depth": 1, "z_dim": 8, "width": 8, "batch_size": 16}
QUIET = {"progress": False, "sample_every": 0, "checkpoint_every": 0, "metric_samples": 0}
ARMS = ("trainer", "trainer-bf16", "step", "graph", "graph-bf16")
GRAPH_ARMS = ("graph", "graph-bf16")


def settings(device: str, tiny: bool, out: Path) -> dict[str, Any]:
    """The RunConfig fields every arm trains with (all but steps and precision); the checkpoint `Trainer.fit`
    writes at its end goes to ``<out>/run``, each arm's over the last one's."""
    return {**(TINY if tiny else LSGAN), **QUIET, "device": device, "out_dir": str(out / "run")}


def random_images(n: int) -> Any:
    """`n` random 32x32 images: a step's cost does not depend on the pixels (as in bench/runs_per_gpu.py)."""
    import torch

    from genmodels.data import ImageSet

    images = torch.randint(0, 256, (n, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return ImageSet(images, torch.zeros(n, dtype=torch.long))


def trainer(fields: dict[str, Any], data: Any, steps: int, precision: str = "fp32") -> Any:
    from genmodels.core.config import RunConfig
    from genmodels.training.loop import Trainer

    return Trainer(RunConfig(**fields, steps=steps, precision=precision), train_data=data)


def time_trainer(fields: dict[str, Any], data: Any, steps: int, warmup: int, precision: str) -> float:
    """Seconds of `Trainer.fit`'s `steps` steps (its own `elapsed`, which waits for the device at each loss read;
    steps a multiple of 100 end on one), after a warm-up run of `warmup` steps."""
    trainer(fields, data, warmup, precision).fit(resume=False)
    run = trainer(fields, data, steps, precision)
    run.fit(resume=False)
    return run.elapsed


def one_step(run: Any, stream: Any, autocast: Callable[[], Any]) -> None:
    """The library's LSGAN step and weight-average update, as `Trainer.fit` does them, with no loss log."""
    from genmodels.training.loop import adversarial_step

    adversarial_step(run.model, run.optimizers, stream, autocast, run.config.n_critic or 1)
    if run.ema is not None:
        run.ema.update(run.model.generator)


class StaticBatch:
    """A stream whose every batch is one tensor: the captured graph's input, refilled before each replay."""

    def __init__(self, batch: Any) -> None:
        self.batch = batch

    def next(self) -> Any:
        return self.batch


def time_step(fields: dict[str, Any], data: Any, steps: int, warmup: int) -> float:
    """Seconds of `steps` eager replica steps (`one_step` on a Trainer's objects), after `warmup` of them."""
    run = trainer(fields, data, steps)
    for _ in range(warmup):
        one_step(run, run.stream, nullcontext)
    return timed(run.device, lambda: [one_step(run, run.stream, nullcontext) for _ in range(steps)])


def time_graph(fields: dict[str, Any], data: Any, steps: int, warmup: int, bf16: bool) -> float:
    """Seconds of `steps` replays of one captured replica step, after `warmup` eager steps on a side stream
    (what capture needs: the optimizers' state and the allocator's pools made before it)."""
    import torch

    run = trainer(fields, data, steps)
    for optimizer in run.optimizers.values():  # before their first step, so their step counts live on the GPU
        for group in optimizer.param_groups:
            group["capturable"] = True
    autocast = ((lambda: torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)) if bf16
                else nullcontext)
    static = StaticBatch(run.stream.next().clone())
    side = torch.cuda.Stream(run.device)
    side.wait_stream(torch.cuda.current_stream(run.device))
    with torch.cuda.stream(side):
        for _ in range(warmup):
            static.batch.copy_(run.stream.next())
            one_step(run, static, autocast)
    torch.cuda.current_stream(run.device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        one_step(run, static, autocast)

    def replay() -> None:
        for _ in range(steps):
            static.batch.copy_(run.stream.next())
            graph.replay()

    return timed(run.device, replay)


def timed(device: Any, work: Callable[[], Any]) -> float:
    import torch

    synchronize = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    synchronize()
    started = time.perf_counter()
    work()
    synchronize()
    return time.perf_counter() - started


def measure(arm: str, fields: dict[str, Any], data: Any, steps: int, warmup: int) -> dict[str, Any]:
    """One arm's row: steps/s and ms per step, and its peak GPU memory (MiB) where it ran on CUDA; or its error."""
    import torch

    cuda = fields["device"].startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(fields["device"])
    try:
        if arm.startswith("trainer"):
            seconds = time_trainer(fields, data, steps, warmup, "bf16" if arm.endswith("bf16") else "fp32")
        elif arm == "step":
            seconds = time_step(fields, data, steps, warmup)
        else:
            seconds = time_graph(fields, data, steps, warmup, bf16=arm.endswith("bf16"))
    except Exception as err:  # the arm's failure is its finding; the next arm still runs
        return {"arm": arm, "error": f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200] if str(err).strip() else ''}"}
    peak = torch.cuda.max_memory_allocated(fields["device"]) / 2**20 if cuda else None
    return {"arm": arm, "steps": steps, "seconds": round(seconds, 3), "steps_per_s": round(steps / seconds, 1),
            "ms_per_step": round(1000 * seconds / steps, 3), "peak_gpu_mib": None if peak is None else round(peak, 1)}


def table(rows: list[dict[str, Any]]) -> str:
    """Arm, steps/s, ms per step, speed against the ``trainer`` arm, peak GPU MiB; a failed arm shows its error."""
    base = next((r["steps_per_s"] for r in rows if r["arm"] == "trainer" and "steps_per_s" in r), None)
    lines = ["arm            steps/s  ms/step  x trainer  peak GPU MiB"]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['arm']:<13}  failed: {r['error']}")
            continue
        speed = f"{r['steps_per_s'] / base:.2f}x" if base else "-"
        peak = "-" if r["peak_gpu_mib"] is None else f"{r['peak_gpu_mib']:.0f}"
        lines.append(f"{r['arm']:<13}  {r['steps_per_s']:>7.1f}  {r['ms_per_step']:>7.2f}  {speed:>9}  {peak:>12}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, help="timed steps of each arm (default 500; 5 with --tiny)")
    parser.add_argument("--warmup", type=int, help="untimed steps before each arm (default 20; 2 with --tiny)")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    parser.add_argument("--device", default="cuda:0", help="cuda:N (default cuda:0); cpu only checks the script")
    parser.add_argument("--tiny", action="store_true", help="a width-8 network, a few steps (to check the script)")
    parser.add_argument("--out", default="results/cuda-graphs")
    args = parser.parse_args(argv)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        parser.error(f"unknown arm(s) {', '.join(unknown)}; choose from {', '.join(ARMS)}")
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("cuda_graphs: no CUDA device here, nothing to measure (it times the training step on a GPU)")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fields = settings(args.device, args.tiny, out)
    steps, warmup = args.steps or (5 if args.tiny else 500), args.warmup or (2 if args.tiny else 20)
    data = random_images(256 if args.tiny else 10_000)
    where = torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda") else "CPU"
    print(f"torch {torch.__version__} on {where}")
    result: dict[str, Any] = {"torch": torch.__version__, "device": where, "settings": fields, "rows": [],
                              "skipped": []}
    for arm in arms:
        if arm in GRAPH_ARMS and not args.device.startswith("cuda"):
            result["skipped"].append(f"{arm}: skipped (CUDA graphs need a CUDA device)")
            print(result["skipped"][-1], flush=True)
            continue
        result["rows"].append(measure(arm, fields, data, steps, warmup))
        print(json.dumps(result["rows"][-1]), flush=True)
        (out / "cuda_graphs.json").write_text(json.dumps(result, indent=1))
    (out / "cuda_graphs.json").write_text(json.dumps(result, indent=1))
    print(table(result["rows"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
