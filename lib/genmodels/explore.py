"""What the explore notebook (notebooks/explore.ipynb) needs beyond the public API: which run to open.

The notebook loads a run with `genmodels.load_run` (a `TrainedRun`), as any other user does; this module only
finds the newest finished run, from wherever JupyterLab started the kernel.
"""

from __future__ import annotations

import os
from pathlib import Path

from genmodels.core.store import find_results_root, finished_runs


def newest_run(results_root: str | os.PathLike[str] | None = None) -> Path:
    """The newest finished run under `results_root` (default: the project's results folder, found from the
    current directory upwards, so a notebook kernel started in notebooks/ finds it too)."""
    results_root = results_root or find_results_root()
    runs = finished_runs(results_root)
    if not runs:
        raise FileNotFoundError(f"no finished run under {results_root}/; train one first "
                                "(notebooks/train.ipynb or `python -m genmodels train`)")
    return runs[-1]


__all__ = ["newest_run"]
