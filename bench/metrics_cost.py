"""Cost of one quality evaluation, for planning a sweep's metric budget.

For N generated samples (default 1000, 2000, 5000), the median of 3 repeats of:
- generate: N samples from a freshly initialised generator (`--model`, `--depth`, `--width`, `--z-dim`);
- hook: FID + KID + IS against the reference (what `QualityHook` does every `metrics_every` steps);
- final: the same plus precision/recall/density/coverage (what `Evaluator.final` does once per run).
The one-time set-up (reference features of the test split) is timed separately.

Timing depends on the classifier's architecture, not on its weights, so an untrained classifier is used
when none is cached under `--results` (the output says which). Usage:

    .venv/bin/python bench/metrics_cost.py [--sizes 1000 2000 5000] [--repeats 3] [--results results]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

os.environ.setdefault("GENMODELS_OFFLINE", "1")

from genmodels.quality.classifier import FeatureClassifier, classifier_dir, get_classifier, load_metadata  # noqa: E402
from genmodels.core.config import RunConfig  # noqa: E402
from genmodels.core.store import DEFAULT_ROOT  # noqa: E402
from genmodels.data import DataError, load_dataset  # noqa: E402
from genmodels.training.generate import sample  # noqa: E402
from genmodels.quality.metrics import QualityScorer  # noqa: E402
from genmodels.models import build_model  # noqa: E402


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--results", default=DEFAULT_ROOT)
    parser.add_argument("--model", default="gan")
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--z-dim", type=int, default=100)
    args = parser.parse_args()

    if load_metadata(args.dataset, args.results) is not None:
        classifier = get_classifier(args.dataset, args.results, log=None)
        which = f"cached classifier {classifier_dir(args.dataset, args.results)}"
    else:
        classifier = FeatureClassifier().eval()
        which = "untrained classifier (same architecture, same cost)"
    try:
        real = load_dataset(args.dataset, "test").images
        reference = f"{args.dataset} test split"
    except DataError:
        real = torch.randint(0, 256, (10_000, 1, 32, 32), dtype=torch.uint8)
        reference = "random uint8 images (test split not found)"

    config = RunConfig(model=args.model, dataset=args.dataset, depth=args.depth, width=args.width, z_dim=args.z_dim)
    model = build_model(config, real.shape[1]).eval()

    setup, scorer = median_time(lambda: QualityScorer(classifier, real), 1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {which}")
    print(f"reference: {reference}, {len(real)} images; set-up (reference features, once per process): {setup:.2f} s")
    print(f"generator: {args.model} depth {args.depth} width {args.width} z {args.z_dim}; median of {args.repeats}\n")
    header = f"{'N':>6} | {'generate s':>10} | {'hook s (FID+KID+IS)':>19} | {'final s (+P/R)':>14} | {'total hook s':>12}"
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        gen, fake = median_time(lambda: sample(model, n, args.z_dim, seed=0), args.repeats)
        hook, _ = median_time(lambda: scorer.score(fake, precision_recall_=False), args.repeats)
        final, _ = median_time(lambda: scorer.score(fake), args.repeats)
        print(f"{n:>6} | {gen:>10.2f} | {hook:>19.2f} | {final:>14.2f} | {gen + hook:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
