"""The report's generated prose: the introduction's facts about the sweep, and the Discussion, whose every
sentence states a measured number and the run it rests on (so the text cannot drift from the results).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from genmodels.core.registry import MODEL_NAMES
from genmodels.runs.results import COLLAPSE_IS
from genmodels.report.collect import HEADLINE, kl_labels, lipschitz_runs, main_runs, seed_spread, study_model
from genmodels.report.tables import collapse_table


def intro_markdown(runs: pd.DataFrame, sweep: str | Path) -> str:
    """The report's opening paragraph: which sweep, how many of its configurations finished, the training time
    and machine (from the first finished run's meta.json), and each data set's training images and source."""
    done = runs[runs.status == "complete"]
    meta = json.loads((Path(done.iloc[0].run_dir) / "meta.json").read_text()) if len(done) else {}
    sources = done.groupby("dataset").agg(images=("train_images", "first"), source=("data_source", "first"),
                                          fallback=("fallback", "any")) if len(done) else pd.DataFrame()
    lines = [f"This report is generated from the runs of the sweep `{Path(sweep).name}`: "
             f"{len(done)} of {len(runs)} configurations finished"
             + (f" ({', '.join(f'{n} {s}' for s, n in runs[runs.status != 'complete'].status.value_counts().items())})"
                if len(done) < len(runs) else "")
             + f", {done.seconds.sum() / 60:.1f} minutes of training in total"
             + (f" on {meta['device']['cpus']} CPU cores ({meta['device']['type']})" if meta else "") + "."]
    for dataset, row in sources.iterrows():
        note = (" -- full MNIST was not available, so runs trained on 4,000 images of the real 5,000-image subset; "
                "the other 1,000 are held out as the metrics' reference" if row.fallback else "")
        lines.append(f"Training data for {dataset}: {row.images:,} images ({row.source}){note}.")
    return " ".join(lines)


def missing_data_sentences(runs: pd.DataFrame) -> list[str]:
    """Per data set the sweep could not have (its runs set aside before training), how many runs and why."""
    if "data_missing" not in runs:
        return []
    aside = runs[(runs.status != "complete") & runs.data_missing.notna()]
    return [f"The {len(group)} {dataset} configurations were not trained, as the data set was missing: "
            f"{group.data_missing.iloc[0]}." for dataset, group in aside.groupby("dataset", sort=False)]


def discussion_markdown(runs: pd.DataFrame) -> str:
    """`prose` as a Markdown list."""
    return "\n".join(f"- {s}" for s in discussion(runs))


def discussion(runs: pd.DataFrame) -> list[str]:
    """Sentences stating what the measurements show, each with the numbers and run it rests on."""
    out: list[str] = []
    done = runs[runs.status == "complete"]
    missing = runs[runs.status != "complete"]
    if not missing.empty:
        out.append(f"{len(missing)} of {len(runs)} configurations have no finished run "
                   f"({', '.join(f'{n} {s}' for s, n in missing.status.value_counts().items())}); "
                   "they are marked in every table and excluded from the comparisons below.")
        out.extend(missing_data_sentences(runs))
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
    kl = runs[runs.label.isin(kl_labels(runs, HEADLINE.dataset))]
    kl = kl[(kl.status == "complete")].dropna(subset=["FID", "test_mse"]).sort_values("kl_factor")
    if len(kl) >= 2:
        lo, hi = kl.iloc[0], kl.iloc[-1]
        vae = MODEL_NAMES[study_model("kl_factor")]
        out.append(f"Raising the {vae}'s KL factor from {lo.kl_factor:g} to {hi.kl_factor:g} changed the test "
                   f"reconstruction MSE from {lo.test_mse:.4f} to {hi.test_mse:.4f} and the sample FID from "
                   f"{lo.FID:.2f} to {hi.FID:.2f}; the best FID of the KL sweep, {kl.FID.min():.2f}, is at "
                   f"kl={kl.loc[kl.FID.idxmin()].kl_factor:g}.")
    wgan = lipschitz_runs(done, seed=None).dropna(subset=["FID"])
    if set(wgan.lipschitz) >= {"gp", "clip"}:
        gp, clip = wgan[wgan.lipschitz == "gp"].iloc[0], wgan[wgan.lipschitz == "clip"].iloc[0]
        out.append(f"For the {MODEL_NAMES[study_model('lipschitz')]} at depth {HEADLINE.depth}, "
                   f"z_dim {HEADLINE.z_dim}, "
                   f"the gradient penalty reached FID {gp.FID:.2f} after {gp.steps} "
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


def spread_sentences(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> list[str]:
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

