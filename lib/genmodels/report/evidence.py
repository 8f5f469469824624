"""The Discussion's evidence: a metric over a set of runs (one configuration's seeds) with its spread, the runs
it comes from as numbered references, and whether a difference between two such sets exceeds their spread.

Every number the Discussion states is written by `Spread.text` or `RunRefs` from the runs' rows, so a test can
read each one back and check it against the metrics file of the runs it names.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable

import pandas as pd

from genmodels.core.metric_table import Metric, metric


# how `Spread.text` writes a number with its runs, read back by `cited_numbers`: "16.6 [15.2, 18.0] over 3 seeds
# (R1-R3)", "0.0251 (R7)", "41 s (R4)"
CITED = re.compile(r"(?P<value>\d+(?:\.\d+)?)(?: \[(?P<lo>\d+(?:\.\d+)?), (?P<hi>\d+(?:\.\d+)?)\])?"
                   r"(?: over \d+ seeds)?(?P<unit> s)? \((?P<refs>R\d+(?:-R\d+)?(?:, R\d+(?:-R\d+)?)*)\)")


@dataclass(frozen=True)
class Cited:
    """A number the Discussion states with the runs it rests on (references expanded)."""

    text: str
    value: str
    lo: str | None
    hi: str | None
    seconds: bool
    refs: tuple[int, ...]

    @property
    def decimals(self) -> int:
        return len(self.value.partition(".")[2])


def cited_numbers(text: str) -> list[Cited]:
    """Every number in `text` written with run references, so a check can compare it with those runs."""
    out = []
    for m in CITED.finditer(text):
        refs: list[int] = []
        for part in m["refs"].split(", "):
            first, _, last = part.partition("-")
            refs += range(int(first[1:]), int((last or first)[1:]) + 1)
        out.append(Cited(m.group(0), m["value"], m["lo"], m["hi"], bool(m["unit"]), tuple(refs)))
    return out


class RunRefs:
    """Numbered references to runs ("R1", "R2", ...), in the order the Discussion first cites them, so that a
    sentence names its runs in a few characters and the list at the end gives their folders."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}

    def cite(self, labels: Iterable[str]) -> str:
        """ "R3" , "R1-R5", "R2, R4-R6": the runs' references, numbering unseen runs in order."""
        numbers = sorted({self.keys.setdefault(label, len(self.keys) + 1) for label in labels})
        return ", ".join(f"R{a}" if a == b else f"R{a}-R{b}" for a, b in _ranges(numbers))

    def listing(self) -> list[tuple[str, str]]:
        """(reference, run label) for every cited run, in order."""
        return [(f"R{n}", label) for label, n in sorted(self.keys.items(), key=lambda item: item[1])]


def _ranges(numbers: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of integers as (first, last): [1, 2, 3, 5] -> [(1, 3), (5, 5)]."""
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


@dataclass(frozen=True)
class Spread:
    """One metric over a set of finished runs: its values and the runs' labels. With several runs (seeds of one
    configuration) the Discussion states median [min, max]; with one, the value and that it is a single seed."""

    metric: str
    values: tuple[float, ...]
    labels: tuple[str, ...]

    @classmethod
    def of(cls, runs: pd.DataFrame, metric: str) -> "Spread":
        """The metric over the finished runs of `runs` where it was measured (NaN and unfinished runs dropped)."""
        done = runs[(runs.status == "complete")] if "status" in runs else runs
        measured = done[metric].map(lambda v: isinstance(v, (int, float)) and math.isfinite(v)).astype(bool)
        done = done.loc[measured]
        return cls(metric, tuple(float(v) for v in done[metric]), tuple(str(v) for v in done.label))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return float(pd.Series(self.values).median()) if self.values else math.nan

    @property
    def lo(self) -> float:
        return min(self.values) if self.values else math.nan

    @property
    def hi(self) -> float:
        return max(self.values) if self.values else math.nan

    @property
    def width(self) -> float:
        """max - min over the runs (0 for one run: a single seed shows no spread, which is not the same as none)."""
        return self.hi - self.lo

    @property
    def facts(self) -> Metric:
        """The metric's direction, decimals and name (`genmodels.core.metric_table`)."""
        return metric(self.metric)

    def number(self, value: float) -> str:
        return self.facts.prose_text(value)

    def median_text(self) -> str:
        """The median alone ("16.6"), where the spread is stated elsewhere or does not matter (training time)."""
        return self.number(self.median) if self.values else "n/a"

    def value_text(self, seeds: bool = True) -> str:
        """ "16.6 [15.2, 18.0] over 3 seeds" or "16.6 (one seed)" (the metric's name not included); without
        `seeds` "16.6 [15.2, 18.0]" and "16.6", where the sentence states the seeds once."""
        if self.n == 0:
            return "n/a"
        if self.n == 1:
            return self.number(self.values[0]) + (" (one seed)" if seeds else "")
        return (f"{self.number(self.median)} [{self.number(self.lo)}, {self.number(self.hi)}]"
                + (f" over {self.n} seeds" if seeds else ""))

    def text(self, refs: RunRefs, name: bool = True, seeds: bool = True) -> str:
        """ "FID 16.6 [15.2, 18.0] over 3 seeds (R1-R3)": the number as `value_text`, and its runs' references.
        Times read "41 s (R4)"."""
        value = self.value_text(seeds).replace(" (one seed)", "")
        if self.metric == "seconds":
            value = value.replace(" over", " s over") if " over" in value else value + " s"
            return f"{value} ({refs.cite(self.labels)})"
        return f"{self.facts.label + ' ' if name else ''}{value} ({refs.cite(self.labels)})"

    def better_than(self, other: "Spread") -> bool:
        """Whether this median is better than the other's (strictly)."""
        return self.facts.better(self.median, other.median)


# Two sets of runs trained for equal time when their median training seconds (CPU-seconds on the CPU,
# `collect.with_cost`) differ by at most this fraction: about what one configuration's time varies run to run.
EQUAL_TIME = 0.10


def no_longer(seconds: float, other: float) -> bool:
    """Whether a run of `seconds` trained no longer than one of `other`, within `EQUAL_TIME`: a ranking of the
    first above the second cannot then be the larger budget's doing."""
    return seconds <= other * (1 + EQUAL_TIME)


def equal_time(seconds: float, other: float) -> bool:
    """Whether two budgets of training seconds are equal within `EQUAL_TIME`."""
    return no_longer(seconds, other) and no_longer(other, seconds)


@dataclass(frozen=True)
class Comparison:
    """Two sets of runs on one metric: which is better by median, and whether the difference is within the
    spread over seeds.

    within_spread is True when the ranges overlap (both with several seeds) or a single run lies inside the
    other's range; with a single seed on both sides it falls back to `noise`, the spread over seeds measured on
    another configuration of the same model (None when there is none: nothing can be said)."""

    better: Spread
    worse: Spread
    tied: bool  # equal medians
    within_spread: bool | None
    single_seed: bool  # one side rests on one run

    @property
    def difference(self) -> float:
        return abs(self.better.median - self.worse.median)


def compare(a: Spread, b: Spread, noise: float | None = None) -> Comparison:
    """`a` against `b` (same metric): the better by median, and whether the difference exceeds the spread."""
    better, worse = (a, b) if not b.better_than(a) else (b, a)
    tied = a.median == b.median
    if a.n >= 2 and b.n >= 2:
        within: bool | None = a.lo <= b.hi and b.lo <= a.hi
    elif a.n >= 2 or b.n >= 2:
        many, one = (a, b) if a.n >= 2 else (b, a)
        within = many.lo <= one.values[0] <= many.hi
    elif noise is not None and math.isfinite(noise) and noise > 0:
        within = abs(a.median - b.median) <= noise
    else:
        within = None
    return Comparison(better, worse, tied, within, single_seed=min(a.n, b.n) < 2)


def lead_clause(comparison: Comparison, noise: float | None = None, noise_name: str = "",
                numbers: bool = True) -> str:
    """The caveat to a claim that one set is better than another: empty when the difference exceeds the spread
    over seeds on firm ground, else what makes it uncertain (within the spread, or resting on single seeds).
    `noise` is the spread used where both sides are single runs, measured on `noise_name`; without `numbers`
    the caveat leaves the difference and that spread out (a sentence that gives one caveat for several models
    states them beside each model)."""
    c = comparison
    unit = c.better.facts.label
    if c.tied:
        return "the two are equal at this precision"
    if c.within_spread:
        if c.better.n >= 2 and c.worse.n >= 2:
            return "the ranges over seeds overlap, so the two are tied within the spread"
        if c.better.n >= 2 or c.worse.n >= 2:
            return "the single run lies within the other's range over seeds, so the difference may be chance"
        if not numbers:
            return f"the difference is within the spread over seeds of {noise_name}, so it may be chance"
        return (f"the difference of {c.better.number(c.difference)} is within the {c.better.number(noise or 0)}-"
                f"{unit} spread over seeds of {noise_name}, so it may be chance")
    if c.within_spread is None:
        return "each side rests on a single seed and the spread over seeds is unknown, so the order may be chance"
    if c.single_seed:
        if c.better.n < 2 and c.worse.n < 2:
            if not numbers:
                return f"the difference exceeds the spread over seeds of {noise_name}, though each point rests on a single seed"
            return (f"the difference of {c.better.number(c.difference)} exceeds the {c.better.number(noise or 0)}-"
                    f"{unit} spread over seeds of {noise_name}, though each point rests on a single seed")
        return "the single run lies outside the other's range over seeds, but it is one seed"
    return ""
