"""The report's figures: samples along the sweep's axes, metrics along them, the KL sweep, loss curves and
quality against training time. Each returns a matplotlib figure, or None when no finished run could draw it
(`Captions.figure` then says so in place of the figure).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from genmodels import plots
from genmodels.core import store
from genmodels.core.registry import MODEL_NAMES
from genmodels.report.collect import (HEADLINE, cost_unit, curve_seconds, headline_runs, main_runs, run_metrics,
                                      study_model, sweep_axes)
from genmodels.report.questions.kl_factor import kl_labels


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


def kl_sweep_figure(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> plt.Figure | None:
    """Samples and reconstructions per KL factor, with FID and test MSE in the titles (the assignment's Results)."""
    kl = runs[(runs.model == study_model("kl_factor")) & (runs.dataset == dataset) & (runs.status == "complete")]
    kl = kl[kl.label.isin(kl_labels(runs, dataset))].sort_values("kl_factor")
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


def loss_curves(run: pd.Series) -> plt.Figure:
    history = pd.read_csv(Path(run.run_dir) / store.HISTORY)
    return plots.loss_curves(history, run.model, f"{MODEL_NAMES[run.model]}, {run.dataset}, depth {run.depth}, "
                                                 f"z_dim {run.z_dim}, {run.variant}")


def quality_time_figure(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> plt.Figure | None:
    """FID and IS measured during training against the seconds of training (CPU-seconds on the CPU,
    `collect.with_cost`), for each model's headline runs (one line per seed), so the models are compared at equal
    compute rather than at equal steps."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    drawn = 0
    for _, run in headline_runs(runs, dataset).iterrows():
        if run.status != "complete":
            continue
        curve = run_metrics(run).get("quality_curve") or []
        seconds = [curve_seconds(run, point) for point in curve]
        if len(curve) < 2 or None in seconds:
            continue
        frame = pd.DataFrame(curve).assign(cost=seconds)
        colour = f"C{list(MODEL_NAMES).index(run.model)}"
        for ax, metric in zip(axes, ("fid", "is")):
            ax.plot(frame["cost"], frame[metric], color=colour, alpha=0.8, marker="o", markersize=2,
                    label=f"{MODEL_NAMES[run.model]}" if run.seed == 0 else None)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    for ax, label in zip(axes, ("FID (log scale)", "Inception Score")):
        ax.set_xlabel(f"training {cost_unit(runs)}"), ax.set_ylabel(label), ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_yscale("log")
    fig.tight_layout()
    return fig
