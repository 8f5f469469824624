"""The notebooks: papermill injection and nbval with tiny parameters (the parameters cell itself:
test_train_parameters.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from genmodels.runs.kernels import IPCKernelManager, kernel_name
from genmodels.runs.run import run_config
from genmodels.core.config import RunConfig

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
# a cell that hangs (a kernel that stops answering) fails its test instead of holding the suite up; a cell of
# these notebooks takes seconds
CELL_TIMEOUT = 300
# the kernel on Unix sockets of its own, as sweeps and report builds start theirs (genmodels.runs.kernels): on TCP
# ports, a kernel started while other tests start theirs lost a message and waited out CELL_TIMEOUT (305 s once)
OWN_SOCKETS = {"kernel_name": kernel_name(), "kernel_manager_class": IPCKernelManager}
TINY = dict(model="vae", dataset="mnist-5k", depth=1, z_dim=2, width=8, batch_size=16, steps=8, n_train=256,
            sample_every=4, checkpoint_every=0, metric_samples=0, progress=False)

pytestmark = pytest.mark.slow  # runs notebooks in Jupyter kernels


def test_every_train_cell_is_tagged_for_the_report() -> None:
    nb = nbformat.read(NOTEBOOKS / "train.ipynb", as_version=4)
    assert all(c.metadata.get("tags") for c in nb.cells)


def _nbval(notebook: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
                           str(notebook)], capture_output=True, text=True, timeout=600, cwd=notebook.parent)


def test_train_notebook_under_nbval_with_injected_parameters(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    prepared = tmp_path / "train.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / "train.ipynb"), str(prepared), prepare_only=True,
                        parameters={**TINY, "out_dir": str(run_dir)})
    result = _nbval(prepared)
    assert result.returncode == 0, result.stdout[-3000:]
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["model"], config["depth"], config["z_dim"], config["steps"]) == ("vae", 1, 2, 8)
    assert (run_dir / "complete.json").is_file()
    for figure in ("loss_curves", "samples", "interpolation", "reconstructions", "sample_progression"):
        assert (run_dir / "figures" / f"{figure}.png").stat().st_size > 1000, figure


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("explore") / "run"
    run_config(RunConfig(**TINY), run_dir)
    return run_dir


def test_explore_notebook_under_nbval_headless(tmp_path: Path, finished_run: Path) -> None:
    prepared = tmp_path / "explore.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / "explore.ipynb"), str(prepared), prepare_only=True,
                        parameters={"run_dir": str(finished_run), "n_samples": 16})
    result = _nbval(prepared)
    assert result.returncode == 0, result.stdout[-3000:]


def test_explore_picks_the_newest_finished_run(tmp_path: Path, finished_run: Path) -> None:
    executed = tmp_path / "explore.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / "explore.ipynb"), str(executed),
                        parameters={"results_root": str(finished_run.parent), "n_samples": 16}, progress_bar=False,
                        execution_timeout=CELL_TIMEOUT,
                        **OWN_SOCKETS)
    nb = nbformat.read(executed, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"{finished_run}: vae on mnist-5k, depth 1, z_dim 2" in text
    assert "the manifold grid needs a 2-D latent" not in text  # z_dim 2 draws the manifold


def test_explore_finds_the_results_from_the_notebooks_folder(tmp_path: Path, finished_run: Path) -> None:
    """JupyterLab starts a notebook's kernel in the notebook's folder: with no parameters the notebook still
    finds the project's results/ (here a copy of the repository layout with one finished run)."""
    import shutil

    project = tmp_path / "project"
    run = shutil.copytree(finished_run, project / "results" / "mnist-5k" / "vae" / "tiny")
    (project / "notebooks").mkdir()
    executed = project / "notebooks" / "explore.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / "explore.ipynb"), str(executed), cwd=str(executed.parent),
                        parameters={"n_samples": 16}, progress_bar=False, execution_timeout=CELL_TIMEOUT,
                        **OWN_SOCKETS)
    nb = nbformat.read(executed, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"{run}: vae on mnist-5k" in text
