"""Which model generates the best samples, by which measure, at what cost: each model at its headline
configuration over seeds (`contenders`), the models the sweep could not compare, the long runs, and the
paragraph, headline sentence and Conclusion sentence that state it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from genmodels.core.registry import MODEL_NAMES, model_spec
from genmodels.core.metric_table import metric
from genmodels.report.collect import HEADLINE, cost_unit, finished, headline_runs, long_runs, main_runs
from genmodels.report.english import capital, data_name, join, paragraph as lead, the
from genmodels.report.evidence import EQUAL_TIME, RunRefs, Spread, compare, lead_clause, no_longer
from genmodels.report.references import cite

# the metrics beside FID that the question asks about
OTHER_MEASURES = ("IS", "precision", "recall")
# below this median recall for every model, recall separates nothing (short budgets)
RECALL_FLOOR = 0.05


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
    for _, run in finished(long_runs(runs)).iterrows():
        if run.dataset != dataset:
            continue
        same = finished(grid[(grid.model == run.model) & (grid.dataset == run.dataset) & (grid.depth == run.depth)
                             & (grid.z_dim == run.z_dim) & (grid.seed == run.seed)])
        out.append(LongRun(run.model, run, same.iloc[0] if len(same) else None))
    return out


# ------------------------------------------------------------------ the paragraph
def _config(c: Contender) -> str:
    return f"depth {c.depth}, z_dim {c.z_dim}"


def _seeds_phrase(spreads: list[Spread]) -> str:
    """ "over 3 seeds each", "over 3, 5 and 3 seeds", "(one seed each)" for a list of the same metric."""
    counts = [s.n for s in spreads]
    if set(counts) == {1}:
        return "one seed each"
    if len(set(counts)) == 1:
        return f"median [min, max] over {counts[0]} seeds each"
    return "median [min, max] over " + join(map(str, counts)) + " seeds"


def _listing(ranked: list[Contender], metric: str, refs: RunRefs | None) -> str:
    """ "VAE 8.2 [8.0, 8.5] (R1-R3), LSGAN ...": the metric per model, in `ranked` order."""
    return ", ".join(f"{c.name} {c.spread(metric).text(refs, name=False, seeds=False)}" if refs else
                     f"{c.name} {c.spread(metric).value_text(seeds=False)}" for c in ranked if c.spread(metric).n)


def paragraph(runs: pd.DataFrame, refs: RunRefs, dataset: str = HEADLINE.dataset) -> str:
    title = "Which model generates the best samples?"
    data = data_name(dataset)
    ranked = contenders(runs, dataset)
    absent = absent_models(runs, dataset)
    missing = [(f"The sweep did not run {the(m)} on {data}" if why == "not in the sweep" else
                f"{capital(the(m))} has no finished, scored run on {data} ({why})") + ", so it is not compared."
               for m, why in absent.items()]
    if not ranked:
        return lead(title, [f"No model has a finished, scored run on {data}, so none is compared."])
    best = ranked[0]
    fids = [c.spread("FID") for c in ranked]
    same_config = len({(c.depth, c.z_dim) for c in ranked}) == 1
    where = (f"at depth {best.depth}, z_dim {best.z_dim}" if same_config else
             "each at its most repeated configuration (" + join(f"{c.name} {_config(c)}" for c in ranked) + ")")
    evidence = f"FID ({_seeds_phrase(fids)}): {_listing(ranked, 'FID', refs)}."
    if len(ranked) == 1:
        return lead(title, [f"Only {the(best.model)} has scored runs on {data} ({where}). {evidence}", *missing])
    comparison = compare(fids[0], fids[1])
    if comparison.within_spread:
        claim = (f"By FID, no model is clearly best on {data} {where}: {the(best.model)} has the lowest median, but "
                 f"its lead over {the(ranked[1].model)} is within the spread over seeds.")
    else:
        claim = f"By FID, {the(best.model)} generates the best samples on {data} {where}."
    sentences = [claim, evidence, *missing, _other_measures(ranked), _precision_recall(ranked),
                 _cost(runs, ranked, refs, dataset), _headline_caveat(ranked, comparison)]
    sentences += _other_datasets(runs, refs, dataset)
    return lead(title, sentences)


def _other_measures(ranked: list[Contender]) -> str:
    """Which model leads by IS, precision and recall (numbers from the runs just cited), and whether that agrees
    with FID."""
    best = ranked[0].model
    agree, disagree = [], []
    for name in OTHER_MEASURES:
        scored = [c for c in ranked if c.spread(name).n]
        if len(scored) < 2:
            continue
        order = sorted(scored, key=lambda c: c.spread(name).median, reverse=metric(name).higher_is_better)
        numbers = _listing(order, name, None)
        comparison = compare(order[0].spread(name), order[1].spread(name))
        if comparison.tied or comparison.within_spread:
            disagree.append(f"by {name} {the(order[0].model)} and {the(order[1].model)} are tied within the spread "
                            f"({numbers})")
        elif order[0].model == best:
            agree.append(f"{name} ({numbers})")
        else:
            disagree.append(f"by {name} {the(order[0].model)} leads ({numbers})")
    parts = []
    if agree:
        parts.append(f"{capital(the(best))} also leads by " + join(agree, "and by") + ".")
    if disagree:
        parts.append(capital("; ".join(disagree)) + ".")
    return " ".join(parts)


# Why the VAE's k-NN recall is low on MNIST, measured apart from any sweep (bench/vae_recall.py, docs/metrics.md
# "Recall of blurred samples"; three seeds of the default profile's headline VAE, k = 3, 500 images per side):
# real held-out digits blurred to the VAE's sharpness (a Gaussian of sigma 0.65-0.75 px) against the other half.
BLUR_CONTROL = {"sigma": 0.7, "real_recall": 0.87, "blurred_recall": 0.22, "blurred_precision": 0.90,
                "reconstruction_recall": 0.10, "prior_recall": 0.07}


def _blur_explains_recall(dataset: str) -> str:
    """The measured reason a VAE's recall is low where it is: recall of blurred real digits. Said only for the data
    set it was measured on."""
    if dataset != "mnist":
        return ""
    b = BLUR_CONTROL
    return (f" Measured apart from this sweep, recall here reads blur rather than missing digits: real held-out "
            f"digits given a Gaussian blur of standard deviation {b['sigma']} px, the VAE's sharpness, fall from recall "
            f"{b['real_recall']:.2f} to {b['blurred_recall']:.2f} while their precision stays at "
            f"{b['blurred_precision']:.2f}; the VAE's reconstructions of the reference images themselves reach only "
            f"{b['reconstruction_recall']:.2f}, and sampling from N(0, I) instead of the mixture leaves recall at "
            f"{b['prior_recall']:.2f} (docs/metrics.md). For blurred samples, precision and density measure fidelity "
            "and the Inception Score diversity over the digit classes; recall is comparable only with a blurred real "
            "control, not with 1.")


def _precision_recall(ranked: list[Contender]) -> str:
    """The literature's explanation of the VAE-vs-GAN precision/recall pattern, as far as the numbers show it."""
    autoencoders = [c for c in ranked if model_spec(c.model).reconstructs]
    adversarial = [c for c in ranked if not model_spec(c.model).reconstructs]
    if not autoencoders or not adversarial:
        return ""
    vae, gan = autoencoders[0], adversarial[0]  # the best-ranked of each kind
    p_vae, p_gan = vae.spread("precision").median, gan.spread("precision").median
    r_vae, r_gan = vae.spread("recall").median, gan.spread("recall").median
    if not all(map(math.isfinite, (p_vae, p_gan, r_vae, r_gan))):
        return ""
    gmm = "latent_prior" in vae.runs and (vae.runs.latent_prior == "gmm").all()
    why = (f" Here the VAE draws its latents from a mixture fitted to its training codes rather than from the "
           f"prior {cite('ghosh2020')}, which keeps samples out of the prior's empty regions that decode to blends."
           if gmm and p_vae >= p_gan else "")
    if max(r_vae, r_gan) < RECALL_FLOOR:
        blur = (f"{capital(the(vae.model))}'s lower precision ({p_vae:.2f} against {p_gan:.2f}) is what the blur of "
                "a squared-error decoder, which predicts the mean of what the code leaves open, leads one to expect "
                f"{cite('larsen2016')}" if p_vae < p_gan else
                f"{capital(the(vae.model))}'s precision is not below {the(gan.model)}'s ({p_vae:.2f} against "
                f"{p_gan:.2f}), unlike the blurred samples usually reported for VAEs {cite('larsen2016')}")
        return (f"{blur}; recall, which would show the GANs' usual weakness, missed modes "
                f"{cite('sajjadi2018')}, is below {RECALL_FLOOR:g} for both at this budget and separates nothing."
                + why)
    pattern = (f"{cite('sajjadi2018', 'kynkaanniemi2019')}: a VAE's likelihood objective must explain every "
               "training image, which buys recall, while its squared-error decoder predicts the mean of what the "
               f"code leaves open and blurs the samples {cite('larsen2016')}, and a GAN's discriminator penalises "
               "unrealistic samples but not missing ones")
    numbers = f"precision / recall {vae.name} {p_vae:.2f} / {r_vae:.2f}, {gan.name} {p_gan:.2f} / {r_gan:.2f}"
    if p_vae < p_gan and r_vae > r_gan:
        return (f"{capital(the(vae.model))} has the lower precision and the higher recall ({numbers}), the pattern "
                f"the literature reports for the two families {pattern}.")
    blur = _blur_explains_recall(vae.dataset) if r_vae < r_gan else ""
    return (f"This departs from the pattern the literature reports for the two families, lower precision and "
            f"higher recall for the VAE ({numbers}) {pattern}.{why}{blur}")


def _cost(runs: pd.DataFrame, ranked: list[Contender], refs: RunRefs, dataset: str) -> str:
    """Training cost per run, and what the long runs bought."""
    seconds = {c.model: c.spread("seconds") for c in ranked if c.spread("seconds").n}
    if not seconds:
        return ""
    cheapest = min(seconds, key=lambda m: seconds[m].median)
    best = ranked[0].model
    text = (f"Training cost (median {cost_unit(runs)} per run): "
            + join(f"{MODEL_NAMES[m]} {seconds[m].median_text()} s" for m in seconds) + "; ")
    ratio = seconds[best].median / seconds[cheapest].median if best in seconds else math.nan
    if best in seconds and no_longer(seconds[best].median, seconds[cheapest].median):
        text += (f"{the(best)}, lowest in FID, cost no more training time than the others (within "
                 f"{100 * EQUAL_TIME:.0f} %).")
    else:
        text += f"{the(best)}, lowest in FID, took {ratio:.1f} times the training time of {the(cheapest)}."
    longer = []
    for pair in long_run_pairs(runs, dataset):
        if pair.short is None:
            continue
        factor = pair.long.steps / pair.short.steps
        longer.append(f"{the(pair.model)} from {Spread.of(pair.short.to_frame().T, 'FID').text(refs)} after "
                      f"{pair.short.steps} steps to {Spread.of(pair.long.to_frame().T, 'FID').text(refs)} after "
                      f"{pair.long.steps} ({factor:.1f} times the steps, one seed)")
    if longer:
        text += " A longer run moved " + "; ".join(longer) + "."
    return text


def _headline_caveat(ranked: list[Contender], comparison) -> str:
    single = [c.name for c in ranked if c.spread("FID").n < 2]
    if single and len(single) == len(ranked):
        return ("Caveat: every model's headline rests on a single seed, so the spread over seeds is unknown, and "
                f"GAN results are known to vary with the seed {cite('lucic2018')}: the order may change with more "
                "seeds.")
    if single:
        return (f"Caveat: {join(single)} rest{'s' if len(single) == 1 else ''} on a single seed, so "
                f"{'its' if len(single) == 1 else 'their'} place in the order is the least certain.")
    if comparison.within_spread:
        return (f"Caveat: the ranges over seeds overlap; more seeds would be needed to separate "
                f"{the(ranked[0].model)} and {the(ranked[1].model)}.")
    return ""


def _other_datasets(runs: pd.DataFrame, refs: RunRefs, dataset: str) -> list[str]:
    out = []
    for other in dict.fromkeys(runs.dataset):
        if other == dataset:
            continue
        ranked = contenders(runs, other)
        if len(ranked) < 2:
            if ranked:
                out.append(f"On {data_name(other)} only {the(ranked[0].model)} has a scored run.")
            continue
        headline = contenders(runs, dataset)
        same = bool(headline) and headline[0].model == ranked[0].model
        comparison = compare(ranked[0].spread("FID"), ranked[1].spread("FID"))
        caveat = lead_clause(comparison)
        out.append(f"On {data_name(other)} the order by FID ({_seeds_phrase([c.spread('FID') for c in ranked])}) is "
                   f"{_listing(ranked, 'FID', refs)}: {'the same' if same else 'a different'} model first"
                   + (f"; {caveat}" if caveat else "") + ".")
    return out


# ------------------------------------------------------------------ the headline and the Conclusion
def headline(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> str:
    """The introduction's first headline sentence: which model generates the best samples, or that none is
    clearly best; empty when no model was scored."""
    ranked = contenders(runs, dataset)
    if not ranked:
        return ""
    best = ranked[0]
    data = data_name(dataset)
    fid = best.spread("FID").value_text()
    others = join(f"{c.spread('FID').value_text(seeds=False)} for {the(c.model)}" for c in ranked[1:])
    if len(ranked) == 1:
        return f"Only {the(best.model)} has scored runs on {data}: median FID {fid}."
    if compare(ranked[0].spread("FID"), ranked[1].spread("FID")).within_spread:
        return (f"On {data} at depth {best.depth}, z_dim {best.z_dim}, no model generates clearly better samples by "
                f"FID: {the(best.model)}'s median of {fid} is within the spread over seeds of {others}.")
    return (f"On {data} at depth {best.depth}, z_dim {best.z_dim}, {the(best.model)} generates the best samples "
            f"by FID: median {fid}, against {others}.")


def takeaway(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> str:
    """The Conclusion's sentence on the best model, with its evidence (median FID over seeds at the headline
    configuration) and the budgets: no model is called best over one that trained for less time ("" when fewer
    than two models were scored)."""
    ranked = contenders(runs, dataset)
    if len(ranked) < 2:
        return ""
    best = ranked[0]
    fids = ", ".join(f"{c.name} {c.spread('FID').median_text()}" for c in ranked)
    seeds = join(str(c.spread("FID").n) for c in ranked)
    evidence = f"median FID {fids} over {seeds} seeds at {_config(best)}"
    seconds = {c.model: c.spread("seconds").median for c in ranked}
    budgets = "training " + ", ".join(f"{c.name} {c.spread('seconds').median_text()} s and "
                                      f"{int(c.runs.steps.median())} steps" for c in ranked)
    c = compare(ranked[0].spread("FID"), ranked[1].spread("FID"))
    if c.within_spread:
        return (f"{capital(the(best.model))} and {the(ranked[1].model)} generate samples of equal quality within the "
                f"spread over seeds ({evidence}; {budgets}); more seeds would separate them.")
    longer = [o for o in ranked[1:] if not no_longer(seconds[best.model], seconds[o.model])]
    if longer:
        return (f"{capital(the(best.model))} has the lowest median FID on {data_name(dataset)} ({evidence}) but "
                f"trained longer than {join(the(o.model) for o in longer)} ({budgets}), so the budgets could explain "
                "the order and no ranking is claimed.")
    tail = "" if c.within_spread is False else ", on single seeds"
    return (f"{capital(the(best.model))} generates the best samples by FID on {data_name(dataset)}{tail} "
            f"({evidence}), in no more training time than the others ({budgets}).")
