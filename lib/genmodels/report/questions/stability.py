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
from genmodels.report.evidence import Comparison, RunRefs, Spread, compare, equal_time, lead_clause
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
    """The finished, scored runs of one constraint at one budget (steps), over their seeds."""

    method: str  # "gp" or "clip"
    runs: pd.DataFrame

    def spread(self, metric: str) -> Spread:
        return Spread.of(self.runs, metric)

    @property
    def steps(self) -> int:
        return int(self.runs.steps.median())

    @property
    def seconds(self) -> float:
        return self.spread("seconds").median


@dataclass(frozen=True, eq=False)
class LipschitzStudy:
    """The gradient penalty's runs beside the weight-clipping runs whose training time is nearest to theirs, and
    whether the two trained for equal time (`evidence.equal_time`): only then does the text rank them."""

    gp: LipschitzArm
    clip: LipschitzArm

    @property
    def equal_time(self) -> bool:
        return equal_time(self.gp.seconds, self.clip.seconds)

    @property
    def comparison(self) -> Comparison:
        return compare(self.gp.spread("FID"), self.clip.spread("FID"))

    @property
    def clip_better(self) -> bool:
        return self.clip.spread("FID").better_than(self.gp.spread("FID"))


def lipschitz_study(runs: pd.DataFrame) -> LipschitzStudy | None:
    """The owner of `lipschitz` at the headline configuration, all seeds: the gradient penalty's most repeated
    budget, and the weight-clipping budget nearest to it in training time (None unless both ran)."""
    pick = finished(lipschitz_runs(runs, seed=None))
    arms: dict[str, list[LipschitzArm]] = {}
    for (method, _), group in pick.groupby(["lipschitz", "steps"]):
        arms.setdefault(str(method), []).append(LipschitzArm(str(method), group))
    if "gp" not in arms or "clip" not in arms:
        return None
    gp = max(arms["gp"], key=lambda arm: len(arm.runs))
    clip = min(arms["clip"], key=lambda arm: (abs(arm.seconds - gp.seconds), -len(arm.runs)))
    return LipschitzStudy(gp, clip)


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


# Weight clipping against the gradient penalty in training CPU-seconds, which load on the machine does not stretch
# as it stretches a run's wall-clock seconds (bench/clip_vs_gp.py, docs/study.md; WGAN depth 3, z_dim 100, width
# 16, MNIST, seeds 0-2): a clipping step costs this many penalty steps, and clipping's FID (median [min, max])
# after as many CPU-seconds as 1,000 penalty steps and after three times as many.
CLIP_BENCH = {"step_cost": 2.24, "equal_fid": "167 [142, 167]", "triple_fid": "119 [85, 128]"}


def _clip_bench(dataset: str) -> str:
    """What the clipping bench measured beyond the sweep's budget; said only for the data set it measured."""
    if dataset != "mnist":
        return ""
    b = CLIP_BENCH
    return (f" Measured apart from this sweep in CPU-seconds (a clipping step costs {b['step_cost']} penalty "
            f"steps), clipping reaches FID {b['equal_fid']} over 3 seeds in the penalty's 1,000-step time and "
            f"{b['triple_fid']} in three times that, still falling (docs/study.md): at this scale clipping learns "
            "far more slowly, which the study shows; that it fails, the study does not show.")


def _lipschitz(runs: pd.DataFrame, refs: RunRefs) -> str:
    study = lipschitz_study(runs)
    wgan = MODEL_NAMES[study_model("lipschitz")]
    if study is None:
        methods = set(finished(lipschitz_runs(runs, seed=None)).lipschitz)
        if methods:
            return f"The sweep ran the {wgan} with {join(sorted(methods))} only; no comparison."
        return (f"The sweep did not run the {wgan} with both weight clipping and the gradient penalty at depth "
                f"{HEADLINE.depth}, z_dim {HEADLINE.z_dim}, so the two are not compared.")
    gp, clip, comparison = study.gp, study.clip, study.comparison
    numbers = (f"FID {gp.spread('FID').text(refs, name=False)} with the gradient penalty after {gp.steps} steps "
               f"({gp.spread('seconds').median_text()} s of training), {clip.spread('FID').text(refs, name=False)} "
               f"with weight clipping after {clip.steps} steps ({clip.spread('seconds').median_text()} s)")
    slow = (f"clipping's small RMSprop steps (learning rate 5e-5, {cite('arjovsky2017')[1:-1]}) learn slowly, so a "
            "short budget cannot tell slow learning from failure")
    if not study.equal_time:
        return (f"Weight clipping and the gradient penalty did not train the {wgan} for equal time: {numbers}. "
                f"{capital(slow)}; the two are therefore not ranked here.{_clip_bench(HEADLINE.dataset)}")
    if comparison.within_spread:
        claim = f"At equal training time, weight clipping and the gradient penalty trained the {wgan} about equally well"
    else:
        winner = "weight clipping" if study.clip_better else "the gradient penalty"
        claim = f"At equal training time, {winner} trained the {wgan} better"
    explanation = ("Weight clipping costs the critic capacity: clipping every weight to a small interval confines "
                   "it to a narrow family of simple functions and lets its gradients vanish or explode, whereas the "
                   f"penalty constrains the gradient norm itself {cite('gulrajani2017')}; {slow}.")
    if study.clip_better or comparison.within_spread:
        explanation = ("The gradient penalty was introduced because clipping costs the critic capacity "
                       f"{cite('gulrajani2017')}; in these runs that cost did not show.")
    caveat = lead_clause(comparison)
    return " ".join(s for s in (f"{claim}: {numbers}.", explanation, f"Caveat: {caveat}." if caveat else "",
                                _clip_bench(HEADLINE.dataset).strip()) if s)


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
    lipschitz = lipschitz_study(runs)
    if lipschitz is not None and lipschitz.equal_time:
        parts.append(f"at equal training time weight clipping left the {MODEL_NAMES[study_model('lipschitz')]} at "
                     f"FID {lipschitz.clip.spread('FID').median_text()} against "
                     f"{lipschitz.gp.spread('FID').median_text()} with the gradient penalty")
    return capital("; ".join(parts)) + "." if parts else ""


def takeaway(runs: pd.DataFrame) -> str:
    """The Conclusion's sentence on stability, each part with its evidence and budget: the safer discriminator
    output (runs of one configuration, so at equal steps), and the Lipschitz constraint ranked only at equal
    training time."""
    parts = []
    study = collapse_study(runs)
    if study is not None and {"sigmoid", "linear"} <= set(study.arms):
        sig, lin = study.arms["sigmoid"], study.arms["linear"]
        if sig.rate > lin.rate and len(sig.finished) and len(lin.finished):
            steps = int(study.arms["linear"].finished.steps.median())
            parts.append("a linear discriminator output is the safer choice over the assignment's sigmoid "
                         f"({len(sig.collapsed)} of {len(sig.finished)} sigmoid runs collapsed against "
                         f"{len(lin.collapsed)} of {len(lin.finished)} linear ones, all at {steps} steps"
                         + ("; not yet significant" if study.p_value >= 0.05 else "") + ")")
    lipschitz = lipschitz_study(runs)
    if lipschitz is not None:
        gp, clip = lipschitz.gp, lipschitz.clip
        numbers = (f"FID {gp.spread('FID').median_text()} after {gp.seconds:.0f} s against "
                   f"{clip.spread('FID').median_text()} after {clip.seconds:.0f} s")
        if not lipschitz.equal_time:
            parts.append(f"weight clipping and the gradient penalty were not trained for equal time ({numbers}), so "
                         "neither is ranked above the other")
        elif lipschitz.comparison.within_spread is False:
            winner, loser = (("weight clipping", "the gradient penalty") if lipschitz.clip_better else
                             ("the gradient penalty", "weight clipping"))
            parts.append(f"at equal training time {winner} trains the {MODEL_NAMES[study_model('lipschitz')]} better "
                         f"than {loser} ({numbers})")
        else:
            parts.append(f"at equal training time weight clipping and the gradient penalty are not told apart "
                         f"({numbers})")
    return capital(join(parts, "and")) + "." if parts else ""
