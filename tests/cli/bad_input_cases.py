"""What the bad-input tests of every command share: a case's folder and set-up (`Env`, the `env` fixture), the
tiny `TRAIN` command, and the checks that a refused command printed one line, exited 2 and changed nothing.

A case is run in-process through `genmodels.cli.main` (fast). Imported by `test_train_inputs.py`,
`test_sweep_inputs.py` and `test_sample_results_report_inputs.py`; README "Reliability" states how many cases
there are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import torch

from genmodels.cli import main
from genmodels.data import load_dataset

ROOT = Path(__file__).resolve().parents[2]
# a tiny GAN on 64 real images: cases that get as far as training take a second or two
TRAIN = ["train", "--model", "gan", "--dataset", "mnist-5k", "--depth", "1", "--z-dim", "4", "--width", "4",
         "--steps", "2", "--n-train", "64", "--batch-size", "8", "--metric-samples", "0", "--sample-every", "0",
         "--no-progress"]

@dataclass
class Env:
    """What a case's set-up may use: a fresh folder, monkeypatch, and a read-only folder where one can be made."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def file(self, name: str, data: bytes | str = "not a folder\n") -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def read_only_dir(self) -> Path:
        """A folder this process cannot write: chmod for a normal user; root ignores modes, so a read-only tmpfs
        (skipped where mounting is not allowed)."""
        path = self.tmp / "read-only"
        path.mkdir(exist_ok=True)
        if os.geteuid() != 0:
            path.chmod(0o555)
            self.cleanups.append(lambda: path.chmod(0o755))
            return path
        if mount_tmpfs(path, "ro,size=64k"):
            self.cleanups.append(lambda: umount_tmpfs(path))
            return path
        pytest.skip("no read-only folder possible here: running as root, and mounting a tmpfs is not allowed")

    def data_root(self) -> Path:
        """A private data root holding a good copy of the mnist-5k idx files (damaged by the case)."""
        root = self.tmp / "data"
        shutil.copytree(session_data() / "MNIST-5k", root / "MNIST-5k")
        return root

    def checkpoint(self, payload: Any = None, raw: bytes | None = None) -> Path:
        """A run folder whose checkpoint.pt holds `payload` (torch.save) or the bytes `raw`."""
        path = self.tmp / "run" / "checkpoint.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        if raw is not None:
            path.write_bytes(raw)
        else:
            torch.save(payload, path)
        return path


def session_data() -> Path:
    load_dataset("mnist-5k", "train")  # writes the idx files into the session's data root on first use
    return Path(os.environ["GENMODELS_DATA"])


def mount_tmpfs(path: Path, options: str) -> bool:
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def umount_tmpfs(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)  # busy: detach now, freed when closed


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.chdir(tmp_path)  # a default ./results or ./data would land here, never in the repository
    e = Env(tmp_path, monkeypatch)
    yield e
    for cleanup in reversed(e.cleanups):
        cleanup()


# a case's set-up: given the case's Env, it prepares files and returns the flags to add to the command
Setup = Callable[[Env], list[str]]


def truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def idx_file(root: Path, name: str = "train-images-idx3-ubyte") -> Path:
    return root / "MNIST-5k" / "raw" / name


def snapshot(folder: Path) -> dict[Path, str]:
    """Every file under `folder` with a hash of its bytes: what a refused command must leave as it found it."""
    import hashlib

    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def assert_unchanged(before: dict[Path, str], folder: Path) -> None:
    """Every file of `before` is still there with the same bytes."""
    after = snapshot(folder)
    changed = [str(p) for p, digest in before.items() if after.get(p) != digest]
    assert not changed, f"changed or removed: {changed}"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(code: int, out: str, err: str, fragments: list[str], tmp: Path) -> None:
    lines = err.strip().splitlines()
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in out + err
    for fragment in fragments:
        assert fragment.replace("{tmp}", str(tmp)) in lines[0], f"{fragment!r} missing from {lines[0]!r}"

TINY = "defaults: {dataset: mnist-5k, width: 8, steps: 2, metric_samples: 0}\n"


def a_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def tiny_filesystem(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir()
    if not mount_tmpfs(folder, f"size={size}"):
        pytest.skip("mounting a tmpfs is not allowed here (needs root or CAP_SYS_ADMIN)")
    try:
        yield folder
    finally:
        umount_tmpfs(folder)
