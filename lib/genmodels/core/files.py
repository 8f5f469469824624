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
import os
from pathlib import Path
from typing import Iterator

# what torch's PyTorchStreamWriter says when the bytes it wrote did not all reach the file (a full disk)
TORCH_WRITE_FAILURES = ("unexpected pos", "file write failed", "failed writing")
FULL = (errno.ENOSPC, errno.EDQUOT)


class OutputError(RuntimeError):
    """A folder cannot be written, or a write failed (full disk, read-only); the message names the path."""


def check_writable_dir(path: str | os.PathLike[str], what: str, hint: str = "") -> Path:
    """`path` as a Path, when it is a folder this process can write into, or one it can create.

    Checked without creating anything, so a mistyped flag leaves no folders behind: the nearest existing
    ancestor must be a folder (not a file) and writable. `what` names the flag or field in the message, `hint`
    (if any) ends a read-only one.
    """
    text = os.fspath(path)
    if not text.strip():
        raise OutputError(f"{what} must name a folder, got {text!r}")
    target = Path(text).expanduser()
    existing = target
    while not existing.exists() and not existing.is_symlink():
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == target else f"is under {existing}, which is a file"
        raise OutputError(f"{what} {target} {where}, not a folder; choose another {what}")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "is read-only" if existing == target else f"cannot be created: {existing} is read-only"
        raise OutputError(f"{what} {target} {where}; " + (hint or f"choose another {what}"))
    return target


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


__all__ = ["OutputError", "check_writable_dir", "writing", "write_failure"]
