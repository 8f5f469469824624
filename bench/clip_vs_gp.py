"""Weight clipping against the gradient penalty at equal training CPU-seconds: does clipping fail, or start late?

Run: `nice -n 5 .venv/bin/python bench/clip_vs_gp.py` (with the defaults about 6 minutes of CPU on each of 2
cores; 70 minutes of wall time on a 2-core machine loaded by other work).
The configuration is the default profile's WGAN headline (depth 3, z_dim 100, width 16, MNIST, tuned recipe,
one thread per run, two runs side by side). Clipping keeps the literature's RMSprop 5e-5 and 5 critic steps per
generator step, so a step of it costs more than a gradient-penalty step: the bench first times both side by side
(`--cost-steps`, twice), then trains the gradient penalty for `--gp-steps` and clipping for as many steps as
`--multiple` times the penalty's training seconds buy, over the same seeds, each with its quality curve.

It prints, with medians and ranges over seeds: the seconds per step of each and their ratio (what sets the
default profile's clipping budget), the penalty's FID at its last step, clipping's FID at the penalty's training
seconds, the seconds clipping needs to reach the penalty's median FID (inf: not within the budget) and the best
FID it reaches within `--multiple` times the penalty's seconds. Training seconds are the CPU-seconds of the training steps (`CpuClock`: evaluations left out, and
unaffected by other work on the machine); the wall seconds are kept beside them. Every
number goes to `<out>/clip_vs_gp.json`, the curves to `<out>/clip_vs_gp.png`.
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

from time_to_quality import first_reach

HEADLINE = {"model": "wgan", "dataset": "mnist", "depth": 3, "z_dim": 100, "width": 16, "checkpoint_every": 0,
            "sample_every": 0, "progress": False}
METHODS = {"gp": "gradient penalty", "clip": "weight clipping"}


def train(job: dict[str, Any]) -> dict[str, Any]:
    """Train one configuration on one thread; its CPU-seconds per step and its quality curve
    (step, CPU-seconds, wall seconds, FID, IS; empty when the config has no evaluations)."""
    import warnings

    import torch

    torch.set_num_threads(1)
    from genmodels.core.config import RunConfig
    from genmodels.data import load_dataset
    from genmodels.quality.evaluation import Evaluator
    from genmodels.training.loop import Trainer

    config = RunConfig(**job["config"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_data = load_dataset(config.dataset, "train")
        test = load_dataset(config.dataset, "test")
    quality = Evaluator(job["results"], reference=False, log=lambda *_: None).hook(test)
    trainer = Trainer(config, job["out"], train_data=train_data, hooks=[quality])
    trainer.fit(resume=False)  # its CPU clock counts the training steps only, evaluations left out
    curve = [{"step": row["step"], "seconds": row["train_cpu_seconds"], "wall_seconds": row["train_seconds"],
              "fid": row["fid"], "is": row["is"]} for row in trainer.extra_state.get("quality", [])]
    return {**job, "curve": curve, "cpu_per_step": trainer.cpu_elapsed / trainer.step,
            "wall_per_step": trainer.elapsed / trainer.step, "reference": test.meta.get("reference"),
            "reference_images": len(test)}


def fid_at(curve: list[dict[str, Any]], seconds: float) -> float:
    """The FID of the last evaluation at or before `seconds` of training (nan if none came that early).

    Not interpolated: an evaluation is a measurement, a value between two of them is not."""
    earlier = [row["fid"] for row in curve if row["seconds"] <= seconds]
    return earlier[-1] if earlier else math.nan


def spread(values: list[float]) -> dict[str, Any]:
    """Median and [min, max] over seeds; an unreached target (inf) stays inf, so the median says how many reached."""
    return {"median": statistics.median(values), "range": [min(values), max(values)], "values": values}


def summarise(costs: dict[str, list[float]], runs: list[dict[str, Any]], multiple: float) -> dict[str, Any]:
    """The comparison at equal training seconds, from the step costs and each run's quality curve."""
    gp = [r for r in runs if r["method"] == "gp"]
    clip = [r for r in runs if r["method"] == "clip"]
    gp_seconds = statistics.median(r["curve"][-1]["seconds"] for r in gp)
    target = statistics.median(r["curve"][-1]["fid"] for r in gp)
    budget = multiple * gp_seconds
    cost = {method: statistics.median(values) for method, values in costs.items()}
    in_runs = {method: statistics.median(r["cpu_per_step"] for r in rs) for method, rs in (("gp", gp), ("clip", clip))}
    return {
        "seconds_per_step": {**cost, "clip_over_gp": cost["clip"] / cost["gp"], "repeats": costs},
        "seconds_per_step_in_runs": {**in_runs, "clip_over_gp": in_runs["clip"] / in_runs["gp"]},
        "gp": {"final_fid": spread([r["curve"][-1]["fid"] for r in gp]),
               "final_is": spread([r["curve"][-1]["is"] for r in gp]),
               "seconds": spread([r["curve"][-1]["seconds"] for r in gp]), "steps": gp[0]["config"]["steps"]},
        "clip": {"fid_at_gp_seconds": spread([fid_at(r["curve"], gp_seconds) for r in clip]),
                 "seconds_to_gp_fid": spread([first_reach(r["curve"], target) for r in clip]),
                 "best_fid_within_budget": spread([min((row["fid"] for row in r["curve"] if row["seconds"] <= budget),
                                                       default=math.nan) for r in clip]),
                 "best_is_within_budget": spread([max((row["is"] for row in r["curve"] if row["seconds"] <= budget),
                                                      default=math.nan) for r in clip]),
                 "seconds": spread([r["curve"][-1]["seconds"] for r in clip]), "steps": clip[0]["config"]["steps"]},
        "target_fid": target, "gp_seconds": gp_seconds, "multiple": multiple, "budget_seconds": budget,
    }


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    colours = dict(zip(METHODS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, (metric, label) in zip(axes, (("fid", "FID (lower is better)"), ("is", "Inception Score"))):
        for method, name in METHODS.items():
            for i, r in enumerate(x for x in runs if x["method"] == method):
                ax.plot([p["seconds"] for p in r["curve"]], [p[metric] for p in r["curve"]], color=colours[method],
                        marker=".", lw=1.2, label=name if i == 0 else None)
        ax.set_xlabel("training CPU-seconds (one thread)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if metric == "fid":
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.suptitle("WGAN depth 3, z_dim 100, width 16: one curve per seed", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def print_summary(s: dict[str, Any]) -> None:
    def text(entry: dict[str, Any], fmt: str) -> str:
        return f"{entry['median']:{fmt}} [{entry['range'][0]:{fmt}}, {entry['range'][1]:{fmt}}]"

    cost = s["seconds_per_step"]
    print(f"CPU-seconds per step, timed side by side: clipping {cost['clip']:.4f}, gradient penalty {cost['gp']:.4f}: "
          f"clipping/GP = {cost['clip_over_gp']:.2f}")
    cost = s["seconds_per_step_in_runs"]
    print(f"the same over the quality runs: clipping {cost['clip']:.4f}, gradient penalty {cost['gp']:.4f}: "
          f"clipping/GP = {cost['clip_over_gp']:.2f}")
    print(f"gradient penalty, {s['gp']['steps']} steps: FID {text(s['gp']['final_fid'], '.1f')}, "
          f"IS {text(s['gp']['final_is'], '.2f')}, after {text(s['gp']['seconds'], '.0f')} s of training")
    clip = s["clip"]
    print(f"weight clipping, {clip['steps']} steps ({text(clip['seconds'], '.0f')} s of training):")
    print(f"  FID at the GP's {s['gp_seconds']:.0f} s: {text(clip['fid_at_gp_seconds'], '.1f')}")
    print(f"  seconds to the GP's median FID {s['target_fid']:.1f}: {text(clip['seconds_to_gp_fid'], '.0f')}")
    print(f"  best FID within {s['multiple']:g}x the GP's seconds ({s['budget_seconds']:.0f} s): "
          f"{text(clip['best_fid_within_budget'], '.1f')}, best IS {text(clip['best_is_within_budget'], '.2f')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--gp-steps", type=int, default=1000, help="the default profile's WGAN-GP headline budget")
    parser.add_argument("--multiple", type=float, default=3.0,
                        help="clipping trains for this many times the gradient penalty's training seconds")
    parser.add_argument("--evals", type=int, default=6, help="quality evaluations per clipping run")
    parser.add_argument("--gp-evals", type=int, default=4, help="quality evaluations per gradient-penalty run")
    parser.add_argument("--cost-steps", type=int, default=150,
                        help="gradient-penalty steps of the side-by-side timing (clipping: the same seconds)")
    parser.add_argument("--samples", type=int, default=2000, help="generated images per evaluation")
    parser.add_argument("--out", default="results/bench/clip-vs-gp")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_root = os.environ.get("GENMODELS_RESULTS", "results")
    from genmodels.quality.evaluation import Evaluator

    Evaluator(results_root).classifier("mnist")  # trained (or loaded) once, before the workers start
    started = time.perf_counter()
    costs: dict[str, list[float]] = {"gp": [], "clip": []}
    with ProcessPoolExecutor(max_workers=2) as pool:
        pool.submit(time.sleep, 0).result()  # start the workers before timing
        # a clipping step costs about 1.7 gradient-penalty steps: the pair runs side by side about as long
        for repeat in range(2):
            pair = [{"config": {**HEADLINE, "steps": args.cost_steps, "metric_samples": 0}, "results": results_root},
                    {"config": {**HEADLINE, "lipschitz": "clip", "steps": max(1, round(args.cost_steps / 1.7)),
                                "metric_samples": 0}, "results": results_root}]
            for job, method in zip(pair, ("gp", "clip")):
                job["out"] = str(out / "cost" / f"{method}-{repeat}")
            gp_run, clip_run = pool.map(train, pair)
            costs["gp"].append(gp_run["cpu_per_step"])
            costs["clip"].append(clip_run["cpu_per_step"])
        ratio = statistics.median(costs["clip"]) / statistics.median(costs["gp"])
        clip_steps = round(args.multiple * args.gp_steps / ratio)
        print(f"side by side: clipping costs {ratio:.2f}x a gradient-penalty step; clipping gets {clip_steps} steps",
              flush=True)
        jobs = []
        for method, steps, evals in (("clip", clip_steps, args.evals), ("gp", args.gp_steps, args.gp_evals)):
            for seed in map(int, args.seeds.split(",")):  # the long clipping runs first, so no core waits long
                config = {**HEADLINE, "steps": steps, "seed": seed, "metric_samples": args.samples,
                          "metrics_every": max(1, steps // evals), **({"lipschitz": "clip"} if method == "clip" else {})}
                jobs.append({"method": method, "seed": seed, "config": config, "results": results_root,
                             "out": str(out / "runs" / f"{method}-s{seed}")})
        runs = []
        for result in pool.map(train, jobs):
            last = result["curve"][-1]
            print(f"{METHODS[result['method']]:<17} seed {result['seed']}: FID {last['fid']:7.2f}  IS {last['is']:5.2f}"
                  f"  after {last['seconds']:6.1f} s of training ({result['config']['steps']} steps)", flush=True)
            runs.append(result)
    summary = summarise(costs, runs, args.multiple)
    print(f"\n{len(jobs) + 4} runs, 2 at a time, one thread each; {time.perf_counter() - started:.0f} s wall; "
          f"reference: {runs[0]['reference']} ({runs[0]['reference_images']} images)")
    print_summary(summary)
    (out / "clip_vs_gp.json").write_text(json.dumps({"args": vars(args), "summary": summary, "runs": runs},
                                                    indent=1, default=str))
    plot(runs, out / "clip_vs_gp.png")
    print(f"wrote {out / 'clip_vs_gp.json'} and {out / 'clip_vs_gp.png'}")


if __name__ == "__main__":
    main()
