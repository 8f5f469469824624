"""What the VAE's KL factor trades: the KL sweep's runs (`kl_labels`), what each factor measured (`KLStudy`:
reconstruction error, sample quality, the information its codes carry), its table, and the paragraph and
Conclusion sentence that state the trade-off and where the posterior collapses."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from genmodels.core.registry import MODEL_NAMES
from genmodels.runs.results import COLLAPSE_IS
from genmodels.report.collect import HEADLINE, default_recipe, finished, is_long, run_metrics, study_model
from genmodels.report.english import capital, data_name, paragraph as lead, the
from genmodels.report.evidence import RunRefs, Spread
from genmodels.report.references import cite
from genmodels.report.tables import metric_table

# A VAE's posterior has collapsed when its codes carry (almost) no information about the image: the KL term of
# the test images, in nats per image, is below this (a working MNIST VAE here holds tens of nats).
POSTERIOR_COLLAPSE_NATS = 1.0


def kl_labels(runs: pd.DataFrame, dataset: str) -> list[str]:
    """The KL sweep: runs of the model owning kl_factor that share depth and z_dim with more than one factor
    (at the grid's budget: long runs are no part of any study)."""
    vae = runs[(runs.model == study_model("kl_factor")) & (runs.dataset == dataset) & ~is_long(runs)
               & default_recipe(runs)]
    groups = vae.groupby(["depth", "z_dim", "seed"])["kl_factor"].nunique()
    if groups.empty or groups.max() < 2:
        return []
    depth, z, seed = groups.idxmax()
    return vae[(vae.depth == depth) & (vae.z_dim == z) & (vae.seed == seed)].label.tolist()


def kl_table(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> pd.DataFrame:
    """The KL sweep's runs by factor: sample quality and test reconstruction error."""
    kl = runs[runs.label.isin(kl_labels(runs, dataset))].sort_values("kl_factor")
    return metric_table(kl, ("FID", "IS", "recall", "test_mse"))


def posterior_nats(run: pd.Series) -> float:
    """The KL term of the VAE's test reconstructions in nats per image (NaN where not measured): the `test_kl`
    column where a table has it, else the run's metrics.json (the results table does not list it)."""
    value = run.get("test_kl")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        value = (run_metrics(run).get("test_reconstruction") or {}).get("kl")
    return float(value) if isinstance(value, (int, float)) else math.nan


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
    kl = finished(runs[runs.label.isin(kl_labels(runs, dataset))])
    kl = kl[kl.test_mse.notna()].sort_values("kl_factor")
    if len(kl) < 2:
        return None
    points = [KLPoint(float(r.kl_factor), r, posterior_nats(r)) for _, r in kl.iterrows()]
    return KLStudy(str(kl.model.iloc[0]), int(kl.depth.iloc[0]), int(kl.z_dim.iloc[0]), points)


def paragraph(runs: pd.DataFrame, refs: RunRefs, dataset: str = HEADLINE.dataset) -> str:
    title = "What does the VAE's KL factor trade?".replace("VAE", MODEL_NAMES[study_model("kl_factor")])
    study = kl_study(runs, dataset)
    if study is None:
        return lead(title, [f"The sweep did not run {the(study_model('kl_factor'))} at several KL factors on "
                             f"{data_name(dataset)}, so the trade-off is not discussed."])
    vae = the(study.model)
    lo, hi = study.points[0], study.points[-1]
    best_fid, best_mse = study.best_fid, study.best_mse
    if study.first_collapse is lo:
        claim = (f"The sweep shows no trade-off: {vae}'s posterior collapsed at every KL factor it ran, from "
                 f"kl={lo.factor:g}, so neither its reconstructions nor its samples depend on the factor here.")
    elif best_fid.factor != best_mse.factor:
        claim = (f"The KL factor trades reconstruction against sample quality: {vae} reconstructs best at "
                 f"kl={best_mse.factor:g} but samples best at kl={best_fid.factor:g}.")
    else:
        claim = (f"In this sweep the KL factor shows no trade-off: kl={best_fid.factor:g} gives {vae} both its best "
                 "reconstructions and its best samples.")
    trend = ("rises with the factor" if study.mse_rises else "does not rise steadily with the factor")
    evidence = (f"At depth {study.depth}, z_dim {study.z_dim}, the test reconstruction error {trend}:\n\n"
                + "\n".join(f"- kl={p.factor:g}: {p.spread('test_mse').text(refs)}, {p.spread('FID').text(refs)}"
                             + (f", {_nats(p.kl_nats)} nats in the codes" if math.isfinite(p.kl_nats) else "")
                             for p in study.points) + "\n\n")
    collapse = study.first_collapse
    if collapse is not None:
        collapsed = (f"From kl={collapse.factor:g} on the posterior has collapsed: the codes carry "
                     f"{_nats(collapse.kl_nats)} nats per image (below {POSTERIOR_COLLAPSE_NATS:g}), so reconstructions "
                     f"approach one mean image (test MSE {collapse.run.test_mse:.4f}) and the samples are "
                     + ("all alike" if collapse.run.IS < COLLAPSE_IS else "poorly varied")
                     + f" (IS {collapse.run.IS:.2f}).")
    elif all(math.isfinite(p.kl_nats) for p in study.points):
        collapsed = (f"No factor collapsed the posterior: the codes carry at least "
                     f"{_nats(min(p.kl_nats for p in study.points))} nats per image at every factor, up to "
                     f"kl={hi.factor:g}.")
    else:
        collapsed = "The KL term of the test images was not recorded, so posterior collapse is not assessed."
    explanation = ("The KL term pulls every posterior towards the prior, so a larger factor lets the codes carry "
                   f"less about the image and reconstructions blur {cite('higgins2017')}; past a point the cheapest "
                   "solution is to ignore the input altogether, posterior collapse "
                   f"{cite('bowman2016', 'lucas2019')}.")
    gmm = "latent_prior" in study.points[0].run and study.points[0].run.get("latent_prior") == "gmm"
    if gmm and best_fid.factor == lo.factor and study.first_collapse is not lo:
        explanation += (" The smallest factor samples best here because latents are drawn from a mixture fitted to "
                        f"the training codes, not from the prior the KL term aims at {cite('ghosh2020')}.")
    caveat = "Each factor rests on one seed; the differences between neighbouring factors may be within its spread."
    return lead(title, [claim, evidence, collapsed, explanation, caveat])


def _nats(value: float) -> str:
    """Information in the codes: one decimal, two below one nat (where collapse is decided)."""
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def takeaway(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> str:
    """The Conclusion's sentence on the KL factor: the factor that samples best and where the posterior
    collapses, with the FIDs and nats it rests on and the steps every factor trained."""
    kl = kl_study(runs, dataset)
    if kl is None:
        return ""
    steps = sorted({int(p.run.steps) for p in kl.points})
    budget = f"{steps[0]} steps each" if len(steps) == 1 else "at " + join(map(str, steps)) + " steps"
    collapse = kl.first_collapse
    if collapse is kl.points[0]:
        return (f"{capital(the(kl.model))}'s posterior collapsed at every KL factor of the sweep (at most "
                f"{_nats(max(p.kl_nats for p in kl.points))} nats in the codes, one run per factor, {budget}).")
    fids = ", ".join(f"{p.run.FID:.1f} at kl={p.factor:g}" for p in kl.points)
    nats = f"; {_nats(collapse.kl_nats)} nats in the codes at kl={collapse.factor:g}" if collapse else ""
    return (f"For {the(kl.model)}, kl={kl.best_fid.factor:g} gives the best samples"
            + (f" and from kl={collapse.factor:g} the posterior collapses" if collapse else "")
            + f" (FID {fids}{nats}; one run per factor, {budget}).")
