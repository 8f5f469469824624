"""What the explore notebook relies on, without a kernel: finding the project's runs from notebooks/ and image
grids large enough to see."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import fake_finished_run
from genmodels import plots

from genmodels.core import store
from genmodels.explore import newest_run


def _finished(root: Path, name: str) -> Path:
    return fake_finished_run(store.run_folder(root, "mnist", "vae", name))


def test_newest_run_is_found_from_the_notebooks_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel started by JupyterLab runs in notebooks/; the project's results/ one level up is still found."""
    project = tmp_path / "project"
    run = _finished(project / "results", "tiny")
    (project / "notebooks").mkdir()
    monkeypatch.chdir(project / "notebooks")
    assert newest_run() == run.resolve()
    assert newest_run("") == run.resolve()  # the notebook's empty parameter means "found automatically"


def test_newest_run_names_the_folder_it_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").touch()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "results")):
        newest_run()


@pytest.mark.parametrize("count, nrow", [(64, 8), (16, 8), (9, 9), (225, 15), (40, 10)])
def test_grid_png_is_wide_enough_and_enlarged_by_a_whole_factor(count: int, nrow: int) -> None:
    images = torch.rand(count, 1, 32, 32) * 2 - 1
    native = plots.grid_array(images, nrow)
    png = Image.open(io.BytesIO(plots.grid_png(images, nrow, min_width=768)))
    factor = png.width // native.shape[1]
    assert png.width >= 768 and png.width == factor * native.shape[1] and png.height == factor * native.shape[0]
    # nearest neighbour: every generated pixel becomes a factor x factor block of one value
    pixels = np.asarray(png.convert("RGB"))
    assert (pixels[::factor, ::factor] == (native * 255).round().astype(np.uint8)).all()
    assert (pixels[1::factor, 1::factor] == pixels[::factor, ::factor]).all()


def test_grid_png_keeps_a_grid_that_is_already_wide_enough() -> None:
    images = torch.zeros(64, 3, 32, 32)
    assert Image.open(io.BytesIO(plots.grid_png(images, 8, min_width=100))).width == plots.grid_array(images).shape[1]
