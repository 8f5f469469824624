"""Quality per CPU-second: each model family under the seed-faithful and the tuned recipe, side by side.

Run: `.venv/bin/python bench/time_to_quality.py` (about 20 minutes on 2 cores with the defaults). For each
family (LSGAN, WGAN-GP, VAE) at depth 3, width 16, z_dim 100, every (recipe, seed) run trains on one thread, two
runs at a time (`--jobs`), on the MNIST training split this machine has, for the same number of real images
whatever the recipe, and measures this project's FID and Inception Score (genmodels.quality.metrics, on its own MNIST
classifier against the held-out reference) `--evals` times.
Training seconds exclude the evaluations. It prints, per family and recipe, the median and range over seeds
of the final FID and IS, and the time-to-quality ratio: the CPU-seconds the seed-faithful recipe needs to first reach
a target FID (by default the seed-faithful recipe's median final FID) divided by what the tuned recipe needs. The
curves go to `<out>/time_to_quality.png`, every number to `<out>/time_to_quality.json`.

`--variant NAME:field=value,...` adds a recipe of your own (config fields, e.g. `ema=0.99,augment=none`),
which is how the tuned recipe's ingredients were chosen: each one kept only where it measured better.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

FAMILIES = {"gan": "LSGAN", "wgan": "WGAN-GP", "vae": "VAE"}


def parse_variants(texts: list[str]) -> dict[str, dict[str, Any]]:
    variants: dict[str, dict[str, Any]] = {"seed": {"recipe": "seed"}, "tuned": {"recipe": "tuned"}}
    for text in texts:
        name, _, rest = text.partition(":")
        fields: dict[str, Any] = {}
        for item in filter(None, rest.split(";")):
            key, _, value = item.partition("=")
            try:
                fields[key] = json.loads(value)
            except json.JSONDecodeError:
                fields[key] = value
        variants[name] = fields
    return variants


def one_run(job: dict[str, Any]) -> dict[str, Any]:
    """Train one configuration on one thread; return its quality curve (step, seconds, fid, is)."""
    import torch

    torch.set_num_threads(1)
    from genmodels.core.config import RunConfig
    from genmodels.data import load_dataset
    from genmodels.quality.evaluation import Evaluator
    from genmodels.training.loop import Trainer

    config = RunConfig(**job["config"])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train = load_dataset(config.dataset, "train")
        test = load_dataset(config.dataset, "test")
    evaluator = Evaluator(job["results"], reference=False, log=lambda *_: None)
    trainer = Trainer(config, job["out"], train_data=train, hooks=[evaluator.hook(test)])
    started = time.perf_counter()
    trainer.fit(resume=False)
    curve = [{"step": 0, "seconds": 0.0, "fid": math.nan, "is": math.nan}]
    seconds = {row["step"]: row["seconds"] for row in trainer.history}
    for row in trainer.extra_state.get("quality", []):
        curve.append({"step": row["step"], "seconds": seconds[row["step"]], "fid": row["fid"], "is": row["is"]})
    return {**job, "curve": curve[1:], "wall": time.perf_counter() - started, "reference": test.meta.get("reference"),
            "reference_images": len(test)}


def first_reach(curve: list[dict[str, Any]], target: float) -> float:
    """CPU-seconds at which the FID curve first reaches `target` (linear between evaluations); inf if never."""
    previous = None
    for row in curve:
        if row["fid"] <= target:
            if previous is None or previous["fid"] == row["fid"]:
                return row["seconds"]
            t = (previous["fid"] - target) / (previous["fid"] - row["fid"])
            return previous["seconds"] + t * (row["seconds"] - previous["seconds"])
        previous = row
    return math.inf


def summarise(results: list[dict[str, Any]], variants: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for family in FAMILIES:
        runs = [r for r in results if r["family"] == family]
        if not runs:
            continue
        by_variant = {v: [r for r in runs if r["variant"] == v] for v in variants}
        seed_faithful_final = [r["curve"][-1]["fid"] for r in by_variant.get("seed", [])]
        target = statistics.median(seed_faithful_final) if seed_faithful_final else math.nan
        rows = {}
        for variant, rs in by_variant.items():
            if not rs:
                continue
            fids = [r["curve"][-1]["fid"] for r in rs]
            iss = [r["curve"][-1]["is"] for r in rs]
            best_is = [max(row["is"] for row in r["curve"]) for r in rs]
            reach = [first_reach(r["curve"], target) for r in rs]
            rows[variant] = {
                "fid_median": statistics.median(fids), "fid_range": [min(fids), max(fids)],
                "is_median": statistics.median(iss), "is_range": [min(iss), max(iss)],
                "best_is_median": statistics.median(best_is),
                "seconds_median": statistics.median(r["curve"][-1]["seconds"] for r in rs),
                "seconds_to_target_median": statistics.median(reach), "seeds": len(rs),
            }
        ratio = math.nan
        if "seed" in rows and "tuned" in rows and rows["tuned"]["seconds_to_target_median"] > 0:
            ratio = rows["seed"]["seconds_to_target_median"] / rows["tuned"]["seconds_to_target_median"]
        out[family] = {"target_fid": target, "rows": rows, "ratio_seed_over_tuned": ratio}
    return out


def plot(results: list[dict[str, Any]], variants: list[str], path: Path, depth: int = 3) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = [f for f in FAMILIES if any(r["family"] == f for r in results)]
    fig, axes = plt.subplots(2, len(families), figsize=(4.2 * len(families), 6.4), squeeze=False)
    colours = dict(zip(variants, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for col, family in enumerate(families):
        for row, (metric, label) in enumerate((("fid", "FID (lower is better)"), ("is", "Inception Score"))):
            ax = axes[row][col]
            for variant in variants:
                for i, r in enumerate(x for x in results if x["family"] == family and x["variant"] == variant):
                    ax.plot([p["seconds"] for p in r["curve"]], [p[metric] for p in r["curve"]], color=colours[variant],
                            alpha=0.8, lw=1.2, label=variant if i == 0 else None)
            ax.set_xlabel("training CPU-seconds (one thread)")
            ax.set_ylabel(label)
            if metric == "fid":
                ax.set_yscale("log")
                ax.set_title(f"{FAMILIES[family]}, depth {depth}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default="gan,wgan,vae")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variants", default="seed,tuned", help="which recipes to run (seed, tuned, --variant names)")
    parser.add_argument("--variant", action="append", default=[], help="NAME:field=value;field=value")
    parser.add_argument("--images", default="gan=96000,wgan=96000,vae=96000",
                        help="budget per family in real images seen (a WGAN counts every critic batch), the same for "
                             "every recipe, so that recipes with other batch sizes or critic steps spend similar time")
    parser.add_argument("--evals", type=int, default=8, help="quality evaluations per run, evenly spaced")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2000, help="generated images per evaluation")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side, one thread each")
    parser.add_argument("--out", default="results/bench")
    args = parser.parse_args()

    variants_all = parse_variants(args.variant)
    variants = args.variants.split(",")
    images = dict(item.split("=") for item in args.images.split(","))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from genmodels.core.config import RunConfig
    from genmodels.core.store import DEFAULT_ROOT
    from genmodels.quality.evaluation import Evaluator

    results_root = os.environ.get("GENMODELS_RESULTS", DEFAULT_ROOT)
    # the classifier is trained (or loaded) once, before the workers start

    Evaluator(results_root).classifier("mnist")

    jobs = []
    for family in args.families.split(","):
        for seed in map(int, args.seeds.split(",")):  # seeds outermost per family: recipes interleave
            for variant in variants:
                if family == "vae" and variant not in ("seed", "tuned"):
                    continue  # the ablations switch off adversarial ingredients (averaging, augmentation)
                fields = dict(variants_all[variant])
                if family == "vae":
                    keep = ("recipe", "lr", "kl_factor", "batch_size", "z_dim")
                    fields = {k: v for k, v in fields.items() if k in keep}
                config = {"model": family, "dataset": "mnist", "depth": args.depth, "z_dim": 100,
                          "width": args.width, "images": int(images[family]), "metric_samples": args.samples,
                          "seed": seed, "checkpoint_every": 0, "sample_every": 0, "progress": False, **fields}
                config["metrics_every"] = max(1, RunConfig(**config).total_steps // args.evals)
                jobs.append({"family": family, "variant": variant, "seed": seed, "config": config,
                             "results": results_root, "out": str(out / "runs" / f"{family}-{variant}-s{seed}")})
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for result in pool.map(one_run, jobs):
            last = result["curve"][-1]
            print(f"{result['family']:<5}{result['variant']:<14}seed {result['seed']}: FID {last['fid']:7.2f}  "
                  f"IS {last['is']:5.2f}  after {last['seconds']:6.1f} s of training", flush=True)
            results.append(result)
    summary = summarise(results, variants)
    print(f"\n{len(jobs)} runs, {args.jobs} at a time, one thread each; {time.perf_counter() - started:.0f} s wall; "
          f"reference: {results[0]['reference']} ({results[0]['reference_images']} images)")
    print(f"{'family':<9}{'recipe':<14}{'final FID median [range]':<28}{'final IS median [range]':<26}"
          f"{'s/run':>7}{'s to target':>13}")
    for family, entry in summary.items():
        for variant, row in entry["rows"].items():
            fid = f"{row['fid_median']:.1f} [{row['fid_range'][0]:.1f}, {row['fid_range'][1]:.1f}]"
            is_ = f"{row['is_median']:.2f} [{row['is_range'][0]:.2f}, {row['is_range'][1]:.2f}]"
            print(f"{FAMILIES[family]:<9}{variant:<14}{fid:<28}{is_:<26}{row['seconds_median']:7.0f}"
                  f"{row['seconds_to_target_median']:13.1f}")
        print(f"{'':<9}time to FID {entry['target_fid']:.1f} (seed recipe's median final): "
              f"seed / tuned = {entry['ratio_seed_over_tuned']:.2f}x")
    (out / "time_to_quality.json").write_text(json.dumps({"args": vars(args), "summary": summary,
                                                          "runs": results}, indent=1, default=str))
    plot(results, variants, out / "time_to_quality.png", args.depth)
    print(f"wrote {out / 'time_to_quality.json'} and {out / 'time_to_quality.png'}")


if __name__ == "__main__":
    main()
