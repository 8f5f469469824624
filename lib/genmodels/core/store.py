"""The results folder's one owner: where runs live, what their files are called, how files are written,
whether a run is finished, and which process may write a run folder right now.

Layout::

    <root>/<dataset>/<model>/<run-name>/    one run (the file names below)
    <root>/classifiers/<name>/              cached feature classifiers (genmodels.quality.classifier)

A run folder's status is decided here and nowhere else:

- ``complete``: ``complete.json`` names the run's config hash (written last, atomically, by `genmodels.runs.run`)
  and every file a finished run has is there and readable (`RUN_FILES`); a sweep also needs the executed
  notebook, renamed into place only when papermill succeeded;
- ``damaged``: ``complete.json`` says finished, but a file of the run is missing, unreadable or holds what no run
  writes (`damage`: a config this version refuses, a metric that is not a number or out of its range, a history
  cut mid-line, a sample grid that is no PNG, a checkpoint without a key loading needs, a file that is not a
  regular file, too large, or a link leading out of the run folder): reported with what is wrong, and re-run by
  the next sweep;
- ``failed``: the last attempt left ``error.txt`` (a sweep records why) and the run is not complete;
- ``partial``: started (a config or checkpoint is there) but neither finished nor failed: it resumes;
- ``todo``: nothing yet.

`run_state` decides it, with the reason, for every command (`results`, `sweep` and its dry run, `report`,
`sample`, `load_run`), so that they all say the same thing about a folder.

Every file is written through `write_atomic` (a temporary name in the same folder, then ``os.replace``), so a
reader never sees half a file and an interrupted or disk-full write leaves the previous version intact.
A run folder is written by one process at a time: `folder_lock` takes an OS file lock (``flock``) that the
kernel drops when its holder exits, however it exits, so a crash leaves no stale lock. Two locks, because a
sweep's run spans two processes: the sweep process claims the folder (``.claim``) before it starts the
notebook's kernel and until that kernel is gone, so a second sweep never starts a second kernel for it; the
kernel locks it (``.lock``) while it writes, which also covers `train` and a notebook run by hand.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import threading
import uuid
import warnings
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterator

from filelock import FileLock, Timeout

from genmodels.core import safe_read
from genmodels.core.config import ConfigError, RunConfig
from genmodels.core.files import OutputError, remove_empty, writing
from genmodels.core.metric_table import STORED_RANGES

DEFAULT_ROOT = "results"

# the files of a run folder
CONFIG = "config.json"
HISTORY = "history.csv"
METRICS = "metrics.json"
META = "meta.json"
CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
COMPLETE = "complete.json"
SAMPLES = "samples"
FIGURES = "figures"
EXECUTED = "train.ipynb"  # the notebook papermill executed, once it succeeded
PARTIAL = ".train.*.partial.ipynb"  # ... while it runs (each attempt its own name: `partial_notebook`)
FAILED = "failed.ipynb"  # ... when it failed
ERROR = "error.txt"  # why the last attempt failed
LOCK = ".lock"  # held by the process that writes the run (the notebook's kernel, or `train`)
CLAIM = ".claim"  # held by the sweep process that launched that kernel, for the whole attempt
TENSORBOARD = "tensorboard"  # TensorBoard event files, with log: tensorboard (genmodels.training.tensorboard_log)

CLASSIFIERS = "classifiers"
# <root>/<dataset>/data-missing.json: why the last sweep could not have that data set (its runs were not trained)
DATA_MISSING = "data-missing.json"

# what a finished run folder holds, each there and readable; the JSON ones hold an object
RUN_FILES = (CONFIG, HISTORY, METRICS, META, CHECKPOINT)
JSON_FILES = (CONFIG, METRICS, META)
# the keys of a checkpoint that reading a run's weights back needs (`load_run`, `sample`); a finished run whose
# checkpoint lacks one is damaged. Resuming needs more (genmodels.training.checkpoint.RESUME_KEYS), and says so.
WEIGHT_KEYS = ("config", "model", "step")
# how far a stored score may stray past its range by float rounding (an IS of 0.9999999 is an IS of 1)
ROUNDING = 1e-6
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the empty IEND chunk every PNG ends with: a cut file lacks it
# what completes a damaged run again, as every command that reports one says it
REPAIR = "running its sweep again (or `train --resume` into the folder) completes it again"


class Status(str, Enum):
    TODO = "todo"
    PARTIAL = "partial"
    COMPLETE = "complete"
    FAILED = "failed"
    DAMAGED = "damaged"


class FolderBusy(RuntimeError):
    """Another process is writing this folder."""


@dataclass(frozen=True)
class RunState:
    """A run folder's status and, for a damaged or failed run, why it is not usable (a few words)."""

    status: Status
    reason: str | None = None


# ------------------------------------------------------------------ layout
def run_folder(root: str | os.PathLike[str], dataset: str, model: str, run_name: str) -> Path:
    """``<root>/<dataset>/<model>/<run-name>``: where a sweep or `train` puts a configuration's run."""
    return Path(root) / dataset / model / run_name


def classifiers_folder(root: str | os.PathLike[str]) -> Path:
    return Path(root) / CLASSIFIERS


def sample_grid(run_dir: str | os.PathLike[str], step: int) -> Path:
    return Path(run_dir) / SAMPLES / f"step_{step:06d}.png"


def sample_grids(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The fixed-noise sample grids saved during training, oldest first."""
    return sorted((Path(run_dir) / SAMPLES).glob("step_*.png"))


def partial_name(path: str | os.PathLike[str]) -> Path:
    """A hidden name beside `path` for a file written over minutes (a notebook as papermill runs it, a report's
    outputs until they are renamed together), unique per attempt so that two processes never write one file,
    and keeping the suffix (papermill warns about an output that does not end in .ipynb)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:6]}.partial{path.suffix}")


def partial_names(path: str | os.PathLike[str]) -> list[Path]:
    """The `partial_name`s of `path` that attempts left behind (a killed process leaves its own)."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.stem}.*.partial{path.suffix}"))


def partial_notebook(run_dir: str | os.PathLike[str]) -> Path:
    """Where one attempt's notebook is written while it runs (`PARTIAL`)."""
    return partial_name(Path(run_dir) / EXECUTED)


def clear_partial_notebooks(run_dir: str | os.PathLike[str]) -> None:
    """Remove the notebooks of earlier attempts (a killed sweep leaves its own behind)."""
    for path in partial_names(Path(run_dir) / EXECUTED):
        path.unlink(missing_ok=True)


def find_results_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The project's ``results`` folder seen from `start` (default: the current directory): the nearest
    folder at or above it that holds ``results/`` or a ``pyproject.toml``. A notebook's kernel runs in
    ``notebooks/``, so a plain relative ``results`` would point inside it."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_ROOT).is_dir() or (folder / "pyproject.toml").is_file():
            return folder / DEFAULT_ROOT
    return here / DEFAULT_ROOT


# ------------------------------------------------------------------ writing
def temporary_beside(path: Path) -> Path:
    """A hidden temporary name beside `path`, unique per process and thread: two writers of one file (two sweeps,
    or a test run beside `make report`, importing the same data) never write into each other's file."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside `path`, then rename it over `path`.

    The temporary name is unique per process and thread, so writers never share one. On any failure the
    temporary file is removed (on a full disk, its space is needed) and `path` is untouched; a failed write
    becomes one `OutputError` line naming the file (`genmodels.core.files.writing`)."""
    path = Path(path)
    tmp = temporary_beside(path)
    try:
        with writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            write(tmp)
            os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | os.PathLike[str], payload: Any) -> Path:
    return write_text(path, json.dumps(payload, indent=2, default=str) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any | None:
    """A JSON file's content, or None when it is missing or unreadable (a run still being written), or not a
    regular file of at most `safe_read.JSON_LIMIT` bytes in its folder, or nested deeper than the parser can go."""
    try:
        return json.loads(safe_read.read_bytes(path, safe_read.JSON_LIMIT, inside=Path(path).parent))
    except (OSError, ValueError, RecursionError):
        return None


def read_metrics(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """A run's metrics.json as a mapping: {} when it is missing, unreadable, or holds what no run writes (a
    non-number, NaN, a value out of its range; `metrics_problem`), so that no caller passes garbage on as a
    number. `run_state` says why such a run is damaged."""
    metrics = read_json(Path(run_dir) / METRICS)
    return metrics if isinstance(metrics, dict) and metrics_problem(metrics) is None else {}


# ------------------------------------------------------------------ a data set a sweep could not have
def data_missing_file(root: str | os.PathLike[str], dataset: str) -> Path:
    return Path(root) / dataset / DATA_MISSING


def record_data_missing(root: str | os.PathLike[str], dataset: str, reason: str) -> None:
    """Note beside a data set's runs why a sweep left them untrained, for `results` and the report."""
    write_json(data_missing_file(root, dataset), {"dataset": dataset, "reason": reason})


def clear_data_missing(root: str | os.PathLike[str], dataset: str) -> None:
    data_missing_file(root, dataset).unlink(missing_ok=True)


def data_missing(root: str | os.PathLike[str], dataset: str) -> str | None:
    """The reason recorded by `record_data_missing`, or None."""
    record = read_json(data_missing_file(root, dataset))
    return record.get("reason") if isinstance(record, dict) else None


# ------------------------------------------------------------------ status
def is_complete(run_dir: str | os.PathLike[str], config_hash: str | None = None, *, notebook: bool = False) -> bool:
    """True when the folder holds a finished run (of the given config, when a hash is given; with its
    executed notebook, when `notebook`) whose files are all there and sound (`damage`)."""
    return run_state(run_dir, config_hash, notebook=notebook).status is Status.COMPLETE


def _finished(run_dir: str | os.PathLike[str], config_hash: str | None) -> bool:
    """Whether complete.json says the run (of `config_hash`, when given) finished."""
    done = read_json(Path(run_dir) / COMPLETE)
    if not isinstance(done, dict):
        return False
    # a hash that is no string is no other configuration's: a damaged record, which `damage` names
    return config_hash is None or not isinstance(done.get("config_hash"), str) or done["config_hash"] == config_hash


def run_state(run_dir: str | os.PathLike[str], config_hash: str | None = None, *, notebook: bool = False) -> RunState:
    """The one answer to "what state is this run folder in", with the reason for a damaged or failed run.

    `config_hash`: the configuration the folder should hold (a finished run of another is not complete);
    `notebook`: a sweep's run, which also needs its executed notebook."""
    run_dir = Path(run_dir)
    if _finished(run_dir, config_hash):
        wrong = damage(run_dir)
        if wrong is not None:
            return RunState(Status.DAMAGED, wrong)
        if not notebook or (run_dir / EXECUTED).is_file():
            return RunState(Status.COMPLETE)
    if (run_dir / ERROR).is_file():
        return RunState(Status.FAILED, error_summary(run_dir) or None)
    if any((run_dir / name).exists() for name in (CONFIG, CHECKPOINT)) or any(run_dir.glob(PARTIAL)):
        return RunState(Status.PARTIAL)
    return RunState(Status.TODO)


def run_status(run_dir: str | os.PathLike[str], config_hash: str | None = None, *, notebook: bool = False) -> Status:
    return run_state(run_dir, config_hash, notebook=notebook).status


def damage(run_dir: str | os.PathLike[str]) -> str | None:
    """What is wrong with the files of a finished run folder, in a few words ("checkpoint.pt is missing",
    "metrics.json: quality.precision is 1.7, outside [0, 1]"), or None when every file is sound: each of
    `RUN_FILES` a regular file in the folder, within its size limit, and holding what a run writes."""
    run_dir = Path(run_dir)
    for name in RUN_FILES:
        path = run_dir / name
        limit = safe_read.CHECKPOINT_LIMIT if name == CHECKPOINT else safe_read.TEXT_LIMIT
        try:
            if name == CHECKPOINT:
                data = b"x" if safe_read.check_regular(path, limit, inside=run_dir) else b""
            else:
                data = safe_read.read_bytes(path, limit, inside=run_dir)
        except FileNotFoundError:
            return f"{name} is missing"
        except safe_read.UnsafeFile as err:
            return str(err)
        except OSError as err:
            return f"{name} cannot be read ({err.strerror or err})"
        if not data:
            return f"{name} is empty"
        wrong = (_json_problem(name, data, run_dir) if name in JSON_FILES else
                 history_problem(data) if name == HISTORY else checkpoint_problem(path))
        if wrong is not None:
            return f"{name}: {wrong}" if not wrong.startswith(name) else wrong
    return _images_problem(run_dir)


def _json_problem(name: str, data: bytes, run_dir: Path) -> str | None:
    try:
        value = json.loads(data)
    except ValueError:
        return f"{name} is not valid JSON"
    except RecursionError:
        return f"{name} is nested too deeply to be read"
    if not isinstance(value, dict):
        return f"{name} holds a {type(value).__name__}, not a JSON object"
    if name == METRICS:
        return metrics_problem(value)
    if name == CONFIG:
        done = read_json(run_dir / COMPLETE)
        if isinstance(done, dict) and not isinstance(done.get("config_hash"), str):
            return f"{COMPLETE} names no configuration hash ({done.get('config_hash')!r})"
        if "config_hash" in value and isinstance(done, dict) and done.get("config_hash") != value["config_hash"]:
            return f"{name} is of another configuration than {COMPLETE}"
        return config_problem(value)
    return None


def config_problem(values: dict[str, Any]) -> str | None:
    """Why a config.json's fields are not a configuration this version accepts (`RunConfig`'s own validation:
    types, ranges, unknown fields), or None."""
    try:
        RunConfig.from_dict({k: v for k, v in values.items() if k != "config_hash"})
    except (ConfigError, TypeError, ValueError) as err:
        return f"not a valid configuration ({(str(err).splitlines() or [''])[0][:200]})"
    return None


def metrics_problem(metrics: dict[str, Any]) -> str | None:
    """The first value of a metrics.json that no run writes: a quality metric that is neither null nor a number
    in its range (`metric_table.STORED_RANGES`, with a rounding margin), or any number that is NaN or infinite;
    None when there is none."""
    quality = metrics.get("quality")
    if quality is not None and not isinstance(quality, dict):
        return f"quality holds a {type(quality).__name__}, not a JSON object"
    for key, (low, high) in STORED_RANGES.items():
        value = (quality or {}).get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"quality.{key} is {value!r}, not a number"
        if not math.isfinite(value) or not low - ROUNDING <= value <= high + ROUNDING:
            shown = f"[{low:g}, {high:g}]".replace("inf", "∞")
            return f"quality.{key} is {value!r}, outside {shown}"
    return _not_finite(metrics, "")


def _not_finite(value: Any, where: str) -> str | None:
    """The first NaN or infinite number in a JSON value, by its dotted path; walked with a stack, not recursion,
    so that a value nested as deep as the JSON parser allows is checked too."""
    stack = [(value, where)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return f"{where or 'a value'} is {value!r}, not a finite number"
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        stack.extend((item, f"{where}.{key}" if where else str(key)) for key, item in reversed(list(items)))
    return None


def history_problem(data: bytes) -> str | None:
    """Why a history.csv is not what training writes (a header, then rows of numbers or empty cells, each line
    ended), or None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    if not text.endswith("\n"):
        return "cut mid-line (its last line has no end)"
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as err:  # a field longer than the csv module's limit, a NUL byte
        return f"is not CSV ({err})"
    if not rows or not rows[0]:
        return "has no header"
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(rows[0]):
            return f"line {number} has {len(row)} fields, the header {len(rows[0])}"
        for cell in row:
            try:
                if cell:
                    float(cell)
            except ValueError:
                return f"line {number} holds text ({cell[:40]!r}) where a number belongs"
    return None


def checkpoint_problem(path: Path) -> str | None:
    """Why a checkpoint cannot be loaded (not plain data, a key loading needs missing, no weights, integer or not
    finite ones, a configuration this version refuses, a step out of range), or None: what `load_run` checks. Read
    as plain data (``weights_only``), its tensors mapped rather than read, so a dry run over many runs stays quick."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # unpickling errors come in many types
        return f"not a checkpoint that can be read as plain data ({type(err).__name__})"
    if not isinstance(state, dict):
        return f"holds a {type(state).__name__}, not a checkpoint"
    missing = [key for key in WEIGHT_KEYS if key not in state]
    if missing:
        return f"has no {missing[0]!r}, which loading the run needs"
    if step_problem(state["step"]) is not None:
        return step_problem(state["step"])
    if not isinstance(state["model"], dict) or not state["model"]:
        return "holds no weights in its 'model'"
    if not isinstance(state["config"], dict):
        return f"holds a {type(state['config']).__name__} as its 'config', not a configuration"
    return config_problem(state["config"]) or weights_problem(state)


# the integer counters a state dict holds beside the float weights: batch norm's batches seen, and a weight
# average's count of averaged steps (`GeneratorEMA.state_dict`); every other tensor of every model is floating point
INTEGER_TENSORS = ("num_batches_tracked", "n_averaged")


def weight_types_problem(state: dict[str, Any], keys: tuple[str, ...] = ("model", "ema")) -> str | None:
    """The first of a checkpoint's tensors under `keys` that is not floating point where every model's is (all but
    `INTEGER_TENSORS`), or None. ``load_state_dict`` would cast integer weights into the model without a word, so a
    foreign or hand-made checkpoint would load as a model that draws noise. Reads only dtypes, never the data."""
    import torch

    for key in keys:
        weights = state.get(key)
        for name, value in weights.items() if isinstance(weights, dict) else ():
            if (isinstance(value, torch.Tensor) and not value.is_floating_point()
                    and str(name).rsplit(".", 1)[-1] not in INTEGER_TENSORS):
                dtype = str(value.dtype).removeprefix("torch.")
                return f"holds {dtype} weights in '{key}.{str(name)[:100]}', not floating point numbers"
    return None


def weights_problem(state: dict[str, Any], keys: tuple[str, ...] = ("model", "ema")) -> str | None:
    """Which of a checkpoint's weights under `keys` are not floating point (`weight_types_problem`) or not finite
    numbers (`nonfinite_problem`), or None: what loading a run's weights refuses, so the store calls such a run
    damaged too."""
    return weight_types_problem(state, keys) or nonfinite_problem(state, keys)


def nonfinite_problem(state: dict[str, Any], keys: tuple[str, ...] = ("model", "ema")) -> str | None:
    """How many of a checkpoint's floating point tensors under `keys` hold NaN or infinite values (a run that
    diverged), or None. Read through the checkpoint's memory map: each tensor is read once, here."""
    import torch

    bad = total = 0
    for key in keys:
        weights = state.get(key)
        for value in weights.values() if isinstance(weights, dict) else ():
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                total += 1
                bad += not bool(torch.isfinite(value).all())
    return f"holds weights that are not finite numbers (NaN or infinite in {bad} of {total} tensors)" if bad else None


# the most training steps a checkpoint may claim: far beyond any run, far below what makes arithmetic overflow
MAX_STEP = 10**12


def step_problem(step: Any) -> str | None:
    """Why a checkpoint's step is not a count of training steps (an integer from 0 to `MAX_STEP`), or None."""
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_STEP:
        return f"holds step {step!r}, not a count of training steps (an integer >= 0, at most {MAX_STEP:,})"
    return None


def _images_problem(run_dir: Path) -> str | None:
    """The first image of the run folder (its sample grids and figures, which the report shows) that is not a whole
    PNG image (read: its first bytes and its end chunk, so a file cut short is found without decoding it), or None."""
    for image in [*sample_grids(run_dir), *sorted((run_dir / FIGURES).glob("*.png"))]:
        name = image.relative_to(run_dir).as_posix()
        try:
            safe_read.check_regular(image, safe_read.JSON_LIMIT, inside=run_dir)
            with open(image, "rb") as f:
                head = f.read(16)
                f.seek(max(0, f.seek(0, os.SEEK_END) - len(PNG_END)))
                tail = f.read()
        except OSError as err:
            return f"{name}: {err}" if isinstance(err, safe_read.UnsafeFile) else f"{name} cannot be read"
        if not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
            return f"{name} is not a PNG image"
        if tail != PNG_END:
            return f"{name} is cut short (no PNG end chunk)"
    return None


def mark_complete(run_dir: str | os.PathLike[str], config_hash: str, finished: str) -> None:
    write_json(Path(run_dir) / COMPLETE, {"config_hash": config_hash, "finished": finished})


def mark_started(run_dir: str | os.PathLike[str]) -> None:
    """From here on the folder is in progress: no longer complete, and no longer failed."""
    for name in (COMPLETE, ERROR, FAILED):
        (Path(run_dir) / name).unlink(missing_ok=True)


def remove_unstarted(run_dir: str | os.PathLike[str], created: list[Path], lock_is_new: bool = False) -> None:
    """Undo a run that stopped before it saved a checkpoint, in a folder this process created (`created`, from
    `files.missing_folders`): its config, sample grids, TensorBoard log and lock, then the folders if empty.

    Otherwise a `train` refused at start-up (an unknown GPU, a damaged data file) leaves a folder that `results`
    lists as a partial run though nothing trained. Files this module does not know are never deleted (their
    folder then stays). A sweep's folders exist before their run starts (the claim), so this never touches them:
    a failed sweep run keeps its config beside its error.txt. Called after the lock is released: a second process
    that waited on it meanwhile creates the folder again (holding the lock of a removed file; only two `train`s
    racing for one new folder, the first refused at start-up, get there). In a folder that was there (a user's), only
    the lock file goes, where this run made it (`lock_is_new`)."""
    run_dir = Path(run_dir)
    if os.path.lexists(run_dir / CHECKPOINT):
        return
    if not created:  # a folder that was there: only the lock file this run made (`lock_is_new`) goes
        if lock_is_new:
            (run_dir / LOCK).unlink(missing_ok=True)
        return
    for name in (CONFIG, LOCK):
        (run_dir / name).unlink(missing_ok=True)
    for name in (SAMPLES, TENSORBOARD):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    remove_empty(created)


# the most of a failed run's reason that a status line shows
REASON_LIMIT = 400


def error_summary(run_dir: str | os.PathLike[str]) -> str:
    """The first line of a failed run's error.txt, cut to `REASON_LIMIT` characters ("" when there is none): it
    stands in one line of `results` and the dry run, whatever a kernel wrote."""
    try:
        text = safe_read.read_bytes(Path(run_dir, ERROR), safe_read.TEXT_LIMIT, inside=run_dir)
        line = text.decode("utf-8", "replace").strip().splitlines()[0]
    except (OSError, IndexError):
        return ""
    return line if len(line) <= REASON_LIMIT else line[:REASON_LIMIT - 1] + "…"


def record_failure(run_dir: str | os.PathLike[str], message: str) -> str:
    """Write error.txt; on a full disk say so instead (the sweep still reports the failure and goes on)."""
    try:
        write_text(Path(run_dir) / ERROR, message.rstrip() + "\n")
    except (OSError, OutputError) as err:
        return f"{message.splitlines()[0] if message else 'failed'} (and {Path(run_dir) / ERROR} could not be " \
               f"written: {err})"
    return message


def finished_runs(root: str | os.PathLike[str] = DEFAULT_ROOT) -> list[Path]:
    """Run folders under `root` holding a finished run, oldest first."""
    folders = [m.parent for m in Path(root).glob(f"**/{COMPLETE}") if is_complete(m.parent)]
    return sorted(folders, key=lambda p: (p / COMPLETE).stat().st_mtime)


# ------------------------------------------------------------------ one writer per folder
@contextmanager
def folder_lock(folder: str | os.PathLike[str], wait: float | None = None, name: str = LOCK) -> Iterator[None]:
    """Hold `folder`'s lock for the block (a run folder, a classifier cache); `FolderBusy` when another
    process holds it for `wait` seconds (None: wait as long as it takes).

    An OS lock (flock) on ``<folder>/<name>``: released by the kernel when the holder exits or is killed, so
    a crash never leaves the folder locked, and it works across processes on one machine and on shared file
    systems that support flock (NFSv4, Lustre and most cluster file systems)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / name), preserve_lock_file=True)  # deleting it would race with waiters
    try:
        lock.acquire(timeout=-1 if wait is None else wait, poll_interval=0.2)
    except Timeout:
        holder = lock_holder(folder / name)
        raise FolderBusy(f"{folder} is being written by another process ({holder or 'a second sweep or train'}); "
                         "wait for it to end, or choose another folder") from None
    try:
        yield
    finally:
        lock.release()


def lock_holder(path: str | os.PathLike[str]) -> str | None:
    """Who holds the flock on `path`, as "process N: command", read from the kernel's lock table (/proc/locks), so a
    second process can say who it waits for without a holder file that a crash would leave stale. None where that
    table is not there (not Linux) or does not list the file."""
    try:
        stat = os.stat(path)
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        pid, inode = fields[4], fields[5].rsplit(":", 1)[-1]
        if inode.isdigit() and int(inode) == stat.st_ino and pid.isdigit():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                command = ""
            return f"process {pid}" + (f": {command.strip()[:120]}" if command.strip() else "")
    return None


def lock_is_free(folder: str | os.PathLike[str], wait: float = 0.0, name: str = LOCK) -> bool:
    """Whether the folder's lock could be taken within `wait` seconds (it is released again at once)."""
    try:
        with folder_lock(folder, wait, name):
            return True
    except FolderBusy:
        return False
