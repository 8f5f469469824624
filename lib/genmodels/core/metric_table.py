"""What each measured number is: its column, which direction is better, its range, how it is printed and named.

The results table, the report's tables and its Discussion all rank and print FID, IS, precision, ... through
this table (as torchmetrics' metrics carry `higher_is_better`), so a new metric is described once and a
direction or a number of decimals cannot differ between a table and the sentence that cites it.
Plain data: no torch, so the results table and the CLI stay light. It lives in core/ because the store's check of
a run folder (a metrics.json value out of its range makes the run damaged) reads the same ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    """One measured number of a run."""

    name: str  # its column in the results table ("FID")
    key: str | None  # its key in metrics.json's "quality" block (None: stored elsewhere, or a cost)
    higher_is_better: bool
    range: tuple[float, float]  # the values it can take
    decimals: int  # in tables (the results command and the report's metric tables)
    prose_decimals: int  # in a sentence, beside its spread over seeds, where fewer digits read better
    label: str  # how a sentence names it ("test MSE"; "s" for seconds, written after the number)

    def better(self, a: float, b: float) -> bool:
        """Whether `a` is strictly better than `b`."""
        return a > b if self.higher_is_better else a < b

    def table_text(self, value: Any) -> str:
        """The value as a table prints it ("n/a" when it was not measured)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        return f"{value:.{self.decimals}f}"

    def prose_text(self, value: float) -> str:
        """The value as a sentence prints it."""
        return f"{value:.{self.prose_decimals}f}"


INF = math.inf
METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("FID", "fid", False, (0.0, INF), 2, 1, "FID"),
    Metric("KID", "kid_mean", False, (-INF, INF), 4, 4, "KID"),  # the unbiased estimate can fall below zero
    Metric("IS", "inception_score_mean", True, (1.0, INF), 2, 2, "IS"),  # at most the number of classes
    Metric("precision", "precision", True, (0.0, 1.0), 3, 2, "precision"),
    Metric("recall", "recall", True, (0.0, 1.0), 3, 2, "recall"),
    Metric("test_mse", None, False, (0.0, INF), 3, 4, "test MSE"),  # metrics.json's test_reconstruction
    Metric("seconds", None, False, (0.0, INF), 0, 0, "s"),  # training CPU-seconds: the cost a result is read at
)}
# the image-quality scores metrics.json's "quality" block holds, in the order tables show them
QUALITY_SCORES: tuple[str, ...] = tuple(name for name, m in METRICS.items() if m.key is not None)
# every number of metrics.json's "quality" block with the values it can take: the scores above and the spreads and
# scores no table shows (a run folder holding any other value is damaged: core.store.metrics_problem)
STORED_RANGES: dict[str, tuple[float, float]] = {
    **{m.key: m.range for m in METRICS.values() if m.key is not None},
    "kid_std": (0.0, INF), "inception_score_std": (0.0, INF), "density": (0.0, INF), "coverage": (0.0, 1.0),
}


def metric(name: str) -> Metric:
    """The metric called `name` (a results-table column); KeyError names the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None
