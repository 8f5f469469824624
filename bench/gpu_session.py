"""Issue 23's GPU measurements as one command for a short device lease: four parts, each under a time limit of
its own, every table written to ``--out`` as soon as its part ends. Skips itself with one line without CUDA.

Run (on the device, through bench/gpu_session.sh, docs/gpu.md "The device script"):
`python bench/gpu_session.py --out "$OUT"`. The parts, in this order (the issue's 1, 2, 4, 3: what matters most
first), each a subprocess stopped at its limit (bench/time_limit.py):

1. ``gpu-check``: bench/cuda_check.py (`make gpu-check`): every model and Lipschitz method through papermill on
   CUDA, the run folders checked, the report built;
2. ``runs-per-gpu``: bench/runs_per_gpu.py ``--counts 1,4,8,16,32``: aggregate LSGAN steps/s per runs per GPU,
   and each run's GPU memory; the count with the highest aggregate is part 4's;
3. ``full-slice``: bench/full_slice.py: 16 runs of configs/full.yaml at their 10,000 steps, packed at that count,
   then the report; overhead per run, best FID/IS per family, the 115-run study's projected time;
4. ``cuda-graphs``: bench/cuda_graphs.py: LSGAN steps/s eager, as a CUDA graph and under bf16 autocast.

Default limits (`LIMITS`) add up to 510 s, so one 10-minute device call holds the session with the wheels'
install. A part that runs out of time or fails is recorded as such, with whatever its script had written, and
the next part runs. ``--out`` receives at most 8 flat files (what a device call brings back): ``session.md``
(every part's table) and ``session.json`` (the summary), both rewritten after each part; ``session.log`` (every
part's output); each part's JSON; and the slice's ``report.html``. Bulky work (run folders) stays in ``--work``.

``--device cpu --tiny`` runs every part at toy size on the CPU (the graph arms skipped with one line): what
tests/project/test_gpu_session.py runs to check the script here.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import cuda_check
import full_slice
from time_limit import run_limited

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PARTS = ("gpu-check", "runs-per-gpu", "full-slice", "cuda-graphs")  # the order they run in
LIMITS = {"gpu-check": 90, "runs-per-gpu": 90, "full-slice": 290, "cuda-graphs": 40}  # seconds: 510 in all
TINY_LIMITS = {"gpu-check": 400, "runs-per-gpu": 200, "full-slice": 500, "cuda-graphs": 150}  # two busy CPU cores
# at toy size one count of two processes side by side: the start barrier and the aggregate over processes, at the
# cost of two interpreters (the suite runs this; the table arithmetic over several counts has tests of its own)
COUNTS, TINY_COUNTS = "1,4,8,16,32", "2"
REPORT_S, TINY_REPORT_S = 60, 200  # of the slice's limit, kept for its report
SLICE_MARGIN_S = 10  # the slice stops itself this long before its part's limit, to write what it measured
MAX_REPORT_BYTES = 15 * 2**20  # a device call brings back files of at most 16 MiB


@dataclass
class Part:
    """One part of the session: the command (built when the part starts, from what the parts before it found),
    its limit, the JSON its script writes in its work folder, and the name that JSON gets in ``--out``."""

    name: str
    argv: Callable[[dict[str, Any]], list[str]]
    limit: float
    result: Path
    out_name: str


def parts(args: argparse.Namespace, work: Path, log: Path) -> list[Part]:
    """The session's parts (those of ``--parts``, in `PARTS` order) as this machine runs them."""
    tiny = ["--device", "cpu", "--tiny"] if args.tiny else []
    limits = {**(TINY_LIMITS if args.tiny else LIMITS), **args.limits}
    script = lambda name, *rest: [sys.executable, str(BENCH / name), *rest]  # noqa: E731

    def slice_argv(session: dict[str, Any]) -> list[str]:
        count = args.runs_per_gpu or session.get("best_runs_per_gpu")
        return script("full_slice.py", "--out", str(work / "full-slice"), "--log", str(log),
                      "--limit", str(limits["full-slice"] - SLICE_MARGIN_S),
                      "--report-time", str(TINY_REPORT_S if args.tiny else REPORT_S),
                      *(["--runs-per-gpu", str(count)] if count and not args.tiny else []), *tiny)

    every = {
        "gpu-check": Part("gpu-check", lambda _: script("cuda_check.py", "--out", str(work / "gpu-check"), *tiny),
                          limits["gpu-check"], work / "gpu-check" / "cuda_check.json", "gpu_check.json"),
        "runs-per-gpu": Part("runs-per-gpu", lambda _: script(
            "runs_per_gpu.py", "--counts", TINY_COUNTS if args.tiny else COUNTS, "--steps", "5" if args.tiny else "300",
            "--device", "cpu" if args.tiny else "cuda:0", "--out", str(work / "runs-per-gpu")),
            limits["runs-per-gpu"], work / "runs-per-gpu" / "runs_per_gpu.json", "runs_per_gpu.json"),
        "full-slice": Part("full-slice", slice_argv, limits["full-slice"], work / "full-slice" / "full_slice.json",
                           "full_slice.json"),
        "cuda-graphs": Part("cuda-graphs", lambda _: script("cuda_graphs.py", "--out", str(work / "cuda-graphs"),
                                                            *tiny), limits["cuda-graphs"],
                            work / "cuda-graphs" / "cuda_graphs.json", "cuda_graphs.json"),
    }
    return [every[name] for name in PARTS if name in args.parts]


# ------------------------------------------------------------------ running them
def run_session(todo: list[Part], out: Path, log: Path, session: dict[str, Any],
                env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run each part under its limit, in order; after each, copy its JSON to `out` and rewrite the summary files.
    A part that fails or runs out of time is recorded as such and the next one runs."""
    out.mkdir(parents=True, exist_ok=True)
    session.setdefault("parts", {})
    for part in todo:
        print(f"gpu_session: {part.name} (limit {part.limit:.0f} s)", flush=True)
        part.result.unlink(missing_ok=True)  # a result left by an earlier session is not this one's
        done = run_limited(part.argv(session), part.limit, log, env)
        data = read_json(part.result)
        if data is not None:
            shutil.copyfile(part.result, out / part.out_name)
        status = done.status() if data is not None or done.timed_out else f"{done.status()}, no {part.result.name}"
        session["parts"][part.name] = {"status": status, "seconds": round(done.seconds, 1), "limit": part.limit,
                                       "file": part.out_name if data is not None else None,
                                       **headline(part.name, data)}
        if part.name == "runs-per-gpu" and data is not None:
            session["best_runs_per_gpu"] = best_count(data.get("rows", []))
        if part.name == "full-slice":
            bring_back_report(part.result.parent / "report" / "report.html", out)
        write_summary(out, session, {part.name: data})
        print(f"gpu_session: {part.name}: {status} in {done.seconds:.0f} s", flush=True)
        print(markdown(part.name, session["parts"][part.name], data), flush=True)
    session["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_summary(out, session, {})
    return session


def best_count(rows: list[dict[str, Any]]) -> int | None:
    """The runs per GPU with the highest aggregate steps/s (the fewer runs on a tie); None without rows."""
    measured = [r for r in rows if isinstance(r.get("aggregate_steps_per_s"), (int, float))]
    if not measured:
        return None
    return max(measured, key=lambda r: (r["aggregate_steps_per_s"], -r["runs"]))["runs"]


def headline(name: str, data: dict[str, Any] | None) -> dict[str, Any]:
    """The few numbers of a part's result that session.json lists (the part's JSON has the rest)."""
    if data is None:
        return {}
    if name == "gpu-check":
        return {"runs": len(data.get("runs", [])), "problems": data.get("problems", [])}
    if name == "runs-per-gpu":
        count = best_count(data.get("rows", []))
        row = next((r for r in data.get("rows", []) if r["runs"] == count), {})
        return {"best_runs_per_gpu": count, "best_aggregate_steps_per_s": row.get("aggregate_steps_per_s"),
                "gpu_mib_per_run": row.get("gpu_mib_per_run")}
    if name == "full-slice":
        runs = data.get("runs", [])
        projection = data.get("projection") or {}
        return {"finished_runs": sum(r.get("status") == "complete" for r in runs), "runs": len(runs),
                "sweep": (data.get("sweep") or {}).get("status"), "report": (data.get("report") or {}).get("status"),
                "best": data.get("best", {}), "projected_study_min": projection.get("wall_min")}
    if name == "cuda-graphs":
        return {"steps_per_s": {r["arm"]: r.get("steps_per_s", r.get("error")) for r in data.get("rows", [])}}
    return {}


def bring_back_report(html: Path, out: Path) -> None:
    """The slice's HTML report into `out`, where it fits in what a device call brings back."""
    if html.is_file() and html.stat().st_size <= MAX_REPORT_BYTES:
        shutil.copyfile(html, out / "report.html")


# ------------------------------------------------------------------ what it writes
COLUMNS = {"gpu-check": cuda_check.COLUMNS,
           "runs-per-gpu": ("runs", "aggregate_steps_per_s", "per_run_steps_per_s", "gpu_mib_per_run", "wall_s"),
           "full-slice": full_slice.COLUMNS,
           "cuda-graphs": ("arm", "steps_per_s", "ms_per_step", "peak_gpu_mib", "error")}


def columns_of(name: str, rows: list[dict[str, Any]]) -> tuple[str, ...]:
    """A part's table columns: `COLUMNS`, or for another part its first row's keys."""
    if name in COLUMNS:
        return COLUMNS[name]
    return tuple(rows[0]) if rows else ()


def rows_of(name: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    return data.get("runs" if name in ("gpu-check", "full-slice") else "rows", [])


def notes_of(name: str, data: dict[str, Any]) -> list[str]:
    """The lines under a part's table: what its script says beside its rows."""
    if name == "gpu-check":
        sweep, report = data.get("sweep", {}), data.get("report", {})
        return [f"sweep: exit {sweep.get('exit')} in {sweep.get('seconds', 0):.0f} s ({sweep.get('executor', '?')}); "
                f"report: exit {report.get('exit')}, HTML {'yes' if report.get('html') else 'no'}",
                *(["FAILED " + p for p in data.get("problems", [])] or ["every check passed"])]
    if name == "runs-per-gpu":
        return [f"best: {best_count(data.get('rows', []))} runs per GPU ({data.get('cores')} CPU cores)"]
    if name == "full-slice":
        lines = [f"best {model}: FID {_cell(b.get('FID'))} ({b.get('FID run') or '-'}), IS {_cell(b.get('IS'))} "
                 f"({b.get('IS run') or '-'})" for model, b in data.get("best", {}).items()]
        sweep, report = data.get("sweep", {}), data.get("report", {})
        lines.append(f"sweep: {sweep.get('status', '-')} in {sweep.get('seconds', 0):.0f} s, "
                     f"{data.get('side_by_side', '-')} side by side; report: {report.get('status', '-')}")
        return lines + ["projection: " + text for text in (data.get("projection") or {}).get("lines", [])]
    return [str(line) for line in data.get("skipped", [])]


def markdown(name: str, summary: dict[str, Any], data: dict[str, Any] | None) -> str:
    """A part's section of session.md: its status, its table, the lines under it."""
    head = f"## {name}: {summary['status']} ({summary['seconds']:.0f} s of {summary['limit']:.0f} s)"
    if data is None:
        return head + "\n\nno result written\n"
    rows = rows_of(name, data)
    columns = columns_of(name, rows)
    table = [f"| {' | '.join(columns)} |", f"|{'---|' * len(columns)}",
             *(f"| {' | '.join(_cell(row.get(c)) for c in columns)} |" for row in rows)]
    return "\n".join([head, "", *table, "", *(f"- {line}" for line in notes_of(name, data)), ""])


def write_summary(out: Path, session: dict[str, Any], fresh: dict[str, dict[str, Any] | None]) -> None:
    """session.json, and session.md from every part's JSON in `out` (`fresh` holds the part just finished, whose
    result may be missing)."""
    (out / "session.json").write_text(json.dumps(session, indent=1, default=str))
    sections = [f"# GPU session {session.get('started', '')}", "",
                *(f"- {key}: {value}" for key, value in session.get("machine", {}).items()), ""]
    for name, summary in session.get("parts", {}).items():
        data = fresh[name] if name in fresh else (read_json(out / summary["file"]) if summary.get("file") else None)
        sections.append(markdown(name, summary, data))
    (out / "session.md").write_text("\n".join(sections))


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}" if math.isfinite(value) else "nan"
    return "-" if value is None else str(value).replace("|", "/")


# ------------------------------------------------------------------ the machine
def machine(device: str) -> dict[str, Any]:
    """What the session ran on, without touching the GPU from this process (each part holds it alone)."""
    from importlib import metadata

    gpu = "CPU"
    if device.startswith("cuda") and shutil.which("nvidia-smi"):
        query = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=30)
        gpu = query.stdout.strip().splitlines()[0] if query.returncode == 0 and query.stdout.strip() else "?"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {"gpu": gpu, "cpu cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "python": platform.python_version(), "torch": metadata.version("torch"),
            "commit": commit.stdout.strip() if commit.returncode == 0 else "not a git checkout",
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}


def limit_overrides(text: str) -> dict[str, float]:
    """``--limits gpu-check=90,full-slice=320`` as a mapping; an unknown part or a bad number is one line."""
    found: dict[str, float] = {}
    for item in filter(None, (i.strip() for i in text.split(","))):
        name, _, seconds = item.partition("=")
        if name not in PARTS:
            raise argparse.ArgumentTypeError(f"unknown part {name!r} in --limits; parts: {', '.join(PARTS)}")
        try:
            found[name] = float(seconds)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--limits {item!r}: expected PART=SECONDS") from None
    return found


def part_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part(s) {', '.join(unknown)}; parts: {', '.join(PARTS)}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="where the tables go ($OUT on the device)")
    parser.add_argument("--work", default="/tmp/gpu-session", help="run folders and reports (default /tmp/gpu-session)")
    parser.add_argument("--parts", type=part_names, default=list(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--limits", type=limit_overrides, default={}, help="PART=SECONDS,... (defaults: LIMITS)")
    parser.add_argument("--runs-per-gpu", type=int, help="the slice's runs per GPU (default: part 2's best)")
    parser.add_argument("--device", default="cuda", help="cuda (default), or cpu with --tiny")
    parser.add_argument("--tiny", action="store_true", help="every part at toy size on the CPU (to check the script)")
    args = parser.parse_args(argv)
    if args.tiny != (args.device == "cpu"):
        parser.error("--tiny goes with --device cpu, and only with it")
    if not args.tiny:
        import torch

        if not torch.cuda.is_available():
            print("gpu_session: no CUDA device here, nothing to measure (--device cpu --tiny checks the script)")
            return 0
    out, work = Path(args.out), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    session = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(args.device)}
    print("\n".join(f"{k}: {v}" for k, v in session["machine"].items()), flush=True)
    session = run_session(parts(args, work, out / "session.log"), out, out / "session.log", session,
                          full_slice.child_env())
    failed = [name for name, part in session["parts"].items() if part["status"] != "ok"]
    print(f"gpu_session: done; {'every part ok' if not failed else 'not ok: ' + ', '.join(failed)}; tables in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
