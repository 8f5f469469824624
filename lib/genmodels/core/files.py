"""Output folders and files: checked before a run starts, and a write that fails reported as one line
(`genmodels.core.store.write_atomic` writes every results file through `writing`).

A run that finds out after a minute of start-up (or an hour of training) that its folder is a file, is
read-only, or that the disk is full, should say so in one line naming the path, not in a traceback. torch's
zip writer reports a full disk only as "[enforce fail at inline_container.cc] unexpected pos ...", so that
message is translated too.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

# what torch's PyTorchStreamWriter says when the bytes it wrote did not all reach the file (a full disk)
TORCH_WRITE_FAILURES = ("unexpected pos", "file write failed", "failed writing")
FULL = (errno.ENOSPC, errno.EDQUOT)


class OutputError(RuntimeError):
    """A folder cannot be written, or a write failed (full disk, read-only); the message names the path."""


def check_writable_dir(path: str | os.PathLike[str], what: str, hint: str = "") -> Path:
    """`path` as a Path, when it is a folder this process can write into, or one it can create.

    Checked by doing what a run will do -- create the missing folders and a file in the last one -- and undoing
    it, so that a mistyped flag leaves no folders behind. Mode bits say too little: root may write anywhere by
    them, yet /proc and /sys refuse new files, and a 300-character name fails only when it is created. `what`
    names the flag or field in the message, `hint` (if any) ends a read-only one.
    """
    text = os.fspath(path)
    if not text.strip():
        raise OutputError(f"{what} must name a folder, got {text!r}")
    target = Path(text).expanduser()
    try:
        missing = missing_folders(target)
    except OSError as err:
        raise _refusal(what, target, target, err, hint) from None
    existing = missing[-1].parent if missing else target
    if not existing.is_dir():
        where = "is a file" if existing == target else f"is under {existing}, which is a file"
        raise OutputError(f"{what} {target} {where}, not a folder; choose another {what}")
    try:
        target.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=target, prefix=".write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise _refusal(what, target, existing, err, hint) from None
    finally:
        remove_empty(missing)
    return target


def check_own_folder(path: str | os.PathLike[str], what: str, results_root: str | os.PathLike[str]) -> None:
    """Refuse an output folder that holds other things than the output: the current folder, the home folder, the
    file system's root, the results root or a folder above it. A run writes known file names into its folder and
    may remove the folder when it stops before its first checkpoint, so it gets a folder of its own."""
    target = Path(path).expanduser().resolve()
    shared = {Path.cwd().resolve(): "the current folder", Path.home().resolve(): "the home folder",
              Path(target.anchor): "the file system's root"}
    results = Path(results_root).expanduser().resolve()
    if target in shared:
        where = shared[target]
    elif target == results or target in results.parents:
        where = f"the results root {results}" if target == results else f"above the results root {results}"
    else:
        return
    raise OutputError(f"{what} {path} is {where}, which holds things that are not this run; name a folder of its own "
                      f"(e.g. {Path(path) / 'my-run'})")


def check_new_file(path: str | os.PathLike[str], what: str, overwrite: bool) -> None:
    """Refuse to replace an existing file unless the user said so (`overwrite`): an output file named by mistake
    (a run's checkpoint, a figure kept from last week) is not lost without a word."""
    if not overwrite and os.path.lexists(Path(path).expanduser()):  # a dangling link is the user's too
        raise OutputError(f"{what} {path} exists; pass --overwrite to replace it, or choose another {what}")


def missing_folders(path: Path) -> list[Path]:
    """`path` and those of its ancestors that do not exist yet, deepest first: what creating it would create.
    An OSError (a name too long for the file system) is the caller's to report."""
    missing = []
    while not path.exists() and not path.is_symlink() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove `folders` (deepest first) while they are empty: undo what `missing_folders` listed."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _refusal(what: str, target: Path, existing: Path, err: OSError, hint: str) -> OutputError:
    """The one line saying why `target` cannot be written, from the error that creating it (or a file in it)
    raised: read-only, a name too long, a full disk, or a folder that accepts no new files (/proc)."""
    reason = err.strerror or str(err)
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        where = "is read-only" if existing == target else f"cannot be created: {existing} is read-only"
        return OutputError(f"{what} {target} {where} ({reason}); " + (hint or f"choose another {what}"))
    if err.errno == errno.ENAMETOOLONG:
        return OutputError(f"{what} {target} has a name too long for the file system ({reason}); choose a shorter "
                           f"{what}")
    if err.errno in FULL:
        return OutputError(f"{what} {target} cannot be written: no space left on device; free some space or choose "
                           f"another {what}")
    return OutputError(f"{what} {target} cannot be created: {existing} accepts no new files ({reason}); choose "
                       f"another {what}")


def write_failure(path: str | os.PathLike[str], err: BaseException) -> OutputError | None:
    """The one-line error a failed write of `path` means, or None when `err` is no write failure."""
    if isinstance(err, OSError):
        if err.errno in FULL:
            return OutputError(f"no space left on device while writing {path}; free some space and run again "
                               "(with --resume a run continues from its last checkpoint)")
        return OutputError(f"could not write {path}: {err.strerror or err}")
    if isinstance(err, RuntimeError) and any(text in str(err) for text in TORCH_WRITE_FAILURES):
        return OutputError(f"no space left on device while writing {path} (torch: {str(err).splitlines()[0][:80]}); "
                           "free some space and run again (with --resume a run continues from its last checkpoint)")
    return None


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Inside, a failed write (OSError, torch's writer error) becomes an `OutputError` naming `path`.

    Raised outside the `except` block, so that the original error and its traceback are dropped at once: torch's
    half-written file stays open for as long as its writer's frame is referenced, holding the disk space (and the
    mount) that the user is told to free.
    """
    failure: OutputError | None = None
    try:
        yield
    except (OSError, RuntimeError) as err:
        failure = write_failure(path, err)
        if failure is None:
            raise
    if failure is not None:
        raise failure


def sha256_file(path: str | os.PathLike[str]) -> str:
    """A file's SHA-256, read in blocks (a classifier's weights, a report's PDF): what tells a file from another."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["OutputError", "check_writable_dir", "check_own_folder", "check_new_file", "missing_folders", "remove_empty", "writing", "write_failure", "sha256_file"]
