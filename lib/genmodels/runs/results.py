"""Every run as one table row: its config knobs, status, cost and quality, for slicing in a notebook
(`results_frame`), for ``python -m genmodels results`` and for the report (`genmodels.report.collect_runs`).

One row is built in one place (`run_row`), whichever way the runs are found: the configurations of a sweep
file (including those not run yet, so nothing is silently dropped), or every run folder under a results root.
A run's status and the reason it is damaged or failed are `genmodels.core.store.run_state`'s, as in every other
command; what it measured is read from its JSON files, and every number shown is a finite number or missing.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd

from genmodels.core import store
from genmodels.core.config import ConfigError, RunConfig
from genmodels.core.registry import model_spec
from genmodels.core.metric_table import METRICS, QUALITY_SCORES, metric

# a generator whose samples the classifier puts (almost) all in one class has collapsed: IS < 1.5 means
# fewer than ~1.5 effective classes of 10. Recall is not used: at short budgets it is ~0 for every run.
COLLAPSE_IS = 1.5

# the columns `run_row` fills for every run, in order: the knobs, the status, and what is wrong with a damaged or
# failed run (`store.run_state`)
CONFIG_COLUMNS = ("label", "run_dir", "model", "dataset", "depth", "z_dim", "kl_factor", "d_output", "lipschitz",
                  "seed", "steps", "width", "recipe", "latent_prior", "variant", "status", "problem")
# every column `read_run` fills; present (as NaN) even when no run has finished
RUN_COLUMNS = ("FID", "KID", "IS", "precision", "recall", "seconds", "cpu_seconds", "device", "images",
               "train_images", "data_source", "fallback", "classifier_hash", "classifier_accuracy", "fake_samples",
               "real_samples", "test_mse", "collapsed", "reference", "data_fingerprint", "data_folder")
# what `python -m genmodels results` lists (CSV and JSON add run_dir): knobs, status, the training steps'
# wall-clock and CPU seconds, quality
SUMMARY_COLUMNS = ("run", "model", "dataset", "depth", "z_dim", "variant", "seed", "steps", "status", "seconds",
                   "cpu_seconds", "FID", "KID", "IS", "precision", "recall", "collapsed")
FORMATS = ("table", "csv", "json")


def variant(c: RunConfig) -> str:
    """The model-specific knob of a resolved config in words: kl=0.001, sigmoid output, gradient penalty, ...
    (`registry.ModelSpec.variant`)."""
    return model_spec(c.model).variant(c)


def format_metric(value: Any, column: str) -> str:
    """A metric as the report and the results table print it ("n/a" when it was not measured)."""
    return metric(column).table_text(value)


class ResultsError(ConfigError):
    """A results folder that cannot be listed (missing, or a file); one line naming it, as the CLI prints it."""


# ------------------------------------------------------------------ one row
def run_row(config: RunConfig | None, run_dir: Path, state: store.RunState, label: str) -> dict[str, Any]:
    """A run's row: the knobs of its (resolved) config (None: a config.json this version cannot read, so the
    knobs are unknown) and its state, then, when it is complete, what it measured (`read_run`)."""
    row: dict[str, Any] = {"label": label, "run_dir": str(run_dir), "status": state.status.value,
                           "problem": state.reason}
    if config is not None:
        c = config.resolved()
        row.update({"model": c.model, "dataset": c.dataset, "depth": c.depth, "z_dim": c.z_dim,
                    "kl_factor": c.kl_factor, "d_output": c.d_output, "lipschitz": c.lipschitz, "seed": c.seed,
                    "steps": c.total_steps, "width": c.width, "recipe": c.recipe, "latent_prior": c.latent_prior,
                    "variant": variant(c)})
    else:  # <dataset>/<model>/<run-name> where the folder is a sweep's
        parts = Path(label).parts
        row.update({"model": parts[-2] if len(parts) >= 3 else None, "dataset": parts[-3] if len(parts) >= 3 else None})
    if state.status is store.Status.COMPLETE:
        row.update(read_run(run_dir))
    return row


def read_run(run_dir: Path) -> dict[str, Any]:
    """What a finished run measured and cost, from its metrics.json and meta.json. A key an older version did
    not write is NaN, never an error."""
    metrics = store.read_metrics(run_dir)
    meta = store.read_json(run_dir / store.META)
    meta = meta if isinstance(meta, dict) else {}
    quality = _mapping(metrics.get("quality"))
    train = _mapping(_get(meta, "data", "train"))
    classifier = _mapping(metrics.get("classifier"))
    row: dict[str, Any] = {name: _number(quality.get(METRICS[name].key)) for name in QUALITY_SCORES}
    row["seconds"] = _amount(_get(meta, "wall_seconds", "training"))
    row["cpu_seconds"] = _amount(_get(meta, "cpu_seconds", "training"))
    row["device"] = _text(_get(meta, "device", "type"))
    row["images"] = _number(_get(meta, "summary", "images"))
    row["train_images"] = _number(train.get("images"))
    row["data_source"] = _text(train.get("source"))
    row["data_folder"] = _text(_get(meta, "data", "folder"))
    row["data_fingerprint"] = _text(train.get("checksum"))
    row["fallback"] = bool(train.get("fallback"))
    row["classifier_hash"] = _text(classifier.get("hash"))
    row["classifier_accuracy"] = _number(classifier.get("accuracy"))
    row["fake_samples"] = _number(quality.get("fake_samples"))
    row["real_samples"] = _number(quality.get("real_samples"))
    row["reference"] = _text(quality.get("reference"))
    row["test_mse"] = _number(_mapping(metrics.get("test_reconstruction")).get("mse"))
    for key, value in _mapping(metrics.get("final_losses")).items():
        row[f"loss_{key}"] = _number(value)
    scored = isinstance(row["IS"], (int, float)) and math.isfinite(row["IS"])
    row["collapsed"] = bool(row["IS"] < COLLAPSE_IS) if scored else np.nan
    return row


def _number(value: Any) -> float:
    """A finite number of a run's JSON, or NaN (not measured, or not a number): never text passed on as one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return np.nan
    return value


def _amount(value: Any) -> float:
    """A `_number` that is an amount (seconds): a negative one is no measurement, NaN like a missing one."""
    number = _number(value)
    return number if not number < 0 else np.nan


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _get(mapping: Any, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if not isinstance(mapping, dict) or key not in mapping:
            return default
        mapping = mapping[key]
    return mapping


# ------------------------------------------------------------------ all rows
def results_frame(results_root: str | os.PathLike[str] | None = None,
                  sweep: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per run: with `sweep`, every configuration of that sweep file in file order (its status says
    whether it ran: todo, partial, failed, complete, damaged); without, every run folder under `results_root`.

    results_root: default the project's ``results/`` (found from the current directory upwards, so a notebook
    kernel in notebooks/ finds it). A folder whose config.json this version cannot read is listed with unknown
    knobs and its state (damaged, when it finished). `data_differs` marks the runs of a data set whose complete
    runs trained on different images (their meta.json's fingerprints differ: another data folder, a fallback)."""
    if results_root is not None and not os.fspath(results_root).strip():  # Path('') is the current folder
        raise ResultsError(f"the results folder must be named, got {os.fspath(results_root)!r}; pass --results DIR")
    root = Path(results_root) if results_root is not None else store.find_results_root()
    if sweep is None and not root.is_dir():  # an empty table would read as "no runs yet", hiding a mistyped path
        state = "is a file, not a folder" if root.exists() else "not found"
        raise ResultsError(f"results folder {root} {state}; pass --results DIR (or a sweep file)")
    if sweep is not None:
        from genmodels.runs.sweep import load_sweep

        rows = [run_row(spec.config, spec.run_dir, spec.state(), spec.label) for spec in load_sweep(sweep, root)]
    else:
        rows = [run_row(config, run_dir, state, label) for config, run_dir, state, label in _found_runs(root)]
    frame = pd.DataFrame(rows, columns=_columns(rows))
    for column in RUN_COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    frame["data_missing"] = _data_missing(root, frame)
    frame["data_differs"] = _data_differs(frame)
    return frame


def _data_differs(frame: pd.DataFrame) -> list[bool]:
    """Per run, whether the complete runs of its data set trained on more than one set of images (their
    fingerprints, the checksum of the training split in meta.json, differ); a warning names each such data set."""
    done = frame[frame["status"] == store.Status.COMPLETE.value].dropna(subset=["data_fingerprint"])
    differing = []
    for dataset, runs in done.groupby("dataset"):
        if runs["data_fingerprint"].nunique() > 1:
            differing.append(dataset)
            folders = ", ".join(sorted({str(f) for f in runs["data_folder"].dropna()})) or "folders not recorded"
            warnings.warn(f"the complete runs of {dataset} trained on {runs['data_fingerprint'].nunique()} different "
                          f"sets of images (data folders: {folders}); their numbers are not comparable", stacklevel=3)
    return [dataset in differing for dataset in frame["dataset"]]


def _data_missing(root: Path, frame: pd.DataFrame) -> list[str | None]:
    """Per unfinished run, why a sweep could not have its data set (`store.record_data_missing`), else None."""
    reasons = {dataset: store.data_missing(root, dataset) if isinstance(dataset, str) else None
               for dataset in frame["dataset"].unique()}
    return [None if status == store.Status.COMPLETE.value else reasons[dataset]
            for dataset, status in zip(frame["dataset"], frame["status"])]


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns = list(CONFIG_COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def _found_runs(root: Path) -> Iterable[tuple[RunConfig | None, Path, store.RunState, str]]:
    """Every folder under `root` holding a run's config.json (wherever `train --out` put it), by label; one whose
    config this version cannot read comes with None for its config (its state says why, once it finished)."""
    found = []
    for run_dir in _folders(root):
        path = run_dir / store.CONFIG
        if not os.path.lexists(path):  # a config.json that is a link loop is there (damaged), not absent
            continue
        values = store.read_json(path)
        config_hash = values.pop("config_hash", None) if isinstance(values, dict) else None
        wrong = store.config_problem(values) if isinstance(values, dict) else "not a readable JSON object"
        config = RunConfig.from_dict(values) if wrong is None else None
        if wrong is not None:
            warnings.warn(f"{path} cannot be read by this version of genmodels ({wrong}); that run is listed "
                          "with unknown knobs", stacklevel=3)
        found.append((config, run_dir, store.run_state(run_dir, config_hash), run_dir.relative_to(root).as_posix()))
    return sorted(found, key=lambda entry: entry[3])


def _folders(root: Path) -> Iterator[Path]:
    """`root` and every folder below it, links to folders followed (a run folder, or a data set's folder, on another
    disk is listed like any other), each real folder once: a link that leads back up is not walked again."""
    seen: set[str] = set()
    for folder, subfolders, _ in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders[:] = []
            continue
        seen.add(real)
        yield Path(folder)


# ------------------------------------------------------------------ text
def summary_text(frame: pd.DataFrame, fmt: str = "table") -> str:
    """`frame`'s `SUMMARY_COLUMNS` as a readable table, CSV, or JSON records (NaN as empty/null; CSV and JSON
    keep full precision and add run_dir)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    summary = frame.assign(run=[Path(p).name for p in frame["run_dir"]])
    for column in ("depth", "z_dim", "seed", "steps"):  # whole numbers, also beside a run of unknown knobs
        summary[column] = pd.to_numeric(summary[column], errors="coerce").astype("Int64")
    if fmt == "csv":
        return summary[[*SUMMARY_COLUMNS, "run_dir"]].to_csv(index=False)
    if fmt == "json":
        records = summary[[*SUMMARY_COLUMNS, "run_dir"]].astype(object).to_dict(orient="records")
        return json.dumps([{k: _plain(v) for k, v in r.items()} for r in records], indent=2) + "\n"
    from tabulate import tabulate

    headers = [{"seconds": "train s", "cpu_seconds": "cpu s"}.get(c, c) for c in SUMMARY_COLUMNS]
    lines = [[_cell(row[c], c, row["status"]) for c in SUMMARY_COLUMNS] for _, row in summary.iterrows()]
    counts = summary["status"].value_counts()
    total = ", ".join(f"{counts[s]} {s}" for s in ("complete", "damaged", "partial", "failed", "todo")
                      if s in counts)
    return tabulate(lines, headers, tablefmt="simple", disable_numparse=True) + f"\n{len(summary)} runs: {total}\n"


def _plain(value: Any) -> Any:
    """A JSON value: numpy scalars as Python ones, NaN (not measured) as null."""
    value = value.item() if isinstance(value, np.generic) else value
    return None if value is pd.NA or (isinstance(value, float) and math.isnan(value)) else value


def _cell(value: Any, column: str, status: str) -> str:
    if column in QUALITY_SCORES:
        return format_metric(value, column) if status == "complete" else ""
    if column in ("seconds", "cpu_seconds"):
        return f"{value:.0f}" if isinstance(value, (int, float)) and math.isfinite(value) else ""
    if column == "collapsed":
        return {True: "yes", False: "no"}.get(value, "") if isinstance(value, (bool, np.bool_)) else ""
    return "" if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else str(value)


__all__ = ["results_frame", "ResultsError", "run_row", "read_run", "summary_text", "variant", "format_metric", "METRICS",
           "COLLAPSE_IS", "RUN_COLUMNS", "CONFIG_COLUMNS", "SUMMARY_COLUMNS", "FORMATS"]
