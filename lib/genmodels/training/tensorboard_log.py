"""TensorBoard logging (config ``log: tensorboard``): loss terms every step, the quality curve, sample grids,
and the final scores, written to ``<run_dir>/tensorboard/`` with ``torch.utils.tensorboard``, so that
``tensorboard --logdir results`` shows every run of a sweep, live, under its own folder name.

TensorBoard is an optional extra (``pip install 'genmodels[tensorboard]'``): history.csv, samples/ and
metrics.json stay the run's record; these event files are a view of them while it trains. Asking for it
without the package is one `ConfigError` before training starts.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from genmodels.core import store
from genmodels.core.config import ConfigError
from genmodels.training.hooks import BOOKKEEPING_COLUMNS, QUALITY_COLUMNS, SampleGrids

# tags, grouped the way TensorBoard lays them out (one section per prefix)
LOSS, QUALITY, FINAL, SAMPLES = "loss", "quality", "final", "samples/fixed_noise"
FINAL_SCORES = {"fid": "fid", "kid_mean": "kid", "inception_score_mean": "is", "precision": "precision",
                "recall": "recall"}  # metrics.json quality key -> tag under final/


def summary_writer_class() -> Any:
    """``torch.utils.tensorboard.SummaryWriter``; a `ConfigError` saying how to install it when it is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("log='tensorboard' needs the tensorboard package, which is not installed: "
                          "pip install 'genmodels[tensorboard]' (or pip install tensorboard), or set log: none") from None
    return SummaryWriter


def log_dir(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / store.TENSORBOARD


class TensorBoardHook:
    """A training hook (`genmodels.training.loop.Hook`) writing what the run records, as it records it.

    Loss terms of every step (``loss/<term>``) as the trainer reads them back from the device (in batches:
    asking for them every step would make each step wait for the GPU), each point of the quality curve once
    the quality hook has measured it (``quality/fid|kid|is``), and the fixed-noise sample grid whenever
    samples/ gets one (``samples/fixed_noise``). A resumed run opens its writer with ``purge_step`` at the step it resumed from,
    so the steps an interrupted segment logged after its last checkpoint are replaced, not doubled.
    """

    def __init__(self, flush_secs: int = 10) -> None:
        self._writer_class = summary_writer_class()
        self.flush_secs = flush_secs
        self.writer: Any = None
        self._quality_logged = 0
        self._samples_step = -1  # the step of the last grid logged (the last step's is logged once)
        self._losses_from = 0  # the first step whose loss terms are not logged yet

    def _open(self, trainer: Any) -> Any:
        self.writer = self._writer_class(str(log_dir(trainer.out_dir)), purge_step=trainer.step,
                                         flush_secs=self.flush_secs)
        # quality points measured before this segment started were logged by the segment that measured them
        rows = trainer.extra_state.get("quality", [])
        self._quality_logged = sum(1 for row in rows if row["step"] < trainer.step)
        self._losses_from = trainer.step  # the purge step: steps before it were logged by an earlier segment
        return self.writer

    def on_step(self, trainer: Any) -> None:
        self.writer or self._open(trainer)
        self._log_losses(trainer.read_rows)
        self._log_quality(trainer)
        if SampleGrids.due(trainer.step, trainer.config.sample_every):
            self._log_samples(trainer)

    def on_end(self, trainer: Any) -> None:
        writer = self.writer or self._open(trainer)
        self._log_losses(trainer.history)
        self._log_quality(trainer)
        if self._samples_step != trainer.step:
            self._log_samples(trainer)
        writer.close()
        self.writer = None

    def _log_losses(self, rows: list[dict[str, Any]]) -> None:
        """The loss terms of the rows not logged yet (the newest rows are at the end)."""
        start = len(rows)
        while start > 0 and rows[start - 1]["step"] >= self._losses_from:
            start -= 1
        for row in rows[start:]:
            for name, value in row.items():
                if name not in BOOKKEEPING_COLUMNS and name not in QUALITY_COLUMNS:
                    self.writer.add_scalar(f"{LOSS}/{name}", value, row["step"])
        if start < len(rows):
            self._losses_from = rows[-1]["step"] + 1

    def _log_quality(self, trainer: Any) -> None:
        rows = trainer.extra_state.get("quality", [])
        for row in rows[self._quality_logged:]:
            for name in QUALITY_COLUMNS:
                if _finite(row.get(name)):
                    self.writer.add_scalar(f"{QUALITY}/{name}", row[name], row["step"])
        self._quality_logged = len(rows)

    def _log_samples(self, trainer: Any) -> None:
        from torchvision.utils import make_grid

        grid = make_grid(trainer.samples().cpu(), nrow=8, normalize=True, value_range=(-1, 1), padding=2,
                         pad_value=1.0)
        self.writer.add_image(SAMPLES, grid, trainer.step)
        self._samples_step = trainer.step


def log_final(run_dir: str | os.PathLike[str], step: int, metrics: dict[str, Any]) -> None:
    """The run's final scores (metrics.json's quality section, and a VAE's test reconstruction error) under
    ``final/``, at the last step: they are measured after training, when the hook has closed its writer."""
    quality = metrics.get("quality") or {}
    scores = {f"{FINAL}/{tag}": quality.get(key) for key, tag in FINAL_SCORES.items()}
    scores[f"{FINAL}/test_mse"] = (metrics.get("test_reconstruction") or {}).get("mse")
    scores = {tag: value for tag, value in scores.items() if _finite(value)}
    if not scores:
        return
    writer = summary_writer_class()(str(log_dir(run_dir)))
    try:
        for tag, value in scores.items():
            writer.add_scalar(tag, value, step)
    finally:
        writer.close()


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


__all__ = ["TensorBoardHook", "log_final", "log_dir", "summary_writer_class"]
