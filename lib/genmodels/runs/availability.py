"""Data sets a sweep cannot have here, found before anything trains.

Offline, CIFAR-10 can only be downloaded: rather than start each of configs/full.yaml's 45 CIFAR-10 runs to fail on
its data, each data set of a sweep is checked once
(`genmodels.data.unavailable`: files on disk first; one download attempt only where downloads are allowed);
the runs of one that cannot be had are set aside with the reason, which is also recorded beside them in the
results (`store.record_data_missing`) so that `results` and the report name the missing data set. The other
runs go on.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable

from genmodels.core import store
from genmodels.data import downloads_allowed, unavailable
from genmodels.runs.notebook_run import RunOutcome, RunSpec

NO_DATA = "no data"  # the status of a run set aside because its data set cannot be had


def set_aside(specs: list[RunSpec]) -> tuple[list[RunSpec], list[RunOutcome]]:
    """(the runs whose data can be had, one `NO_DATA` outcome per run whose data cannot), each data set checked
    once. The results root of every run set aside records why; a data set found again has its record removed."""
    reasons: dict[tuple[str, str | None], str | None] = {}
    for spec in specs:
        key = (spec.config.dataset, spec.config.data_root)
        if key not in reasons:
            reasons[key] = unavailable(*key)
    go_on, aside = [], []
    for spec in specs:
        reason = reasons[(spec.config.dataset, spec.config.data_root)]
        if reason is None:
            go_on.append(spec)
        else:
            aside.append(RunOutcome(spec, NO_DATA, error=reason))
    _record(specs, {o.spec.config.dataset: o.error for o in aside})
    return go_on, aside


def no_data_reasons(specs: list[RunSpec]) -> dict[tuple[str, str | None], str | None]:
    """Per (data set, data root) of `specs`, why its runs would be set aside, as `set_aside` decides it, but
    without downloading or recording anything (a dry run): where downloads are allowed, a data set not on disk
    is one the sweep will try to download, so it is not counted missing here."""
    if downloads_allowed():
        return {}
    return {key: unavailable(*key, download=False)
            for key in dict.fromkeys((s.config.dataset, s.config.data_root) for s in specs)}


def _record(specs: list[RunSpec], missing: dict[str, str]) -> None:
    for root, dataset in dict.fromkeys((Path(s.results_root), s.config.dataset) for s in specs):
        if dataset in missing:
            store.record_data_missing(root, dataset, missing[dataset])
        else:
            store.clear_data_missing(root, dataset)


def summary_lines(outcomes: Iterable[RunOutcome]) -> list[str]:
    """One line per data set whose runs were set aside: how many, and why."""
    aside = [o for o in outcomes if o.status == NO_DATA]
    counts = Counter(o.spec.config.dataset for o in aside)
    reasons = {o.spec.config.dataset: o.error for o in aside}
    return [f"{dataset}: {n} run(s) not trained: {reasons[dataset]}" for dataset, n in counts.items()]


__all__ = ["NO_DATA", "set_aside", "no_data_reasons", "summary_lines"]
