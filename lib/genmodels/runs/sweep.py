"""Sweeps: a YAML grid expanded into run configs, each executed as a papermill run of notebooks/train.ipynb.

YAML format (see configs/*.yaml)::

    name: default
    defaults: {width: 32, steps: 600}      # shared RunConfig fields
    grid:                                  # blocks; in each, lists are crossed, scalars are fixed
      - {model: [vae, gan, wgan], dataset: [mnist], depth: [1, 2, 3, 4, 5]}
      - {model: vae, kl_factor: [0.0001, 0.001, 0.01, 0.1]}

A run is identified by the hash of its resolved config, so editing the grid re-runs only what changed.
Whether a run is complete, partial or failed is `genmodels.core.store`'s decision (the executed notebook is written
under a temporary name and renamed only on success, so an interrupted run is never mistaken for a finished
one); an unfinished run resumes from its last checkpoint when the sweep is run again.

Where runs execute is one replaceable piece, an executor (genmodels.runs.executors): side by side on this machine,
or as tasks on a Dask cluster. One run is `genmodels.runs.notebook_run.execute_spec`.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tqdm import tqdm

from genmodels.core import safe_read, store
from genmodels.core.config import NON_IDENTITY_FIELDS, ConfigError, RunConfig
from genmodels.runs.availability import NO_DATA, no_data_reasons, set_aside, summary_lines
from genmodels.runs.notebook_run import RunOutcome, RunSpec, execute_spec
from genmodels.runs.executors import Executor, LocalExecutor, default_jobs


# the most configurations one sweep file may expand to: 60 times configs/full.yaml, and about a minute of
# validating and hashing; a grid that crosses to more is a typo, refused before it is expanded
MAX_CONFIGURATIONS = 10_000


class SweepError(ValueError):
    """The sweep file is invalid; the message names the entry and the field."""


# ------------------------------------------------------------------ expansion
def load_sweep(path: str | os.PathLike[str], results_root: str | os.PathLike[str] = store.DEFAULT_ROOT,
               notes: list[str] | None = None) -> list[RunSpec]:
    """The run specs of a sweep file (`expand`); `notes` collects what was accepted but deserves a word."""
    from genmodels.core import safe_yaml

    path = Path(path)
    if path.is_dir():
        raise SweepError(f"sweep file {path} is a folder, not a YAML file; profiles are in configs/ (quick.yaml, "
                         "default.yaml, full.yaml)")
    if not path.exists():
        raise SweepError(f"sweep file {path} not found; profiles are in configs/ (quick, default, full)")
    try:
        text = safe_read.read_bytes(path, safe_read.SWEEP_LIMIT).decode("utf-8")
    except UnicodeDecodeError as err:
        raise SweepError(f"{path} is not a text file (byte {err.start} is not UTF-8); a sweep file is YAML text "
                         "like configs/quick.yaml") from None
    except safe_read.UnsafeFile as err:
        raise SweepError(f"sweep file {path} cannot be read: {err}") from None
    except OSError as err:
        raise SweepError(f"sweep file {path} cannot be read: {err.strerror or err}") from None
    try:  # safe types only; duplicate keys and alias bombs refused (genmodels.core.safe_yaml)
        document = safe_yaml.load(text) or {}
    except safe_yaml.YAMLInputError as err:
        raise SweepError(f"{path}: {err}") from None
    return expand(document, results_root, source=str(path), notes=notes)


def expand(document: dict[str, Any], results_root: str | os.PathLike[str] = store.DEFAULT_ROOT,
           source: str = "sweep", notes: list[str] | None = None) -> list[RunSpec]:
    """Every configuration of the grid, deduplicated by config hash, in file order.

    Two entries of one hash that differ in execution fields (`NON_IDENTITY_FIELDS`, e.g. sample_every) are an
    error, not a silent choice of the first: they would write the same run folder. Entries that are the same
    run are kept once, and each repeat is said in `notes` (the CLI prints them): merging them without a word
    hides a typo such as a seed list written twice. An empty block is an error: it is one run of every default,
    which nobody writes on purpose.
    """
    if not isinstance(document, dict) or "grid" not in document:
        raise SweepError(f"{source}: expected a mapping with 'grid' (and optional 'defaults', 'name')")
    unknown = set(document) - {"name", "description", "defaults", "grid"}
    if unknown:
        raise SweepError(f"{source}: unknown top-level key(s) {sorted(unknown)}; allowed: name, description, defaults, grid")
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise SweepError(f"{source}: 'defaults' must be a mapping of field: value, got {type(defaults).__name__}")
    blocks = document["grid"]
    if isinstance(blocks, dict) and blocks:
        blocks = [blocks]
    if not isinstance(blocks, list) or not blocks:
        raise SweepError(f"{source}: 'grid' must be a non-empty list of blocks (field: value or [values])")
    if "out_dir" in defaults or any(isinstance(b, dict) and "out_dir" in b for b in blocks):
        raise SweepError(f"{source}: out_dir is not a sweep field: a sweep decides run folders "
                         "(<results>/<dataset>/<model>/<run-name>); remove out_dir (or pass --results)")
    specs: dict[str, RunSpec] = {}
    origins: dict[str, str] = {}  # hash -> the entry it came from, for the message when another entry repeats it
    for number, block in enumerate(blocks, start=1):
        if not isinstance(block, dict):
            raise SweepError(f"{source}: grid entry {number} must be a mapping of field: value(s)")
        if not block:
            raise SweepError(f"{source}: grid entry {number} is empty ({{}}), which would be one run of every "
                             "default; give it at least one field (e.g. {model: vae})")
        keys = list(block)
        empty = [k for k, v in block.items() if isinstance(v, list) and not v]
        if empty:
            raise SweepError(f"{source}: grid entry {number}: {empty[0]} is an empty list; give it at least one "
                             "value (or remove it to use the default)")
        values = [v if isinstance(v, list) else [v] for v in block.values()]
        crossed = math.prod(len(v) for v in values)  # counted before anything is expanded
        if crossed > MAX_CONFIGURATIONS:
            raise SweepError(f"{source}: grid entry {number} crosses to {crossed:,} configurations, more than the "
                             f"{MAX_CONFIGURATIONS:,} a sweep may have; split it or give its lists fewer values")
        for combination in itertools.product(*values):
            entry = {**defaults, **dict(zip(keys, combination))}
            where = f"grid entry {number} ({_short(entry, keys)})"
            try:
                config = RunConfig.from_dict(entry)
            except (ConfigError, TypeError) as err:
                raise SweepError(f"{source}: {where}: {err}") from None
            key = config.config_hash()
            if key in specs:
                first = specs[key].config
                differs = [f for f in NON_IDENTITY_FIELDS if getattr(config, f) != getattr(first, f)]
                if differs:
                    raise SweepError(f"{source}: {where} and {origins[key]} are the same run (hash {key}) and differ "
                                     f"only in {', '.join(differs)} (how a run executes, not what it computes); "
                                     "keep one of them")
                if notes is not None:
                    notes.append(f"{source}: {where} is the same run as {origins[key]} (hash {key}); it runs once")
                continue
            if len(specs) >= MAX_CONFIGURATIONS:
                raise SweepError(f"{source}: grid entry {number} takes the sweep past {MAX_CONFIGURATIONS:,} "
                                 "configurations, the most a sweep may have; split it into several sweep files")
            run_dir = store.run_folder(results_root, config.dataset, config.model, config.run_name())
            specs[key], origins[key] = RunSpec(config, run_dir, Path(results_root)), where
    return list(specs.values())


def _short(entry: dict[str, Any], keys: list[str]) -> str:
    return ", ".join(f"{k}={entry[k]!r}" for k in keys if k in entry)


def select(specs: list[RunSpec], pattern: str | None) -> list[RunSpec]:
    """Keep runs whose label (dataset/model/run-name) matches a glob, e.g. 'mnist/gan/*' or '*d3*'."""
    if not pattern:
        return specs
    glob = pattern if any(ch in pattern for ch in "*?[") else f"*{pattern}*"
    return [s for s in specs if fnmatch.fnmatch(s.label, glob)]


# ------------------------------------------------------------------ execution
def prepare_classifiers(specs: Iterable[RunSpec], log: Any = print) -> None:
    """Train (or load) every feature classifier the runs will need, here and with every thread, before runs
    start side by side: otherwise the first run of a data set trains it on its one thread while others wait."""
    from genmodels.quality.classifier import CLASSIFIER_DATA, get_classifier

    needed: dict[tuple[str, str | None, Path], None] = {}
    for spec in specs:
        if spec.config.metric_samples:
            key = CLASSIFIER_DATA.get(spec.config.dataset, spec.config.dataset)
            needed[(key, spec.config.data_root, spec.results_root)] = None
    for dataset, data_root, results in needed:
        try:
            get_classifier(dataset, results, data_root=data_root, log=log)
        except Exception as err:  # a data set that cannot load fails its runs, each with its own message
            log(f"no {dataset} classifier prepared ({type(err).__name__}: {err}); its runs will report it")


@dataclass
class SweepReport:
    outcomes: list[RunOutcome]

    @property
    def failed(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def table(self) -> str:
        lines = [f"{'status':<8} {'seconds':>8} {'FID':>8}  run"]
        for o in self.outcomes:
            if o.status == NO_DATA:
                continue  # one line per data set, below
            fid = (o.metrics.get("quality") or {}).get("fid")
            fid_text = f"{fid:8.2f}" if isinstance(fid, (int, float)) else f"{'-':>8}"
            lines.append(f"{o.status:<8} {o.seconds:8.1f} {fid_text}  {o.spec.label}")
            if o.error:
                where = f"  (see {o.spec.run_dir / store.ERROR})" if o.status == "failed" else ""
                where += f" after {o.attempts} attempts" if o.attempts > 1 else ""
                lines.append(f"{'':<18}  {'error' if o.status == 'failed' else 'note'}: {o.error}{where}")
        lines += [f"{NO_DATA:<8} {'':>8} {'-':>8}  {line}" for line in summary_lines(self.outcomes)]
        counts = {s: sum(o.status == s for o in self.outcomes) for s in ("done", "skipped", "failed")}
        others = Counter(o.status for o in self.outcomes if o.status not in counts)  # every run is counted
        words = {"busy": "busy (running in another process)", NO_DATA: "not trained (no data)"}
        lines.append(", ".join([f"{n} {s}" for s, n in counts.items()]
                               + [f"{n} {words.get(s, s)}" for s, n in others.items()]))
        return "\n".join(lines)


def run_sweep(specs: list[RunSpec], executor: Executor | None = None, progress: bool = True) -> SweepReport:
    """Run every incomplete spec; one overall progress bar whose ETA is based on finished runs.

    Runs whose data set cannot be had here are set aside first, one line per data set (`availability`)."""
    executor = executor or LocalExecutor()
    complete = {id(s): s.is_complete() for s in specs}  # one look at each run folder
    outcomes = [RunOutcome(s, "skipped", metrics=store.read_metrics(s.run_dir)) for s in specs if complete[id(s)]]
    todo, aside = set_aside([s for s in specs if not complete[id(s)]])
    for line in summary_lines(aside):
        tqdm.write(f"{NO_DATA}: {line}")
    if todo:
        prepare_classifiers(todo, log=tqdm.write)
    with tqdm(total=len(todo), desc="sweep", unit="run", disable=not progress, dynamic_ncols=True) as bar:
        if outcomes:
            bar.write(f"{len(outcomes)} of {len(specs)} runs already complete, skipped")
        outcomes += aside
        running = executor.map(todo)
        try:
            for outcome in running:
                outcomes.append(outcome)
                bar.set_postfix_str(f"{outcome.status}: {outcome.spec.label}")
                if outcome.status == "failed":
                    bar.write(f"FAILED {outcome.spec.label}: {outcome.error}")
                bar.update(1)
        except KeyboardInterrupt:
            close = getattr(running, "close", None)
            if close is not None:
                close()  # now, not when the generator is collected: the executor stops its runs' kernels
            bar.close()
            print(SweepReport(_ordered(outcomes, specs)).table())
            raise
    return SweepReport(_ordered(outcomes, specs))


def _ordered(outcomes: list[RunOutcome], specs: list[RunSpec]) -> list[RunOutcome]:
    """Outcomes in sweep-file order (executors may finish runs in any order, on other machines)."""
    order = {s.config.config_hash(): i for i, s in enumerate(specs)}
    return sorted(outcomes, key=lambda o: order[o.spec.config.config_hash()])


def dry_run_table(specs: list[RunSpec]) -> str:
    """What a sweep will do with each configuration, with its hash: skip it (complete), run it (todo, partial,
    failed, damaged: the last two say why beneath it) or set it aside (no data: its data set cannot be had here,
    found as the sweep finds it, without downloading). Nothing is written."""
    lines = [f"{'state':<10} {'hash':<12}  run"]
    states = [s.state() for s in specs]
    missing = no_data_reasons([s for s, state in zip(specs, states) if state.status is not store.Status.COMPLETE])
    shown: list[str] = []
    for s, state in zip(specs, states):
        aside = state.status is not store.Status.COMPLETE and missing.get((s.config.dataset, s.config.data_root))
        shown.append(NO_DATA if aside else state.status.value)
        lines.append(f"{shown[-1]:<10} {s.config.config_hash():<12}  {s.label}")
        if not aside and state.reason:
            again = "; the sweep runs it again" if state.status is store.Status.DAMAGED else ""
            lines.append(f"{'':<24}  {state.status.value}: {state.reason}{again}")
    lines += [f"{NO_DATA}: {dataset}: {reason}" for dataset, reason
              in dict.fromkeys((d, r) for (d, _), r in missing.items() if r)]
    counts = ", ".join(f"{shown.count(name)} {name}" for name in dict.fromkeys(shown) if name != "complete")
    lines.append(f"{len(specs)} configurations, {shown.count('complete')} complete" + (f"; {counts}" if counts else ""))
    return "\n".join(lines)


__all__ = ["load_sweep", "expand", "select", "run_sweep", "LocalExecutor", "default_jobs", "prepare_classifiers",
           "Executor", "RunSpec", "RunOutcome", "execute_spec", "SweepError", "dry_run_table"]
