"""The report's tables: readable metrics of any set of runs, and the tables shared by the Results (seed spread,
equal compute, long runs, the classifiers and the training budget); a study's own table is in its question's
module. Each returns a DataFrame; unfinished runs
show their status instead of numbers, so a missing run is never dropped silently.
"""

from __future__ import annotations

import math
from typing import Iterable

import pandas as pd

from genmodels.core.registry import MODEL_NAMES
from genmodels.runs.results import format_metric
from genmodels.report.collect import HEADLINE, long_runs, main_runs, seed_spread


def metric_table(runs: pd.DataFrame, columns: Iterable[str] = ("FID", "KID", "IS", "precision", "recall")) -> pd.DataFrame:
    """Readable metrics of the given runs; unfinished runs show their status instead of numbers."""
    out = []
    for _, r in runs.iterrows():
        row = {"model": MODEL_NAMES[r.model], "data": r.dataset, "depth": r.depth, "z": r.z_dim, "variant": r.variant}
        for col in columns:
            row[col] = format_metric(r.get(col), col) if r.status == "complete" else r.status
        row["train s"] = f"{r.seconds:.0f}" if r.status == "complete" else ""
        out.append(row)
    return pd.DataFrame(out)


def markdown(frame: pd.DataFrame, index: bool = False) -> str:
    return frame.to_markdown(index=index, disable_numparse=True)


def seed_spread_table(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> pd.DataFrame:
    """`seed_spread` for the report: median [min, max] over seeds."""
    out = []
    for _, r in seed_spread(runs, dataset).iterrows():
        cell = lambda m, f: "n/a" if not math.isfinite(r[f"{m}_median"]) else (  # noqa: E731
            f"{r[f'{m}_median']:{f}} [{r[f'{m}_min']:{f}}, {r[f'{m}_max']:{f}}]")
        out.append({"model": MODEL_NAMES[r.model], "depth": r.depth, "z_dim": r.z_dim,
                    "seeds (finished)": f"{r.seeds} ({r.finished})", "FID median [range]": cell("FID", ".1f"),
                    "IS median [range]": cell("IS", ".2f"),
                    "train s (median)": f"{r.seconds_median:.0f}" if math.isfinite(r.seconds_median) else "n/a"})
    return pd.DataFrame(out)


def equal_compute_table(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> pd.DataFrame:
    """Each model's best main run by FID, with its training seconds: what a minute of CPU buys."""
    rows = []
    for model in MODEL_NAMES:
        done = main_runs(runs)
        done = done[(done.model == model) & (done.dataset == dataset) & (done.status == "complete")]
        if done.empty or done.FID.isna().all():
            rows.append({"model": MODEL_NAMES[model], "best run": "none finished" if done.empty else "no quality metrics"})
            continue
        best = done.loc[done.FID.dropna().idxmin()]
        rows.append({"model": MODEL_NAMES[model], "best run": f"depth {best.depth}, z {best.z_dim}",
                     "FID": f"{best.FID:.2f}", "IS": f"{best.IS:.2f}", "recall": f"{best.recall:.3f}",
                     "train s": f"{best.seconds:.0f}", "median train s (all runs)": f"{done.seconds.median():.0f}",
                     "median FID (all runs)": f"{done.FID.median():.1f}"})
    return pd.DataFrame(rows)


def long_run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The long runs (`collect.long_runs`) beside the same configuration at the grid's budget, seed for seed."""
    rows = []
    grid = main_runs(runs, all_seeds=True)
    for _, run in long_runs(runs).iterrows():
        same = grid[(grid.model == run.model) & (grid.dataset == run.dataset) & (grid.depth == run.depth)
                    & (grid.z_dim == run.z_dim) & (grid.seed == run.seed) & (grid.status == "complete")]
        row = {"model": MODEL_NAMES[run.model], "data": run.dataset, "depth": run.depth, "z_dim": run.z_dim,
               "seed": run.seed, "steps": run.steps}
        if run.status != "complete":
            rows.append({**row, "FID": run.status})
            continue
        row |= {"train s": f"{run.seconds:.0f}", "FID": f"{run.FID:.2f}", "IS": f"{run.IS:.2f}"}
        if len(same):
            short = same.iloc[0]
            row |= {"at the grid's budget": f"{short.steps} steps, {short.seconds:.0f} s: FID {short.FID:.2f}, "
                                            f"IS {short.IS:.2f}"}
        rows.append(row)
    return pd.DataFrame(rows)


def classifier_table(done: pd.DataFrame) -> pd.DataFrame:
    """Per data set of the finished runs: its feature classifier (content hash, accuracy on the reference), the
    sample counts of every metric, and the reference images."""
    cls = done.dropna(subset=["classifier_hash"]).groupby("dataset").agg(
        classifier=("classifier_hash", "first"), accuracy=("classifier_accuracy", "first"),
        fake=("fake_samples", "first"), real=("real_samples", "first"), reference=("reference", "first")).reset_index()
    if len(cls):
        cls["accuracy"] = (100 * cls.accuracy).map("{:.2f} %".format)
        cls["classifier"] = cls.classifier.str[:8]
    return cls


def budget_table(done: pd.DataFrame) -> pd.DataFrame:
    """Per model, medians over its finished runs of steps, images seen and training seconds, and images/s."""
    budget = done.groupby("model").agg(runs=("label", "count"), steps=("steps", "median"), images=("images", "median"),
                                       seconds=("seconds", "median")).reset_index()
    budget["model"] = budget.model.map(MODEL_NAMES)
    budget["images/s"] = (budget.images / budget.seconds).round(0).astype(int)
    budget[["steps", "images"]] = budget[["steps", "images"]].astype(int)
    budget["seconds"] = budget.seconds.round(1)
    return budget


def unfinished_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Configurations of the sweep without a finished run, with their status and, for a failed or damaged run,
    what is wrong (its first error line; the file a damaged run lacks)."""
    unfinished = runs[runs.status != "complete"][["label", "status", "problem"]]
    return unfinished.assign(problem=unfinished.problem.fillna("")).rename(columns={"problem": "why"})


def recipes_used(runs: pd.DataFrame) -> str:
    """How many runs of the sweep used each recipe, in words ("9 runs tuned, 1 runs seed")."""
    return ", ".join(f"{n} runs {r}" for r, n in runs.recipe.value_counts().items())
