"""The CUDA path end to end, timed: for a machine with a GPU (skips itself on a CPU-only one).

Run: `.venv/bin/python bench/cuda_check.py [--out results/cuda-check] [--steps 600]`. It

1. trains each model (VAE, LSGAN, WGAN-GP) at depth 3, width 64 with ``device="auto"`` through
   `genmodels.runs.run.run_config` (training, quality metrics on the GPU, figures, run folder) and checks that the
   run recorded the CUDA device;
2. times the first configurations of ``configs/full.yaml`` (width 64) for `--time-steps` steps each and
   projects the time of their 10,000-step budget.

Everything it measures is printed as one table and written to ``<out>/cuda_check.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="results/cuda-check")
    parser.add_argument("--steps", type=int, default=600, help="steps of each model's end-to-end run")
    parser.add_argument("--time-steps", type=int, default=300, help="steps timed per full-profile configuration")
    parser.add_argument("--full-configs", type=int, default=6, help="how many of configs/full.yaml's runs to time")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check here (device='auto' trains on the CPU)")
        return 0

    from genmodels.core.config import RunConfig
    from genmodels.runs.run import run_config
    from genmodels.runs.sweep import default_jobs, load_sweep
    from genmodels.training.loop import Trainer

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0),
                              "sweep_jobs_threads": default_jobs(), "runs": [], "full_profile": []}
    print(f"torch {torch.__version__} on {report['device']}; a sweep here runs {default_jobs()[0]} run(s) at a time")

    for model in ("vae", "gan", "wgan"):
        config = RunConfig(model=model, depth=3, z_dim=100, width=64, steps=args.steps, device="auto",
                           metrics_every=args.steps // 2, metric_samples=2000, sample_every=args.steps // 3,
                           checkpoint_every=args.steps, progress=False)
        started = time.perf_counter()
        result = run_config(config, out / model)
        quality = result.metrics.get("quality") or {}
        row = {"model": model, "device": result.meta["device"]["type"], "steps": result.trainer.step,
               "train_s": round(result.trainer.elapsed, 1), "total_s": round(time.perf_counter() - started, 1),
               "steps_per_s": round(result.trainer.step / result.trainer.elapsed, 1),
               "fid": quality.get("fid"), "is": quality.get("inception_score_mean"),
               "reference": quality.get("reference")}
        assert row["device"] == "cuda", f"{model} ran on {row['device']}"
        report["runs"].append(row)
        print(json.dumps(row))

    for spec in load_sweep("configs/full.yaml", out / "full")[: args.full_configs]:
        c = spec.config
        timed = RunConfig(**{**c.to_dict(), "steps": args.time_steps, "device": "auto", "progress": False,
                             "metrics_every": 0, "sample_every": 0, "checkpoint_every": 0})
        trainer = Trainer(timed, out / "timing" / spec.run_dir.name)
        torch.cuda.synchronize()
        trainer.fit(resume=False)
        torch.cuda.synchronize()
        per_step = trainer.elapsed / trainer.step
        row = {"run": spec.label, "steps_timed": trainer.step, "s_per_step": round(per_step, 5),
               "projected_train_s": round(per_step * c.total_steps, 1), "budget_steps": c.total_steps}
        report["full_profile"].append(row)
        print(json.dumps(row))
    (out / "cuda_check.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {out / 'cuda_check.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
