"""TensorBoard logging (``log: tensorboard``): event files with the loss terms, the quality curve, sample grids
and the final scores in ``<run>/tensorboard/``; a resumed run does not log a step twice; without the package,
one line before training. Tiny real runs (width 8, depth 1, a few dozen steps on 64 images).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from genmodels.core import store
from genmodels.cli import main
from genmodels.core.config import ConfigError, RunConfig
from genmodels.training.loop import train

TINY: dict[str, Any] = dict(model="gan", dataset="mnist-5k", depth=1, z_dim=4, width=8, batch_size=8, n_train=64,
                            sample_every=5, checkpoint_every=0, metric_samples=0, progress=False, device="cpu",
                            log="tensorboard")
needs_tensorboard = pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None,
    reason="tensorboard is not installed (an optional extra: pip install 'genmodels[tensorboard]')")

pytestmark = pytest.mark.usefixtures("single_thread")


def events(run_dir: Path) -> Any:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_dir / store.TENSORBOARD), size_guidance={"scalars": 0, "images": 0})
    return accumulator.Reload()


class FakeQuality:
    """Adds a quality point every 4 steps, as genmodels.quality.evaluation.QualityHook does (without its classifier)."""

    def on_step(self, trainer: Any) -> None:
        if trainer.step % 4 == 0:
            trainer.extra_state.setdefault("quality", []).append(
                {"step": trainer.step, "fid": 100.0 - trainer.step, "kid": 0.5, "is": 1.0 + trainer.step / 10})
            trainer.history[-1].update(fid=100.0 - trainer.step, kid=0.5)

    def on_end(self, trainer: Any) -> None:
        pass


@needs_tensorboard
def test_losses_quality_and_samples_are_logged(tmp_path: Path) -> None:
    trainer = train(RunConfig(**TINY, steps=10), tmp_path, hooks=[FakeQuality()])
    log = events(tmp_path)
    loss_tags = {t for t in log.Tags()["scalars"] if t.startswith("loss/")}
    assert loss_tags == {f"loss/{k}" for k in trainer.history[0] if k not in ("step", "images", "seconds")}
    assert [e.step for e in log.Scalars("loss/gen_loss")] == list(range(1, 11))
    assert [e.value for e in log.Scalars("loss/gen_loss")] == pytest.approx([r["gen_loss"] for r in trainer.history])
    assert [(e.step, e.value) for e in log.Scalars("quality/fid")] == [(4, 96.0), (8, 92.0)]
    assert [e.step for e in log.Scalars("quality/is")] == [4, 8]
    assert "loss/fid" not in log.Tags()["scalars"]  # quality is not a loss term
    grids = log.Images("samples/fixed_noise")
    assert [e.step for e in grids] == [1, 5, 10]  # as samples/ gets them: step 1, every 5, the last once
    assert (grids[0].width, grids[0].height) == (8 * 34 + 2, 8 * 34 + 2)


@needs_tensorboard
def test_resumed_run_logs_each_step_once(tmp_path: Path) -> None:
    """An interrupted segment logged steps past its last checkpoint; the resumed run replaces them."""

    class KeepCheckpointAt:
        def on_step(self, trainer: Any) -> None:
            if trainer.step == 6:
                shutil.copy(trainer.save_checkpoint(), tmp_path / "at6.pt")

        def on_end(self, trainer: Any) -> None:
            pass

    run = tmp_path / "run"
    train(RunConfig(**TINY, steps=10), run, hooks=[KeepCheckpointAt()])
    shutil.copy(tmp_path / "at6.pt", run / store.CHECKPOINT)  # as if killed after step 10's logging, before saving
    trainer = train(RunConfig(**TINY, steps=12), run)
    scalars = events(run).Scalars("loss/gen_loss")
    assert [e.step for e in scalars] == list(range(1, 13))
    assert scalars[-1].value == pytest.approx(trainer.history[-1]["gen_loss"])


@needs_tensorboard
def test_run_config_logs_the_final_scores(tmp_path: Path) -> None:
    from genmodels.training.tensorboard_log import log_final

    log_final(tmp_path, 30, {"quality": {"fid": 12.5, "inception_score_mean": 7.25, "precision": float("nan")},
                             "test_reconstruction": {"mse": 0.0625}})
    log = events(tmp_path)
    assert {t: [(e.step, e.value) for e in log.Scalars(t)] for t in log.Tags()["scalars"]} == {
        "final/fid": [(30, 12.5)], "final/is": [(30, 7.25)], "final/test_mse": [(30, 0.0625)]}


def test_missing_package_is_one_line_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # what `import` sees without the package
    out = tmp_path / "run"
    assert main(["train", "--model", "gan", "--dataset", "mnist-5k", "--steps", "3", "--width", "8", "--depth", "1",
                 "--metric-samples", "0", "--log", "tensorboard", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: log='tensorboard' needs the tensorboard package") and err.count("\n") == 1
    assert "genmodels[tensorboard]" in err
    assert not (out / store.CONFIG).exists()  # nothing was started
    with pytest.raises(ConfigError, match="tensorboard package"):
        train(RunConfig(**TINY, steps=2), tmp_path / "direct")
    assert not (tmp_path / "direct" / store.CHECKPOINT).exists()
