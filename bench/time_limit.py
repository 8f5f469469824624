"""A command run under a time limit of its own, its output appended to a log: what bench/gpu_session.py gives
each part of a GPU session, and bench/full_slice.py its sweep and its report, so that one step that runs long
cannot take the next one's time, and what it wrote before it was stopped is still there to read.

The command runs in a process session of its own. At its limit it gets SIGINT first (``python -m genmodels``
then interrupts its notebook kernels and leaves its run folders resumable, as after Ctrl-C), then, after a
grace period, SIGKILL for the whole process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

GRACE_S = 5.0  # from SIGINT to SIGKILL


@dataclass
class Finished:
    """How a limited command ended: its exit status (None: stopped at its limit), seconds, the tail of its output."""

    exit: int | None
    seconds: float
    limit: float
    output: str

    @property
    def timed_out(self) -> bool:
        return self.exit is None

    def status(self) -> str:
        """"ok", "timed out after N s" or "failed (exit N)": one word or phrase for a table."""
        if self.timed_out:
            return f"timed out after {self.limit:.0f} s"
        return "ok" if self.exit == 0 else f"failed (exit {self.exit})"


def run_limited(argv: Sequence[str], limit: float, log: Path, env: dict[str, str] | None = None,
                grace: float = GRACE_S, tail_lines: int = 30) -> Finished:
    """Run `argv` for at most `limit` seconds, stdout and stderr appended to `log`; see the module docstring."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}   (limit {limit:.0f} s)\n".encode())
        out.flush()
        begin = out.tell()
        process = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            code: int | None = process.wait(timeout=max(0.0, limit))
        except subprocess.TimeoutExpired:
            code = None
            stop(process, grace)
    seconds = time.perf_counter() - started
    with open(log, "rb") as written:
        written.seek(begin)
        text = written.read().decode("utf-8", "replace")
    return Finished(code, seconds, limit, "\n".join(text.splitlines()[-tail_lines:]))


def stop(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGINT to the command's process group, then SIGKILL to it when `grace` seconds did not end it."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            if sig == signal.SIGINT:
                os.killpg(process.pid, signal.SIGKILL)  # what the command left behind in its group
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return
