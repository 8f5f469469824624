"""Bad inputs to ``genmodels sample``, ``results`` and ``report``: one line, exit status 2, nothing written, the
finished run they read left as it was; the Python API's `results_frame` raises what `results` says.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import pytest

from genmodels.cli import main
from genmodels.core.config import MAX_SAMPLES, MAX_SEED
from bad_input_cases import TINY, TRAIN, Env, a_folder, assert_one_line, assert_unchanged, run_cli, snapshot
from bad_input_cases import env  # noqa: F401  (a fixture: pytest finds it by name)

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, single_thread: None) -> Path:
    """A tiny finished run (two steps of TRAIN) that the sample command's cases read."""
    out = tmp_path_factory.mktemp("trained") / "run"
    assert main([*TRAIN, "--out", str(out)]) == 0
    return out


def without_checkpoint(e: Env, run: Path) -> Path:
    """A copy of a finished run whose checkpoint.pt was deleted: complete.json still says finished."""
    copy = Path(shutil.copytree(run, e.tmp / "damaged"))
    (copy / "checkpoint.pt").unlink()
    return copy


# (id, the whole command from (env, a finished run), fragments the one line must contain)
COMMAND_CASES: list[tuple[str, Callable[[Env, Path], list[str]], list[str]]] = [
    # the seed rule of train, where sample reads one too (a seed beyond 64 bits would overflow in torch)
    ("sample --seed 2**70", lambda e, run: ["sample", str(run), "--seed", str(2**70), "--out", str(e.tmp / "s.png")],
     ["--seed", str(MAX_SEED)]),
    ("sample --seed -1", lambda e, run: ["sample", str(run), "--seed", "-1", "--out", str(e.tmp / "s.png")], ["--seed"]),
    ("sample --n 10**8", lambda e, run: ["sample", str(run), "--n", "100000000", "--out", str(e.tmp / "s.png")],
     ["--n", f"at most {MAX_SAMPLES}"]),
    ("sample --out in /proc", lambda e, run: ["sample", str(run), "--out", "/proc/genmodels-test/s.png"],
     ["--out", "/proc/genmodels-test"]),
    ("sample --out a folder", lambda e, run: ["sample", str(run), "--out", str(a_folder(e.tmp / "grid.png"))],
     ["{tmp}/grid.png", "is a folder"]),
    ("sample --out of 300 characters", lambda e, run: ["sample", str(run), "--out", str(e.tmp / ("x" * 300 + ".png"))],
     ["--out", "too long"]),
    # the right reason: a finished run whose checkpoint is gone is damaged, not still running
    ("sample a finished run whose checkpoint was deleted",
     lambda e, run: ["sample", str(without_checkpoint(e, run)), "--out", str(e.tmp / "s.png")],
     ["{tmp}/damaged is damaged: checkpoint.pt is missing", "sweep again"]),
    # outputs that landed on a run's files or on a user's file (the run's checkpoint was replaced by samples)
    ("sample --out onto the run's checkpoint", lambda e, run: ["sample", str(run), "--out", str(run / "checkpoint.pt")],
     ["checkpoint.pt is inside the run folder"]),
    ("sample --out into the run's figures", lambda e, run: ["sample", str(run), "--out", str(run / "figures" / "s.png")],
     ["is inside the run folder"]),
    ("sample --out an existing file", lambda e, run: ["sample", str(run), "--out", str(e.file("mine.png", "mine"))],
     ["--out {tmp}/mine.png exists", "--overwrite"]),
    ("results --results FILE", lambda e, run: ["results", "--results", str(e.file("afile"))],
     ["{tmp}/afile", "is a file"]),  # a file, not "not found"
    # "wrote report.pdf" before, the PDF saying 0 runs finished
    ("report --results EMPTYDIR",
     lambda e, run: ["report", "--sweep", str(e.file("s.yaml", TINY + "grid: [{model: vae}]\n")), "--results",
                     str(a_folder(e.tmp / "empty")), "--out", str(e.tmp / "report")],
     ["no configuration of {tmp}/s.yaml has a finished run under {tmp}/empty", "nothing to report"]),
    ("report --sweep FOLDER", lambda e, run: ["report", "--sweep", str(a_folder(e.tmp / "s.yaml"))], ["is a folder"]),
    ("report --out in /proc",
     lambda e, run: ["report", "--sweep", str(e.file("s.yaml", TINY + "grid: [{model: vae}]\n")), "--out",
                     "/proc/genmodels-test"], ["--out", "/proc/genmodels-test"]),
    # files that are not regular files: refused before a byte is read, never a hang
    ("sample a finished run whose checkpoint is a FIFO",
     lambda e, run: ["sample", str(replaced_by_fifo(e, run, "checkpoint.pt")), "--out", str(e.tmp / "s.png")],
     ["{tmp}/fifo is damaged: checkpoint.pt is a FIFO, not a regular file"]),
    ("sample an unfinished run whose config.json is a FIFO",
     lambda e, run: ["sample", str(replaced_by_fifo(e, run, "config.json", finished=False)), "--out",
                     str(e.tmp / "s.png")], ["{tmp}/fifo/config.json is not a JSON object"]),
    ("sample a finished run whose metrics.json leads to /dev/zero",
     lambda e, run: ["sample", str(replaced_by_link(e, run, "metrics.json", "/dev/zero")), "--out",
                     str(e.tmp / "s.png")], ["{tmp}/link is damaged: metrics.json is a link leading out"]),
]


def replaced_by_fifo(e: Env, run: Path, name: str, finished: bool = True) -> Path:
    """A copy of a finished run with `name` a named pipe (and, unless `finished`, without complete.json)."""
    copy = Path(shutil.copytree(run, e.tmp / "fifo"))
    (copy / name).unlink()
    os.mkfifo(copy / name)
    if not finished:
        (copy / "complete.json").unlink()
    return copy


def replaced_by_link(e: Env, run: Path, name: str, target: str) -> Path:
    copy = Path(shutil.copytree(run, e.tmp / "link"))
    (copy / name).unlink()
    (copy / name).symlink_to(target)
    return copy


@pytest.mark.parametrize(("command", "fragments"), [c[1:] for c in COMMAND_CASES], ids=[c[0] for c in COMMAND_CASES])
def test_other_commands_bad_input_is_one_line(command: Callable[[Env, Path], list[str]], fragments: list[str],
                                              env: Env, trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = command(env, trained)
    before, files, run = set(env.tmp.rglob("*")), snapshot(env.tmp), snapshot(trained)
    assert_one_line(*run_cli(argv, capsys), fragments, env.tmp)
    assert set(env.tmp.rglob("*")) == before  # nothing written: no samples, no report folder
    assert_unchanged(files, env.tmp)
    assert_unchanged(run, trained)


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_results_frame_of_no_folder_raises_the_clis_error(kind: str, tmp_path: Path) -> None:
    """The Python API says what `results` says (an empty table before, which reads as "no runs yet")."""
    from genmodels.core.config import ConfigError
    from genmodels.runs.results import results_frame

    root = tmp_path / "results"
    if kind == "a file":
        root.write_text("not a folder")
    with pytest.raises(ConfigError, match="results folder .*(not found|is a file)") as info:
        results_frame(root)
    assert "\n" not in str(info.value)
