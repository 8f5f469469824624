"""The report: collect a sweep's runs from ``results/``, draw the comparison figures, write the Discussion
from the measured numbers, and turn ``report/report.ipynb`` into PDF (nbconvert + XeLaTeX) and HTML.

The report never trains. A configuration of the sweep without a finished run appears as "todo", "partial" or
"failed" in every table it would have been in, never silently dropped.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import plots
from .config import RunConfig
from .models import build_model, count_parameters
from .registry import DEFAULT_VARIANT, MODEL_NAMES, model_spec  # name -> "LSGAN", name -> its default variant label
from . import store
from .results import COLLAPSE_IS, format_metric, results_frame  # the report notebook reads R.COLLAPSE_IS

ROOT = Path(__file__).resolve().parents[2]
REPORT_NOTEBOOK = ROOT / "report" / "report.ipynb"


# ------------------------------------------------------------------ collecting runs
def collect_runs(sweep_file: str | os.PathLike[str], results_root: str | os.PathLike[str] = "results") -> pd.DataFrame:
    """One row per configuration of the sweep: its resolved config, status, metrics, cost and data source
    (`genmodels.results.results_frame`, which ``python -m genmodels results`` prints too)."""
    return results_frame(results_root, sweep_file)



def main_runs(runs: pd.DataFrame, all_seeds: bool = False) -> pd.DataFrame:
    """Runs with every model knob at its default and the default (tuned) recipe: the depth x z_dim grid.
    Seed 0 only, unless `all_seeds`."""
    keep = (runs["variant"] == runs["model"].map(dict(DEFAULT_VARIANT))) & (runs["recipe"] == "tuned")
    return runs[keep] if all_seeds else runs[keep & (runs["seed"] == 0)]


def representative(runs: pd.DataFrame, model: str, dataset: str = "mnist", depth: int = 3, z_dim: int = 100) -> pd.Series | None:
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


# ------------------------------------------------------------------ tables
def architecture_table(width: int, z_dim: int = 100, channels: int = 1) -> pd.DataFrame:
    """Parameter counts of each module per depth (at the report's width and z_dim)."""
    rows = []
    for depth in range(1, 6):
        row: dict[str, Any] = {"depth": depth}
        for model in MODEL_NAMES:
            m = build_model(RunConfig(model=model, depth=depth, z_dim=z_dim, width=width), channels)
            for attribute, part in model_spec(model).parts:
                row[f"{MODEL_NAMES[model]} {part}"] = count_parameters(getattr(m, attribute))
        rows.append(row)
    frame = pd.DataFrame(rows).set_index("depth")
    return frame.map(lambda n: f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.0f} k")


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


# ------------------------------------------------------------------ figures
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


def axis_montage(runs: pd.DataFrame, model: str, dataset: str, n: int = 16) -> plt.Figure | None:
    """Final samples along the axes the sweep ran: the depth axis (top row) and the z_dim axis (bottom row).

    Only configurations of the sweep are drawn (no empty "not in sweep" cells); an unfinished one shows its
    status. A sweep with a single configuration of the model draws that one.
    """
    grid = main_runs(runs)
    grid = grid[(grid.model == model) & (grid.dataset == dataset)]
    if grid.empty:
        return None
    z_of_depths, depths, depth_of_zs, zs = sweep_axes(grid)
    rows = [[(d, z_of_depths) for d in depths], [(depth_of_zs, z) for z in zs]]
    rows = [row for row in rows if row] or [[(int(grid.iloc[0].depth), int(grid.iloc[0].z_dim))]]
    cols = max(len(row) for row in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.45 * cols + 0.4, 2.0 * len(rows)), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(cols):
            ax = axes[i][j]
            ax.set_xticks([]), ax.set_yticks([])
            if j >= len(row):
                ax.set_axis_off()
                continue
            depth, z = row[j]
            cell = grid[(grid.depth == depth) & (grid.z_dim == z)].iloc[0]
            title = f"depth {depth}, z {z}"
            if cell.status != "complete":
                ax.text(0.5, 0.5, cell.status, ha="center", va="center", fontsize=8, color="C3")
            else:
                ax.imshow(_final_grid(Path(cell.run_dir), n), cmap="gray", interpolation="nearest")
                if isinstance(cell.FID, float) and math.isfinite(cell.FID):
                    title += f"\nFID {cell.FID:.1f}, IS {cell.IS:.1f}"
            ax.set_title(title, fontsize=7)
    fig.tight_layout()
    return fig


def axes_figure(runs: pd.DataFrame, dataset: str, metric: str = "FID") -> plt.Figure | None:
    """`metric` along the depth axis and along the z_dim axis, one line per model (seaborn); where a point was run
    with several seeds, the marker is their median and the bar their range."""
    grid = main_runs(runs, all_seeds=True)
    grid = grid[(grid.dataset == dataset) & (grid.status == "complete")].dropna(subset=[metric])
    panels = []
    for model in MODEL_NAMES:
        mine = grid[grid.model == model]
        z_of_depths, depths, depth_of_zs, zs = sweep_axes(mine)
        if depths:
            panels.append(("depth", model, mine[mine.z_dim == z_of_depths], f"z_dim {z_of_depths}"))
        if zs:
            panels.append(("z_dim", model, mine[mine.depth == depth_of_zs], f"depth {depth_of_zs}"))
    if not panels:
        return None
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for k, axis in enumerate(("depth", "z_dim")):
        ax = axes[k]
        frames = [frame.assign(line=f"{MODEL_NAMES[model]} ({fixed})") for kind, model, frame, fixed in panels
                  if kind == axis]
        if frames:
            # one line per model: the median over seeds, the band their range
            sns.lineplot(data=pd.concat(frames), x=axis, y=metric, hue="line", estimator="median", marker="o",
                         errorbar=lambda v: (v.min(), v.max()), err_style="bars", err_kws={"capsize": 3}, ax=ax)
            ax.legend(fontsize=7, title=None)
        else:
            ax.text(0.5, 0.5, f"no {axis} axis in this sweep", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(axis), ax.set_ylabel(metric), ax.grid(alpha=0.3)
        if axis == "z_dim":
            ax.set_xscale("log", base=2)
        if frames:
            values = sorted(pd.concat(frames)[axis].unique())
            ax.set_xticks(values, [str(v) for v in values])
        if metric == "FID":
            ax.set_yscale("log")
    fig.suptitle(f"{dataset}: {metric} along the sweep's axes", fontsize=9)
    fig.tight_layout()
    return fig


def missing_axes(runs: pd.DataFrame, dataset: str) -> str:
    """One line saying which axes the sweep did not run on `dataset` (empty when it ran both for every model)."""
    grid = main_runs(runs)
    grid = grid[grid.dataset == dataset]
    gaps = []
    for model in MODEL_NAMES:
        mine = grid[grid.model == model]
        if mine.empty:
            gaps.append(f"{MODEL_NAMES[model]}: no run")
            continue
        _, depths, _, zs = sweep_axes(mine)
        lacking = [name for name, values in (("depth", depths), ("z_dim", zs)) if not values]
        if lacking:
            gaps.append(f"{MODEL_NAMES[model]}: only " + ", ".join(
                f"depth {d}, z_dim {z}" for d, z in sorted(set(zip(mine.depth, mine.z_dim))))
                        + f" (no {' or '.join(lacking)} axis)")
    return ("Not in this sweep on " + dataset + ": " + "; ".join(gaps) + ".") if gaps else ""


def _final_grid(run_dir: Path, n: int = 16) -> np.ndarray:
    """The top-left sqrt(n) x sqrt(n) block of the run's last fixed-noise grid (8x8 of 34-pixel cells)."""
    last = store.sample_grids(run_dir)[-1]
    image = plt.imread(last)
    side = int(math.sqrt(n)) * 34 + 2
    return image[:side, :side]


def kl_sweep_figure(runs: pd.DataFrame, dataset: str = "mnist") -> plt.Figure | None:
    """Samples and reconstructions per KL factor, with FID and test MSE in the titles (seed Results)."""
    kl = runs[(runs.model == "vae") & (runs.dataset == dataset) & (runs.status == "complete")]
    kl = kl[kl.label.isin(_kl_labels(runs, dataset))].sort_values("kl_factor")
    if len(kl) < 2:
        return None
    fig, axes = plt.subplots(2, len(kl), figsize=(2.1 * len(kl), 4.6), squeeze=False)
    for j, (_, r) in enumerate(kl.iterrows()):
        axes[0][j].imshow(_final_grid(Path(r.run_dir)), cmap="gray")
        axes[0][j].set_title(f"kl={r.kl_factor:g}\nFID {r.FID:.1f}", fontsize=8)
        recon = Path(r.run_dir) / store.FIGURES / "reconstructions.png"
        if recon.is_file():
            axes[1][j].imshow(plt.imread(recon))
            axes[1][j].set_title(f"test MSE {r.test_mse:.3f}", fontsize=8)
        for ax in axes[:, j]:
            ax.set_axis_off()
    fig.tight_layout()
    return fig


def _kl_labels(runs: pd.DataFrame, dataset: str) -> list[str]:
    """The KL sweep: VAE runs that share depth and z_dim with more than one kl_factor."""
    vae = runs[(runs.model == "vae") & (runs.dataset == dataset)]
    groups = vae.groupby(["depth", "z_dim", "seed"])["kl_factor"].nunique()
    if groups.empty or groups.max() < 2:
        return []
    depth, z, seed = groups.idxmax()
    return vae[(vae.depth == depth) & (vae.z_dim == z) & (vae.seed == seed)].label.tolist()


def kl_table(runs: pd.DataFrame, dataset: str = "mnist") -> pd.DataFrame:
    kl = runs[runs.label.isin(_kl_labels(runs, dataset))].sort_values("kl_factor")
    return metric_table(kl, ("FID", "IS", "recall", "test_mse"))


def loss_curves(run: pd.Series) -> plt.Figure:
    history = pd.read_csv(Path(run.run_dir) / store.HISTORY)
    return plots.loss_curves(history, run.model, f"{MODEL_NAMES[run.model]}, {run.dataset}, depth {run.depth}, "
                                                 f"z_dim {run.z_dim}, {run.variant}")


def headline_runs(runs: pd.DataFrame, dataset: str = "mnist") -> pd.DataFrame:
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


def seed_spread(runs: pd.DataFrame, dataset: str = "mnist") -> pd.DataFrame:
    """Per model, the headline configuration's FID and IS over seeds: median, min and max (numbers)."""
    rows = []
    for model, group in headline_runs(runs, dataset).groupby("model", sort=False):
        done = group[group.status == "complete"].dropna(subset=["FID"])
        row: dict[str, Any] = {"model": model, "depth": int(group.depth.iloc[0]), "z_dim": int(group.z_dim.iloc[0]),
                               "seeds": len(group), "finished": len(done)}
        for metric in ("FID", "IS"):
            values = done[metric]
            row.update({f"{metric}_median": values.median(), f"{metric}_min": values.min(),
                        f"{metric}_max": values.max()})
        row["seconds_median"] = done.seconds.median()
        rows.append(row)
    return pd.DataFrame(rows)


def seed_spread_table(runs: pd.DataFrame, dataset: str = "mnist") -> pd.DataFrame:
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


def quality_time_figure(runs: pd.DataFrame, dataset: str = "mnist") -> plt.Figure | None:
    """FID and IS measured during training against CPU-seconds of training, for each model's headline runs
    (one line per seed), so the models are compared at equal compute rather than at equal steps."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    drawn = 0
    for _, run in headline_runs(runs, dataset).iterrows():
        if run.status != "complete":
            continue
        curve = (store.read_json(Path(run.run_dir) / store.METRICS) or {}).get("quality_curve") or []
        if len(curve) < 2 or "train_seconds" not in curve[0]:
            continue
        frame = pd.DataFrame(curve)
        colour = f"C{list(MODEL_NAMES).index(run.model)}"
        for ax, metric in zip(axes, ("fid", "is")):
            ax.plot(frame["train_seconds"], frame[metric], color=colour, alpha=0.8, marker="o", markersize=2,
                    label=f"{MODEL_NAMES[run.model]}" if run.seed == 0 else None)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    for ax, label in zip(axes, ("FID (log scale)", "Inception Score")):
        ax.set_xlabel("training seconds (one CPU thread)"), ax.set_ylabel(label), ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_yscale("log")
    fig.tight_layout()
    return fig


def collapse_table(runs: pd.DataFrame) -> pd.DataFrame:
    """GAN runs per discriminator output over seeds: how many collapsed (IS < COLLAPSE_IS)."""
    gan = runs[(runs.model == "gan")]
    outputs = gan.groupby(["dataset", "depth", "z_dim"])["d_output"].nunique()
    if outputs.empty or outputs.max() < 2:
        return pd.DataFrame()
    sizes = gan.groupby(["dataset", "depth", "z_dim"]).size()[outputs == 2]
    dataset, depth, z = sizes.idxmax()
    study = gan[(gan.dataset == dataset) & (gan.depth == depth) & (gan.z_dim == z)]
    rows = []
    for output, group in study.groupby("d_output"):
        done = group[(group.status == "complete") & group.collapsed.notna()]
        rows.append({"discriminator output": output, "runs": len(group), "finished": len(done),
                     "collapsed": int(done["collapsed"].astype(bool).sum()),
                     "median FID": f"{done.FID.median():.1f}" if len(done) else "n/a",
                     "median IS": f"{done.IS.median():.2f}" if len(done) else "n/a",
                     "seeds": ", ".join(str(s) for s in sorted(group.seed))})
    return pd.DataFrame(rows)


def equal_compute_table(runs: pd.DataFrame, dataset: str = "mnist") -> pd.DataFrame:
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


# ------------------------------------------------------------------ discussion
def discussion(runs: pd.DataFrame) -> list[str]:
    """Sentences stating what the measurements show, each with the numbers and run it rests on."""
    out: list[str] = []
    done = runs[runs.status == "complete"]
    missing = runs[runs.status != "complete"]
    if not missing.empty:
        out.append(f"{len(missing)} of {len(runs)} configurations have no finished run "
                   f"({', '.join(f'{n} {s}' for s, n in missing.status.value_counts().items())}); "
                   "they are marked in every table and excluded from the comparisons below.")
    if done.FID.isna().any():
        out.append(f"{int(done.FID.isna().sum())} finished runs have no quality metrics (no test split or "
                   "metric_samples 0); they are left out of the rankings.")
    for dataset in sorted(done.dataset.unique()):
        main = main_runs(done)
        main = main[main.dataset == dataset].dropna(subset=["FID"])
        if main.empty:
            continue
        out.extend(spread_sentences(runs, dataset))
        spread = seed_spread(runs, dataset)
        widths = {r.model: r.FID_max - r.FID_min for _, r in spread.iterrows() if r.finished >= 2}
        ranking = main.sort_values("FID")
        best = ranking.iloc[0]
        per_model = main.groupby("model").FID.min().sort_values()
        text = (f"On {dataset}, the lowest FID of the depth x z_dim grid is {best.FID:.2f}, by the "
                f"{MODEL_NAMES[best.model]} at depth {best.depth} and z_dim {best.z_dim} (run {best.label}).")
        if len(per_model) > 1:
            others = ", ".join(f"{MODEL_NAMES[m]} {v:.2f}" for m, v in per_model.iloc[1:].items())
            text += (f" The best run of each other model: {others}; the winner's margin over the runner-up is "
                     f"{per_model.iloc[1] - per_model.iloc[0]:.2f} FID.")
        out.append(text)
        for model, group in main.groupby("model"):
            # the depth axis at the z_dim with most depths, the z_dim axis at the depth with most z_dims
            z_axis = group.groupby("z_dim").depth.nunique().idxmax()
            depth_axis = group.groupby("depth").z_dim.nunique().idxmax()
            by_depth = group[group.z_dim == z_axis].groupby("depth").FID.median()
            by_z = group[group.depth == depth_axis].groupby("z_dim").FID.median()
            noise = _within_noise(by_depth, widths.get(model)) if len(by_depth) > 1 else ""
            if len(by_depth) > 1:
                out.append(f"{MODEL_NAMES[model]} on {dataset}, FID by depth at z_dim {z_axis}: "
                           + ", ".join(f"{v:.1f} at depth {d}" for d, v in by_depth.items())
                           + f" (best: depth {by_depth.idxmin()}{noise}).")
            if len(by_z) > 1:
                out.append(f"{MODEL_NAMES[model]} on {dataset}, FID by z_dim at depth {depth_axis}: "
                           + ", ".join(f"{v:.1f} at z_dim {z}" for z, v in by_z.items())
                           + f" (best: z_dim {by_z.idxmin()}{_within_noise(by_z, widths.get(model))}).")
    kl = runs[runs.label.isin(_kl_labels(runs, "mnist"))]
    kl = kl[(kl.status == "complete")].dropna(subset=["FID", "test_mse"]).sort_values("kl_factor")
    if len(kl) >= 2:
        lo, hi = kl.iloc[0], kl.iloc[-1]
        out.append(f"Raising the VAE's KL factor from {lo.kl_factor:g} to {hi.kl_factor:g} changed the test "
                   f"reconstruction MSE from {lo.test_mse:.4f} to {hi.test_mse:.4f} and the sample FID from "
                   f"{lo.FID:.2f} to {hi.FID:.2f}; the best FID of the KL sweep, {kl.FID.min():.2f}, is at "
                   f"kl={kl.loc[kl.FID.idxmin()].kl_factor:g}.")
    wgan = done[(done.model == "wgan") & (done.depth == 3) & (done.z_dim == 100) & (done.dataset == "mnist")]
    wgan = wgan.dropna(subset=["FID"])
    if set(wgan.lipschitz) >= {"gp", "clip"}:
        gp, clip = wgan[wgan.lipschitz == "gp"].iloc[0], wgan[wgan.lipschitz == "clip"].iloc[0]
        out.append(f"For the WGAN at depth 3, z_dim 100, the gradient penalty reached FID {gp.FID:.2f} after {gp.steps} "
                   f"steps ({gp.seconds:.0f} s of training) and weight clipping {clip.FID:.2f} after {clip.steps} "
                   f"steps ({clip.seconds:.0f} s).")
    collapse = collapse_table(runs)
    if not collapse.empty:
        parts = [f"{r['collapsed']} of {r['finished']} runs with a {r['discriminator output']} output"
                 for _, r in collapse.iterrows()]
        out.append(f"Collapse (IS < {COLLAPSE_IS:g}) of the least-squares GAN over seeds: " + "; ".join(parts) + ".")
    return out


def _within_noise(values: pd.Series, width: float | None) -> str:
    """A clause saying whether the best value's lead over the runner-up exceeds the spread over seeds."""
    if width is None or not math.isfinite(width) or len(values) < 2:
        return ""
    best, second = sorted(values)[:2]
    if second - best <= width:
        return (f"; its lead of {second - best:.1f} over the next is within the {width:.1f}-FID spread of the "
                "headline configuration over seeds")
    return f"; its lead of {second - best:.1f} exceeds the {width:.1f}-FID spread over seeds"


def spread_sentences(runs: pd.DataFrame, dataset: str = "mnist") -> list[str]:
    """The headline numbers with their spread over seeds, and which differences between models the spread hides."""
    spread = seed_spread(runs, dataset)
    spread = spread[spread.finished >= 2]
    if spread.empty:
        return []
    parts = [f"{MODEL_NAMES[r.model]} FID {r.FID_median:.1f} [{r.FID_min:.1f}, {r.FID_max:.1f}], "
             f"IS {r.IS_median:.2f} [{r.IS_min:.2f}, {r.IS_max:.2f}] ({r.finished} seeds)" for _, r in spread.iterrows()]
    out = [f"On {dataset}, over seeds at each model's headline configuration (median [min, max]): " + "; ".join(parts) + "."]
    rows = list(spread.itertuples())
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            overlap = a.FID_min <= b.FID_max and b.FID_min <= a.FID_max
            better, worse = (a, b) if a.FID_median <= b.FID_median else (b, a)
            verdict = ("their FID ranges overlap, so the difference is within the spread over seeds" if overlap
                       else "their FID ranges do not overlap")
            out.append(f"{MODEL_NAMES[better.model]} vs {MODEL_NAMES[worse.model]} on {dataset}: median FID "
                       f"{better.FID_median:.1f} vs {worse.FID_median:.1f}; {verdict}.")
    return out


# ------------------------------------------------------------------ building
class ReportError(RuntimeError):
    """The report notebook failed; the message names the error and the executed notebook to look at."""


@dataclass
class BuildResult:
    notebook: Path
    html: Path
    pdf: Path | None
    message: str


def build_report(sweep_file: str | os.PathLike[str], results_root: str | os.PathLike[str] = "results",
                 out_dir: str | os.PathLike[str] = "report") -> BuildResult:
    """Execute the report notebook over the results, then export HTML and (where TeX exists) PDF.

    The HTML has its formulas as MathML and loads nothing from the network (`genmodels.mathml`), so it reads
    the same offline; the PDF gets the notebook's LaTeX as it is."""
    import nbformat
    import papermill as pm
    from nbconvert import PDFExporter
    from traitlets.config import Config

    from .execute import IPCKernelManager, kernel_name
    from .mathml import OfflineHTMLExporter

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    executed = out / "report.executed.ipynb"
    try:
        pm.execute_notebook(str(REPORT_NOTEBOOK), str(executed), kernel_name=kernel_name(), progress_bar=False,
                            parameters={"sweep": str(Path(sweep_file).resolve()),
                                        "results_root": str(Path(results_root).resolve())},
                            cwd=str(out.resolve()), kernel_manager_class=IPCKernelManager)
    except pm.PapermillExecutionError as err:
        raise ReportError(f"the report notebook failed: {err.ename}: {err.evalue}; see {executed}") from None
    nb = nbformat.read(executed, as_version=4)
    config = Config()
    config.TemplateExporter.exclude_input = True
    config.TemplateExporter.exclude_input_prompt = True
    config.TemplateExporter.exclude_output_prompt = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove"}
    config.TagRemovePreprocessor.enabled = True
    html, _ = OfflineHTMLExporter(config=config).from_notebook_node(nb)  # MathML: renders offline
    html_path = out / "report.html"
    html_path.write_text(html)
    missing = [tool for tool in ("xelatex", "pandoc") if shutil.which(tool) is None]
    if missing:
        return BuildResult(executed, html_path, None,
                           f"no PDF: {' and '.join(missing)} not found (Debian: apt-get install texlive-xetex "
                           "texlive-fonts-recommended texlive-plain-generic pandoc); the HTML report is complete")
    pdf_exporter = PDFExporter(config=config)
    pdf_exporter.template_file = "index.tex.j2"
    pdf_exporter.extra_template_basedirs = [str(ROOT / "report" / "template")]
    pdf_exporter.template_name = "genmodels"
    try:
        pdf, _ = pdf_exporter.from_notebook_node(nb, resources={"metadata": {"path": str(out.resolve())}})
    except Exception as err:  # nbconvert raises LatexFailed with the TeX log
        log = getattr(err, "output", "") or str(err)
        (out / "latex-error.log").write_text(str(log))
        return BuildResult(executed, html_path, None, f"no PDF: LaTeX failed, see {out / 'latex-error.log'}")
    pdf_path = out / "report.pdf"
    pdf_path.write_bytes(pdf)
    return BuildResult(executed, html_path, pdf_path, f"wrote {pdf_path} and {html_path}")


def pdf_text(pdf: Path) -> str:
    """The PDF's text (pdftotext), for checks."""
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


# ------------------------------------------------------------------ presentation in the report notebook
class Captions:
    """Numbers figures and tables and displays each with its caption (HTML and PDF alike)."""

    def __init__(self) -> None:
        self.figures = 0
        self.tables = 0

    def figure(self, fig: plt.Figure | None, caption: str, dpi: int = 150) -> None:
        import io

        from IPython.display import Image, Markdown, display

        if fig is None:
            display(Markdown(f"*No figure: {caption} (no finished runs for it).*"))
            return
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        self.figures += 1
        display(Image(buffer.getvalue()))
        display(Markdown(f"**Figure {self.figures}.** {caption}"))

    def image(self, path: str | os.PathLike[str] | None, caption: str) -> None:
        from IPython.display import Image, Markdown, display

        if path is None or not Path(path).is_file():
            display(Markdown(f"*No figure: {caption} (run missing).*"))
            return
        self.figures += 1
        display(Image(filename=str(path)))
        display(Markdown(f"**Figure {self.figures}.** {caption}"))

    def table(self, frame: pd.DataFrame, caption: str, index: bool = False) -> None:
        from IPython.display import Markdown, display

        if frame is None or frame.empty:
            display(Markdown(f"*No table: {caption} (no runs for it).*"))
            return
        self.tables += 1
        display(Markdown(f"**Table {self.tables}.** {caption}\n\n" + markdown(frame, index=index)))
