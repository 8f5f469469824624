"""The GPU path end to end, as a user takes it: a small sweep of every model and Lipschitz method through
papermill on CUDA, then the report, with a table of what it measured. Skips itself with one line without CUDA.

Run: `make gpu-check` (= `.venv/bin/python bench/cuda_check.py`); options `--out` (default
results/cuda-check), `--steps` (600), `--runs-per-gpu N` (the sweep's own default otherwise). It

1. writes a sweep file (VAE, LSGAN, WGAN-GP, WGAN with clipping; MNIST, depth 3, z_dim 100, width 64, quality
   measured half-way and at the end on 2,000 samples) and runs ``python -m genmodels sweep`` on it, which trains
   the runs side by side on the GPU as a real sweep does;
2. checks each run folder: complete, trained on the device asked for, its figures, metrics (FID, IS),
   ``best.pt``, and ``load_run(..., checkpoint="best").sample`` on that device giving finite images in [-1, 1];
3. builds the report (``python -m genmodels report``; HTML, and the PDF where TeX is installed);
4. prints one table, writes ``<out>/cuda_check.json``, and exits 1 if any check failed.

``--device cpu --tiny`` takes the same path on the CPU at toy size (a few steps of width-8 networks on the 5k
MNIST subset): what tests/project/test_gpu_check.py runs to check the script itself where there is no GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

GRID = [{"model": "vae"}, {"model": "gan"}, {"model": "wgan", "lipschitz": ["gp", "clip"]}]  # every model and method
COLUMNS = ("run", "status", "device", "steps", "train s", "steps/s", "FID", "IS", "figures", "best.pt", "sample")


def sweep_document(steps: int, device: str, tiny: bool) -> dict[str, Any]:
    """The check's sweep: every model and Lipschitz method, quality measured half-way and at the end."""
    if tiny:
        defaults: dict[str, Any] = {"dataset": "mnist-5k", "depth": 1, "z_dim": 8, "width": 8, "batch_size": 16,
                                    "n_train": 256, "metric_samples": 20}
    else:
        defaults = {"dataset": "mnist", "depth": 3, "z_dim": 100, "width": 64, "metric_samples": 2000}
    half = max(1, steps // 2)
    defaults.update(steps=steps, metrics_every=half, checkpoint_every=half, sample_every=half, device=device)
    return {"name": "cuda-check", "description": "bench/cuda_check.py: the GPU path end to end",
            "defaults": defaults, "grid": GRID}


def check_run(run_dir: Path, config_hash: str, device: str) -> dict[str, Any]:
    """What one run folder holds, and whether its best weights load and sample on `device`."""
    from genmodels.core import store

    meta = store.read_json(run_dir / store.META) or {}
    metrics = store.read_json(run_dir / store.METRICS) or {}
    quality = metrics.get("quality") or {}
    seconds = (meta.get("wall_seconds") or {}).get("training")
    steps = (meta.get("summary") or {}).get("steps")
    return {"run": run_dir.name, "status": store.run_status(run_dir, config_hash, notebook=True).value,
            "device": (meta.get("device") or {}).get("type"), "steps": steps, "train s": seconds,
            "steps/s": steps / seconds if steps and seconds else None,
            "FID": quality.get("fid"), "IS": quality.get("inception_score_mean"),
            "figures": len(list((run_dir / store.FIGURES).glob("*.png"))),
            "best.pt": (run_dir / store.BEST).is_file(), "sample": sample_check(run_dir, device)}


def sample_check(run_dir: Path, device: str) -> str:
    """"ok" when 16 samples from the best weights come out finite, in [-1, 1], from the model on `device`."""
    try:
        from genmodels.runs.trained import load_run

        run = load_run(run_dir, checkpoint="best", device=device)
        images = run.sample(16, seed=0)
    except Exception as err:  # the check reports any failure as its row's finding
        return f"{type(err).__name__}: {str(err).splitlines()[0][:80] if str(err) else ''}"
    if run.device.type != device.split(":")[0]:
        return f"loaded on {run.device.type}"
    if images.shape[0] != 16 or not bool(images.isfinite().all()) or float(images.abs().max()) > 1.0:
        return "bad samples"
    return "ok"


def problems(rows: list[dict[str, Any]], report: dict[str, Any], device: str) -> list[str]:
    """Every check that failed, as "<run>: <what>"; empty when the path works end to end."""
    found = []
    for row in rows:
        wrong = [f"status {row['status']}" if row["status"] != "complete" else "",
                 f"trained on {row['device']}" if row["device"] != device.split(":")[0] else "",
                 "no figures" if not row["figures"] else "", "no best.pt" if not row["best.pt"] else "",
                 "no FID" if not _finite(row["FID"]) else "",
                 f"sample: {row['sample']}" if row["sample"] != "ok" else ""]
        found += [f"{row['run']}: {w}" for w in wrong if w]
    if not report.get("html"):
        found.append(f"report: no HTML ({report.get('error') or 'exit status ' + str(report.get('exit'))})")
    return found


def table(rows: list[dict[str, Any]], sweep: dict[str, Any], report: dict[str, Any]) -> str:
    """The measurements as one plain-text table, then the sweep's and the report's lines."""
    cells = [[_cell(row[c]) for c in COLUMNS] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(COLUMNS)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    out = [line(list(COLUMNS)), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    out.append(f"sweep: {len(rows)} runs in {sweep['seconds']:.0f} s wall ({sweep['executor']}), exit {sweep['exit']}")
    out.append(f"report: exit {report['exit']} in {report['seconds']:.0f} s; HTML {'yes' if report['html'] else 'no'}, "
               f"PDF {'yes' if report['pdf'] else 'no (needs xelatex and pandoc)'}")
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}" if math.isfinite(value) else "nan"
    return "-" if value is None else str(value)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def genmodels(*args: str) -> tuple[int, str, float]:
    """``python -m genmodels ARGS`` as a user runs it: (exit status, its output, seconds)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "genmodels", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
                              str(Path(__file__).resolve().parents[1] / "lib"), os.environ.get("PYTHONPATH")]))})
    return done.returncode, (done.stdout + done.stderr).strip(), time.perf_counter() - started


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="results/cuda-check")
    parser.add_argument("--steps", type=int, help="steps of each run (default 600; 4 with --tiny)")
    parser.add_argument("--runs-per-gpu", type=int, help="runs side by side on each GPU (default: the sweep's)")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu with --tiny")
    parser.add_argument("--tiny", action="store_true", help="toy sizes, a few steps (to check the script itself)")
    args = parser.parse_args(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("cuda_check: no CUDA device here, nothing to check (the CPU path is what `make test` covers)")
        return 0
    import yaml

    from genmodels.runs.sweep import load_sweep

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sweep_file, results = out / "cuda_check.yaml", out / "results"
    steps = args.steps or (4 if args.tiny else 600)
    sweep_file.write_text(yaml.safe_dump(sweep_document(steps, args.device, args.tiny), sort_keys=False))
    flags = ["--runs-per-gpu", str(args.runs_per_gpu)] if args.runs_per_gpu else []
    code, said, seconds = genmodels("sweep", str(sweep_file), "--results", str(results), *flags)
    executor = next((ln for ln in said.splitlines() if " configurations; " in ln), "").partition("; ")[2]
    sweep = {"exit": code, "seconds": seconds, "executor": executor or "?", "output": tail(said)}
    rows = [check_run(spec.run_dir, spec.config.config_hash(), args.device) for spec in load_sweep(sweep_file, results)]
    code, said, seconds = genmodels("report", "--sweep", str(sweep_file), "--results", str(results),
                                    "--out", str(out / "report"), "--allow-no-pdf")
    report = {"exit": code, "seconds": seconds, "html": (out / "report" / "report.html").is_file(),
              "pdf": (out / "report" / "report.pdf").is_file(), "error": tail(said, 1) if code else "",
              "output": tail(said)}
    found = problems(rows, report, args.device)
    where = torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda") else "CPU"
    print(f"torch {torch.__version__} on {where}")
    print(table(rows, sweep, report))
    print("\n".join(["FAILED " + p for p in found]) or "every check passed")
    (out / "cuda_check.json").write_text(json.dumps({"torch": torch.__version__, "device": where, "runs": rows,
                                                     "sweep": sweep, "report": report, "problems": found},
                                                    indent=1, default=str))
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
