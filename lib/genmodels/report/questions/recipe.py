"""What the training recipe changed: per model, one configuration trained under both recipes (`RecipeStudy`:
final FID, training time, and the CPU-seconds each recipe took to reach the assignment's recipe's FID), with
the paragraph and Conclusion sentence that state it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from genmodels.core.config import DEFAULT_VARIANT
from genmodels.report.collect import curve_seconds, finished, is_long, run_metrics
from genmodels.report.english import data_name, join, paragraph as lead, the
from genmodels.report.evidence import RunRefs, Spread, compare, lead_clause, no_longer


def quality_curve(run: pd.Series) -> list[dict]:
    """The run's FID measured during training: [{step, fid, train_seconds, ...}] (the `quality_curve` column
    where a table has it, else metrics.json)."""
    curve = run.get("quality_curve")
    if not isinstance(curve, list):
        curve = run_metrics(run).get("quality_curve") or []
    return [row for row in curve if isinstance(row.get("fid"), (int, float)) and "train_seconds" in row]


@dataclass(frozen=True, eq=False)
class RecipeStudy:
    """One configuration trained under both recipes: final FID, training time, and the seconds of training
    (`collect.curve_seconds`) each recipe's runs took to first reach `target` (the assignment's recipe's median
    final FID)."""

    model: str
    dataset: str
    depth: int
    z_dim: int
    arms: dict[str, pd.DataFrame]  # recipe -> finished runs
    target: float
    reach: dict[str, Spread] = field(default_factory=dict)  # recipe -> seconds to reach target (runs that did)


def recipe_studies(runs: pd.DataFrame) -> list[RecipeStudy]:
    """Per model, the configuration with the most runs under both recipes (knobs at their default, the grid's
    budget); [] when the sweep ran one recipe only."""
    done = finished(runs[~is_long(runs)])
    done = done[done.variant == done.model.map(dict(DEFAULT_VARIANT))]
    out = []
    for model, mine in done.groupby("model", sort=False):
        recipes = mine.groupby(["dataset", "depth", "z_dim"]).recipe.nunique()
        if recipes.empty or recipes.max() < 2:
            continue
        sizes = mine.groupby(["dataset", "depth", "z_dim"]).size()[recipes >= 2]
        dataset, depth, z = sizes.idxmax()
        config = mine[(mine.dataset == dataset) & (mine.depth == depth) & (mine.z_dim == z)]
        arms = {str(r): g for r, g in config.groupby("recipe")}
        target = Spread.of(arms["seed"], "FID").median if "seed" in arms else math.nan
        reach = {}
        for recipe, group in arms.items():
            times = []
            for _, run in group.iterrows():
                hit = next((curve_seconds(run, row) for row in quality_curve(run) if row["fid"] <= target), None)
                if hit is not None:
                    times.append(run.to_dict() | {"reach": float(hit)})
            if times:
                reach[recipe] = _reach_spread(times)
        out.append(RecipeStudy(str(model), str(dataset), int(depth), int(z), arms, target, reach))
    return out


def _reach_spread(rows: list[dict]) -> Spread:
    return Spread("seconds", tuple(r["reach"] for r in rows), tuple(str(r["label"]) for r in rows))


def paragraph(runs: pd.DataFrame, refs: RunRefs) -> str:
    """The recipes compared where the sweep trained a configuration under both; "" (no paragraph) where it did
    not: a question the sweep cannot answer is not asked (docs/recipes.md holds the side-by-side measurement)."""
    title = "What did the training recipe change?"
    studies = [s for s in recipe_studies(runs) if {"seed", "tuned"} <= set(s.arms)]
    if not studies:
        return ""
    sentences = []
    for s in studies:
        seed, tuned = s.arms["seed"], s.arms["tuned"]
        f_seed, f_tuned = Spread.of(seed, "FID"), Spread.of(tuned, "FID")
        comparison = compare(f_tuned, f_seed)
        better = "tuned" if f_tuned.better_than(f_seed) else "assignment's"
        claim = (f"For {the(s.model)} (depth {s.depth}, z_dim {s.z_dim}, {data_name(s.dataset)}) the {better} recipe gave "
                 f"the better samples" if not comparison.within_spread else
                 f"For {the(s.model)} (depth {s.depth}, z_dim {s.z_dim}, {data_name(s.dataset)}) the two recipes are tied within "
                 "the spread over seeds")
        text = (f"{claim}: FID {f_seed.text(refs, name=False)} with the assignment's recipe, "
                f"{f_tuned.text(refs, name=False)} with the tuned one, in {Spread.of(seed, 'seconds').median_text()} and "
                f"{Spread.of(tuned, 'seconds').median_text()} s of training (medians).")
        if "tuned" in s.reach and "seed" in s.reach and math.isfinite(s.target):
            r_seed, r_tuned = s.reach["seed"], s.reach["tuned"]

            def took(reach: Spread, arm: pd.DataFrame) -> str:
                reached = "" if reach.n == len(arm) else f", {reach.n} of {len(arm)} runs reached it"
                return f"a median of {reach.median_text()} s ({refs.cite(reach.labels)}{reached})"

            text += (f" To first reach FID {f_seed.number(s.target)} (the assignment's recipe's median) the tuned runs "
                     f"needed {took(r_tuned, tuned)}, those of the assignment's recipe {took(r_seed, seed)}"
                     + (f": {r_seed.median / r_tuned.median:.1f} times faster." if r_tuned.median > 0 else "."))
        elif "seed" in s.reach and "tuned" not in s.reach:
            text += f" The tuned runs never reached the assignment's recipe's median FID {f_seed.number(s.target)}."
        caveat = lead_clause(comparison)
        if caveat:
            text += f" Caveat: {caveat}."
        sentences.append(text)
    sentences.append("The tuned recipe changes learning rates, batch size, critic steps and adds an average of the "
                     "generator's weights at once (Training section), so the sweep does not say which ingredient "
                     "did what; the ablations of docs/recipes.md do.")
    return lead(title, sentences)


def takeaway(runs: pd.DataFrame) -> str:
    """The Conclusion's sentence on the recipes: the models the tuned recipe trains to clearly better samples, with
    the FIDs and the training time each recipe took (a ranking only where the tuned runs took no longer)."""
    better = []
    for s in recipe_studies(runs):
        if not {"seed", "tuned"} <= set(s.arms):
            continue
        f_seed, f_tuned = Spread.of(s.arms["seed"], "FID"), Spread.of(s.arms["tuned"], "FID")
        t_seed, t_tuned = Spread.of(s.arms["seed"], "seconds"), Spread.of(s.arms["tuned"], "seconds")
        if (f_tuned.better_than(f_seed) and compare(f_tuned, f_seed).within_spread is False
                and no_longer(t_tuned.median, t_seed.median)):
            better.append(f"{the(s.model)} (median FID {f_tuned.median_text()} against {f_seed.median_text()}, in "
                          f"{t_tuned.median_text()} against {t_seed.median_text()} s)")
    if not better:
        return ""
    return (f"In no more training time, the tuned recipe trains {join(better)} to clearly better samples than the "
            "assignment's.")
