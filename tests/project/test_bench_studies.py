"""The arithmetic of bench/clip_vs_gp.py and bench/vae_recall.py, on made-up curves and images (no training)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))  # clip_vs_gp imports time_to_quality as its sibling
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module
    finally:
        sys.path.remove(str(BENCH))


clip_vs_gp, vae_recall = bench("clip_vs_gp"), bench("vae_recall")


def curve(points: list[tuple[float, float]]) -> list[dict[str, float]]:
    return [{"step": 100 * (i + 1), "seconds": s, "fid": f, "is": 10 - f / 20} for i, (s, f) in enumerate(points)]


def run(method: str, points: list[tuple[float, float]], cpu_per_step: float) -> dict:
    return {"method": method, "config": {"steps": 100 * len(points)}, "curve": curve(points), "cpu_per_step": cpu_per_step}


def test_fid_at_takes_the_last_evaluation_before_and_never_interpolates() -> None:
    c = curve([(10, 100.0), (20, 50.0), (30, 25.0)])
    assert clip_vs_gp.fid_at(c, 25) == 50.0
    assert clip_vs_gp.fid_at(c, 30) == 25.0
    assert math.isnan(clip_vs_gp.fid_at(c, 5))


def test_summary_compares_clipping_with_the_penalty_at_its_seconds_and_within_the_budget() -> None:
    gp = [run("gp", [(30, 40.0), (60, f)], 0.06) for f in (19.0, 20.0, 22.0)]
    clip = [run("clip", [(60, 150.0), (120, 60.0), (180, f)], 0.12) for f in (10.0, 15.0)]
    clip.append(run("clip", [(60, 160.0), (120, 90.0), (180, 70.0), (240, 5.0)], 0.14))  # past the budget
    s = clip_vs_gp.summarise({"gp": [0.05, 0.06], "clip": [0.12, 0.13]}, gp + clip, multiple=3)
    assert s["target_fid"] == 20.0 and s["gp_seconds"] == 60 and s["budget_seconds"] == 180
    assert s["seconds_per_step"]["clip_over_gp"] == pytest.approx(0.125 / 0.055)
    assert s["seconds_per_step_in_runs"]["clip_over_gp"] == pytest.approx(2.0)
    assert s["clip"]["fid_at_gp_seconds"]["median"] == 150.0
    assert s["clip"]["best_fid_within_budget"]["range"] == [10.0, 70.0]  # FID 5 came after the budget
    reach = s["clip"]["seconds_to_gp_fid"]
    assert reach["range"][0] == pytest.approx(120 + 60 * 40 / 50)  # 60 -> 10 between 120 s and 180 s
    assert reach["median"] == pytest.approx(120 + 60 * 40 / 45)
    assert reach["range"][1] == pytest.approx(180 + 60 * 50 / 65)  # the time to the target, budget or not


def test_a_target_never_reached_is_infinite_not_the_last_time() -> None:
    gp = [run("gp", [(60, 20.0)], 0.06)]
    clip = [run("clip", [(60, 150.0), (180, 90.0)], 0.12)]
    assert clip_vs_gp.summarise({"gp": [0.06], "clip": [0.12]}, gp + clip, 3)["clip"]["seconds_to_gp_fid"]["median"] == math.inf


def test_sharpness_falls_with_blur_and_the_matching_sigma_is_recovered() -> None:
    images = torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    values = [vae_recall.sharpness(vae_recall.blur(images, s)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values, reverse=True) and values[-1] < values[0] / 10
    target = vae_recall.sharpness(vae_recall.blur(images, 1.2))
    assert vae_recall.matching_sigma(images, target) == pytest.approx(1.2)


def test_knn_radius_is_the_median_distance_to_the_kth_other_point() -> None:
    points = torch.tensor([[0.0], [1.0], [2.0], [3.0], [10.0]])
    assert vae_recall.knn_radius(points, 1) == 1.0  # distances 1, 1, 1, 1, 7
    assert vae_recall.knn_radius(points, 2) == 2.0  # 2, 1, 1, 2, 8
