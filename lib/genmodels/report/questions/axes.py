"""How depth and the latent size change each model: each model along the grid's depth axis and z_dim axis
(`Axis`), the two paragraphs that discuss them, and the Conclusion's sentence on which of the two moved FID
more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from genmodels.core.config import DEPTHS
from genmodels.core.registry import MODEL_NAMES, model_spec
from genmodels.runs.results import COLLAPSE_IS
from genmodels.report.collect import HEADLINE, finished, headline_runs, main_runs, sweep_axes
from genmodels.report.english import capital, count_word, data_name, join, paragraph as lead, the
from genmodels.report.evidence import Comparison, RunRefs, Spread, compare, lead_clause
from genmodels.report.references import cite

# the latent sizes the assignment asks about (z_dim 2 vs 16 vs 100)
ASKED_Z_DIMS = (2, 16, 100)


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
        steps[value] = int(finished(at).steps.median())
        if finished(at).IS.median() < COLLAPSE_IS:
            collapsed.append(value)
    if len(points) < 2:
        return None
    head = headline_runs(runs, dataset)
    head = Spread.of(head[head.model == model], "FID")
    noise = head if head.n >= 2 else None
    not_run = tuple(v for v in asked if v not in values)
    return Axis(model, dataset, name, fixed_name, int(fixed), points, recall, steps, tuple(collapsed), unfinished,
                not_run, noise)


# ------------------------------------------------------------------ the paragraphs
SHAPES = {"depth": {"falls": "improving with every added layer", "rises": "worsening with every added layer",
                    "interior": "with shallower and deeper networks both worse", "mixed": "with no steady trend"},
          "z_dim": {"falls": "improving with every larger latent", "rises": "worsening with every larger latent",
                    "interior": "with smaller and larger latents both worse", "mixed": "with no steady trend"}}


def _subject(models: list[str], of: int) -> str:
    """ "the VAE is", "the LSGAN and the WGAN are", "all three models are" (`of`: how many models the paragraph
    discusses)."""
    if len(models) == of >= 3:
        return f"all {count_word(of).lower()} models are"
    return join(the(m) for m in models) + (" is" if len(models) == 1 else " are")


def _claims(axes: list[Axis]) -> str:
    """Where each model is best along the axis and the shape of its curve, in one sentence: models that share
    a best value and a shape are named together, so a pattern all share is said once."""
    groups: dict[tuple[int, str], list[str]] = {}
    for a in axes:
        if not a.all_collapsed:
            groups.setdefault((a.best, a.shape), []).append(a.model)
    name = axes[0].name
    parts = [f"{_subject(models, len(axes))} best at {name} {best}, {SHAPES[name][shape]}"
             for (best, shape), models in groups.items()]
    text = capital("; ".join(parts)) + "." if parts else ""
    failed = [a.model for a in axes if a.all_collapsed]
    if failed:
        text += (f" Every point of {join(the(m) for m in failed)} collapsed (IS < {COLLAPSE_IS:g}), so "
                 f"{'its' if len(failed) == 1 else 'their'} order compares failed runs.")
    return text.strip()


def _numbers(axes: list[Axis], refs: RunRefs) -> str:
    """The FID of every point, one line per model (a list, not a sentence per model), with the steps where they
    differ along the axis and the points that did not finish."""
    name = axes[0].name
    lines = []
    for a in axes:
        parts = []
        for value in sorted(a.points):
            note = ", collapsed" if value in a.collapsed and not a.all_collapsed else ""
            parts.append(f"{a.points[value].text(refs, name=False)} at {name} {value}{note}")
        line = f"- {a.name_of()} ({a.fixed_name} {a.fixed}): " + "; ".join(parts)
        steps = sorted(set(a.steps.values()))
        if len(steps) > 1:
            by_steps = {s: [v for v in sorted(a.steps) if a.steps[v] == s] for s in steps}
            line += "; trained " + join(f"{s} steps at {name} {join(map(str, vs))}" for s, vs in by_steps.items())
        if a.unfinished:
            statuses = join(dict.fromkeys(a.unfinished.values()))
            line += f"; {name} {join(map(str, a.unfinished))} did not finish ({statuses})"
        lines.append(line)
    where = "median [min, max] where a point ran over several seeds"
    return f"FID along the {name} axis ({where}):\n\n" + "\n".join(lines) + "\n\n"


def _caveats(axes: list[Axis]) -> str:
    """How firm each model's lead over its runner-up is, one sentence per kind of caveat, naming the models it
    applies to."""
    groups: dict[str, list[str]] = {}
    for a in axes:
        if a.all_collapsed:
            continue
        best, second = a.ranked[:2]
        comparison = a.versus(best, second)
        clause = lead_clause(comparison, a.noise_width(), "the model's headline configuration", numbers=False)
        if not clause:
            continue
        where = f"{a.name_of()} {a.name} {second}"
        noise = a.noise_width()
        if comparison.single_seed and comparison.better.n < 2 and comparison.worse.n < 2 and noise:
            where += (f", {comparison.better.number(comparison.difference)} against a spread of "
                      f"{comparison.better.number(noise)}")
        groups.setdefault(clause, []).append(where)
    return " ".join(f"Against the runner-up ({'; '.join(where)}), {clause}." for clause, where in groups.items())


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


def _axis_paragraph(runs: pd.DataFrame, refs: RunRefs, dataset: str, name: str, title: str,
                    discussion: Callable[[list[Axis]], list[str]]) -> str:
    """A question on one axis: the claims, the numbers as a list, the caveats, then `discussion`'s sentences
    (what the axis's shape means) and what the sweep did not run."""
    axes = _axes(runs, dataset, name)
    if not axes:
        what = "depth is" if name == "depth" else "the latent size is"
        return lead(title, [f"The sweep ran no model at more than one {name} on {data_name(dataset)}, so {what} not "
                            "discussed.", _not_run(axes, name, runs, dataset)])
    return lead(title, [_claims(axes), _numbers(axes, refs), _caveats(axes), *discussion(axes),
                        _not_run(axes, name, runs, dataset)])


def depth_paragraph(runs: pd.DataFrame, refs: RunRefs, dataset: str = HEADLINE.dataset) -> str:
    return _axis_paragraph(runs, refs, dataset, "depth", "How does depth change each model?", _depth_discussion)


def _depth_discussion(axes: list[Axis]) -> list[str]:
    clear = [a for a in axes if a.clear]
    differs = ("The best depth differs between models (" + join(f"{a.name_of()} {a.best}" for a in clear) + ")."
               if len({a.best for a in clear}) > 1 else "")
    return [differs, _depth_explanation(axes)]


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


def latent_paragraph(runs: pd.DataFrame, refs: RunRefs, dataset: str = HEADLINE.dataset) -> str:
    return _axis_paragraph(runs, refs, dataset, "z_dim", "How does the latent size change each model?",
                           _latent_discussion)


def _latent_discussion(axes: list[Axis]) -> list[str]:
    sentences = []
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
    return sentences


# ------------------------------------------------------------------ the Conclusion
def takeaway(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> str:
    """The Conclusion's sentence on the grid: whether depth or the latent size moved each model's FID more, with
    the spans it rests on and the axes whose points trained for different numbers of steps."""
    depth_axes = _axes(runs, dataset, "depth")
    z_axes = _axes(runs, dataset, "z_dim")
    both = [(d, z) for d in depth_axes for z in z_axes if d.model == z.model
            and not d.all_collapsed and not z.all_collapsed]  # an order among failed runs is no takeaway
    if both:
        deeper = [the(d.model) for d, z in both if d.span > z.span]
        wider = [the(d.model) for d, z in both if d.span <= z.span]
        spans = ", ".join(f"{d.name_of()} {d.span:.1f} and {z.span:.1f}" for d, z in both)
        unequal = [f"the {a.name_of()}'s {a.name} axis at {min(a.steps.values())} to {max(a.steps.values())} steps"
                   for pair in both for a in pair if len(set(a.steps.values())) > 1]
        budget = ("equal steps along every axis" if not unequal else "equal steps along each axis but "
                  + join(unequal))
        return ("Within the grid, " + (f"depth moved FID more than the latent size for {join(deeper)}"
                                       if deeper else "")
                + ("; " if deeper and wider else "")
                + (f"the latent size moved it more than depth for {join(wider)}" if wider else "")
                + f" (span of median FID along depth and z_dim: {spans}; {budget}).")
    clear = [a for a in depth_axes if a.clear]
    if clear:
        return ("The best depth is " + join(f"{a.best} for {the(a.model)}" for a in clear)
                + " (its lead over the runner-up exceeds the spread over seeds).")
    return ""
