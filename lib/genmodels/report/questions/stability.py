"""How stable the GANs are: the discriminator-output collapse study (sigmoid against linear over seeds, its
table and Fisher's exact test of the two collapse rates) and the WGAN's Lipschitz comparison (weight clipping
against the gradient penalty), with the paragraph, headline sentence and Conclusion sentence that state them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from genmodels.core.registry import MODEL_NAMES
from genmodels.quality.statistics import fisher_exact
from genmodels.runs.results import COLLAPSE_IS
from genmodels.report.collect import HEADLINE, default_recipe, finished, is_long, study_model
from genmodels.report.english import capital, data_name, join, paragraph as lead
from genmodels.report.evidence import RunRefs, Spread, compare, lead_clause
from genmodels.report.references import cite


# ------------------------------------------------------------------ which runs
def lipschitz_runs(runs: pd.DataFrame, seed: int | None = 0) -> pd.DataFrame:
    """The Lipschitz comparison: runs of the model owning `lipschitz` at the headline configuration (seed 0
    unless `seed` is None), every constraint the sweep ran."""
    h = HEADLINE
    pick = runs[(runs.model == study_model("lipschitz")) & (runs.depth == h.depth) & (runs.z_dim == h.z_dim)
                & (runs.dataset == h.dataset) & ~is_long(runs) & default_recipe(runs)]
    return pick if seed is None else pick[pick.seed == seed]


def clipped_runs(done: pd.DataFrame) -> pd.DataFrame:
    """Finished runs whose critic was weight-clipped (their loss curves show why the estimate stays small)."""
    return done[(done.model == study_model("lipschitz")) & (done.lipschitz == "clip")]


# ------------------------------------------------------------------ what they measured
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
    pick = finished(lipschitz_runs(runs, seed=None))
    arms = {str(m): LipschitzArm(str(m), g) for m, g in pick.groupby("lipschitz")}
    return arms if len(arms) >= 2 else {}


def collapse_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs of the model owning d_output (the LSGAN), per discriminator output over seeds: how many collapsed
    (IS < COLLAPSE_IS); the same runs the Discussion counts (`collapse_study`)."""
    study = collapse_study(runs)
    if study is None:
        return pd.DataFrame()
    rows = []
    for output, arm in study.arms.items():
        done = arm.finished
        rows.append({"discriminator output": output, "runs": len(arm.runs), "finished": len(done),
                     "collapsed": len(arm.collapsed),
                     "median FID": f"{done.FID.median():.1f}" if len(done) else "n/a",
                     "median IS": f"{done.IS.median():.2f}" if len(done) else "n/a",
                     "seeds": ", ".join(str(s) for s in sorted(arm.runs.seed))})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the text
def paragraph(runs: pd.DataFrame, refs: RunRefs) -> str:
    title = "How stable are the GANs?"
    return lead(title, [_outputs(runs, refs), _lipschitz(runs, refs)])


def _outputs(runs: pd.DataFrame, refs: RunRefs) -> str:
    study = collapse_study(runs)
    gan = MODEL_NAMES[study_model("d_output")]
    if study is None:
        return f"The sweep did not run the {gan} with both discriminator outputs over seeds, so no claim is made on the sigmoid."
    arms = study.arms
    sig, lin = arms.get("sigmoid"), arms.get("linear")
    if sig is None or lin is None:
        names = list(arms)
        return f"The sweep compared the {gan}'s {join(names)} outputs; no claim is made on the sigmoid."
    unfinished = [arm.output for arm in (sig, lin) if arm.finished.empty]
    if unfinished:
        return (f"No {join(unfinished, 'or')} run of the {gan}'s output study finished, so no claim is made on the "
                "sigmoid.")

    def count(arm) -> str:
        cited = refs.cite(arm.finished.label)
        return f"{len(arm.collapsed)} of {len(arm.finished)} runs with a {arm.output} output ({cited})"

    where = f"at depth {study.depth}, z_dim {study.z_dim} on {data_name(study.dataset)}"
    p = study.p_value
    if sig.rate > lin.rate:
        claim = f"The assignment's sigmoid discriminator output made the {gan} less stable than a linear one"
    elif sig.rate < lin.rate:
        claim = f"The assignment's sigmoid discriminator output collapsed the {gan} less often than a linear one"
    else:
        claim = f"The discriminator output did not change how often the {gan} collapsed"
    evidence = f"{claim} {where}: collapse (IS < {COLLAPSE_IS:g}) in {count(sig)} against {count(lin)}."
    fids = "FID " + join(f"{Spread.of(arm.finished, 'FID').text(refs, name=False)} with the {arm.output} output"
                         for arm in (sig, lin)) + "."
    significance = ""
    if sig.rate != lin.rate:
        significance = (f"With {len(sig.finished)} and {len(lin.finished)} runs the difference is "
                        + ("not significant" if p >= 0.05 else "significant")
                        + f" (Fisher's exact test, p = {p:.2f})"
                        + ("; more seeds would be needed to confirm it." if p >= 0.05 else "."))
    explanation = ("A sigmoid before the squared error saturates: once the discriminator separates real from "
                   "generated images its output sits near 0 or 1, where the sigmoid's gradient vanishes and the "
                   "generator stops learning; the least-squares loss was proposed with a linear output to avoid "
                   f"exactly that {cite('mao2017', 'arjovsky_bottou2017')}.")
    if sig.rate <= lin.rate:
        explanation = ("The least-squares loss was proposed with a linear output to keep the generator's gradient "
                       f"from vanishing when a sigmoid saturates {cite('mao2017')}; in these runs that failure "
                       "did not show more often with the sigmoid.")
    return " ".join(s for s in (evidence, fids, significance, explanation) if s)


def _lipschitz(runs: pd.DataFrame, refs: RunRefs) -> str:
    arms = lipschitz_study(runs)
    wgan = MODEL_NAMES[study_model("lipschitz")]
    if not arms:
        return (f"The sweep did not run the {wgan} with both weight clipping and the gradient penalty at depth "
                f"{HEADLINE.depth}, z_dim {HEADLINE.z_dim}, so the two are not compared.")
    gp, clip = arms.get("gp"), arms.get("clip")
    if gp is None or clip is None:
        return f"The sweep ran the {wgan} with {join(arms)} only; no comparison."
    comparison = compare(gp.spread("FID"), clip.spread("FID"))
    winner = "the gradient penalty" if gp.spread("FID").better_than(clip.spread("FID")) else "weight clipping"
    if comparison.within_spread:
        claim = f"Weight clipping and the gradient penalty trained the {wgan} about equally well"
    else:
        claim = f"{capital(winner)} trained the {wgan} better"
    evidence = (f"{claim}: FID {gp.spread('FID').text(refs, name=False)} with the gradient penalty after "
                f"{gp.steps} steps ({gp.spread('seconds').median_text()} s of training), "
                f"{clip.spread('FID').text(refs, name=False)} with weight clipping after {clip.steps} steps "
                f"({clip.spread('seconds').median_text()} s).")
    explanation = ("Weight clipping costs the critic capacity: clipping every weight to a small interval confines "
                   "it to a narrow family of simple functions and lets its gradients vanish or explode, whereas the "
                   f"penalty constrains the gradient norm itself {cite('gulrajani2017')}; clipping's small RMSprop "
                   f"steps (learning rate 5e-5, {cite('arjovsky2017')[1:-1]}) also learn slowly in a short budget.")
    if winner != "the gradient penalty" or comparison.within_spread:
        explanation = ("The gradient penalty was introduced because clipping costs the critic capacity "
                       f"{cite('gulrajani2017')}; in these runs that cost did not show.")
    caveat = lead_clause(comparison)
    return " ".join(s for s in (evidence, explanation, f"Caveat: {caveat}." if caveat else "") if s)


def headline(runs: pd.DataFrame) -> str:
    """The stability finding in one sentence (the assignment's sigmoid and weight clipping), where measured."""
    parts = []
    study = collapse_study(runs)
    if study is not None and {"sigmoid", "linear"} <= set(study.arms) and all(
            len(arm.finished) for arm in study.arms.values()):
        sig, lin = study.arms["sigmoid"], study.arms["linear"]
        parts.append(f"the assignment's sigmoid discriminator output collapsed the {MODEL_NAMES[study.model]} in "
                     f"{len(sig.collapsed)} of {len(sig.finished)} runs, a linear output in {len(lin.collapsed)} of "
                     f"{len(lin.finished)}")
    arms = lipschitz_study(runs)
    if {"gp", "clip"} <= set(arms):
        gp, clip = arms["gp"].spread("FID"), arms["clip"].spread("FID")
        parts.append(f"weight clipping left the {MODEL_NAMES[study_model('lipschitz')]} at FID "
                     f"{clip.median_text()} against {gp.median_text()} with the gradient penalty")
    return capital("; ".join(parts)) + "." if parts else ""


def takeaway(runs: pd.DataFrame) -> str:
    """The Conclusion's sentence on stability: the safer discriminator output and the Lipschitz constraint."""
    stable = []
    study = collapse_study(runs)
    if study is not None and {"sigmoid", "linear"} <= set(study.arms):
        sig, lin = study.arms["sigmoid"], study.arms["linear"]
        if sig.rate > lin.rate:
            stable.append("a linear discriminator output is the safer choice over the assignment's sigmoid"
                          + (" (though not yet significantly)" if study.p_value >= 0.05 else ""))
    arms = lipschitz_study(runs)
    if {"gp", "clip"} <= set(arms):
        c = compare(arms["gp"].spread("FID"), arms["clip"].spread("FID"))
        if not c.within_spread and arms["gp"].spread("FID").better_than(arms["clip"].spread("FID")):
            stable.append("a WGAN needs the gradient penalty, not weight clipping")
    return capital(join(stable, "and")) + "." if stable else ""
