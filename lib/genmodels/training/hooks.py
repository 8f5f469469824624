"""What runs beside the training loop: the hook protocol, the columns of a history row, and the sample grids.

Apart from the loop (genmodels.training.loop) so that a hook, e.g. the TensorBoard logger, can use these without
importing the loop that calls it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from genmodels.core.store import sample_grid, write_atomic

if TYPE_CHECKING:
    from genmodels.training.loop import Trainer

# the columns of a history row that are not loss terms: bookkeeping, and the quality curve that
# genmodels.quality.evaluation.QualityHook adds to the row of a step where it measured
BOOKKEEPING_COLUMNS = ("step", "images", "seconds")
QUALITY_COLUMNS = ("fid", "kid", "is")


class Hook(Protocol):
    def on_step(self, trainer: "Trainer") -> None: ...

    def on_end(self, trainer: "Trainer") -> None: ...


class SampleGrids:
    """Saves an 8x8 grid from the fixed noise batch every `every` steps (and at the end)."""

    def __init__(self, every: int) -> None:
        self.every = every

    def on_step(self, trainer: "Trainer") -> None:
        if self.due(trainer.step, self.every):
            self.save(trainer)

    @staticmethod
    def due(step: int, every: int) -> bool:
        """Whether a grid is drawn at `step`: the first step and every `every` (0: none during training)."""
        return bool(every) and (step % every == 0 or step == 1)

    def on_end(self, trainer: "Trainer") -> None:
        self.save(trainer)

    @staticmethod
    def save(trainer: "Trainer") -> Path:
        from torchvision.utils import save_image

        grid = trainer.samples()
        return write_atomic(sample_grid(trainer.out_dir, trainer.step), lambda tmp: save_image(
            grid, tmp, format="png", nrow=8, normalize=True, value_range=(-1, 1), padding=2, pad_value=1.0))


__all__ = ["BOOKKEEPING_COLUMNS", "QUALITY_COLUMNS", "Hook", "SampleGrids"]
