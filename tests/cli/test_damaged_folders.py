"""Damage that once made a command fail with a traceback, or made two commands disagree about one folder: each is
one answer from `store.run_state`, the same in `results`, the dry run and `load_run` (what `sample` calls), and
one line in the CLI; plus values of the Python API that are a `ConfigError` in one line (docs/reliability.md).

The run folders are tiny fakes (`conftest.fake_finished_run`): no training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from genmodels.core import store
from genmodels.core.config import ConfigError, RunConfig
from genmodels.runs.notebook_run import RunSpec
from genmodels.runs.results import ResultsError, results_frame
from genmodels.runs.run import run_config
from genmodels.runs.sweep import dry_run_table
from genmodels.runs.trained import RunError, load_run
from bad_input_cases import TINY, TRAIN, Env, assert_one_line, assert_unchanged, env, run_cli, snapshot  # noqa: F401  (env: a fixture)
from test_train_inputs import resumable
from conftest import assert_damaged_alike

DEEP = 100_000  # levels of nesting: far past the JSON parser's recursion limit


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda run: (run / name).write_text(text)


def _loop(name: str) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        (run / name).unlink()
        (run / name).symlink_to(name)
    return edit


def _complete_hash(value: Any) -> Callable[[Path], None]:
    return _write(store.COMPLETE, json.dumps({"config_hash": value, "finished": "now"}))


# damage -> what it does to a sound finished run folder, and the reason every command gives
DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "metrics.json nested 100,000 deep": (_write(store.METRICS, '{"a":' + "[" * DEEP + "]" * DEEP + "}"),
                                         "metrics.json is nested too deeply"),
    "metrics.json nested 900 deep": (_write(store.METRICS, '{"a":' + "[" * 900 + "1e999" + "]" * 900 + "}"),
                                     "is inf, not a finite number"),
    "config.json nested 100,000 deep": (_write(store.CONFIG, '{"a":' + "[" * DEEP + "]" * DEEP + "}"),
                                        "config.json is nested too deeply"),
    "meta.json nested 100,000 deep": (_write(store.META, "[" * DEEP + "]" * DEEP), "meta.json is nested too deeply"),
    "history.csv with a field of 200,000 characters": (_write(store.HISTORY, "step," + "a" * 200_000 + "\n1,2\n"),
                                                       "history.csv: is not CSV"),
    "config.json a link loop": (_loop(store.CONFIG), "config.json is a link that cannot be followed"),
    "complete.json naming a list as its hash": (_complete_hash(["x"]), "complete.json names no configuration hash"),
}


@pytest.mark.filterwarnings("ignore:.*cannot be read by this version")
@pytest.mark.parametrize("kind", DAMAGES)
def test_damage_is_one_answer_everywhere(sound: RunSpec, kind: str) -> None:
    state, _, _ = assert_damaged_alike(sound, *DAMAGES[kind])
    assert store.run_state(sound.run_dir) == state  # without the sweep's hash: the same answer


def test_an_unreadable_complete_json_is_unfinished_everywhere(sound: RunSpec) -> None:
    _write(store.COMPLETE, "[" * DEEP + "]" * DEEP)(sound.run_dir)
    assert store.run_state(sound.run_dir).status is store.Status.PARTIAL
    assert list(results_frame(sound.results_root).status) == ["partial"]


@pytest.mark.parametrize("make", [lambda: RunConfig(model=["gan"]), lambda: RunConfig.from_dict(None),  # type: ignore
                                  lambda: RunConfig.from_dict([1]),  # type: ignore[arg-type]
                                  lambda: RunConfig(model="gan", lr=1e308), lambda: RunConfig(model="gan", lr=-1),
                                  lambda: RunConfig(model="vae", kl_factor=1e300),
                                  lambda: run_config({"model": "gan"}, "unused")],  # type: ignore[arg-type]
                         ids=["model a list", "from_dict(None)", "from_dict([1])", "lr 1e308", "lr -1",
                              "kl_factor 1e300", "run_config of a dict"])
def test_api_values_are_one_line_config_errors(make: Callable[[], object], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        make()
    assert "\n" not in str(info.value)
    assert not (tmp_path / "unused").exists()


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda state: state.__setitem__("history", "abc"), "'history' that is not a list of rows"),
    (lambda state: state.__setitem__("history", ["a"]), "'history' that is not a list of rows"),
    (lambda state: state.__setitem__("elapsed", float("nan")), "'elapsed' nan"),
    (lambda state: state.__setitem__("elapsed", -100.0), "'elapsed' -100.0"),
    (lambda state: state.__setitem__("cpu_elapsed", float("inf")), "'cpu_elapsed' inf"),
    (lambda state: state.__setitem__("cpu_elapsed", "3 s"), "'cpu_elapsed' '3 s'"),
    (lambda state: state.__setitem__("step", 10**30), "at most 1,000,000,000,000"),
    (lambda state: state["fixed_noise"].fill_(float("nan")), "'fixed_noise' of NaN"),
    (lambda state: state["fixed_noise"].__setitem__((0, 0), float("inf")), "'fixed_noise' of infinite values"),
    (lambda state: state.__setitem__("fixed_noise", state["fixed_noise"].long()),
     "'fixed_noise' that is a torch.int64 tensor"),
    (lambda state: state.__setitem__("fixed_noise", [0.0] * 4), "'fixed_noise' that is a list"),
], ids=["history a str", "history a list of str", "elapsed NaN", "elapsed negative", "cpu_elapsed inf",
        "cpu_elapsed a str", "step 10**30", "fixed_noise NaN", "fixed_noise with an inf", "fixed_noise int64",
        "fixed_noise a list"])
def test_a_resumed_checkpoints_bookkeeping_is_checked(edit: Callable[[dict[str, Any]], object], fragment: str,
                                                      env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*TRAIN, "--steps", "3", "--out", str(env.tmp / "run"), "--results", str(env.tmp / "results"),
            *resumable(edit)(env)]
    before = snapshot(env.tmp / "run")
    assert_one_line(*run_cli(argv, capsys), [fragment], env.tmp)
    assert_unchanged(before, env.tmp / "run")


def _checkpoint(**changes: Any) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        state = torch.load(run / store.CHECKPOINT, weights_only=True)
        torch.save({**state, **changes}, run / store.CHECKPOINT)
    return edit


# damage of a checkpoint that loading refuses: the store calls the run damaged too, so a sweep runs it again
CHECKPOINT_DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "weights all NaN": (_checkpoint(model={"weight": torch.full((2,), float("nan"))}), "not finite numbers"),
    "weight average infinite": (_checkpoint(ema={"weight": torch.full((2,), float("inf"))}), "not finite numbers"),
    "weights int64": (_checkpoint(model={"weight": torch.zeros(2, dtype=torch.int64)}),
                      "holds int64 weights in 'model.weight', not floating point numbers"),
    "weight average bool": (_checkpoint(ema={"n_averaged": torch.tensor(3),
                                             "module.weight": torch.ones(2, dtype=torch.bool)}),
                            "holds bool weights in 'ema.module.weight'"),
    "model a str": (_checkpoint(model="weights"), "holds no weights in its 'model'"),
    "model empty": (_checkpoint(model={}), "holds no weights in its 'model'"),
    "config a str": (_checkpoint(config="gan"), "holds a str as its 'config'"),
    "step 10**30": (_checkpoint(step=10**30), "at most 1,000,000,000,000"),
}


@pytest.mark.parametrize("kind", CHECKPOINT_DAMAGES)
def test_a_checkpoint_load_run_refuses_is_damaged_everywhere(sound: RunSpec, kind: str) -> None:
    damage, reason = CHECKPOINT_DAMAGES[kind]
    damage(sound.run_dir)
    state = store.run_state(sound.run_dir)
    assert state.status is store.Status.DAMAGED and reason in (state.reason or ""), state
    assert list(results_frame(sound.results_root).status) == ["damaged"]
    assert "the sweep runs it again" in dry_run_table([sound])
    with pytest.raises(RunError, match="is damaged: "):
        load_run(sound.run_dir)


@pytest.mark.parametrize("values", [{"model": "vae"}, {"model": "gan"}, {"model": "wgan", "lipschitz": "gp"}],
                         ids=["vae", "gan", "wgan"])
def test_only_the_integer_counters_of_a_state_dict_may_be_integer(values: dict[str, str]) -> None:
    """Batch norm's num_batches_tracked and the weight average's n_averaged are int64 in every checkpoint (allowed);
    any other weight that is integer is a problem (torch's load_state_dict casts it silently)."""
    from genmodels.models import build_model
    from genmodels.training.weight_average import GeneratorEMA

    config = RunConfig(**values, depth=1, width=4, z_dim=4).resolved()
    model = build_model(config)
    state = {"model": model.state_dict(),
             "ema": GeneratorEMA(model.generator, 0.999, 4).state_dict() if config.ema else None}
    integer = {f"{key}.{name}" for key in ("model", "ema") for name, value in (state[key] or {}).items()
               if not value.is_floating_point()}
    assert integer and all(name.endswith(store.INTEGER_TENSORS) for name in integer), integer
    assert store.weights_problem(state) is None
    first = next(name for name, value in state["model"].items() if value.is_floating_point())
    state["model"][first] = state["model"][first].long()
    assert store.weights_problem(state) == f"holds int64 weights in 'model.{first}', not floating point numbers"


def test_a_sample_grid_cut_short_is_damaged_everywhere(sound: RunSpec) -> None:
    """A grid whose first bytes are a PNG's but whose end is gone: the report would fail on it ("broken PNG")."""
    from PIL import Image

    grid = store.sample_grid(sound.run_dir, 1)
    grid.parent.mkdir()
    Image.new("L", (8, 8)).save(grid, format="png")
    assert store.run_state(sound.run_dir).status is store.Status.COMPLETE  # a whole PNG is sound
    grid.write_bytes(grid.read_bytes()[:40])
    state = store.run_state(sound.run_dir)
    assert state == store.RunState(store.Status.DAMAGED, "samples/step_000001.png is cut short (no PNG end chunk)")
    assert list(results_frame(sound.results_root).status) == ["damaged"]


@pytest.mark.parametrize("setup", [
    lambda e: ["--results", str(e.file("afile"))],
    lambda e: ["--results", "/dev/null"],
    lambda e: e.monkeypatch.setenv("GENMODELS_DATA", "/dev/zero") or ["--results", str(e.tmp / "results")],
], ids=["--results FILE", "--results /dev/null", "data root /dev/zero"])
def test_a_dry_run_refuses_what_the_sweep_refuses(setup: Callable[[Env], list[str]], env: Env,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    sweep = env.file("s.yaml", TINY + "grid: [{model: vae}]\n")
    before = snapshot(env.tmp)
    code, out, err = run_cli(["sweep", str(sweep), "--dry-run", *setup(env)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (code, err)
    assert_unchanged(before, env.tmp)


def test_an_empty_results_path_is_an_error_not_the_current_folder(env: Env,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_line(*run_cli(["results", "--results", ""], capsys), ["must be named"], env.tmp)
    with pytest.raises(ResultsError):
        results_frame("")


def test_negative_seconds_are_not_measured(sound: RunSpec) -> None:
    meta = json.loads((sound.run_dir / store.META).read_text())
    (sound.run_dir / store.META).write_text(json.dumps({**meta, "wall_seconds": {"training": -5}}))
    assert results_frame(sound.results_root)["seconds"].isna().all()


def test_resume_refuses_a_checkpoint_linked_from_outside_the_run(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    extra = resumable()(env)
    run = env.tmp / "run"
    elsewhere = env.tmp / "elsewhere.pt"
    (run / "checkpoint.pt").rename(elsewhere)
    (run / "checkpoint.pt").symlink_to(elsewhere)
    before = snapshot(env.tmp)
    argv = [*TRAIN, "--steps", "3", "--out", str(run), "--results", str(env.tmp / "results"), *extra]
    assert_one_line(*run_cli(argv, capsys), ["link leading out of its folder"], env.tmp)
    assert_unchanged(before, env.tmp)


def test_a_failed_runs_reason_is_one_short_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / store.ERROR).write_text("x" * 5000 + "\nsecond line\n")
    state = store.run_state(run)
    assert state.status is store.Status.FAILED and len(state.reason or "") == store.REASON_LIMIT


def test_reconstruct_refuses_a_batch_larger_than_generation_allows() -> None:
    from genmodels.core.config import MAX_SAMPLES
    from genmodels.runs.trained import TrainedRun

    model = torch.nn.Module()
    model.image_channels = 1  # type: ignore[assignment]
    run = TrainedRun(Path("run"), RunConfig(model="vae"), {}, model, torch.device("cpu"), Path("run/checkpoint.pt"), 1)
    images = torch.zeros(1, 1, 32, 32).expand(MAX_SAMPLES + 1, 1, 32, 32)  # a view: no memory
    with pytest.raises(ConfigError, match=f"at most {MAX_SAMPLES}"):
        run.reconstruct(images)


def test_a_linked_run_folder_is_listed_and_a_loop_is_walked_once(sound: RunSpec, tmp_path: Path) -> None:
    elsewhere = tmp_path / "other-disk" / "run"
    elsewhere.parent.mkdir()
    sound.run_dir.rename(elsewhere)
    sound.run_dir.symlink_to(elsewhere)
    (sound.run_dir.parent / "up").symlink_to(sound.results_root)  # a link back up: walked once, not forever
    frame = results_frame(sound.results_root)
    assert list(frame.status) == ["complete"] == [store.run_state(sound.run_dir).status.value]
