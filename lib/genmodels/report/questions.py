"""The Discussion's paragraphs, one per question the assignment raises: the claim, the evidence (numbers with
their spread over seeds and the runs they come from, as `RunRefs` references), an explanation from the
literature, and the caveat where the evidence is within the spread over seeds or rests on one seed.

Every sentence is a template filled from `findings`: which model leads, whether a difference exceeds the spread,
whether a trend is monotone, whether a posterior collapsed are conditions here, never fixed prose, so the text
stays true when the numbers change. A study or an axis value the sweep did not run gets one line, never a claim.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import pandas as pd

from genmodels.core.registry import MODEL_NAMES, dataset_spec, model_spec
from genmodels.runs.results import COLLAPSE_IS
from genmodels.report.collect import HEADLINE, study_model
from genmodels.report.evidence import LOWER_IS_BETTER, RunRefs, Spread, compare, lead_clause
from genmodels.report.findings import (POSTERIOR_COLLAPSE_NATS, Axis, Contender, absent_models, axis, collapse_study, contenders,
                       kl_study, lipschitz_study, long_run_pairs, recipe_studies)
from genmodels.report.references import cite

# the metrics beside FID that the first question asks about, and what each measures (in words)
OTHER_MEASURES = ("IS", "precision", "recall")
# below this median recall for every model, recall separates nothing (short budgets)
RECALL_FLOOR = 0.05


def join(words: Iterable[str], last: str = "and") -> str:
    """ "a", "a and b", "a, b and c"."""
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {last} " + words[-1]


def the(model: str) -> str:
    return f"the {MODEL_NAMES[model]}"


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _config(c: Contender) -> str:
    return f"depth {c.depth}, z_dim {c.z_dim}"


def _lead(title: str, sentences: Iterable[str]) -> str:
    """A paragraph: its question in bold, then its sentences."""
    return f"**{title}** " + " ".join(s for s in sentences if s)


# ------------------------------------------------------------------ 1. which model, by which measure, at what cost
def data_name(dataset: str) -> str:
    """ "MNIST": the data set as the report names it."""
    try:
        return dataset_spec(dataset).display_name
    except KeyError:
        return dataset


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


def best_samples(runs: pd.DataFrame, refs: RunRefs, dataset: str = HEADLINE.dataset) -> str:
    title = "Which model generates the best samples?"
    data = data_name(dataset)
    ranked = contenders(runs, dataset)
    absent = absent_models(runs, dataset)
    missing = [(f"The sweep did not run {the(m)} on {data}" if why == "not in the sweep" else
                f"{capital(the(m))} has no finished, scored run on {data} ({why})") + ", so it is not compared."
               for m, why in absent.items()]
    if not ranked:
        return _lead(title, [f"No model has a finished, scored run on {data}, so none is compared."])
    best = ranked[0]
    fids = [c.spread("FID") for c in ranked]
    same_config = len({(c.depth, c.z_dim) for c in ranked}) == 1
    where = (f"at depth {best.depth}, z_dim {best.z_dim}" if same_config else
             "each at its most repeated configuration (" + join(f"{c.name} {_config(c)}" for c in ranked) + ")")
    evidence = f"FID ({_seeds_phrase(fids)}): {_listing(ranked, 'FID', refs)}."
    if len(ranked) == 1:
        return _lead(title, [f"Only {the(best.model)} has scored runs on {data} ({where}). {evidence}", *missing])
    comparison = compare(fids[0], fids[1])
    if comparison.within_spread:
        claim = (f"By FID, no model is clearly best on {data} {where}: {the(best.model)} has the lowest median, but "
                 f"its lead over {the(ranked[1].model)} is within the spread over seeds.")
    else:
        claim = f"By FID, {the(best.model)} generates the best samples on {data} {where}."
    sentences = [claim, evidence, *missing, _other_measures(ranked), _precision_recall(ranked),
                 _cost(runs, ranked, refs, dataset), _headline_caveat(ranked, comparison)]
    sentences += _other_datasets(runs, refs, dataset)
    return _lead(title, sentences)


def _other_measures(ranked: list[Contender]) -> str:
    """Which model leads by IS, precision and recall (numbers from the runs just cited), and whether that agrees
    with FID."""
    best = ranked[0].model
    agree, disagree = [], []
    for metric in OTHER_MEASURES:
        scored = [c for c in ranked if c.spread(metric).n]
        if len(scored) < 2:
            continue
        order = sorted(scored, key=lambda c: c.spread(metric).median, reverse=not LOWER_IS_BETTER[metric])
        numbers = _listing(order, metric, None)
        comparison = compare(order[0].spread(metric), order[1].spread(metric))
        if comparison.tied or comparison.within_spread:
            disagree.append(f"by {metric} {the(order[0].model)} and {the(order[1].model)} are tied within the spread "
                            f"({numbers})")
        elif order[0].model == best:
            agree.append(f"{metric} ({numbers})")
        else:
            disagree.append(f"by {metric} {the(order[0].model)} leads ({numbers})")
    parts = []
    if agree:
        parts.append(f"{capital(the(best))} also leads by " + join(agree, "and by") + ".")
    if disagree:
        parts.append(capital("; ".join(disagree)) + ".")
    return " ".join(parts)


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
    return (f"This departs from the pattern the literature reports for the two families, lower precision and "
            f"higher recall for the VAE ({numbers}) {pattern}.{why}")


def _cost(runs: pd.DataFrame, ranked: list[Contender], refs: RunRefs, dataset: str) -> str:
    """Training cost per run, and what the long runs bought."""
    seconds = {c.model: c.spread("seconds") for c in ranked if c.spread("seconds").n}
    if not seconds:
        return ""
    cheapest = min(seconds, key=lambda m: seconds[m].median)
    best = ranked[0].model
    text = ("Training cost (median CPU-seconds per run, one thread): "
            + join(f"{MODEL_NAMES[m]} {seconds[m].median_text()} s" for m in seconds) + "; ")
    ratio = seconds[best].median / seconds[cheapest].median if best in seconds else math.nan
    if ratio < 1.1:
        text += f"{the(best)}, lowest in FID, cost no more training time than the others (within 10 %)."
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


# ------------------------------------------------------------------ 2, 3. depth and latent size
SHAPES = {"depth": {"falls": "improving with every added layer", "rises": "worsening with every added layer",
                    "interior": "with shallower and deeper networks both worse", "mixed": "with no steady trend"},
          "z_dim": {"falls": "improving with every larger latent", "rises": "worsening with every larger latent",
                    "interior": "with smaller and larger latents both worse", "mixed": "with no steady trend"}}


def _axis_sentence(a: Axis, refs: RunRefs) -> str:
    """Claim, evidence and caveat of one model along one axis: "The LSGAN is best at depth 3, ... (FID at z_dim
    100: ...); against the runner-up, ..."."""
    parts = []
    for value in sorted(a.points):
        note = ", collapsed" if value in a.collapsed and not a.all_collapsed else ""
        parts.append(f"{a.points[value].text(refs, name=False)} at {a.name} {value}{note}")
    steps = sorted(set(a.steps.values()))
    if len(steps) > 1:
        by_steps = {s: [v for v in sorted(a.steps) if a.steps[v] == s] for s in steps}
        parts.append("trained " + join(f"{s} steps at {a.name} {join(map(str, vs))}" for s, vs in by_steps.items()))
    if a.unfinished:
        parts.append(f"{a.name} {join(map(str, a.unfinished))} did not finish ({join(a.unfinished.values())})")
    text = (f"{capital(the(a.model))} is best at {a.name} {a.best}, {SHAPES[a.name][a.shape]} "
            f"(FID at {a.fixed_name} {a.fixed}: {'; '.join(parts)})")
    best, second = a.ranked[:2]
    clause = lead_clause(a.versus(best, second), a.noise_width(), "its headline configuration")
    text += f"; against the runner-up, {a.name} {second}, {clause}" if clause else ""
    if a.all_collapsed:
        text += f"; every point collapsed (IS < {COLLAPSE_IS:g}), so this order compares failed runs"
    return text + "."


def _not_run(axes: list[Axis], name: str, runs: pd.DataFrame, dataset: str) -> str:
    """One line for the models and axis values the sweep did not run: no claim about them."""
    plural = "depths" if name == "depth" else "z_dims"
    gaps = [f"{the(a.model)} at {plural} {join(map(str, a.not_run), 'or')}" for a in axes if a.not_run]
    with_axis = {a.model for a in axes}
    ran = set(runs[runs.dataset == dataset].model)
    single = [the(m) for m in MODEL_NAMES if m in ran and m not in with_axis]
    absent = [the(m) for m in MODEL_NAMES if m not in ran]
    lines = []
    if single:
        lines.append(f"The sweep ran {join(single)} at one {name} only, so no claim is made on {name} for "
                     f"{'it' if len(single) == 1 else 'them'}.")
    if absent:
        lines.append(f"It did not run {join(absent)} on {data_name(dataset)} at all.")
    if gaps:
        lines.append(f"Not in the sweep, so no claim: {join(gaps)}.")
    return " ".join(lines)


def _axes(runs: pd.DataFrame, dataset: str, name: str) -> list[Axis]:
    return [a for a in (axis(runs, m, dataset, name) for m in MODEL_NAMES) if a is not None]


def depth(runs: pd.DataFrame, refs: RunRefs, dataset: str = HEADLINE.dataset) -> str:
    title = "How does depth change each model?"
    axes = _axes(runs, dataset, "depth")
    if not axes:
        return _lead(title, [f"The sweep ran no model at more than one depth on {data_name(dataset)}, so depth is "
                             "not discussed.", _not_run(axes, "depth", runs, dataset)])
    sentences = [_axis_sentence(a, refs) for a in axes]
    clear = [a for a in axes if a.clear]
    if len({a.best for a in clear}) > 1:
        sentences.append("The best depth differs between models (" + join(f"{a.name_of()} {a.best}" for a in clear)
                         + ").")
    sentences.append(_depth_explanation(axes))
    sentences.append(_not_run(axes, "depth", runs, dataset))
    return _lead(title, sentences)


def _depth_explanation(axes: list[Axis]) -> str:
    """Why depth helps one model and hurts another, as far as the measured shapes support it."""
    out = []
    axes = [a for a in axes if a.clear]  # a best depth within the spread over seeds is not explained
    shallow_adv = [a for a in axes if not model_spec(a.model).reconstructs and a.best < max(a.points)]
    deep_ok = [a for a in axes if a.best == max(a.points)]
    if shallow_adv:
        past = join(dict.fromkeys(str(a.best) for a in shallow_adv), "or")
        out.append(f"For {join(the(a.model) for a in shallow_adv)}, adding layers past depth {past} made samples "
                   "worse: a deeper discriminator separates "
                   "real from generated images sooner, and a discriminator that wins leaves the generator with "
                   f"vanishing or uninformative gradients {cite('arjovsky_bottou2017')}, while at a fixed number of "
                   "steps the larger networks have more to fit")
    if deep_ok:
        out.append(f"{join(the(a.model) for a in deep_ok)} gained from depth: every layer halves the feature map "
                   "and doubles its channels, so deeper networks have more capacity for the digits' strokes")
    if any(a.best == 3 for a in axes):
        out.append("depth 3 takes a 32x32 image down to a 4x4 map, the layout of the DCGAN networks "
                   f"{cite('radford2016')}")
    return capital("; ".join(out)) + "." if out else ""


def latent_size(runs: pd.DataFrame, refs: RunRefs, dataset: str = HEADLINE.dataset) -> str:
    title = "How does the latent size change each model?"
    axes = _axes(runs, dataset, "z_dim")
    if not axes:
        return _lead(title, [f"The sweep ran no model at more than one z_dim on {data_name(dataset)}, so the latent "
                             "size is not discussed.", _not_run(axes, "z_dim", runs, dataset)])
    sentences = [_axis_sentence(a, refs) for a in axes]
    small = [a for a in axes if min(a.points) <= 2 and a.ranked[-1] == min(a.points) and not a.all_collapsed
             and a.versus(min(a.points), a.best).within_spread is False]
    if small:
        lost = [f"{a.name_of()} {a.recall[min(a.points)].median_text()} at z_dim {min(a.points)} vs "
                f"{a.recall[a.best].median_text()} at {a.best}" for a in small
                if a.recall[min(a.points)].n and a.recall[a.best].n
                and a.recall[min(a.points)].median < a.recall[a.best].median]
        sentences.append(f"The smallest latent is the worst for {join(the(a.model) for a in small)}: two "
                         "dimensions are far fewer than MNIST's intrinsic dimension, estimated at about 7 to 13 "
                         f"{cite('pope2021')}, so the network must place every digit on a two-dimensional sheet"
                         + (f", and recall falls with it (median recall {'; '.join(lost)})" if lost else "") + ".")
    flat = []
    for a in axes:
        big = sorted(z for z in a.points if z >= 16)
        if len(big) >= 2 and not a.all_collapsed and a.versus(big[0], big[-1]).within_spread:
            flat.append(a)
    if flat:
        why = []
        if any(model_spec(a.model).reconstructs for a in flat):
            why.append(f"a VAE leaves the dimensions it does not need inactive, at the prior {cite('burda2016')}")
        if any(not model_spec(a.model).reconstructs for a in flat):
            why.append("a generator can learn to ignore surplus noise dimensions")
        sentences.append(f"From z_dim {min(min(z for z in a.points if z >= 16) for a in flat)} up the latent size "
                         f"hardly matters for {join(the(a.model) for a in flat)}, whose differences there are within "
                         f"the spread over seeds: {join(why)}.")
    sentences.append(_not_run(axes, "z_dim", runs, dataset))
    return _lead(title, sentences)


# ------------------------------------------------------------------ 4. the KL factor
def kl_factor(runs: pd.DataFrame, refs: RunRefs, dataset: str = HEADLINE.dataset) -> str:
    title = "What does the VAE's KL factor trade?".replace("VAE", MODEL_NAMES[study_model("kl_factor")])
    study = kl_study(runs, dataset)
    if study is None:
        return _lead(title, [f"The sweep did not run {the(study_model('kl_factor'))} at several KL factors on "
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
    evidence = (f"At depth {study.depth}, z_dim {study.z_dim}, the test reconstruction error {trend}: "
                + "; ".join(f"kl={p.factor:g}: {p.spread('test_mse').text(refs)}, {p.spread('FID').text(refs)}"
                            + (f", {_nats(p.kl_nats)} nats in the codes" if math.isfinite(p.kl_nats) else "")
                            for p in study.points) + ".")
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
    return _lead(title, [claim, evidence, collapsed, explanation, caveat])


def _nats(value: float) -> str:
    """Information in the codes: one decimal, two below one nat (where collapse is decided)."""
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


# ------------------------------------------------------------------ 5. GAN stability
def stability(runs: pd.DataFrame, refs: RunRefs) -> str:
    title = "How stable are the GANs?"
    return _lead(title, [_outputs(runs, refs), _lipschitz(runs, refs)])


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
        claim = f"The seed's sigmoid discriminator output made the {gan} less stable than a linear one"
    elif sig.rate < lin.rate:
        claim = f"The seed's sigmoid discriminator output collapsed the {gan} less often than a linear one"
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


# ------------------------------------------------------------------ 6. the training recipe
def recipe(runs: pd.DataFrame, refs: RunRefs) -> str:
    title = "What did the training recipe change?"
    studies = recipe_studies(runs)
    if not studies:
        used = join(sorted(set(runs.recipe)))
        return _lead(title, [f"Every run of this sweep used the {used} recipe, so it holds no pair of recipes to "
                             "compare and the report makes no claim on them; the side-by-side measurement of the "
                             "seed-faithful and tuned recipes (time to reach a given FID) is the README's "
                             "(\"Training recipes\", bench/time_to_quality.py)."])
    sentences = []
    for s in studies:
        seed, tuned = s.arms.get("seed"), s.arms.get("tuned")
        if seed is None or tuned is None:
            continue
        f_seed, f_tuned = Spread.of(seed, "FID"), Spread.of(tuned, "FID")
        comparison = compare(f_tuned, f_seed)
        better = "tuned" if f_tuned.better_than(f_seed) else "seed-faithful"
        claim = (f"For {the(s.model)} (depth {s.depth}, z_dim {s.z_dim}, {data_name(s.dataset)}) the {better} recipe gave "
                 f"the better samples" if not comparison.within_spread else
                 f"For {the(s.model)} (depth {s.depth}, z_dim {s.z_dim}, {data_name(s.dataset)}) the two recipes are tied within "
                 "the spread over seeds")
        text = (f"{claim}: FID {f_seed.text(refs, name=False)} seed-faithful, {f_tuned.text(refs, name=False)} "
                f"tuned, in {Spread.of(seed, 'seconds').median_text()} and "
                f"{Spread.of(tuned, 'seconds').median_text()} s of training (medians).")
        if "tuned" in s.reach and "seed" in s.reach and math.isfinite(s.target):
            r_seed, r_tuned = s.reach["seed"], s.reach["tuned"]

            def took(reach: Spread, arm: pd.DataFrame) -> str:
                reached = "" if reach.n == len(arm) else f", {reach.n} of {len(arm)} runs reached it"
                return f"a median of {reach.median_text()} s ({refs.cite(reach.labels)}{reached})"

            text += (f" To first reach FID {f_seed.number(s.target)} (the seed-faithful median) the tuned runs "
                     f"needed {took(r_tuned, tuned)}, the seed-faithful ones {took(r_seed, seed)}"
                     + (f": {r_seed.median / r_tuned.median:.1f} times faster." if r_tuned.median > 0 else "."))
        elif "seed" in s.reach and "tuned" not in s.reach:
            text += f" The tuned runs never reached the seed-faithful median FID {f_seed.number(s.target)}."
        caveat = lead_clause(comparison)
        if caveat:
            text += f" Caveat: {caveat}."
        sentences.append(text)
    sentences.append("The tuned recipe changes learning rates, batch size, critic steps and adds an average of the "
                     "generator's weights at once (Training section), so the sweep does not say which ingredient "
                     "did what; the README's ablations do.")
    return _lead(title, sentences)


PARAGRAPHS: tuple[Callable[[pd.DataFrame, RunRefs], str], ...] = (best_samples, depth, latent_size, kl_factor,
                                                                    stability, recipe)


def discussion_paragraphs(runs: pd.DataFrame, refs: RunRefs) -> list[str]:
    """The six paragraphs, in the assignment's order."""
    return [paragraph(runs, refs) for paragraph in PARAGRAPHS]
