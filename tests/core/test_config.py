"""Config validation, literature defaults, run identity, and the CLI's one-line errors.

A sweep YAML or a papermill parameter with a typo must fail at once with a message that names the field
and says what is allowed, not hours later inside a training loop or, worse, be silently ignored.
"""

from __future__ import annotations

from typing import Any

import pytest

from genmodels.cli import main
from genmodels.core.config import ConfigError, RunConfig

# (config values, fragments the message must contain: the field and what is allowed)
BAD_CONFIGS: list[tuple[dict[str, Any], list[str]]] = [
    ({"depth": 0}, ["depth", "between 1 and 5", "got 0"]),
    ({"depth": 6}, ["depth", "between 1 and 5", "got 6"]),
    ({"depth": "3"}, ["depth", "integer", "'3'"]),
    ({"z_dim": 0}, ["z_dim", ">= 1", "got 0"]),
    ({"z_dim": True}, ["z_dim", "integer", "True"]),
    ({"model": "gam"}, ["model", "vae, gan, wgan", "did you mean 'gan'"]),
    ({"dataset": "imagenet"}, ["dataset", "mnist, mnist-5k, fashion-mnist, cifar10", "'imagenet'"]),
    ({"dataset": "mnsit"}, ["dataset", "did you mean 'mnist'"]),
    ({"lr": -1e-3}, ["lr", "> 0", "-0.001"]),
    ({"lr": 0.0}, ["lr", "> 0"]),
    ({"lr": float("nan")}, ["lr", "> 0", "nan"]),
    ({"model": "vae", "lipschitz": "gp"}, ["lipschitz", "wgan", "'vae'"]),
    ({"model": "gan", "kl_factor": 0.1}, ["kl_factor", "vae", "'gan'"]),
    ({"model": "wgan", "d_output": "sigmoid"}, ["d_output", "gan", "'wgan'"]),
    ({"model": "gan", "d_output": "tanh"}, ["d_output", "linear, sigmoid"]),
    ({"model": "wgan", "lipschitz": "clip", "gp_weight": 10.0}, ["gp_weight", "lipschitz='gp'"]),
    ({"model": "wgan", "lipschitz": "gp", "clip_value": 0.01}, ["clip_value", "lipschitz='clip'"]),
    # lipschitz left unset means WGAN-GP: a clip_value then is an error now, not at resolve time
    ({"model": "wgan", "clip_value": 0.01}, ["clip_value", "lipschitz='clip'"]),
    ({"model": "wgan", "lipschitz": "clip", "beta1": 0.5}, ["beta1", "RMSprop"]),
    ({"model": "wgan", "lipschitz": "lip"}, ["lipschitz", "gp, clip"]),
    ({"recipe": "fast"}, ["recipe", "tuned, seed", "'fast'"]),
    ({"recipe": "seeds"}, ["recipe", "did you mean 'seed'"]),
    ({"model": "gan", "augment": "flip"}, ["augment", "none, translation, cutout, translation,cutout, noise", "'flip'"]),
    ({"model": "vae", "augment": "translation"}, ["augment", "gan or wgan", "'vae'"]),
    ({"model": "gan", "ema": 1.0}, ["ema", "[0, 1)", "1.0"]),
    ({"model": "gan", "ema": "x"}, ["ema", "[0, 1)", "'x'"]),
    ({"threads": 0}, ["threads", "between 1 and 1024", "got 0"]),
    ({"beta1": 1.0}, ["beta1", "[0, 1)", "1.0"]),
    ({"beta2": -0.1}, ["beta2", "[0, 1)"]),
    ({"batch_size": 0}, ["batch_size", ">= 2"]),
    ({"batch_size": 1}, ["batch_size", ">= 2", "batch norm"]),
    ({"seed": 2**70}, ["seed", "between 0 and 4294967295"]),
    ({"metric_samples": 2}, ["metric_samples", ">= 20", "0 turns quality metrics off"]),
    ({"data_root": {"a": 1}}, ["data_root", "a string or unset", "{'a': 1}"]),
    ({"progress": "yes"}, ["progress", "true or false"]),
    ({"out_dir": ""}, ["out_dir", "name a folder"]),
    ({"width": 100000}, ["width=100000", "parameters", "lower width"]),
    ({"model": "vae", "h_dim": 10**9}, ["h_dim=1000000000", "parameters"]),
    ({"steps": 0}, ["steps", ">= 1"]),
    ({"images": 0}, ["images", ">= 1"]),
    ({"precision": "fp16"}, ["precision", "fp32, bf16", "'fp16'"]),
    ({"device": "tpu"}, ["device", "auto, cpu, cuda"]),
    ({"log": "wandb"}, ["log", "none, tensorboard", "'wandb'"]),
    ({"model": "wgan", "n_critic": 0}, ["n_critic", ">= 1"]),
    ({"model": "vae", "kl_factor": -1.0}, ["kl_factor", ">= 0"]),
    # a field RunConfig lacks, given to its constructor (the dataclass's TypeError before)
    ({"bogus": 1}, ["unknown config field 'bogus'"]),
    ({"modle": "gan"}, ["unknown config field 'modle'", "did you mean 'model'"]),
]


@pytest.mark.parametrize(("values", "fragments"), BAD_CONFIGS, ids=lambda v: repr(v) if isinstance(v, dict) else "")
def test_bad_config_names_field_and_allowed_values(values: dict[str, Any], fragments: list[str]) -> None:
    """Each invalid value fails at construction with one sentence naming the field and what is allowed."""
    with pytest.raises(ConfigError) as info:
        RunConfig(**values)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from {message!r}"


def test_config_error_is_a_value_error() -> None:
    """Callers that catch ValueError (papermill, generic code) still catch config errors."""
    assert issubclass(ConfigError, ValueError)


def test_unknown_field_suggests_the_closest() -> None:
    """A typo'd key in a sweep YAML is named, with a suggestion and the list of known fields."""
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict({"model": "vae", "z_dm": 8})
    message = str(info.value)
    assert "unknown config field 'z_dm'" in message
    assert "did you mean 'z_dim'" in message
    assert "kl_factor" in message  # the known fields are listed


def test_from_dict_round_trip() -> None:
    config = RunConfig(model="gan", depth=2, z_dim=7, d_output="sigmoid", steps=11)
    assert RunConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"model": "gan"}, {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "d_output": "linear", "n_critic": 1}),
        ({"model": "wgan", "lipschitz": "clip"}, {"lr": 5e-5, "clip_value": 0.01, "n_critic": 5, "gp_weight": None}),
        ({"model": "wgan"}, {"lipschitz": "gp", "lr": 1e-4, "beta1": 0.0, "beta2": 0.9, "gp_weight": 10.0,
                             "n_critic": 5, "clip_value": None}),
        ({"model": "vae"}, {"lr": 3e-4, "kl_factor": 1e-3, "h_dim": 256, "lipschitz": None, "n_critic": None}),
    ],
    ids=["gan", "wgan-clip", "wgan-gp", "vae"],
)
def test_resolved_fills_literature_defaults(values: dict[str, Any], expected: dict[str, Any]) -> None:
    """DCGAN Adam 2e-4/beta1 0.5; WGAN RMSprop 5e-5, c=0.01, n_critic 5; WGAN-GP 1e-4, (0, 0.9), lambda 10."""
    resolved = RunConfig(**values, recipe="seed").resolved()
    for name, value in expected.items():
        assert getattr(resolved, name) == value, name
    assert resolved.batch_size == 64 and (resolved.model == "vae" or resolved.ema == 0.0)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"model": "gan"}, {"lr": 1e-3, "batch_size": 32, "ema": 0.999, "augment": "none", "beta1": 0.5}),
        ({"model": "wgan"}, {"lr": 5e-4, "batch_size": 32, "n_critic": 1, "ema": 0.999, "beta2": 0.9}),
        ({"model": "wgan", "depth": 4}, {"lr": 5e-4, "batch_size": 32, "n_critic": 3, "ema": 0.999}),
        ({"model": "wgan", "depth": 5, "n_critic": 2}, {"n_critic": 2}),  # explicit values win
        ({"model": "wgan", "lipschitz": "clip"}, {"lr": 5e-5, "n_critic": 5, "batch_size": 32, "ema": 0.999}),
        ({"model": "wgan", "lipschitz": "clip", "depth": 5}, {"n_critic": 5}),
        ({"model": "gan", "depth": 5}, {"n_critic": 1, "augment": "noise"}),  # instance noise from depth 5
        ({"model": "gan", "depth": 4}, {"augment": "none"}),
        ({"model": "vae"}, {"lr": 2e-3, "batch_size": 32, "ema": None, "augment": None}),
        ({"model": "gan", "lr": 3e-4, "batch_size": 8}, {"lr": 3e-4, "batch_size": 8}),  # explicit values win
    ],
    ids=["gan", "wgan-gp", "wgan-gp-deep", "wgan-gp-deep-explicit", "wgan-clip", "wgan-clip-deep", "gan-deep", "gan-depth-4", "vae",
         "explicit"],
)
def test_tuned_recipe_overrides_training_choices_only(values: dict[str, Any], expected: dict[str, Any]) -> None:
    resolved = RunConfig(**values).resolved()
    assert resolved.recipe == "tuned"
    for name, value in expected.items():
        assert getattr(resolved, name) == value, name


def test_resolved_keeps_explicit_values_and_is_idempotent() -> None:
    config = RunConfig(model="gan", lr=1e-3, beta1=0.9)
    resolved = config.resolved()
    assert (resolved.lr, resolved.beta1, resolved.beta2) == (1e-3, 0.9, 0.999)
    assert resolved.resolved() == resolved
    assert config.lr == 1e-3 and config.beta2 is None  # resolved() returns a copy


def test_resolved_optimizer_settings_reach_the_optimizers() -> None:
    """The defaults are not just recorded: make_optimizers builds Adam/RMSprop with them."""
    import torch

    from genmodels.models import build_model
    from genmodels.training.loop import make_optimizers

    for values, kind, lr, betas in [
        ({"model": "gan"}, torch.optim.Adam, 2e-4, (0.5, 0.999)),
        ({"model": "wgan"}, torch.optim.Adam, 1e-4, (0.0, 0.9)),
        ({"model": "wgan", "lipschitz": "clip"}, torch.optim.RMSprop, 5e-5, None),
        ({"model": "vae"}, torch.optim.Adam, 3e-4, (0.9, 0.999)),
    ]:
        config = RunConfig(**values, depth=1, width=4, z_dim=2, recipe="seed")  # type: ignore[arg-type]
        optimizers = make_optimizers(build_model(config, 1), config)
        assert set(optimizers) == ({"model"} if values["model"] == "vae" else {"critic", "generator"})
        for opt in optimizers.values():
            assert type(opt) is kind
            assert opt.param_groups[0]["lr"] == lr
            if betas is not None:
                assert opt.param_groups[0]["betas"] == betas


def test_config_hash_identity() -> None:
    """The hash is stable, changes with what a run computes, and ignores where/how it runs."""
    base = RunConfig(model="vae", depth=3, z_dim=16)
    assert base.config_hash() == RunConfig(model="vae", depth=3, z_dim=16).config_hash()
    assert len(base.config_hash()) == 12
    assert base.config_hash() != RunConfig(model="vae", depth=4, z_dim=16).config_hash()
    assert base.config_hash() != RunConfig(model="vae", depth=3, z_dim=16, kl_factor=0.5).config_hash()
    assert base.config_hash() != RunConfig(model="vae", depth=3, z_dim=16, seed=1).config_hash()
    same = RunConfig(model="vae", depth=3, z_dim=16, out_dir="/tmp/elsewhere", device="cpu", progress=False,
                     data_root="/tmp/data", sample_every=7, checkpoint_every=3, log="tensorboard")
    assert base.config_hash() == same.config_hash()
    # an explicit default is the same run as the implicit one (the hash is of the resolved config)
    assert base.config_hash() == RunConfig(model="vae", depth=3, z_dim=16, kl_factor=1e-3, lr=2e-3,
                                           batch_size=32).config_hash()
    assert base.config_hash() != RunConfig(model="vae", depth=3, z_dim=16, recipe="seed").config_hash()
    assert base.config_hash() == RunConfig(model="vae", depth=3, z_dim=16, threads=1).config_hash()
    assert base.run_name().endswith(base.config_hash()[:6])
    assert base.run_name() != RunConfig(model="vae", depth=4, z_dim=16).run_name()


def test_config_hash_is_fixed_across_processes() -> None:
    """The hash is a pure function of the values (sha256 of sorted JSON), not Python's salted hash()."""
    import subprocess
    import sys

    code = "from genmodels.core.config import RunConfig; print(RunConfig(model='gan', depth=2).config_hash())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == RunConfig(model="gan", depth=2).config_hash()


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--depth", "7"],
        ["train", "--model", "gam"],
        ["train", "--model", "vae", "--lipschitz", "gp"],
        ["train", "--precision", "fp16"],
    ],
)
def test_cli_bad_value_is_one_error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`genmodels train` with a bad value: exit code 2, one 'error:' line on stderr, no traceback."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in captured.err + captured.out
    assert argv[-2].lstrip("-").replace("-", "_") in lines[0]  # names the field


def test_cli_type_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A value of the wrong type is argparse's job: usage + message, exit status 2."""
    with pytest.raises(SystemExit) as info:
        main(["train", "--depth", "three"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "depth must be int" in err and "'three'" in err
    assert "Traceback" not in err


def test_cli_cuda_without_cuda_is_one_error_line(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Asking for CUDA on a machine without it is a config error, not a traceback."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code = main(["train", "--model", "gan", "--dataset", "mnist-5k", "--device", "cuda", "--depth", "1",
                 "--width", "4", "--steps", "1", "--batch-size", "4", "--no-progress", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().startswith("error: ") and "cuda" in err.lower()
    assert "Traceback" not in err
