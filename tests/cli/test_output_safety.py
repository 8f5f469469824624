"""What a refused or redirected command must never do to a user's files or a run's: replace a run's sample grid
through a linked folder, replace a dangling link, rewrite config.json for a checkpoint it then refuses, leave its
lock file in a user's folder, start a partial run over from a checkpoint that is no file. Each case checks the
one-line refusal and that every file is as it was (docs/reliability.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from genmodels.core.store import LOCK
from bad_input_cases import TRAIN, Env, assert_one_line, assert_unchanged, env, run_cli, snapshot  # noqa: F401  (env: a fixture)
from test_sample_results_report_inputs import trained  # noqa: F401  (a fixture)
from test_train_inputs import resumable

pytestmark = pytest.mark.usefixtures("single_thread")


def test_samples_through_a_linked_folder_never_land_in_a_run(env: Env, trained: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    link = env.tmp / "outer" / "into"
    link.parent.mkdir()
    link.symlink_to(trained / "samples")
    grid = next((trained / "samples").glob("*.png"), None) or trained / "samples" / "s.png"
    before = snapshot(trained)
    code, out, err = run_cli(["sample", str(trained), "--n", "4", "--out", str(link / grid.name), "--overwrite"],
                             capsys)
    assert_one_line(code, out, err, ["is inside the run folder"], env.tmp)
    assert_unchanged(before, trained)


def test_a_dangling_link_is_not_replaced_without_overwrite(env: Env, trained: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    link = env.tmp / "s.png"
    link.symlink_to(env.tmp / "nowhere.png")
    assert_one_line(*run_cli(["sample", str(trained), "--n", "4", "--out", str(link)], capsys), ["exists"], env.tmp)
    assert link.is_symlink() and os.readlink(link) == str(env.tmp / "nowhere.png")


def test_sample_out_expands_the_home_folder(env: Env, trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = env.tmp / "home"
    home.mkdir()
    env.monkeypatch.setenv("HOME", str(home))
    code, _, err = run_cli(["sample", str(trained), "--n", "4", "--out", "~/x.png"], capsys)
    assert code == 0, err
    assert (home / "x.png").is_file() and not (env.tmp / "~").exists()


def set_key(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda state: state.__setitem__(key, value)


@pytest.mark.parametrize("edit", [set_key("rng", "abc"), set_key("stream", None), set_key("optimizers", {}),
                                  set_key("fixed_noise", torch.zeros(3, 2))],
                         ids=["rng a str", "stream None", "optimizers {}", "fixed_noise of another shape"])
def test_a_refused_resume_changes_nothing(edit: Callable[[dict[str, Any]], None], env: Env,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The checkpoint is loaded in full before config.json (or anything else) is written."""
    extra = resumable(edit)(env)
    run = env.tmp / "run"
    (run / "config.json").write_text('{"note": "the partial run\'s config"}\n')
    (run / "history.csv").write_text("step,loss\n1,0.5\n")
    before, names = snapshot(run), sorted(p.name for p in run.iterdir())
    argv = [*TRAIN, "--steps", "3", "--out", str(run), "--results", str(env.tmp / "results"), *extra]
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert_unchanged(before, run)
    assert sorted(p.name for p in run.iterdir() if p.name != LOCK) == names  # a run's folder keeps its lock


def test_a_checkpoint_that_is_no_file_is_refused_not_started_over(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    run = env.tmp / "run"
    run.mkdir()
    (run / "checkpoint.pt").symlink_to("/dev/zero")
    (run / "history.csv").write_text("step,loss\n1,0.5\n")
    before = snapshot(run)
    argv = [*TRAIN, "--out", str(run), "--results", str(env.tmp / "results"), "--resume"]
    assert_one_line(*run_cli(argv, capsys), ["checkpoint.pt"], env.tmp)
    assert_unchanged(before, run)


def test_a_refused_train_leaves_no_lock_in_a_users_folder(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    folder = env.tmp / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("notes\n")
    argv = [*TRAIN, "--out", str(folder), "--results", str(env.tmp / "results")]
    assert_one_line(*run_cli(argv, capsys), ["notes.txt"], env.tmp)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
