"""Figures shared by the run notebook and the report. Each returns a matplotlib Figure and shows nothing; `show`
and `show_images` display in a notebook."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

import matplotlib

if not matplotlib.get_backend().lower().startswith(("module://", "nbagg", "widget")):
    matplotlib.use("Agg")  # scripts and sweeps only save figures; notebooks keep their inline backend
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

from genmodels.core.registry import model_spec  # noqa: E402



def grid_array(images: torch.Tensor, nrow: int = 8) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> (H', W', 3) array in [0, 1] for imshow."""
    grid = make_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow, normalize=True,
                     value_range=(-1, 1), padding=2, pad_value=1.0)
    return grid.permute(1, 2, 0).numpy()


def image_grid(images: torch.Tensor, title: str = "", nrow: int = 8, size: float = 4.0) -> plt.Figure:
    """The images as one grid in a figure (run folders' figures/), `nrow` per row, titled."""
    fig, ax = plt.subplots(figsize=(size, size * _rows(images, nrow) / nrow))
    ax.imshow(grid_array(images, nrow), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def grid_png(images: torch.Tensor, nrow: int = 8, min_width: int = 768) -> bytes:
    """The grid as PNG bytes, enlarged by a whole factor (nearest neighbour) to at least `min_width` pixels.

    A browser shows a PNG at its own pixel size: an 8x8 grid of 32-pixel images is 274 pixels wide, too
    small to read a digit, and a figure resampled by matplotlib blurs or unevenly repeats pixels. A whole
    factor keeps every generated pixel a crisp square of equal size."""
    import io

    from PIL import Image

    grid = (grid_array(images, nrow) * 255).round().astype(np.uint8)
    factor = max(1, -(-min_width // grid.shape[1]))
    picture = Image.fromarray(grid).resize((grid.shape[1] * factor, grid.shape[0] * factor), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="png")
    return buffer.getvalue()


def show_images(images: torch.Tensor, title: str = "", nrow: int = 8, min_width: int = 768) -> None:
    """Display a grid of generated images in a notebook, large enough to see them (`grid_png`), under a title."""
    from IPython.display import HTML, Image, display

    if title:
        display(HTML(f"<b>{html.escape(title)}</b>"))
    display(Image(grid_png(images, nrow, min_width)))


def _rows(images: torch.Tensor, nrow: int) -> int:
    return max(1, -(-images.shape[0] // nrow))


def _smooth(values: pd.Series, points: int) -> pd.Series:
    window = max(1, len(values) // points)
    return values.rolling(window, min_periods=1).mean()


def loss_curves(history: pd.DataFrame, model: str, title: str = "") -> plt.Figure:
    """One panel per loss term the model's spec names (`registry.ModelSpec.loss_terms`), raw in light and a
    moving average in dark."""
    spec = model_spec(model)
    terms = [(k, label) for k, label in spec.loss_terms if k in history]
    fig, axes = plt.subplots(1, len(terms), figsize=(3.2 * len(terms), 2.6), squeeze=False)
    for ax, (key, label) in zip(axes[0], terms):
        ax.plot(history["step"], history[key], color="C0", alpha=0.25, linewidth=0.7)
        ax.plot(history["step"], _smooth(history[key], 50), color="C0", linewidth=1.5)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if key in spec.log_scale_terms:
            ax.set_yscale("log")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sample_progression(paths: Sequence[Path], max_panels: int = 6) -> plt.Figure:
    """The fixed-noise grids saved during training, side by side (first 16 images of each)."""
    paths = list(paths)
    if len(paths) > max_panels:
        keep = np.linspace(0, len(paths) - 1, max_panels).round().astype(int)
        paths = [paths[i] for i in keep]
    fig, axes = plt.subplots(1, len(paths), figsize=(2.0 * len(paths), 2.2), squeeze=False)
    for ax, path in zip(axes[0], paths):
        image = plt.imread(path)
        h, w = image.shape[0], image.shape[1]
        ax.imshow(image[: h // 2, : w // 2], cmap="gray", interpolation="nearest")  # the top-left 4x4 block
        ax.set_title(f"step {int(path.stem.split('_')[-1])}", fontsize=8)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def reconstructions(originals: torch.Tensor, recon: torch.Tensor, n: int = 8) -> plt.Figure:
    """Top row: test images; bottom row: their VAE reconstructions (posterior mean)."""
    both = torch.cat([originals[:n].cpu(), recon[:n].cpu()])
    fig = image_grid(both, nrow=n, size=6.0)
    fig.axes[0].set_title("test images (top) and reconstructions (bottom)", fontsize=9)
    return fig


def interpolation(images: torch.Tensor, steps: int) -> plt.Figure:
    """Rows of images decoded along straight lines between pairs of latents."""
    return image_grid(images, nrow=steps, size=6.0)


def show(fig: plt.Figure, dpi: int = 110) -> None:
    """Display a figure as a PNG in a notebook, whatever the matplotlib backend (headless runs included)."""
    import io

    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    display(Image(buffer.getvalue()))
