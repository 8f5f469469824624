"""Which runs each part of the report draws from, on a hand-made results table: long runs are shown apart from
the grid, beside the same configuration at the grid's budget."""

from __future__ import annotations

import pandas as pd

from genmodels.core.config import DEFAULT_VARIANT
from genmodels.report.collect import long_runs, main_runs
from genmodels.report.tables import long_run_table


def run(model: str, depth: int, steps: int, seed: int = 0, fid: float = 10.0, is_: float = 7.0) -> dict:
    return {"model": model, "dataset": "mnist", "variant": dict(DEFAULT_VARIANT)[model], "recipe": "tuned",
            "depth": depth, "z_dim": 100, "seed": seed, "steps": steps, "status": "complete", "seconds": steps / 40,
            "FID": fid, "IS": is_}


def table() -> pd.DataFrame:
    return pd.DataFrame([run("gan", d, 2000) for d in (1, 2, 3, 4, 5)] + [run("gan", 3, 7000, fid=3.3, is_=8.06)]
                        + [run("wgan", d, 1500) for d in (1, 2, 3)] + [run("wgan", 5, 1000)]
                        + [run("vae", 3, 2000, seed=s) for s in (0, 1, 2)])


def test_long_runs_leave_the_grid_and_get_their_own_table() -> None:
    runs = table()
    grid = main_runs(runs)
    assert len(grid[(grid.model == "gan") & (grid.depth == 3)]) == 1  # the grid keeps one depth-3 LSGAN run
    assert grid[(grid.model == "gan") & (grid.depth == 3)].steps.item() == 2000
    assert (grid.model == "wgan").sum() == 4  # fewer steps than the median is not "long"
    longer = long_runs(runs)
    assert list(longer.steps) == [7000]
    rows = long_run_table(runs)
    assert rows.loc[0, "IS"] == "8.06" and rows.loc[0, "steps"] == 7000
    assert rows.loc[0, "at the grid's budget"].startswith("2000 steps")


def test_a_sweep_without_long_runs_has_an_empty_table() -> None:
    runs = table()
    assert long_run_table(runs[runs.steps < 7000]).empty


def test_studies_compare_at_the_grids_budget() -> None:
    from genmodels.report.questions.stability import lipschitz_runs

    runs = table()
    runs.loc[len(runs)] = run("wgan", 3, 6000, fid=3.2, is_=8.0)
    picked = lipschitz_runs(runs)
    assert list(picked.steps) == [1500]  # the long WGAN run is not compared with weight clipping


def test_a_runs_cost_is_its_cpu_time_on_the_cpu_and_wall_clock_time_on_a_gpu() -> None:
    """The report counts a CPU run's cost in CPU-seconds (load does not stretch them), a GPU run's and a run
    without a CPU record (an earlier version's) in wall-clock seconds, and its labels say which."""
    from genmodels.report.collect import cost_clock, cost_unit, curve_seconds, with_cost

    runs = pd.DataFrame([run("gan", 3, 2000) | {"device": "cpu", "seconds": 80.0, "cpu_seconds": 50.0},
                         run("vae", 3, 2000) | {"device": "cpu", "seconds": 40.0, "cpu_seconds": float("nan")},
                         run("wgan", 3, 2000) | {"device": "cuda", "seconds": 9.0, "cpu_seconds": 8.5}])
    costed = with_cost(runs)
    assert list(costed.seconds) == [50.0, 40.0, 9.0] and list(costed.wall_seconds) == [80.0, 40.0, 9.0]
    assert list(costed.clock) == ["CPU time", "wall-clock time", "wall-clock time"]
    assert (cost_unit(costed.iloc[:1]), cost_unit(costed.iloc[1:])) == ("CPU-seconds", "wall-clock seconds")
    assert cost_clock(costed) == "CPU time on the CPU, wall-clock time on the GPU"
    assert cost_unit(costed) == "seconds (CPU time on the CPU, wall-clock time on the GPU)"
    point = {"step": 500, "fid": 30.0, "train_seconds": 20.0, "train_cpu_seconds": 12.5}
    assert [curve_seconds(r, point) for _, r in costed.iterrows()] == [12.5, 20.0, 20.0]
    assert curve_seconds(costed.iloc[0], {"step": 500, "train_seconds": 20.0}) is None  # never the other clock
