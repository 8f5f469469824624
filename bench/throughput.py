"""Training throughput (images/s) per model, depth and precision, measured side by side in one process.

Run: `make bench` or `.venv/bin/python bench/throughput.py [--width 32] [--repeats 5]`. Each cell is the median
of `repeats` timed blocks of `steps` training steps after a warm-up, on synthetic data (throughput does not
depend on pixel values). Configurations are interleaved so that machine noise hits them alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from genmodels.core.config import RunConfig
from genmodels.data import ImageSet
from genmodels.training.batch_stream import BatchStream
from genmodels.models import AdversarialModel, build_model
from genmodels.training.loop import _autocast, adversarial_step, make_optimizers, vae_step


def make_step(config: RunConfig, data: ImageSet):  # type: ignore[no-untyped-def]
    c = config.resolved()
    model = build_model(c, 1)
    opts = make_optimizers(model, c)
    stream = BatchStream(data, c.batch_size, 0)
    autocast = lambda: _autocast(torch.device("cpu"), c.precision)
    if isinstance(model, AdversarialModel):
        return lambda: adversarial_step(model, opts, stream, autocast, c.n_critic or 1), stream
    return lambda: vae_step(model, opts, stream, autocast), stream


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depths", default="1,3,5")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precisions", default="fp32,bf16")
    args = parser.parse_args()
    data = ImageSet(torch.randint(0, 256, (4096, 1, 32, 32), dtype=torch.uint8), torch.zeros(4096, dtype=torch.long))
    cells = {}
    for model in ("vae", "gan", "wgan"):
        for depth in map(int, args.depths.split(",")):
            for precision in args.precisions.split(","):
                config = RunConfig(model=model, depth=depth, width=args.width, precision=precision)
                step, stream = make_step(config, data)
                step()  # warm-up
                cells[(model, depth, precision)] = (step, stream, [])
    for _ in range(args.repeats):
        for step, stream, times in cells.values():
            before, start = stream.images_seen, time.perf_counter()
            for _ in range(args.steps):
                step()
            times.append((stream.images_seen - before) / (time.perf_counter() - start))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, width {args.width}, batch 64, "
          f"median of {args.repeats} x {args.steps} steps (real images per second; WGAN counts critic batches)")
    print(f"{'model':<6}{'depth':>6}" + "".join(f"{p:>10}" for p in args.precisions.split(",")) + f"{'ratio':>8}")
    for model in ("vae", "gan", "wgan"):
        for depth in map(int, args.depths.split(",")):
            medians = [statistics.median(cells[(model, depth, p)][2]) for p in args.precisions.split(",")]
            ratio = f"{medians[1] / medians[0]:8.2f}" if len(medians) > 1 else ""
            print(f"{model:<6}{depth:>6}" + "".join(f"{m:10.0f}" for m in medians) + ratio)


if __name__ == "__main__":
    main()
