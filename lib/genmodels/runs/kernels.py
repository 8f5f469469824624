"""The Jupyter kernels that run notebooks for a sweep's runs and for the report (papermill starts each through
`IPCKernelManager`): where their files live, where their own output goes, and how they are stopped.

- Files. A kernel talks over Unix sockets with a unique name (jupyter_client picks TCP ports by binding and
  releasing them, so kernels started at one moment could pick the same port), and its connection file sits
  beside them, both in this process's runtime folder (`runtime_dir`, ``<tmp>/genmodels-kernels-*``). The folder
  goes when the process ends; one that a killed process left (SIGKILL, no clean-up possible) is removed by the
  next process that starts a kernel, because its owner's lock (``.owner``, an flock) is free.
- Output. A kernel's own stdout and stderr -- not its cells', which reach the notebook -- go to a log file in
  that folder. Jupyter interrupts every kernel before shutting it down, and ipykernel then logs "KeyboardInterrupt
  caught in kernel" or, on Ctrl-C, a ZMQ traceback: noise a terminal should not see. A failed run keeps the
  log's last lines in its error.txt (`log_tail`).
- Stopping. Kernels start in a session of their own, so a terminal's Ctrl-C reaches only the sweep process.
  `interrupt_all` sends every kernel this process started a SIGINT, as Jupyter's interrupt does (the training cell
  raises KeyboardInterrupt; the run stays resumable from its checkpoint), and kills any still running after a
  grace period, so an interrupted sweep ends now instead of when its runs finish.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import signal
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from jupyter_client import AsyncKernelManager

KERNEL = "genmodels"
RUNTIME_PREFIX = "genmodels-kernels-"
OWNER = ".owner"  # locked by the process that owns a runtime folder, for as long as it lives
INTERRUPT_GRACE = 10.0  # seconds an interrupted kernel has to end its cell before it is killed

_lock = threading.Lock()
_runtime: tuple[int, Path, int] | None = None  # (owner pid, folder, descriptor of its held lock)
_live: set["IPCKernelManager"] = set()


# ------------------------------------------------------------------ the runtime folder
def runtime_dir() -> Path:
    """This process's folder for its kernels' sockets, connection files and logs, made on first use (after
    removing the folders of processes that were killed) and removed when the process exits."""
    global _runtime
    with _lock:
        if _runtime is None or _runtime[0] != os.getpid():  # none yet, or inherited through a fork
            remove_stale()
            # made under a hidden name and renamed once its owner lock is held, so that another process's
            # `remove_stale` never sees it unowned
            staging = Path(tempfile.mkdtemp(prefix=f".{RUNTIME_PREFIX}"))
            owner = os.open(staging / OWNER, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            fcntl.flock(owner, fcntl.LOCK_EX)  # held until this process ends, however it ends
            folder = staging.with_name(staging.name[1:])
            staging.rename(folder)
            _runtime = (os.getpid(), folder, owner)
            atexit.register(_remove_own, os.getpid(), folder)
        return _runtime[1]


def remove_stale(temp: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the runtime folders in `temp` (default: the system's) whose owner is gone; returns them."""
    removed = []
    for folder in Path(temp or tempfile.gettempdir()).glob(f"{RUNTIME_PREFIX}*"):
        try:
            owner = os.open(folder / OWNER, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue  # not a runtime folder (or not ours to judge)
        try:
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its owner is alive
        finally:
            os.close(owner)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _remove_own(pid: int, folder: Path) -> None:
    if os.getpid() == pid:  # never a forked child's exit
        shutil.rmtree(folder, ignore_errors=True)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a kernel's own output (what it printed outside any cell), or ""."""
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


# ------------------------------------------------------------------ the kernel manager
class IPCKernelManager(AsyncKernelManager):
    """A kernel with uniquely named Unix sockets and connection file in `runtime_dir`, its own output in a log
    beside them (`log_path`; a subclass from `logging_to` names it), registered while it runs so that
    `interrupt_all` can reach it."""

    log_path: Path | None = None  # type: ignore[assignment]

    def __init__(self, **kwargs: Any) -> None:
        # short: a Unix socket's path has at most 107 bytes (<tmp>/genmodels-kernels-XXXXXXXX/kXXXXXXXX-N)
        name = f"k{uuid.uuid4().hex[:8]}"
        folder = runtime_dir()
        kwargs.setdefault("transport", "ipc")
        kwargs.setdefault("ip", str(folder / name))
        kwargs.setdefault("connection_file", str(folder / f"{name}.json"))
        super().__init__(**kwargs)
        self.log_file = Path(type(self).log_path or folder / f"{name}.log")

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        kw.setdefault("env", kernel_environment())
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        with open(self.log_file, "ab") as log:  # the kernel keeps its own descriptor
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            await super()._async_launch_kernel(kernel_cmd, **kw)
        with _lock:
            _live.add(self)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            with _lock:
                _live.discard(self)

    def signal_group(self, signum: int) -> None:
        """Send `signum` to the kernel's process group (its own session); nothing if it is gone."""
        provisioner = self.provisioner
        group = getattr(provisioner, "pgid", None) or getattr(provisioner, "pid", None)
        if group:
            try:
                os.killpg(group, signum)
            except (ProcessLookupError, PermissionError):
                pass


def logging_to(path: Path) -> type[IPCKernelManager]:
    """`IPCKernelManager` writing its kernel's own output to `path` (papermill takes a class, not an instance)."""
    return type("IPCKernelManager", (IPCKernelManager,), {"log_path": path})


_stopping = threading.Event()  # set by `interrupt_all` until the executor that stopped has wound down


def stopping() -> bool:
    """Whether this process is stopping its runs: a run that ends with an error now was stopped, not failed (a
    kernel still finishing its cell when the grace period ends is killed, and papermill sees a dead kernel)."""
    return _stopping.is_set()


def stopped() -> None:
    """Every run of the stopped executor has ended: later runs in this process fail as runs do."""
    _stopping.clear()


def interrupt_all(grace: float = INTERRUPT_GRACE) -> None:
    """Interrupt every kernel this process started (SIGINT, as Jupyter's interrupt does), and kill those that
    are still running `grace` seconds later (a cell stuck in native code does not see the interrupt). Set first,
    `stopping()` tells the runs' threads that whatever error ends them now comes from this stop."""
    _stopping.set()
    with _lock:
        running = list(_live)
    for manager in running:
        manager.signal_group(signal.SIGINT)

    def kill_the_rest() -> None:
        with _lock:
            rest = [m for m in running if m in _live]
        for manager in rest:
            manager.signal_group(signal.SIGKILL)

    if running:
        timer = threading.Timer(grace, kill_the_rest)
        timer.daemon = True
        timer.start()


# ------------------------------------------------------------------ which kernel, with what environment
# Set by Dask's nanny in every worker for the worker's own memory, and inherited by the kernels a worker starts,
# where it made training 1.75x slower (bench: a WGAN-GP at width 16 took 7.6-8.0 s with it, 4.4-4.5 s without):
# PyTorch frees and reallocates its buffers every step, and each free then returns memory to the OS.
NOT_FOR_KERNELS = ("MALLOC_TRIM_THRESHOLD_",)


def kernel_environment() -> dict[str, str]:
    """This process's environment, less what only suits the process itself (`NOT_FOR_KERNELS`). A run's
    threads are set explicitly (its `threads` parameter), so the OMP/MKL variables Dask sets do not matter."""
    return {k: v for k, v in os.environ.items() if k not in NOT_FOR_KERNELS}


def kernel_name() -> str:
    """The project's kernel when it runs this very Python (`make setup` registers it into the venv);
    otherwise ipykernel's built-in "python3", which also runs the current interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv0 = KernelSpecManager().get_kernel_spec(KERNEL).argv[0]
    except NoSuchKernel:
        return "python3"
    same = Path(argv0).resolve() == Path(sys.executable).resolve() or argv0 in ("python", "python3")
    return KERNEL if same else "python3"


__all__ = ["IPCKernelManager", "logging_to", "interrupt_all", "stopping", "stopped", "runtime_dir", "remove_stale", "log_tail",
           "kernel_environment", "kernel_name", "KERNEL", "NOT_FOR_KERNELS"]
