"""The results folder's one owner: where runs live, what their files are called, how files are written,
whether a run is finished, and which process may write a run folder right now.

Layout::

    <root>/<dataset>/<model>/<run-name>/    one run (the file names below)
    <root>/classifiers/<name>/              cached feature classifiers (genmodels.quality.classifier)

A run folder's status is decided here and nowhere else:

- ``complete``: ``complete.json`` names the run's config hash (written last, atomically, by `genmodels.runs.run`)
  and every file a finished run has is there and readable (`RUN_FILES`); a sweep also needs the executed
  notebook, renamed into place only when papermill succeeded;
- ``damaged``: ``complete.json`` says finished, but a file of the run is missing or unreadable (a deleted
  checkpoint, an emptied metrics.json): reported with what is wrong (`damage`), and re-run by the next sweep;
- ``failed``: the last attempt left ``error.txt`` (a sweep records why) and the run is not complete;
- ``partial``: started (a config or checkpoint is there) but neither finished nor failed: it resumes;
- ``todo``: nothing yet.

Every file is written through `write_atomic` (a temporary name in the same folder, then ``os.replace``), so a
reader never sees half a file and an interrupted or disk-full write leaves the previous version intact.
A run folder is written by one process at a time: `folder_lock` takes an OS file lock (``flock``) that the
kernel drops when its holder exits, however it exits, so a crash leaves no stale lock. Two locks, because a
sweep's run spans two processes: the sweep process claims the folder (``.claim``) before it starts the
notebook's kernel and until that kernel is gone, so a second sweep never starts a second kernel for it; the
kernel locks it (``.lock``) while it writes, which also covers `train` and a notebook run by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from contextlib import contextmanager, suppress
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterator

from filelock import FileLock, Timeout

from genmodels.core.files import OutputError, remove_empty, writing

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
    """A JSON file's content, or None when it is missing or unreadable (a run still being written)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


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
    executed notebook, when `notebook`) whose files are all there and readable."""
    return _finished(run_dir, config_hash) and damage(run_dir) is None and (
        not notebook or (Path(run_dir) / EXECUTED).is_file())


def _finished(run_dir: str | os.PathLike[str], config_hash: str | None) -> bool:
    """Whether complete.json says the run (of `config_hash`, when given) finished."""
    done = read_json(Path(run_dir) / COMPLETE)
    return isinstance(done, dict) and (config_hash is None or done.get("config_hash") == config_hash)


def damage(run_dir: str | os.PathLike[str]) -> str | None:
    """What is wrong with the files of a finished run folder, in a few words ("checkpoint.pt is missing",
    "metrics.json is empty", "config.json holds a list, not a JSON object"), or None when every file in
    `RUN_FILES` is there and readable (the JSON ones as an object, and config.json naming complete.json's hash).

    Only reading proves a file readable: each is opened, the small JSON files parsed, and one byte read of the
    others (a checkpoint is not loaded: a sweep's dry run looks at hundreds of runs)."""
    run_dir = Path(run_dir)
    for name in RUN_FILES:
        path = run_dir / name
        try:
            with open(path, "rb") as f:
                data = f.read() if name in JSON_FILES else f.read(1)
        except FileNotFoundError:
            return f"{name} is missing"
        except OSError as err:
            return f"{name} cannot be read ({err.strerror or err})"
        if not data:
            return f"{name} is empty"
        if name in JSON_FILES:
            try:
                value = json.loads(data)
            except ValueError:
                return f"{name} is not valid JSON"
            if not isinstance(value, dict):
                return f"{name} holds a {type(value).__name__}, not a JSON object"
            if name == CONFIG and "config_hash" in value:
                done = read_json(run_dir / COMPLETE)
                if isinstance(done, dict) and done.get("config_hash") != value["config_hash"]:
                    return f"{name} is of another configuration than {COMPLETE}"
    return None


def mark_complete(run_dir: str | os.PathLike[str], config_hash: str, finished: str) -> None:
    write_json(Path(run_dir) / COMPLETE, {"config_hash": config_hash, "finished": finished})


def mark_started(run_dir: str | os.PathLike[str]) -> None:
    """From here on the folder is in progress: no longer complete, and no longer failed."""
    for name in (COMPLETE, ERROR, FAILED):
        (Path(run_dir) / name).unlink(missing_ok=True)


def run_status(run_dir: str | os.PathLike[str], config_hash: str | None = None, *, notebook: bool = False) -> Status:
    run_dir = Path(run_dir)
    if _finished(run_dir, config_hash):
        if damage(run_dir) is not None:
            return Status.DAMAGED
        if not notebook or (run_dir / EXECUTED).is_file():
            return Status.COMPLETE
    if (run_dir / ERROR).is_file():
        return Status.FAILED
    if any((run_dir / name).exists() for name in (CONFIG, CHECKPOINT)) or any(run_dir.glob(PARTIAL)):
        return Status.PARTIAL
    return Status.TODO


def remove_unstarted(run_dir: str | os.PathLike[str], created: list[Path]) -> None:
    """Undo a run that stopped before it saved a checkpoint, in a folder this process created (`created`, from
    `files.missing_folders`): its config, sample grids, TensorBoard log and lock, then the folders if empty.

    Otherwise a `train` refused at start-up (an unknown GPU, a damaged data file) leaves a folder that `results`
    lists as a partial run though nothing trained. Files this module does not know are never deleted (their
    folder then stays). A sweep's folders exist before their run starts (the claim), so this never touches them:
    a failed sweep run keeps its config beside its error.txt. Called after the lock is released: a second process
    that waited on it meanwhile creates the folder again (holding the lock of a removed file; only two `train`s
    racing for one new folder, the first refused at start-up, get there)."""
    run_dir = Path(run_dir)
    if not created or (run_dir / CHECKPOINT).exists():
        return
    for name in (CONFIG, LOCK):
        (run_dir / name).unlink(missing_ok=True)
    for name in (SAMPLES, TENSORBOARD):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    remove_empty(created)


def problem(run_dir: str | os.PathLike[str], status: Status) -> str | None:
    """Why a run is not usable, in a few words: a damaged run's `damage`, a failed run's first error line."""
    if status is Status.DAMAGED:
        return damage(run_dir)
    if status is Status.FAILED:
        return error_summary(run_dir) or None
    return None


def error_summary(run_dir: str | os.PathLike[str]) -> str:
    """The first line of a failed run's error.txt ("" when there is none)."""
    try:
        return Path(run_dir, ERROR).read_text().strip().splitlines()[0]
    except (OSError, IndexError):
        return ""


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
