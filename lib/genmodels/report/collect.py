"""Which runs the report shows: a sweep's runs read from ``results/``, and the selections every question
shares (the main grid, the headline configuration, the long runs).

The study design lives here, once: `HEADLINE` is the configuration the report puts first, and each model-
specific study (the KL sweep, the discriminator-output collapse study, the Lipschitz comparison) is found
through the registry as the model that owns the knob it varies (`study_model`), so no model name is written
out; each study's own selection is in its question's module (`genmodels.report.questions`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genmodels.core import store
from genmodels.core.config import DEFAULT_VARIANT, RunConfig
from genmodels.core.registry import MODEL_NAMES, model_specific_fields
from genmodels.runs.results import results_frame


@dataclass(frozen=True)
class Headline:
    """The configuration the report compares the models at first (the assignment's Results setting)."""

    dataset: str = "mnist"
    depth: int = 3
    z_dim: int = 100


HEADLINE = Headline()


def study_model(field: str) -> str:
    """The registered model that owns the knob `field` (kl_factor -> the VAE, d_output -> the LSGAN, lipschitz
    -> the WGAN): the model whose study varies it. The first owner where several share it."""
    owners = model_specific_fields(list(RunConfig.__dataclass_fields__)).get(field)
    if not owners:
        raise KeyError(f"no registered model owns {field!r}")
    return owners[0]


@dataclass(frozen=True)
class Study:
    """A sweep's runs as the report notebook uses them: every configuration, the finished ones, the data sets in
    sweep order and the base width most runs share (the architecture table is drawn at it)."""

    sweep: Path
    runs: pd.DataFrame
    done: pd.DataFrame
    datasets: list[str]
    width: int

    @classmethod
    def load(cls, sweep_file: str | os.PathLike[str], results_root: str | os.PathLike[str] = "results") -> "Study":
        runs = collect_runs(sweep_file, results_root)
        return cls(Path(sweep_file), runs, runs[runs.status == "complete"], list(dict.fromkeys(runs.dataset)),
                   int(runs.width.mode().iloc[0]))


def collect_runs(sweep_file: str | os.PathLike[str], results_root: str | os.PathLike[str] = "results") -> pd.DataFrame:
    """One row per configuration of the sweep: its resolved config, status, metrics, cost and data source
    (`genmodels.runs.results.results_frame`, which ``python -m genmodels results`` prints too), its `seconds`
    counted as the report counts a run's cost (`with_cost`)."""
    return with_cost(results_frame(results_root, sweep_file))


# ------------------------------------------------------------------ what a run cost
# The report counts a run's training cost (its `seconds`: every table, figure and equal-budget claim) in CPU time
# where it trained on the CPU: load on the machine (another sweep, more runs than cores) stretches wall-clock
# seconds, not the CPU time the steps took. A run on a GPU counts wall-clock seconds (its CPU only queues
# kernels), as does a run of an earlier version, which recorded no CPU time.
CPU_CLOCK, WALL_CLOCK = "CPU time", "wall-clock time"


def with_cost(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` with `seconds` the report's cost of each run (CPU-seconds of a CPU run that recorded them, else
    wall-clock seconds), the wall-clock seconds kept as `wall_seconds`, and each run's `clock`."""
    on_cpu = (runs["device"] == "cpu") & runs["cpu_seconds"].notna()
    return runs.assign(wall_seconds=runs["seconds"], seconds=runs["cpu_seconds"].where(on_cpu, runs["seconds"]),
                       clock=np.where(on_cpu, CPU_CLOCK, WALL_CLOCK))


def cost_clock(runs: pd.DataFrame) -> str:
    """What the finished runs' `seconds` count, in words: "CPU time", "wall-clock time", or both, saying which."""
    clocks = set(runs.loc[runs.status == "complete", "clock"]) if "clock" in runs else set()
    if clocks == {WALL_CLOCK}:
        return WALL_CLOCK
    if clocks <= {CPU_CLOCK}:
        return CPU_CLOCK
    return f"{CPU_CLOCK} on the CPU, {WALL_CLOCK} on the GPU"


def cost_unit(runs: pd.DataFrame) -> str:
    """The unit of the finished runs' `seconds`, for a label: "CPU-seconds", "wall-clock seconds", or both."""
    clock = cost_clock(runs)
    return {CPU_CLOCK: "CPU-seconds", WALL_CLOCK: "wall-clock seconds"}.get(clock, f"seconds ({clock})")


def curve_seconds(run: pd.Series, point: dict) -> float | None:
    """The training cost up to one point of a run's quality curve, on the clock its `seconds` count (None when
    the point does not hold it)."""
    value = point.get("train_cpu_seconds" if run.get("clock") == CPU_CLOCK else "train_seconds")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def finished(runs: pd.DataFrame) -> pd.DataFrame:
    """The complete runs with quality metrics: the ones a comparison can use."""
    return runs[(runs.status == "complete") & runs.FID.notna()]


def run_metrics(run: pd.Series) -> dict:
    """The run's metrics.json ({} when it has none, as in a hand-made table): the report's one reader of it."""
    if not isinstance(run.get("run_dir"), str):
        return {}
    return store.read_metrics(Path(run.run_dir))


# A run with more than this many times its model's median steps on its data set is a "long run": what the
# model reaches with a larger budget, shown apart so that the grid's runs are compared at their common budget.
LONG_RUN_FACTOR = 2.0


# the recipe every study compares under (the config's default); runs of the other recipe are compared only with
# each other and with this one, in the recipe paragraph of the Discussion
DEFAULT_RECIPE: str = RunConfig.__dataclass_fields__["recipe"].default


def default_recipe(runs: pd.DataFrame) -> pd.Series:
    return runs["recipe"] == DEFAULT_RECIPE


def _default_knobs(runs: pd.DataFrame) -> pd.Series:
    return (runs["variant"] == runs["model"].map(dict(DEFAULT_VARIANT))) & default_recipe(runs)


def is_long(runs: pd.DataFrame) -> pd.Series:
    """Whether each run trains far longer than its model's typical run on its data set."""
    typical = runs.groupby(["model", "dataset"]).steps.transform("median")
    return runs["steps"] > LONG_RUN_FACTOR * typical


def main_runs(runs: pd.DataFrame, all_seeds: bool = False) -> pd.DataFrame:
    """Runs with every model knob at its default and the default (tuned) recipe, at the grid's budget (long runs
    excluded): the depth x z_dim grid. Seed 0 only, unless `all_seeds`."""
    keep = _default_knobs(runs) & ~is_long(runs)
    return runs[keep] if all_seeds else runs[keep & (runs["seed"] == 0)]


def long_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs at default knobs with a budget of more than `LONG_RUN_FACTOR` times their model's median steps."""
    return runs[_default_knobs(runs) & is_long(runs)]


def representative(runs: pd.DataFrame, model: str, dataset: str = HEADLINE.dataset, depth: int = HEADLINE.depth,
                   z_dim: int = HEADLINE.z_dim) -> pd.Series | None:
    """The model's run at (depth, z_dim) when the sweep has it, else its finished main run nearest to it."""
    pick = main_runs(runs)
    pick = pick[(pick.model == model) & (pick.dataset == dataset)]
    exact = pick[(pick.depth == depth) & (pick.z_dim == z_dim)]
    if len(exact):
        return exact.iloc[0]
    done = pick[pick.status == "complete"]
    if done.empty:
        return None
    distance = (done.depth - depth).abs() * 1000 + (np.log2(done.z_dim) - np.log2(z_dim)).abs()
    return done.loc[distance.idxmin()]


def sweep_axes(grid: pd.DataFrame) -> tuple[int | None, list[int], int | None, list[int]]:
    """The two axes a sweep ran: (z_dim of the depth axis, its depths, depth of the z_dim axis, its z_dims).

    The depth axis is taken at the z_dim with the most depths, the z_dim axis at the depth with the most z_dims;
    an axis with a single value is returned empty.
    """
    if grid.empty:
        return None, [], None, []
    z_of_depths = int(grid.groupby("z_dim").depth.nunique().idxmax())
    depth_of_zs = int(grid.groupby("depth").z_dim.nunique().idxmax())
    depths = sorted(int(d) for d in grid[grid.z_dim == z_of_depths].depth.unique())
    zs = sorted(int(z) for z in grid[grid.depth == depth_of_zs].z_dim.unique())
    return z_of_depths, depths if len(depths) > 1 else [], depth_of_zs, zs if len(zs) > 1 else []


def headline_runs(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> pd.DataFrame:
    """Each model's most-repeated main configuration on `dataset` (the depth-3, z_dim-100 runs over seeds)."""
    grid = main_runs(runs, all_seeds=True)
    grid = grid[grid.dataset == dataset]
    picked = []
    for model in MODEL_NAMES:
        mine = grid[grid.model == model]
        if mine.empty:
            continue
        counts = mine.groupby(["depth", "z_dim"]).seed.nunique()
        depth, z = counts.idxmax()
        picked.append(mine[(mine.depth == depth) & (mine.z_dim == z)])
    return pd.concat(picked) if picked else grid.iloc[0:0]


def seed_spread(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> pd.DataFrame:
    """Per model, the headline configuration's FID and IS over seeds: median, min and max (numbers)."""
    rows = []
    for model, group in headline_runs(runs, dataset).groupby("model", sort=False):
        done = group[group.status == "complete"].dropna(subset=["FID"])
        row: dict[str, object] = {"model": model, "depth": int(group.depth.iloc[0]), "z_dim": int(group.z_dim.iloc[0]),
                                  "seeds": len(group), "finished": len(done)}
        for metric in ("FID", "IS"):
            values = done[metric]
            row.update({f"{metric}_median": values.median(), f"{metric}_min": values.min(),
                        f"{metric}_max": values.max()})
        row["seconds_median"] = done.seconds.median()
        rows.append(row)
    return pd.DataFrame(rows)
