"""Training on real data: losses fall, stay finite, constraints hold, and a resumed run is bit-identical.

All runs are tiny (width 8-16, depth 1-2, batches of 8-32, a few dozen steps) so the file runs in well
under a minute on two CPU cores; they still go through the real Trainer, data stream and checkpoints.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from same_run import CrashAt, assert_same, assert_same_run, without_seconds

from genmodels.core.config import ConfigError, RunConfig
from genmodels.data import ImageSet, load_dataset
from genmodels.models import VAE
from genmodels.training.loop import CHECKPOINT, HISTORY, Trainer, TrainingDiverged, resolve_device, train

TINY: dict[str, Any] = {"dataset": "mnist-5k", "width": 8, "depth": 2, "z_dim": 8, "batch_size": 8,
                        "n_train": 64, "progress": False, "sample_every": 0}
MODELS: dict[str, dict[str, Any]] = {
    "vae": {"model": "vae"},
    "gan": {"model": "gan"},
    "wgan-gp": {"model": "wgan", "lipschitz": "gp"},
    "wgan-clip": {"model": "wgan", "lipschitz": "clip"},
}


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def mnist5k() -> ImageSet:
    """The real 5k MNIST subset, loaded once for the module."""
    return load_dataset("mnist-5k", "train")


def config(name: str, **overrides: Any) -> RunConfig:
    return RunConfig(**{**TINY, **MODELS[name], **overrides})


def loss_columns(history: list[dict[str, float]]) -> list[str]:
    return [k for k in history[0] if k not in ("step", "images", "seconds")]


# ---------------------------------------------------------------------------------------------- learning
def test_vae_loss_decreases_on_real_data(tmp_path: Path, mnist5k: ImageSet) -> None:
    """80 Adam steps on real MNIST clearly lower the VAE loss (mean of the last 10 vs the first 10 steps)."""
    c = config("vae", width=16, depth=2, z_dim=16, batch_size=32, n_train=512, steps=80)
    history = train(c, tmp_path, train_data=mnist5k).history
    assert len(history) == 80
    first = sum(row["loss"] for row in history[:10]) / 10
    last = sum(row["loss"] for row in history[-10:]) / 10
    assert last < 0.6 * first, (first, last)  # measured: about 0.4 over seeds 0-2
    # and the run folder holds what the notebooks read
    assert (tmp_path / CHECKPOINT).is_file() and (tmp_path / HISTORY).is_file()
    assert any((tmp_path / "samples").glob("step_*.png"))


@pytest.mark.parametrize(
    ("name", "steps", "columns"),
    [
        ("gan", 30, {"critic_loss", "d_real", "d_fake", "gen_loss"}),
        ("wgan-gp", 8, {"critic_loss", "wasserstein", "gp", "gen_loss"}),
        ("wgan-clip", 8, {"critic_loss", "wasserstein", "gen_loss"}),
    ],
)
def test_adversarial_losses_stay_finite(name: str, steps: int, columns: set[str], tmp_path: Path,
                                        mnist5k: ImageSet) -> None:
    """Short GAN / WGAN runs log every loss term, all finite, and count n_critic real batches per step."""
    c = config(name, steps=steps)
    trainer = train(c, tmp_path, train_data=mnist5k)
    history = trainer.history
    assert len(history) == steps
    assert set(loss_columns(history)) == columns
    assert all(math.isfinite(row[k]) for row in history for k in columns)
    n_critic = c.resolved().n_critic
    assert [row["images"] for row in history] == [s * 8 * n_critic for s in range(1, steps + 1)]  # type: ignore[operator]
    # history.csv has the same rows (the notebooks plot from it)
    import pandas as pd

    frame = pd.read_csv(tmp_path / HISTORY)
    assert list(frame["step"]) == list(range(1, steps + 1))
    assert frame["gen_loss"].tolist() == pytest.approx([row["gen_loss"] for row in history])


def test_wgan_clip_keeps_critic_weights_clipped(tmp_path: Path, mnist5k: ImageSet) -> None:
    """After clipped-WGAN training every critic parameter lies in [-c, c] (and some sit on the bound)."""
    trainer = train(config("wgan-clip", steps=4, clip_value=0.02), tmp_path, train_data=mnist5k)
    params = list(trainer.model.critic.parameters())
    assert all(p.abs().max().item() <= 0.02 for p in params)
    assert any((p.abs() == 0.02).any() for p in params)  # the constraint was active, not vacuous
    # the generator is not clipped
    assert max(p.abs().max().item() for p in trainer.model.generator.parameters()) > 0.02


# ---------------------------------------------------------------------------------------------- resume
@pytest.mark.parametrize("name", list(MODELS))
def test_resume_equals_uninterrupted(name: str, tmp_path: Path, mnist5k: ImageSet) -> None:
    """N steps in one go == N/2 steps, then a new process-like Trainer resuming to N: bit for bit."""
    n = 6
    full = train(config(name, steps=n), tmp_path / "a", train_data=mnist5k)
    rng_full = torch.get_rng_state()

    half = train(config(name, steps=n // 2), tmp_path / "b", train_data=mnist5k)
    assert half.step == n // 2
    torch.manual_seed(12345)  # whatever happened in between must not matter: the checkpoint restores RNGs
    resumed = train(config(name, steps=n), tmp_path / "b", train_data=mnist5k)
    rng_resumed = torch.get_rng_state()

    assert_same_run(full, resumed)
    assert torch.equal(rng_full, rng_resumed)
    # and the state on disk is the same too
    disk_a = torch.load(tmp_path / "a" / CHECKPOINT, weights_only=True)
    disk_b = torch.load(tmp_path / "b" / CHECKPOINT, weights_only=True)
    assert_same(disk_a["model"], disk_b["model"], "checkpoint model")
    assert_same(disk_a["optimizers"], disk_b["optimizers"], "checkpoint optimizers")


@pytest.mark.parametrize("name", list(MODELS))
def test_multi_tensor_optimizer_steps_match_the_per_parameter_loop(name: str, tmp_path: Path, mnist5k: ImageSet,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """make_optimizers asks for foreach (multi-tensor) updates for speed; on CPU they must train exactly what
    PyTorch's per-parameter loop trains, so results measured before the switch still hold bit for bit."""
    import genmodels.training.loop as train_module

    fast = train(config(name, steps=6), tmp_path / "a", train_data=mnist5k)
    assert all(o.defaults["foreach"] is True for o in fast.optimizers.values())

    built = train_module.make_optimizers

    def per_parameter(model: Any, c: RunConfig) -> dict[str, torch.optim.Optimizer]:
        optimizers = built(model, c)
        for optimizer in optimizers.values():
            for group in optimizer.param_groups:
                group["foreach"] = False
        return optimizers

    monkeypatch.setattr(train_module, "make_optimizers", per_parameter)
    slow = train(config(name, steps=6), tmp_path / "b", train_data=mnist5k)
    assert all(g["foreach"] is False for o in slow.optimizers.values() for g in o.param_groups)
    assert_same(fast.model.state_dict(), slow.model.state_dict(), "model")


def test_crash_then_resume_equals_uninterrupted(tmp_path: Path, mnist5k: ImageSet) -> None:
    """A run killed after its step-4 checkpoint and restarted redoes steps 5.. exactly as if never stopped."""
    c = config("gan", steps=8, checkpoint_every=4)
    full = train(c, tmp_path / "a", train_data=mnist5k)
    with pytest.raises(KeyboardInterrupt):
        train(c, tmp_path / "b", train_data=mnist5k, hooks=[CrashAt(6)])
    assert torch.load(tmp_path / "b" / CHECKPOINT, weights_only=True)["step"] == 4
    resumed = train(c, tmp_path / "b", train_data=mnist5k)
    assert_same_run(full, resumed)


def test_cpu_time_counts_the_steps_work_not_their_waiting(tmp_path: Path, mnist5k: ImageSet,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`cpu_elapsed` is the CPU time of the training steps: a step that waits (as a run does when another
    process holds its core) stretches `elapsed`, not `cpu_elapsed`; both survive a resume."""
    import time

    import genmodels.training.loop as train_module

    step = train_module.vae_step

    def waiting_step(*args: Any) -> Any:
        time.sleep(0.1)  # idle: wall-clock time without CPU time
        return step(*args)

    monkeypatch.setattr(train_module, "vae_step", waiting_step)
    first = train(config("vae", steps=3), tmp_path, train_data=mnist5k)
    assert first.cpu_elapsed is not None and 0 < first.cpu_elapsed < first.elapsed - 0.2  # waited 0.3 s
    resumed = train(config("vae", steps=5), tmp_path, train_data=mnist5k)
    assert resumed.cpu_elapsed is not None and resumed.cpu_elapsed > first.cpu_elapsed
    assert resumed.elapsed - resumed.cpu_elapsed > 0.4  # the five waits of both segments, not only the last two


def test_a_checkpoint_without_cpu_time_resumes_with_it_unknown(tmp_path: Path, mnist5k: ImageSet) -> None:
    """A checkpoint of an earlier version (no `cpu_elapsed`) resumes, and the run's CPU time is then unknown
    (None) rather than the time of the last segment only."""
    train(config("gan", steps=2), tmp_path, train_data=mnist5k)
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    del state["cpu_elapsed"]
    torch.save(state, tmp_path / CHECKPOINT)
    resumed = train(config("gan", steps=4), tmp_path, train_data=mnist5k)
    assert resumed.step == 4 and resumed.cpu_elapsed is None
    assert torch.load(tmp_path / CHECKPOINT, weights_only=True)["cpu_elapsed"] is None


@pytest.mark.parametrize("change", [{"depth": 1}, {"z_dim": 4}, {"lr": 5e-4}, {"seed": 1}, {"recipe": "seed"}])
def test_checkpoint_of_other_config_refuses_to_load(change: dict[str, Any], tmp_path: Path,
                                                     mnist5k: ImageSet) -> None:
    """Resuming into a folder that holds a different run is a clear CheckpointError, not a silent mix."""
    from genmodels.training.checkpoint import CheckpointError

    train(config("gan", steps=1), tmp_path, train_data=mnist5k)
    other = Trainer(config("gan", steps=2, **change), tmp_path, train_data=mnist5k)
    with pytest.raises(CheckpointError, match="belongs to another configuration"):
        other.fit()
    # resume=False starts over instead of loading
    assert len(Trainer(config("gan", steps=1, **change), tmp_path, train_data=mnist5k).fit(resume=False)) == 1


# ---------------------------------------------------------------------------------------------- divergence
def test_nan_loss_raises_training_diverged(tmp_path: Path, mnist5k: ImageSet, monkeypatch: pytest.MonkeyPatch) -> None:
    """A NaN loss stops the run with TrainingDiverged naming the term and the step."""
    calls = {"n": 0}
    original = VAE.loss_terms

    def nan_on_third(self: VAE, *args: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = original(self, *args)
        calls["n"] += 1
        if calls["n"] == 3:
            terms["kl"] = terms["kl"] * float("nan")
        return terms

    monkeypatch.setattr(VAE, "loss_terms", nan_on_third)
    with pytest.raises(TrainingDiverged, match=r"kl became nan at step 3"):
        train(config("vae", steps=10), tmp_path, train_data=mnist5k)


def test_huge_lr_diverges_loudly(tmp_path: Path, mnist5k: ImageSet) -> None:
    """A real blow-up (lr 10, the largest lr a config accepts) is caught as TrainingDiverged rather than logging
    NaNs for hours."""
    with pytest.raises(TrainingDiverged, match="try a lower lr"):
        train(config("vae", steps=30, lr=10.0), tmp_path, train_data=mnist5k)


# ---------------------------------------------------------------------------------------------- budget
@pytest.mark.parametrize(
    ("values", "steps"),
    [
        ({"model": "vae", "images": 1000, "batch_size": 10}, 100),
        ({"model": "gan", "images": 1000, "batch_size": 10}, 100),
        ({"model": "gan", "images": 1000, "batch_size": 10, "n_critic": 2}, 50),
        ({"model": "wgan", "images": 1000, "batch_size": 10, "recipe": "seed"}, 20),  # n_critic 5 (literature)
        ({"model": "wgan", "images": 1000, "batch_size": 10}, 100),  # the tuned recipe's n_critic 1
        ({"model": "wgan", "lipschitz": "clip", "images": 1009, "batch_size": 10}, 20),  # rounds down
        ({"model": "wgan", "images": 1000, "batch_size": 10, "n_critic": 1}, 100),
        ({"model": "vae", "images": 5, "batch_size": 10}, 1),  # never zero steps
        ({"model": "vae", "steps": 77}, 77),
        ({"model": "vae", "steps": 77, "images": 200, "batch_size": 10}, 20),  # images overrides steps
    ],
)
def test_images_budget_converts_to_steps(values: dict[str, Any], steps: int) -> None:
    """`images` counts real images seen: each generator step consumes batch_size * n_critic of them."""
    assert RunConfig(**values).total_steps == steps


def test_images_budget_is_what_training_consumes(tmp_path: Path, mnist5k: ImageSet) -> None:
    """A WGAN run with images=80, batch 8, n_critic 5 makes 2 generator steps and sees exactly 80 images."""
    trainer = train(config("wgan-clip", images=80, steps=999), tmp_path, train_data=mnist5k)
    assert trainer.step == 2 and len(trainer.history) == 2
    assert trainer.stream.images_seen == 80


# ---------------------------------------------------------------------------------------------- device, precision
def test_auto_device_is_cpu_without_cuda(tmp_path: Path, mnist5k: ImageSet) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    trainer = Trainer(config("vae", steps=1), tmp_path, train_data=mnist5k)
    assert trainer.device.type == "cpu"
    assert next(trainer.model.parameters()).device.type == "cpu"


def test_cuda_without_cuda_is_a_clear_error(tmp_path: Path, mnist5k: ImageSet) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="no CUDA device is available"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="device='auto'"):
        Trainer(config("vae", steps=1, device="cuda"), tmp_path, train_data=mnist5k)


@pytest.mark.parametrize("name", ["vae", "gan", "wgan-gp"])
def test_bf16_runs_with_finite_losses(name: str, tmp_path: Path, mnist5k: ImageSet) -> None:
    """bf16 autocast on CPU trains (incl. WGAN-GP's double backward) and really changes the arithmetic."""
    steps = 2 if name == "wgan-gp" else 3
    bf16 = train(config(name, steps=steps, precision="bf16"), tmp_path / "bf16", train_data=mnist5k).history
    fp32 = train(config(name, steps=1), tmp_path / "fp32", train_data=mnist5k).history
    columns = loss_columns(bf16)
    assert all(math.isfinite(row[k]) for row in bf16 for k in columns)
    key = "loss" if name == "vae" else "critic_loss"
    assert bf16[0][key] != fp32[0][key]  # autocast took effect ...
    assert bf16[0][key] == pytest.approx(fp32[0][key], rel=0.05, abs=0.05)  # ... and only to bf16 precision


# ---------------------------------------------------------------------------------------------- recipes
@pytest.mark.parametrize("recipe", ["seed", "tuned"])
@pytest.mark.parametrize("name", list(MODELS))
def test_each_recipe_trains(name: str, recipe: str, tmp_path: Path, mnist5k: ImageSet) -> None:
    """A tiny run of every model under both recipes trains with finite losses and records its recipe."""
    trainer = train(config(name, steps=4, recipe=recipe), tmp_path, train_data=mnist5k)
    assert trainer.step == 4 and trainer.config.recipe == recipe
    assert all(math.isfinite(row[k]) for row in trainer.history for k in loss_columns(trainer.history))
    adversarial = name != "vae"
    assert (trainer.ema is not None) == (adversarial and recipe == "tuned")
    if adversarial:
        assert trainer.config.augment == "none"  # measured worse at these budgets (docs/recipes.md), so neither recipe augments
        assert trainer.model.augment == trainer.config.augment


def test_tuned_recipe_samples_from_the_averaged_generator(tmp_path: Path, mnist5k: ImageSet) -> None:
    """The EMA weights differ from the raw ones, and samples (grids, metrics) are drawn from them, with
    batch-norm statistics recomputed for the averaged weights."""
    from genmodels.training.generate import sample

    trainer = train(config("gan", steps=30, recipe="tuned"), tmp_path, train_data=mnist5k)
    raw = dict(trainer.model.generator.named_parameters())
    averaged = dict(trainer.ema.module.named_parameters())  # type: ignore[union-attr]
    assert raw.keys() == averaged.keys()
    assert any(not torch.equal(raw[k], averaged[k]) for k in raw)
    sampler = trainer.sampler()
    assert sampler.generator is trainer.ema.module  # type: ignore[union-attr]
    z = torch.randn(16, trainer.config.z_dim, generator=torch.Generator().manual_seed(0))
    from_sampler = sample(sampler, 16, trainer.config.z_dim, seed=0)
    trainer.model.eval()
    with torch.no_grad():
        from_raw = trainer.model.generate(z)
    trainer.model.train()
    assert not torch.allclose(from_sampler, from_raw, atol=1e-3)
    # its batch-norm statistics were recomputed: they are not the raw generator's running statistics
    bn_raw = [m for m in trainer.model.generator.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    bn_avg = [m for m in trainer.ema.module.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]  # type: ignore[union-attr]
    assert not torch.allclose(bn_raw.running_mean, bn_avg.running_mean)
    assert torch.equal(trainer.samples(), trainer.samples())  # sampling is deterministic and leaves no state behind


def test_seed_recipe_samples_from_the_raw_generator(tmp_path: Path, mnist5k: ImageSet) -> None:
    trainer = train(config("gan", steps=3, recipe="seed"), tmp_path, train_data=mnist5k)
    assert trainer.ema is None and trainer.sampler() is trainer.model


def test_average_starts_as_a_copy_and_warms_up() -> None:
    """First update copies the weights; the decay is min(decay, (1 + n) / (10 + n)), so early updates move it far."""
    from genmodels.training.weight_average import GeneratorEMA

    net = torch.nn.Linear(2, 2)
    ema = GeneratorEMA(net, decay=0.999, z_dim=2)
    ema.update(net)
    assert torch.equal(ema.module.weight, net.weight)
    before = ema.module.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net)  # n = 1: decay (1 + 1) / (10 + 1)
    assert torch.allclose(ema.module.weight, before + (1 - 2 / 11), atol=1e-6)


def test_translation_shifts_content_fills_background_and_passes_gradients() -> None:
    from genmodels.models.augment import diff_augment

    torch.manual_seed(0)
    x = torch.full((64, 1, 32, 32), -1.0)
    x[:, :, 12:20, 12:20] = 1.0  # an 8x8 square in the middle
    x.requires_grad_(True)
    out = diff_augment(x, "translation")
    assert out.shape == x.shape
    assert torch.equal((out > 0).sum(dim=(1, 2, 3)), torch.full((64,), 64))  # the square moved, never clipped
    assert set(out.detach().unique().tolist()) == {-1.0, 1.0}  # the uncovered border is background
    moved = [(o > 0).nonzero()[0, 1:].tolist() for o in out.detach()]
    assert len({tuple(m) for m in moved}) > 5  # shifts differ per image
    assert all(abs(r - 12) <= 4 and abs(c - 12) <= 4 for r, c in moved)  # by at most 1/8 of the side
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    cut = diff_augment(torch.ones(8, 1, 32, 32), "cutout")
    assert torch.all((cut == -1).sum(dim=(1, 2, 3)) > 0)  # a background square in every image
    assert torch.equal(diff_augment(x.detach(), "none"), x.detach())


def test_instance_noise_is_gaussian_of_its_sigma_on_every_pixel() -> None:
    from genmodels.models.augment import INSTANCE_NOISE, diff_augment

    torch.manual_seed(0)
    x = torch.zeros(64, 1, 32, 32)
    noisy = diff_augment(x, "noise")
    assert noisy.std().item() == pytest.approx(INSTANCE_NOISE, rel=0.02)
    assert abs(noisy.mean().item()) < 0.005
    assert not torch.equal(diff_augment(x, "noise"), noisy)  # fresh noise every call (from the checkpointed RNG)


def test_a_crafted_checkpoint_is_refused_without_running_code(tmp_path: Path, mnist5k: ImageSet) -> None:
    """Checkpoints are read with weights_only=True: a pickle that would run a command is refused, naming the file."""
    import os

    from genmodels.training.checkpoint import CheckpointError

    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {marker}",))

    run = tmp_path / "run"
    run.mkdir()
    torch.save({"step": 1, "payload": Payload()}, run / CHECKPOINT)
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt .*delete it"):
        train(config("gan", steps=2), run, train_data=mnist5k)
    assert not marker.exists()
