"""How far each trained-classifier bound of tests/quality/test_metrics.py lies from what classifiers actually give.

The metric-validation tests train the MNIST feature classifier on the machine that runs them, so a bound that
held by 0.001 on one machine can miss by 0.001 on another (it did: blur sigma 0.5 gave FID 4.686 against a bound
of 4.687). A classifier trained on another CPU is, in effect, one trained from another seed; so this trains it
with several seeds and reports, for every bounded statistic, its minimum, median and maximum over seeds and the
margin left to the test's bound. It also measures the split-half FID's own spread over random re-splits of the
reference (the estimator's noise, whatever the classifier).

    python bench/metric_margins.py --seeds 0 1 2 3           # the reference this machine has
    GENMODELS_IMPORT= GENMODELS_DATA=$(mktemp -d) python bench/metric_margins.py
                                 # as without ../shared: MNIST's held-out 1,000 images (a data root without the
                                 # official files, which ./data holds once any test has imported them)

The statistics are computed by tests/quality/metric_facts.py, the same code the tests assert on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lib"), str(ROOT / "tests" / "quality")]
os.environ.setdefault("GENMODELS_OFFLINE", "1")
if "GENMODELS_IMPORT" not in os.environ and (ROOT.parent / "shared" / "data").is_dir():
    os.environ["GENMODELS_IMPORT"] = str(ROOT.parent / "shared" / "data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--resplits", type=int, default=10, help="random re-splits for the split-half FID's spread")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from genmodels.data import load_dataset
    from genmodels.quality.classifier import DEFAULT_SETTINGS, train_classifier

    import metric_facts as facts

    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    print(f"reference: {test.meta.get('reference')} ({len(test)} images); {facts.half_size(len(test))} per half")
    rows: list[dict[str, float]] = []
    for seed in args.seeds:
        started = time.perf_counter()
        model, meta = train_classifier(train, test, replace(DEFAULT_SETTINGS["mnist"], seed=seed), log=lambda *a: None)
        model.meta = meta
        measured = facts.measure(model, test, args.resplits)
        rows.append(measured)
        print(f"seed {seed}: accuracy {meta['accuracy']:.4f}, {time.perf_counter() - started:.0f} s", flush=True)
    print(f"\n{'statistic':34} {'bound':>14} {'min':>9} {'median':>9} {'max':>9} {'margin':>9}")
    for name in rows[0]:
        values = [r[name] for r in rows]
        if isinstance(values[0], list):
            print(f"{name:34} " + "; ".join(" ".join(f"{v:.3f}" for v in seed) for seed in values))
            continue
        bound = facts.BOUNDS.get(name)
        if bound is None:
            print(f"{name:34} {'':>14} {min(values):9.4f} {statistics.median(values):9.4f} {max(values):9.4f}")
            continue
        op, limit = bound.resolve(len(test))
        margin = min(v - limit for v in values) if op == ">" else min(limit - v for v in values)
        print(f"{name:34} {op + ' ' + format(limit, '.4g'):>14} {min(values):9.4f} {statistics.median(values):9.4f} "
              f"{max(values):9.4f} {margin:9.4f}")
    if args.json:
        args.json.write_text(json.dumps({"reference_images": len(test), "seeds": args.seeds, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
