"""`python -m genmodels train|sweep|report|sample|results`: thin wrappers over the library; bad input is one clear line."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import threading
import typing
from pathlib import Path
from typing import Any, Iterator, NoReturn, Sequence

from genmodels.core import registry, store
from genmodels.quality.classifier import ClassifierError
from genmodels.core.config import ConfigError, RunConfig
from genmodels.data import DataError, downloads_allowed
from genmodels.runs.executors import ExecutorError
from genmodels.runs.placement import check_devices
from genmodels.core.files import OutputError, check_writable_dir
from genmodels.report import ReportError
from genmodels.core.store import FolderBusy
from genmodels.runs.sweep import SweepError
from genmodels.training.loop import TrainingDiverged

# every error a user can fix: one line "error: <message>" on stderr and exit status 2 (docs/reliability.md)
USER_ERRORS = (ConfigError, DataError, SweepError, ReportError, OutputError, TrainingDiverged, ClassifierError,
               ExecutorError, FolderBusy)


class _Parser(argparse.ArgumentParser):
    """argparse reporting a bad flag like every other user error: one line and exit status 2 (usage is in --help).
    Sub-commands' parsers are of this class too (argparse makes them with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per RunConfig field (z_dim -> --z-dim), typed from the dataclass annotations."""
    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        if kind is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None)
            continue
        base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
        # registered names are listed, not enforced by argparse: RunConfig says what is wrong, in one line
        names = {"model": registry.MODELS, "dataset": registry.DATASETS}.get(f.name)
        parser.add_argument(flag, dest=f.name, type=_typed(base, f.name), default=None, metavar=base.__name__.upper(),
                            help=f"one of {', '.join(names)}" if names else None)


def _typed(base: type, name: str) -> Any:
    def convert(text: str) -> Any:
        try:
            return base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {base.__name__}, got {text!r}") from None
    return convert


def _config_from_args(args: argparse.Namespace) -> RunConfig:
    names = {f.name for f in dataclasses.fields(RunConfig)}
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return RunConfig(**values)


def cmd_train(args: argparse.Namespace) -> int:
    from genmodels.runs.run import check_train, execute_run

    config = _config_from_args(args)
    default_out = config.out_dir or store.run_folder(args.results, config.dataset, config.model, config.run_name())
    out, measures = check_train(config, args.out if args.out is not None else default_out, args.results,
                                no_metrics=args.no_metrics)  # each fault: one typed error, before any start-up
    hooks = []
    if args.resume and not (out / store.CHECKPOINT).exists():
        hooks.append(_NoteOnceTraining(f"note: no checkpoint in {out}; starting from step 0"))
    evaluate = None
    if measures:
        from genmodels.quality.evaluation import default_evaluator

        evaluate = default_evaluator(config, args.results)
    summary = execute_run(config, out, resume=args.resume, hooks=hooks, evaluate=evaluate, results_root=args.results)
    print(f"done: {out}  ({summary['steps']} steps, {summary['seconds']:.0f} s)")
    return 0


class _NoteOnceTraining:
    """A training hook that prints a note at the first step, not before the run starts: a run refused at start-up
    (a GPU the machine lacks, a damaged data file) then says only its error, in one line, not the note above it."""

    def __init__(self, note: str) -> None:
        self.note: str | None = note

    def on_step(self, trainer: Any) -> None:
        if self.note is not None:
            from tqdm import tqdm

            tqdm.write(self.note, file=sys.stderr)  # above the progress bar, not through it
            self.note = None

    def on_end(self, trainer: Any) -> None:
        pass


def cmd_sweep(args: argparse.Namespace) -> int:
    from genmodels.data.files import check_data_root
    from genmodels.runs.executors import make_executor
    from genmodels.runs.sweep import dry_run_table, load_sweep, run_sweep, select

    downloads_allowed()  # a misspelt $GENMODELS_OFFLINE is one line before anything is listed or run
    notes: list[str] = []
    specs = select(load_sweep(args.file, args.results, notes), args.only)
    if not specs:
        raise SweepError(f"no configuration of {args.file} matches --only {args.only!r}.")
    if args.scheduler is None:  # runs execute on this machine: every GPU they ask for must be here
        check_devices((spec.label, spec.config) for spec in specs)
    # the executor's flags are checked with --dry-run too: a dry run that passes is a command that can run
    executor = make_executor(args.executor, jobs=args.jobs, threads=args.threads, workers=args.workers,
                             threads_per_worker=args.threads_per_worker, scheduler=args.scheduler,
                             retries=args.retries, runs_per_gpu=args.runs_per_gpu)
    check_writable_dir(args.results, "--results")  # the dry run checks what the sweep would: it passes or both fail
    for root in dict.fromkeys(spec.config.data_root for spec in specs):
        check_data_root(root, "data_root")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.dry_run:
        print(dry_run_table(specs))
        return 0
    with executor:  # connects, or starts the cluster: a bad address fails here, before anything runs
        if not args.no_progress:
            print(f"{len(specs)} configurations; {executor.describe()}")
        report = run_sweep(specs, executor, progress=not args.no_progress)
    print(report.table())
    return 1 if report.failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from genmodels.report import build_report
    from genmodels.runs.sweep import load_sweep

    specs = load_sweep(args.sweep, args.results)  # a bad sweep file is one clear line, before any kernel starts
    check_writable_dir(args.out, "--out")
    finished = sum(spec.is_complete() for spec in specs)
    if not finished:  # an empty report is no success (README "Reliability"): refused before the kernel starts
        state = "" if Path(args.results).is_dir() else " (no such folder)"
        raise ReportError(f"no configuration of {args.sweep} has a finished run under {args.results}{state}, so there "
                          f"is nothing to report; run `python -m genmodels sweep {args.sweep} --results "
                          f"{args.results}` first")
    result = build_report(args.sweep, args.results, args.out, overwrite=args.overwrite)
    print(result.message)
    if finished < len(specs):
        print(f"note: {len(specs) - finished} of {len(specs)} configurations of {args.sweep} have no finished run; "
              "the report lists them as unfinished", file=sys.stderr)
    return 0 if result.pdf is not None or args.allow_no_pdf else 1


def cmd_sample(args: argparse.Namespace) -> int:
    from genmodels.core.config import check_seed
    from genmodels.runs.trained import check_count, check_sample_path, load_run, write_samples

    out = check_sample_path(args.out, overwrite=args.overwrite)  # bad arguments fail before the model is loaded
    check_writable_dir(out.parent, "--out")
    check_count("--n", args.n)
    check_seed(args.seed, "--seed")
    run = load_run(args.run_dir, checkpoint=args.checkpoint, device=args.device)
    for note in run.notes:
        print(f"note: {note}", file=sys.stderr)
    write_samples(run.sample(args.n, seed=args.seed), out, overwrite=args.overwrite)
    weights = f"{run.checkpoint.name}, step {run.step}" + (", averaged generator" if run.averaged else "")
    print(f"wrote {out}: {args.n} samples (seed {args.seed}) of {run.run_dir} ({weights})")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    import warnings

    from genmodels.runs.results import results_frame, summary_text

    root = args.results
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = results_frame(root, args.sweep)
    for warning in caught:  # folders left out (unreadable config.json) are named, one line each
        print(f"note: {warning.message}", file=sys.stderr)
    for run in frame[frame.status == store.Status.DAMAGED.value].itertuples():
        print(f"note: {run.run_dir} is damaged: {run.problem}; {store.REPAIR}", file=sys.stderr)
    if frame.empty and args.format == "table":
        print(f"no runs under {root}" if args.sweep is None else f"{args.sweep} has no configurations")
        return 0
    sys.stdout.write(summary_text(frame, args.format))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="genmodels", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one configuration into a run folder")
    _add_config_flags(train)
    train.add_argument("--out", help="run folder (default results/<dataset>/<model>/<run-name>): a new or empty "
                       "folder, or one holding a run of this configuration; never the current, home or results folder")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--results", default=store.DEFAULT_ROOT, help="results root; classifiers are cached in its classifiers/")
    train.add_argument("--no-metrics", action="store_true", help="skip the quality metrics (FID, KID, IS, precision/recall)")
    train.set_defaults(func=cmd_train)

    sweep = sub.add_parser("sweep", help="run every configuration of a sweep YAML through papermill")
    sweep.add_argument("file", help="sweep file, e.g. configs/default.yaml")
    sweep.add_argument("--only", metavar="PATTERN", help="glob over dataset/model/run-name, e.g. 'mnist/gan/*'")
    sweep.add_argument("--dry-run", action="store_true", help="list the configurations and their state, run nothing")
    sweep.add_argument("--results", default=store.DEFAULT_ROOT, help="results folder (default: results)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.add_argument("--executor", default="local", metavar="NAME",
                       help="local (default: runs side by side on this machine) or dask (a Dask cluster)")
    sweep.add_argument("--jobs", type=int, metavar="N",
                       help="local: runs side by side (default: one per CPU core, at most 8; on CUDA, "
                            "--runs-per-gpu on each GPU)")
    sweep.add_argument("--runs-per-gpu", type=int, metavar="N",
                       help="local and dask: runs trained at once on each GPU, spread over the GPUs round-robin "
                            "(default: 16, at most one per CPU core; measured in docs/gpu.md)")
    sweep.add_argument("--threads", type=int, metavar="T",
                       help="local: torch threads per run (default: cores / jobs; 1 when jobs are chosen automatically)")
    sweep.add_argument("--workers", type=int, metavar="N",
                       help="dask: worker processes of the local cluster (default: cores / threads-per-worker; with GPUs, "
                            "--runs-per-gpu per GPU)")
    sweep.add_argument("--threads-per-worker", type=int, metavar="T",
                       help="dask: threads per worker, which are each run's torch threads (default 1)")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="dask: submit to the existing cluster at this scheduler address (e.g. tcp://host:8786)")
    sweep.add_argument("--retries", type=int, metavar="N",
                       help="times a failed run is tried again, resuming from its checkpoint (default: 1 dask, 0 local)")
    sweep.set_defaults(func=cmd_sweep)

    report = sub.add_parser("report", help="build report/report.pdf and .html from a sweep's results (never trains)")
    report.add_argument("--sweep", default="configs/default.yaml", help="the sweep whose runs to report")
    report.add_argument("--results", default=store.DEFAULT_ROOT, help="results folder (default: results)")
    report.add_argument("--out", default="report", help="output folder (default: report)")
    report.add_argument("--allow-no-pdf", action="store_true", help="exit 0 when only the HTML could be built")
    report.add_argument("--overwrite", action="store_true",
                        help="replace report files in --out that no report build wrote (a user's own report.pdf)")
    report.set_defaults(func=cmd_report)

    sample = sub.add_parser("sample", help="draw samples from a trained run into an image grid or a tensor file")
    sample.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (holding config.json and checkpoint.pt)")
    sample.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the latent batch (default 0)")
    sample.add_argument("--out", default="samples.png",
                        help="grid.png (an image grid), samples.pt (torch tensor) or samples.npz (numpy array "
                             "'samples'); images (n, C, 32, 32) in [-1, 1]")
    sample.add_argument("--overwrite", action="store_true",
                        help="replace --out if it exists (without it an existing file is never replaced)")
    sample.add_argument("--checkpoint", choices=("final", "best"), default="final",
                        help="final weights (default) or the best by FID (best.pt, where quality was measured "
                             "during training)")
    sample.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    sample.set_defaults(func=cmd_sample)

    results = sub.add_parser("results", help="list runs with their knobs, status, wall time and quality metrics")
    results.add_argument("sweep", nargs="?", metavar="SWEEP_FILE",
                         help="list this sweep's configurations (also those not run yet); default: every run "
                              "folder under --results")
    results.add_argument("--results", default=store.DEFAULT_ROOT, help="results folder (default: results)")
    results.add_argument("--format", choices=("table", "csv", "json"), default="table",
                         help="table (default), csv or json (these two keep full precision and add run_dir)")
    results.set_defaults(func=cmd_results)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: a process stopped by `kill` (or a batch system) cleans up exactly as on
    Ctrl-C -- kernels interrupted, temporary files and its kernels' runtime folder removed -- instead of dying
    with them left behind."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _sigterm_as_interrupt():
            return int(args.func(args))
    except USER_ERRORS as err:
        prefix = "training diverged: " if isinstance(err, TrainingDiverged) else ""
        print(f"error: {prefix}{err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        advice = {"train": "re-run with --resume to continue from the last checkpoint",
                  "sweep": "re-run the same command: finished runs are skipped, the interrupted one resumes",
                  }.get(args.command, "re-run the same command")
        terminated = isinstance(stop, Terminated)
        print(f"{'terminated' if terminated else 'interrupted'}; {advice}", file=sys.stderr)
        return 143 if terminated else 130
