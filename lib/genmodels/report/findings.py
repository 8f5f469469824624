"""What the sweep measured, per question of the assignment, as plain data the Discussion's templates read: the
models at their headline configuration, each model along the depth and z_dim axes, the KL-factor sweep, the
discriminator-output collapse study, the Lipschitz comparison and the recipe comparison.

Nothing here writes prose; nothing in the prose computes a number. Each finding keeps the runs (labels) it rests
on, and a study the sweep did not run is `None` (or empty), so the text can say so in one line instead of
claiming anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from genmodels.core import store
from genmodels.core.config import DEPTHS
from genmodels.core.registry import MODEL_NAMES
from genmodels.runs.results import COLLAPSE_IS
from genmodels.report.collect import (HEADLINE, default_recipe, headline_runs, is_long, kl_labels, lipschitz_runs, long_runs,
                      main_runs, study_model, sweep_axes)
from genmodels.report.evidence import Comparison, Spread, compare

# A VAE's posterior has collapsed when its codes carry (almost) no information about the image: the KL term of
# the test images, in nats per image, is below this (a working MNIST VAE here holds tens of nats).
POSTERIOR_COLLAPSE_NATS = 1.0
# the latent sizes the assignment asks about (z_dim 2 vs 16 vs 100)
ASKED_Z_DIMS = (2, 16, 100)


def _finished(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[(runs.status == "complete") & runs.FID.notna()]


def run_metrics(run: pd.Series) -> dict:
    """The run's metrics.json ({} when it has none, as in a hand-made table)."""
    return store.read_json(Path(str(run.run_dir)) / store.METRICS) or {} if isinstance(run.get("run_dir"), str) else {}


def test_kl(run: pd.Series) -> float:
    """The KL term of the VAE's test reconstructions in nats per image (NaN where not measured): the `test_kl`
    column where a table has it, else the run's metrics.json (the results table does not list it)."""
    value = run.get("test_kl")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        value = (run_metrics(run).get("test_reconstruction") or {}).get("kl")
    return float(value) if isinstance(value, (int, float)) else math.nan


def quality_curve(run: pd.Series) -> list[dict]:
    """The run's FID measured during training: [{step, fid, train_seconds, ...}] (the `quality_curve` column
    where a table has it, else metrics.json)."""
    curve = run.get("quality_curve")
    if not isinstance(curve, list):
        curve = run_metrics(run).get("quality_curve") or []
    return [row for row in curve if isinstance(row.get("fid"), (int, float)) and "train_seconds" in row]


# ------------------------------------------------------------------ 1. the models at the headline configuration
@dataclass(frozen=True, eq=False)
class Contender:
    """A model's most-repeated main configuration on a data set, over its seeds."""

    model: str
    dataset: str
    depth: int
    z_dim: int
    runs: pd.DataFrame  # every run of the configuration, finished or not
    _spreads: dict[str, Spread] = field(default_factory=dict, repr=False)

    def spread(self, metric: str) -> Spread:
        if metric not in self._spreads:  # the paragraphs ask for the same few many times
            self._spreads[metric] = Spread.of(self.runs, metric)
        return self._spreads[metric]

    @property
    def name(self) -> str:
        return MODEL_NAMES[self.model]


def contenders(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> list[Contender]:
    """The models with at least one finished, scored run at their headline configuration, best median FID
    first (registry order among equals)."""
    out = []
    for model, group in headline_runs(runs, dataset).groupby("model", sort=False):
        c = Contender(model, dataset, int(group.depth.iloc[0]), int(group.z_dim.iloc[0]), group)
        if c.spread("FID").n:
            out.append(c)
    return sorted(out, key=lambda c: c.spread("FID").median)


def absent_models(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> dict[str, str]:
    """Registered models without a finished, scored main run on `dataset`, and why: "not in the sweep", or the
    statuses of its runs."""
    present = {c.model for c in contenders(runs, dataset)}
    grid = main_runs(runs, all_seeds=True)
    out = {}
    for model in MODEL_NAMES:
        if model in present:
            continue
        mine = grid[(grid.model == model) & (grid.dataset == dataset)]
        out[model] = ("not in the sweep" if mine.empty else
                      ", ".join(f"{n} {s}" for s, n in mine.status.value_counts().items()) + " runs")
    return out


@dataclass(frozen=True, eq=False)
class LongRun:
    """A run with a few times the grid's budget beside the same configuration and seed at the grid's budget."""

    model: str
    long: pd.Series
    short: pd.Series | None


def long_run_pairs(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> list[LongRun]:
    grid = main_runs(runs, all_seeds=True)
    out = []
    for _, run in _finished(long_runs(runs)).iterrows():
        if run.dataset != dataset:
            continue
        same = _finished(grid[(grid.model == run.model) & (grid.dataset == run.dataset) & (grid.depth == run.depth)
                              & (grid.z_dim == run.z_dim) & (grid.seed == run.seed)])
        out.append(LongRun(run.model, run, same.iloc[0] if len(same) else None))
    return out


# ------------------------------------------------------------------ 2, 3. depth and z_dim
@dataclass(frozen=True, eq=False)
class Axis:
    """One model along one axis of the grid (depth at a fixed z_dim, or z_dim at a fixed depth): FID per value
    (all seeds where a point has several), the steps each point trained, and what the sweep left out."""

    model: str
    dataset: str
    name: str  # "depth" or "z_dim"
    fixed_name: str
    fixed: int
    points: dict[int, Spread]  # value -> FID over its finished runs
    recall: dict[int, Spread]
    steps: dict[int, int]
    collapsed: tuple[int, ...]  # values whose (median) run collapsed (IS < COLLAPSE_IS)
    unfinished: dict[int, str]  # value -> status of a run that did not finish
    not_run: tuple[int, ...]  # values the assignment asks about that the sweep did not run
    noise: Spread | None  # the model's headline FID over seeds: how much a single seed can move

    def name_of(self) -> str:
        return MODEL_NAMES[self.model]

    @property
    def ranked(self) -> list[int]:
        return sorted(self.points, key=lambda v: self.points[v].median)

    @property
    def best(self) -> int:
        return self.ranked[0]

    def noise_width(self) -> float | None:
        return self.noise.width if self.noise is not None else None

    def versus(self, value: int, other: int) -> Comparison:
        """FID at `value` against FID at `other`, single points judged by the headline's spread over seeds."""
        return compare(self.points[value], self.points[other], self.noise_width())

    @property
    def clear(self) -> bool:
        """The best value's lead over the runner-up exceeds the spread over seeds, and not every point collapsed:
        only then does the Discussion explain the best value."""
        return self.versus(self.ranked[0], self.ranked[1]).within_spread is False and not self.all_collapsed

    @property
    def all_collapsed(self) -> bool:
        return set(self.collapsed) == set(self.points)

    @property
    def shape(self) -> str:
        """ "falls" (FID improves along the axis), "rises" (worsens), "interior" (best inside) or "mixed"."""
        values = sorted(self.points)
        fids = [self.points[v].median for v in values]
        if all(a > b for a, b in zip(fids, fids[1:])):
            return "falls"
        if all(a < b for a, b in zip(fids, fids[1:])):
            return "rises"
        if self.best not in (values[0], values[-1]):
            return "interior"
        return "mixed"

    @property
    def span(self) -> float:
        """Worst minus best median FID along the axis: how much the axis moves the model."""
        medians = [p.median for p in self.points.values()]
        return max(medians) - min(medians)


def axis(runs: pd.DataFrame, model: str, dataset: str, name: str) -> Axis | None:
    """The model's depth axis (name="depth") or z_dim axis (name="z_dim") on `dataset`; None where the sweep ran
    the model at a single value of it."""
    grid = main_runs(runs, all_seeds=True)
    grid = grid[(grid.model == model) & (grid.dataset == dataset)]
    if grid.empty:
        return None
    z_of_depths, depths, depth_of_zs, zs = sweep_axes(grid)
    if name == "depth":
        fixed_name, fixed, values, asked = "z_dim", z_of_depths, depths, tuple(DEPTHS)
    else:
        fixed_name, fixed, values, asked = "depth", depth_of_zs, zs, ASKED_Z_DIMS
    line = grid[grid[fixed_name] == fixed]
    points, recall, steps, collapsed, unfinished = {}, {}, {}, [], {}
    for value in values:
        at = line[line[name] == value]
        fid = Spread.of(at, "FID")
        if fid.n == 0:
            unfinished[value] = ", ".join(sorted(set(at.status)))
            continue
        points[value] = fid
        recall[value] = Spread.of(at, "recall")
        steps[value] = int(_finished(at).steps.median())
        if _finished(at).IS.median() < COLLAPSE_IS:
            collapsed.append(value)
    if len(points) < 2:
        return None
    head = headline_runs(runs, dataset)
    head = Spread.of(head[head.model == model], "FID")
    noise = head if head.n >= 2 else None
    not_run = tuple(v for v in asked if v not in values)
    return Axis(model, dataset, name, fixed_name, int(fixed), points, recall, steps, tuple(collapsed), unfinished,
                not_run, noise)


# ------------------------------------------------------------------ 4. the KL factor
@dataclass(frozen=True, eq=False)
class KLPoint:
    factor: float
    run: pd.Series
    kl_nats: float

    def spread(self, metric: str) -> Spread:
        return Spread.of(self.run.to_frame().T, metric)

    @property
    def collapsed(self) -> bool:
        """The posterior carries (almost) nothing about the image."""
        return math.isfinite(self.kl_nats) and self.kl_nats < POSTERIOR_COLLAPSE_NATS


@dataclass(frozen=True, eq=False)
class KLStudy:
    model: str
    depth: int
    z_dim: int
    points: list[KLPoint]  # by factor

    @property
    def best_fid(self) -> KLPoint:
        return min(self.points, key=lambda p: p.run.FID)

    @property
    def best_mse(self) -> KLPoint:
        return min(self.points, key=lambda p: p.run.test_mse)

    @property
    def first_collapse(self) -> KLPoint | None:
        return next((p for p in self.points if p.collapsed), None)

    @property
    def mse_rises(self) -> bool:
        """Reconstruction error grows with the factor (non-strictly) over the whole sweep."""
        mse = [p.run.test_mse for p in self.points]
        return all(a <= b for a, b in zip(mse, mse[1:]))


def kl_study(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> KLStudy | None:
    kl = _finished(runs[runs.label.isin(kl_labels(runs, dataset))])
    kl = kl[kl.test_mse.notna()].sort_values("kl_factor")
    if len(kl) < 2:
        return None
    points = [KLPoint(float(r.kl_factor), r, test_kl(r)) for _, r in kl.iterrows()]
    return KLStudy(str(kl.model.iloc[0]), int(kl.depth.iloc[0]), int(kl.z_dim.iloc[0]), points)


# ------------------------------------------------------------------ 5. stability
@dataclass(frozen=True, eq=False)
class OutputArm:
    """The LSGAN's runs over seeds with one discriminator output."""

    output: str
    runs: pd.DataFrame

    @property
    def finished(self) -> pd.DataFrame:
        return self.runs[(self.runs.status == "complete") & self.runs.IS.notna()]

    @property
    def collapsed(self) -> pd.DataFrame:
        return self.finished[self.finished.IS < COLLAPSE_IS]

    @property
    def rate(self) -> float:
        return len(self.collapsed) / len(self.finished) if len(self.finished) else math.nan


@dataclass(frozen=True, eq=False)
class CollapseStudy:
    model: str
    dataset: str
    depth: int
    z_dim: int
    arms: dict[str, OutputArm]

    @property
    def p_value(self) -> float:
        """Fisher's exact test (two-sided) of equal collapse rates between the two arms."""
        a, b = self.arms.values()
        return fisher_exact(len(a.collapsed), len(a.finished), len(b.collapsed), len(b.finished))


def fisher_exact(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test for k1 of n1 against k2 of n2: the probability, with the margins
    fixed, of a table as unlikely as or less likely than the one observed."""
    k, n = k1 + k2, n1 + n2
    if n == 0:
        return 1.0
    prob = lambda x: math.comb(n1, x) * math.comb(n2, k - x) / math.comb(n, k)  # noqa: E731
    observed = prob(k1)
    support = range(max(0, k - n2), min(k, n1) + 1)
    return min(1.0, sum(p for p in map(prob, support) if p <= observed * (1 + 1e-9)))


def collapse_study(runs: pd.DataFrame) -> CollapseStudy | None:
    """The configuration at which the owner of d_output ran both outputs with the most runs, at the grid's
    budget and the default recipe (`tables.collapse_table` shows it); None where no configuration has both."""
    gan = runs[(runs.model == study_model("d_output")) & ~is_long(runs) & default_recipe(runs)]
    outputs = gan.groupby(["dataset", "depth", "z_dim"])["d_output"].nunique()
    if outputs.empty or outputs.max() < 2:
        return None
    sizes = gan.groupby(["dataset", "depth", "z_dim"]).size()[outputs == 2]
    dataset, depth, z = sizes.idxmax()
    study = gan[(gan.dataset == dataset) & (gan.depth == depth) & (gan.z_dim == z)]
    arms = {str(o): OutputArm(str(o), g) for o, g in study.groupby("d_output")}
    return CollapseStudy(study_model("d_output"), str(dataset), int(depth), int(z), arms)


@dataclass(frozen=True, eq=False)
class LipschitzArm:
    method: str  # "gp" or "clip"
    runs: pd.DataFrame  # finished and scored

    def spread(self, metric: str) -> Spread:
        return Spread.of(self.runs, metric)

    @property
    def steps(self) -> int:
        return int(self.runs.steps.median())


def lipschitz_study(runs: pd.DataFrame) -> dict[str, LipschitzArm]:
    """The owner of `lipschitz` at the headline configuration, all seeds, per constraint ({} unless both ran)."""
    pick = _finished(lipschitz_runs(runs, seed=None))
    arms = {str(m): LipschitzArm(str(m), g) for m, g in pick.groupby("lipschitz")}
    return arms if len(arms) >= 2 else {}


# ------------------------------------------------------------------ 6. the training recipe
@dataclass(frozen=True, eq=False)
class RecipeStudy:
    """One configuration trained under both recipes: final FID, training time, and the CPU-seconds each
    recipe's runs took to first reach `target` (the seed-faithful recipe's median final FID)."""

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
    from genmodels.core.config import DEFAULT_VARIANT

    done = _finished(runs[~is_long(runs)])
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
                hit = next((row["train_seconds"] for row in quality_curve(run) if row["fid"] <= target), None)
                if hit is not None:
                    times.append(run.to_dict() | {"reach": float(hit)})
            if times:
                reach[recipe] = _reach_spread(times)
        out.append(RecipeStudy(str(model), str(dataset), int(depth), int(z), arms, target, reach))
    return out


def _reach_spread(rows: list[dict]) -> Spread:
    return Spread("reach", tuple(r["reach"] for r in rows), tuple(str(r["label"]) for r in rows))
