"""Reading a file a user or another machine wrote (a run folder's files, a checkpoint, a sweep file): only a
regular file, only up to a size limit, and never through a link that leads out of the folder it belongs to.

A FIFO in place of config.json blocks a plain ``open`` forever, and /dev/zero behind metrics.json fills the
memory; both are refused here in one line, before any byte is read. A run folder may itself be a link (results on
another disk), but a file inside it that links out of it is not read: the same rule in every command.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MiB = 1 << 20
# the largest file of each kind that is read: far above what a run writes, far below the memory of a machine
JSON_LIMIT = 64 * MiB
TEXT_LIMIT = 256 * MiB  # history.csv of a long run
SWEEP_LIMIT = 1 * MiB
CHECKPOINT_LIMIT = 8 * 1024 * MiB

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


class UnsafeFile(OSError):
    """A file that is not read: not a regular file, too large, or a link leading out of its folder."""


def check_regular(path: str | os.PathLike[str], limit: int, inside: str | os.PathLike[str] | None = None) -> int:
    """The size of `path` when it may be read: a regular file of at most `limit` bytes, which, where `inside` is
    given, lies in that folder once links are followed. `FileNotFoundError` when it is not there; `UnsafeFile`,
    saying why in a few words, otherwise. Never opens the file, so a FIFO cannot block it."""
    path = Path(path)
    if inside is not None and path.is_symlink():
        try:
            target, folder = path.resolve(), Path(inside).resolve()
        except (OSError, RuntimeError):  # a link loop (RuntimeError before Python 3.13)
            raise UnsafeFile(f"{path.name} is a link that cannot be followed (a loop)") from None
        if folder != target and folder not in target.parents:
            raise UnsafeFile(f"{path.name} is a link leading out of its folder ({target}); links out of a run "
                             "folder are not followed")
    try:
        info = path.stat()  # follows the link; a missing target is FileNotFoundError
    except OSError as err:
        if isinstance(err, FileNotFoundError) or err.errno != errno.ELOOP:
            raise
        raise UnsafeFile(f"{path.name} is a link that cannot be followed (a loop)") from None
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
        raise UnsafeFile(f"{path.name} is {kind}, not a regular file")
    if info.st_size > limit:
        raise UnsafeFile(f"{path.name} is {info.st_size:,} bytes, more than the {limit:,} such a file may have")
    return info.st_size


def read_bytes(path: str | os.PathLike[str], limit: int, inside: str | os.PathLike[str] | None = None) -> bytes:
    """`path`'s content once `check_regular` allows it; opened without blocking, re-checked on the open file
    (it may have been swapped since), and never more than `limit` bytes read."""
    check_regular(path, limit, inside)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeFile(f"{Path(path).name} is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFile(f"{Path(path).name} is more than the {limit:,} bytes such a file may have")
    return data


__all__ = ["UnsafeFile", "check_regular", "read_bytes", "JSON_LIMIT", "TEXT_LIMIT", "SWEEP_LIMIT",
           "CHECKPOINT_LIMIT", "MiB"]
