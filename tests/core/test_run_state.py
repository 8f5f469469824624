"""One answer to "what state is this run folder in": every kind of damage a finished run folder can suffer is
`damaged` with its reason, and `results` (with and without a sweep file), the sweep's dry run and `load_run`
(what `sample` calls) say the same, read nothing that is not a regular file within its limit, and change nothing.

The run folders are tiny fakes with every file a finished run has (`conftest.fake_finished_run`): no training.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import pytest
import torch

from conftest import assert_damaged_alike, fake_finished_run
from genmodels.core import safe_read, store
from genmodels.core.config import RunConfig
from genmodels.runs.notebook_run import RunSpec
from genmodels.runs.results import results_frame, summary_text
from genmodels.runs.sweep import dry_run_table


def _json_edit(name: str, **changes: object) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        values = json.loads((run / name).read_text())
        (run / name).write_text(json.dumps({**values, **changes}))
    return edit


def _quality(**values: object) -> Callable[[Path], None]:
    return _json_edit(store.METRICS, quality={"fid": 10.0, "precision": 0.5, **values})


def _checkpoint_without(key: str) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        state = torch.load(run / store.CHECKPOINT, weights_only=True)
        state.pop(key)
        torch.save(state, run / store.CHECKPOINT)
    return edit


def _link(name: str, target: str) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        (run / name).unlink()
        (run / name).symlink_to(target)
    return edit


def _fifo(name: str) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        (run / name).unlink()
        os.mkfifo(run / name)
    return edit


def _outside(run: Path) -> None:
    elsewhere = run.parent.parent / "elsewhere.json"
    elsewhere.write_text(json.dumps({"quality": None}))
    _link(store.METRICS, str(elsewhere))(run)


def _grid(content: bytes) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        store.write_text(store.sample_grid(run, 1), "")
        store.sample_grid(run, 1).write_bytes(content)
    return edit


def _figure(content: bytes) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        (run / store.FIGURES).mkdir(exist_ok=True)
        (run / store.FIGURES / "samples.png").write_bytes(content)
    return edit


# damage -> what it does to a sound finished run folder, and the reason every command gives
DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "config of the wrong type": (_json_edit(store.CONFIG, depth="deep"), "config.json: not a valid configuration"),
    "config out of range": (_json_edit(store.CONFIG, depth=99), "config.json: not a valid configuration"),
    "config with an unknown field": (_json_edit(store.CONFIG, bogus=1), "unknown config field 'bogus'"),
    "config not JSON": (lambda run: (run / store.CONFIG).write_text("{"), "config.json is not valid JSON"),
    "metric not a number": (_quality(fid="12"), "metrics.json: quality.fid is '12', not a number"),
    "metric NaN": (lambda run: (run / store.METRICS).write_text('{"quality": {"fid": NaN}}'),
                   "metrics.json: quality.fid is nan, outside"),
    "precision above 1": (_quality(precision=1.7), "quality.precision is 1.7, outside [0, 1]"),
    "negative FID": (_quality(fid=-3.0), "quality.fid is -3.0, outside [0, ∞]"),
    "loss infinite": (_json_edit(store.METRICS, final_losses={"loss": float("inf")}),
                      "metrics.json: final_losses.loss is inf, not a finite number"),
    "history cut mid-line": (lambda run: (run / store.HISTORY).write_text("step,loss\n1,0.5\n2,0."),
                             "history.csv: cut mid-line"),
    "history holding text": (lambda run: (run / store.HISTORY).write_text("step,loss\n1,oops\n"),
                             "history.csv: line 2 holds text ('oops')"),
    "history of ragged rows": (lambda run: (run / store.HISTORY).write_text("step,loss\n1\n"),
                               "history.csv: line 2 has 1 fields, the header 2"),
    "sample grid not an image": (_grid(b"GIF89a not a png"), "samples/step_000001.png is not a PNG image"),
    "figure not an image": (_figure(b"<html>"), "figures/samples.png is not a PNG image"),
    "checkpoint without its step": (_checkpoint_without("step"), "checkpoint.pt: has no 'step'"),
    "checkpoint without its weights": (_checkpoint_without("model"), "has no 'model', which loading"),
    "checkpoint negative step": (lambda run: torch.save({**dict.fromkeys((*store.WEIGHT_KEYS, "optimizers", "stream", "elapsed", "history", "fixed_noise", "ema", "rng")), "step": -4},
                                                        run / store.CHECKPOINT), "holds step -4"),
    "metrics.json a link to /dev/zero": (_link(store.METRICS, "/dev/zero"), "metrics.json is a link leading out"),
    "metrics.json a link out of the folder": (_outside, "metrics.json is a link leading out of its folder"),
    "config.json a FIFO": (_fifo(store.CONFIG), "config.json is a FIFO, not a regular file"),
    "checkpoint.pt a FIFO": (_fifo(store.CHECKPOINT), "checkpoint.pt is a FIFO, not a regular file"),
    "history.csv a folder": (lambda run: ((run / store.HISTORY).unlink(), (run / store.HISTORY).mkdir()),
                             "history.csv is a folder, not a regular file"),
}


def test_a_sound_run_is_complete_everywhere(sound: RunSpec) -> None:
    assert sound.state() == store.RunState(store.Status.COMPLETE)
    assert list(results_frame(sound.results_root).status) == ["complete"]
    assert "1 configurations, 1 complete" in dry_run_table([sound])


@pytest.mark.filterwarnings("ignore:.*cannot be read by this version")
@pytest.mark.parametrize("kind", DAMAGES)
def test_every_damage_is_named_alike_by_every_command(sound: RunSpec, kind: str) -> None:
    state, table, error = assert_damaged_alike(sound, *DAMAGES[kind])
    assert f"damaged: {state.reason}; the sweep runs it again" in table
    assert state.reason in error


def test_results_never_pass_text_as_a_number(sound: RunSpec) -> None:
    """meta.json is free-form, but what `results` shows of it as a number is a number or empty."""
    _json_edit(store.META, wall_seconds={"training": "12 s"}, summary={"images": [1]})(sound.run_dir)
    frame = results_frame(sound.results_root)
    assert frame.status.tolist() == ["complete"]
    record = json.loads(summary_text(frame, "json"))[0]
    assert record["seconds"] is None and record["FID"] is None


def test_a_link_out_of_a_run_folder_is_not_followed_but_a_linked_run_folder_is(sound: RunSpec,
                                                                                 tmp_path: Path) -> None:
    """One policy: a run folder may be a link (results on another disk); a file in it that links out is refused."""
    moved = tmp_path / "other-disk" / "run"
    moved.parent.mkdir()
    sound.run_dir.rename(moved)
    sound.run_dir.symlink_to(moved)
    assert sound.state().status is store.Status.COMPLETE
    inside = moved / "copy.json"
    inside.write_text((moved / store.META).read_text())
    _link(store.META, str(inside))(moved)  # a link within the folder is an ordinary file
    assert sound.state().status is store.Status.COMPLETE


@pytest.mark.parametrize("make", ["fifo", "device", "large"])
def test_reading_refuses_what_is_not_a_small_regular_file(tmp_path: Path, make: str) -> None:
    path = tmp_path / "file.json"
    if make == "fifo":
        os.mkfifo(path)
    elif make == "device":
        path.symlink_to("/dev/zero")
    else:
        path.write_bytes(b" " * 2048)
    with pytest.raises(safe_read.UnsafeFile, match="not a regular file|more than the 1,024"):
        safe_read.read_bytes(path, 1024)
    assert store.read_json(path) is None  # a reader that tolerates unreadable files tolerates these too
