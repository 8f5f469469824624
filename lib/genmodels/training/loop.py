"""Training: one step function per optimisation scheme, one loop, hooks for everything periodic.

VAE: a single optimizer over the whole model (seed Algorithm 1). GAN and WGAN: two optimizers,
`n_critic` critic steps on fresh real batches, then one generator step (seed Algorithm 2; WGAN
Algorithm 1 of Arjovsky et al.). Checkpoints hold everything a step depends on (weights, optimizer
moments, data order, every RNG), so a resumed run on CPU continues bit-for-bit as an uninterrupted one; their file
format, and how one is read back and checked, is `genmodels.training.checkpoint`'s.
"""

from __future__ import annotations

import csv
import os
import random
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from genmodels.core.config import ConfigError, RunConfig
from genmodels.core.devices import cuda_count, device_problem
from genmodels.data import ImageSet, load_dataset
from genmodels.training.batch_stream import BatchStream
from genmodels.models import AdversarialModel, build_model
from genmodels.training.latent_density import ExPostSampler, LatentGMM, fit_for, state_of
from genmodels.training.loss_log import PendingLosses, TrainingDiverged
from genmodels.training.weight_average import GeneratorEMA, Sampler
from genmodels.core.registry import model_spec
from genmodels.core.store import CHECKPOINT, HISTORY, write_atomic
from genmodels.training import checkpoint
from genmodels.training.checkpoint import CheckpointError, first_sentence
from genmodels.training.hooks import Hook, SampleGrids


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' picks CUDA when present; an explicit 'cuda' without one is a config error (one line in the CLI)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    problem = device_problem(device, cuda_count())
    if problem:
        raise ConfigError(problem)
    return torch.device(device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def optimizer_settings(config: RunConfig) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
    """The optimizer class and keyword settings a run trains with: what `make_optimizers` builds, and what the
    report's Training section prints, so the two cannot disagree."""
    c = config.resolved()
    assert c.lr is not None
    if model_spec(c.model).optimizer(c) == "rmsprop":  # WGAN with clipping (genmodels.builtin says why)
        return torch.optim.RMSprop, {"lr": c.lr}
    return torch.optim.Adam, {"lr": c.lr, "betas": (c.beta1, c.beta2)}


def make_optimizers(model: nn.Module, config: RunConfig) -> dict[str, torch.optim.Optimizer]:
    """One optimizer over the whole model, or one per network of a model with a critic (alternating updates)."""
    cls, settings = optimizer_settings(config)
    # foreach: one multi-tensor update instead of a Python loop over parameters. PyTorch uses it on CUDA already;
    # on CPU it gives bit-identical weights and takes 15 % less time per Adam step (docs/study.md).
    make: Callable[[Any], torch.optim.Optimizer] = lambda p: cls(p, **settings, foreach=True)
    if isinstance(model, AdversarialModel):
        return {"critic": make(model.critic.parameters()), "generator": make(model.generator.parameters())}
    return {"model": make(model.parameters())}


def _autocast(device: torch.device, precision: str) -> Any:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


# Steps between reads of the loss terms (genmodels.training.loss_log): one host-device synchronisation per read
# instead of one per step. Hooks, checkpoints and the end of training read what is pending whenever they need
# the history, so this only bounds how stale the progress bar is and how many steps run past a NaN.
READ_EVERY = 100


def vae_step(model: nn.Module, optimizers: dict[str, torch.optim.Optimizer], stream: BatchStream,
             autocast: Callable[[], Any]) -> dict[str, torch.Tensor]:
    """Seed Algorithm 1: loss = model(x); backward; step. Returns the scalar terms, detached, on the device."""
    x = stream.next()
    with autocast():
        terms = model(x)
    optimizers["model"].zero_grad(set_to_none=True)
    terms["loss"].backward()
    optimizers["model"].step()
    return {name: value.detach() for name, value in terms.items() if value.dim() == 0}


def adversarial_step(model: AdversarialModel, optimizers: dict[str, torch.optim.Optimizer], stream: BatchStream,
                     autocast: Callable[[], Any], n_critic: int) -> dict[str, torch.Tensor]:
    """Seed Algorithm 2: n_critic critic updates on fresh real batches, then one generator update.

    The generator step reuses the last critic step's fake batch (its graph kept), as the seed's single forward
    pass and pytorch/examples' DCGAN do: one generator forward per step instead of two. Returns the last critic
    step's terms and the generator's, detached, on the device.
    """
    out: dict[str, torch.Tensor] = {}
    for i in range(n_critic):
        x = stream.next()
        last = i == n_critic - 1
        with autocast(), (nullcontext() if last else torch.no_grad()):
            fake = model.fake_batch(x.shape[0])
        with autocast():
            terms = model.critic_loss(x, fake)
        optimizers["critic"].zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizers["critic"].step()
        model.after_critic_step()
    out.update({f"critic_{k}" if k == "loss" else k: v.detach() for k, v in terms.items()})
    model.critic.requires_grad_(False)  # the generator step needs gradients through the critic, not for it
    with autocast():
        gen_terms = model.generator_loss(fake)
    optimizers["generator"].zero_grad(set_to_none=True)
    gen_terms["loss"].backward()
    optimizers["generator"].step()
    model.critic.requires_grad_(True)
    out.update({f"gen_{k}": v.detach() for k, v in gen_terms.items()})
    return out


class Trainer:
    """Owns a run's state: model, optimizers, data stream, step counter, history and fixed noise.

    The history's loss values are read from the device every `read_every` steps and whenever `history` is
    asked for (a hook, a checkpoint, the end), never once per step: see genmodels.training.loss_log."""

    def __init__(self, config: RunConfig, out_dir: str | os.PathLike[str] | None = None,
                 train_data: ImageSet | None = None, hooks: list[Hook] | None = None) -> None:
        self.config = config.resolved()
        c = self.config
        self.device = resolve_device(c.device)
        if c.threads is not None:
            torch.set_num_threads(c.threads)  # small nets run faster side by side on one thread each (docs/study.md)
        self.out_dir = Path(out_dir or c.out_dir or "run")
        seed_everything(c.seed)
        self.data = train_data if train_data is not None else load_dataset(c.dataset, "train", c.data_root)
        if c.n_train is not None:
            if c.n_train > len(self.data):  # a subset would silently train on fewer images than the hash says
                raise ConfigError(f"n_train must be at most {len(self.data)} (the training images of {c.dataset} "
                                  f"here), got {c.n_train}.")
            self.data = self.data.subset(c.n_train)
        self.model = build_model(c, self.data.channels).to(self.device)
        self.optimizers = make_optimizers(self.model, c)
        # the recipe's generator weight average (genmodels.training.weight_average): what every sample is drawn from
        self.ema = (GeneratorEMA(self.model.generator, c.ema, c.z_dim).to_device(self.device)
                    if isinstance(self.model, AdversarialModel) and c.ema else None)
        self.stream = BatchStream(self.data, c.batch_size, c.seed, self.device)
        # one fixed noise batch, drawn from its own generator so every run of a config shows the same z
        self.fixed_noise = torch.randn(64, c.z_dim, generator=torch.Generator().manual_seed(c.seed + 1)).to(self.device)
        self.step = 0
        self._history: list[dict[str, float]] = []
        self._pending = PendingLosses()  # steps whose loss terms are still on the device
        self.read_every = READ_EVERY
        self.elapsed = 0.0  # wall-clock seconds of the training steps
        # CPU-seconds of the same steps (every thread of the process): what a CPU run cost, which load on the
        # machine does not stretch as it stretches `elapsed`; None after resuming a checkpoint that lacks it
        self.cpu_elapsed: float | None = 0.0
        self.hooks: list[Hook] = list(hooks or [])
        self.extra_state: dict[str, Any] = {}  # hooks keep resumable state here (best FID, ...)
        self._latent_gmm: tuple[int, LatentGMM] | None = None  # (step fitted at, mixture) under latent_prior gmm

    # ------------------------------------------------------------ the loop
    def fit(self, resume: bool = True) -> list[dict[str, float]]:
        c = self.config
        if resume and (self.out_dir / CHECKPOINT).is_file():
            self.load_checkpoint(self.out_dir / CHECKPOINT)
        total = c.total_steps
        autocast = lambda: _autocast(self.device, c.precision)
        n_critic = c.n_critic or 1
        self.model.train()
        bar = tqdm(total=total, initial=self.step, disable=not c.progress, desc=f"{c.model} d{c.depth} z{c.z_dim}",
                   unit="step", mininterval=1.0, dynamic_ncols=True)
        while self.step < total:
            step_started = time.perf_counter()  # `elapsed` counts training steps only, not hooks or checkpoints
            cpu_started = time.process_time()
            if isinstance(self.model, AdversarialModel):
                terms = adversarial_step(self.model, self.optimizers, self.stream, autocast, n_critic)
            else:
                terms = vae_step(self.model, self.optimizers, self.stream, autocast)
            if self.ema is not None:
                self.ema.update(self.model.generator)
            self.step += 1
            checkpoint_due = bool(c.checkpoint_every) and self.step % c.checkpoint_every == 0 and self.step < total
            self._pending.add({"step": self.step, "images": self.stream.images_seen,
                               "seconds": round(self.elapsed + time.perf_counter() - step_started, 3)}, terms)
            if len(self._pending) >= self.read_every or checkpoint_due:
                self._read_losses()  # the wait for the device counts as training time
                bar.set_postfix({k: f"{v:.3g}" for k, v in self._history[-1].items() if "loss" in k})
            self.elapsed += time.perf_counter() - step_started
            if self.cpu_elapsed is not None:
                self.cpu_elapsed += time.process_time() - cpu_started
            for hook in self.hooks:
                hook.on_step(self)
            if checkpoint_due:
                self.save_checkpoint()
            bar.update(1)
        bar.close()
        self._read_losses()  # a NaN in the last steps stops the run before its hooks draw or score it
        for hook in self.hooks:
            hook.on_end(self)
        self.save_checkpoint()
        self.write_history()
        return self.history

    # ------------------------------------------------------------ history
    @property
    def history(self) -> list[dict[str, float]]:
        """One row per step so far (step, images, seconds and every loss term as a float); asking for it reads
        the pending steps' terms from the device, and raises `TrainingDiverged` if one of them is not finite."""
        self._read_losses()
        return self._history

    @property
    def read_rows(self) -> list[dict[str, float]]:
        """The rows read so far, without reading the pending ones (what a per-step hook can use without making
        every step wait for the device); `history` has every row."""
        return self._history

    def _read_losses(self) -> None:
        self._pending.drain_into(self._history)

    # ------------------------------------------------------------ generation
    def sampler(self) -> nn.Module:
        """What samples are drawn from (``.generate(z)``): the averaged generator where the recipe keeps one, the
        VAE's decoder behind its fitted latent mixture under ``latent_prior: gmm``."""
        if self.ema is not None:
            return Sampler(self.ema.generator())
        gmm = self.latent_gmm()
        return ExPostSampler(self.model, gmm) if gmm is not None else self.model

    def latent_gmm(self) -> LatentGMM | None:
        """The mixture fitted to the training codes at the current step (refitted when the weights moved on).

        It is a pure function of the weights and the training images, so resuming refits the same mixture
        and no training RNG is touched."""
        if self.config.latent_prior != "gmm":
            return None
        if self._latent_gmm is None or self._latent_gmm[0] != self.step:
            self._latent_gmm = (self.step, fit_for(self.model, self.data, self.device, self.config.seed))
        return self._latent_gmm[1]

    @torch.no_grad()
    def samples(self, z: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, C, 32, 32) in [-1, 1] from `z` (default: the fixed noise batch), in eval mode."""
        from genmodels.training.generate import generate

        return generate(self.sampler(), self.fixed_noise if z is None else z.to(self.device))

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "stream": self.stream.state_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "cpu_elapsed": self.cpu_elapsed,
            "history": self.history,
            "fixed_noise": self.fixed_noise.cpu(),
            "extra_state": self.extra_state,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "latent_gmm": state_of(self.latent_gmm()),  # for loading the run; training refits it
            "rng": checkpoint.rng_state(),
        }

    def save_checkpoint(self, path: str | os.PathLike[str] | None = None) -> Path:
        return checkpoint.save(self.state_dict(), path or self.out_dir / CHECKPOINT)

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Continue from a checkpoint of this run's configuration; any fault of it is one `CheckpointError` line."""
        state = checkpoint.read(path, map_location=self.device)
        checkpoint.check_resumable(state, path, self.config)
        try:
            self.model.load_state_dict(state["model"])
            for name, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            if self.ema is not None:
                self.ema.load_state_dict(state["ema"])
            fixed_noise = state["fixed_noise"]
            if tuple(fixed_noise.shape) != tuple(self.fixed_noise.shape):
                raise ValueError(f"fixed_noise of shape {tuple(fixed_noise.shape)}, not "
                                 f"{tuple(self.fixed_noise.shape)}")
            self.stream.load_state_dict({k: v.to(self.device) if k == "order" else v
                                         for k, v in state["stream"].items()})
            checkpoint.restore_rng(state["rng"])
        except (KeyError, RuntimeError, ValueError, TypeError, AttributeError, IndexError) as err:
            raise CheckpointError(f"{path} does not hold this run's state ({first_sentence(err)}); "
                                  f"{checkpoint.START_OVER}") from None
        self.step, self.elapsed, self._history = state["step"], state["elapsed"], state["history"]
        self.cpu_elapsed = state.get("cpu_elapsed")  # a checkpoint of an earlier version: the CPU time is unknown
        self._pending.clear()
        self.fixed_noise = fixed_noise.to(self.device, self.fixed_noise.dtype)  # float64 noise would not run the model
        self.extra_state = state.get("extra_state", {})

    def write_history(self, path: str | os.PathLike[str] | None = None) -> Path:
        columns: list[str] = []
        for row in self.history:
            columns += [k for k in row if k not in columns]

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(self.history)

        return write_atomic(Path(path or self.out_dir / HISTORY), write)


def train(config: RunConfig, out_dir: str | os.PathLike[str] | None = None, resume: bool = True,
          train_data: ImageSet | None = None, hooks: list[Hook] | None = None) -> Trainer:
    """Train a config into `out_dir` (checkpoint, history.csv, samples/), resuming when a checkpoint exists."""
    trainer = make_trainer(config, out_dir, train_data, hooks)
    trainer.fit(resume=resume)
    return trainer


def make_trainer(config: RunConfig, out_dir: str | os.PathLike[str] | None = None,
                 train_data: ImageSet | None = None, hooks: list[Hook] | None = None) -> Trainer:
    """A `Trainer` with the hooks every run has: its sample grids first, and with ``log="tensorboard"`` a
    `TensorBoardHook` last, so it sees what the other hooks measured. Nothing is written yet, so a caller can load
    and check a checkpoint into it before it touches the run folder."""
    all_hooks: list[Hook] = [SampleGrids(config.sample_every), *(hooks or [])]
    if config.log == "tensorboard":
        from genmodels.training.tensorboard_log import TensorBoardHook

        all_hooks.append(TensorBoardHook())  # a missing tensorboard package fails here, before training
    return Trainer(config, out_dir, train_data, hooks=all_hooks)
