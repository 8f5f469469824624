"""Training: one step function per optimisation scheme, one loop, hooks for everything periodic.

VAE: a single optimizer over the whole model (seed Algorithm 1). GAN and WGAN: two optimizers,
`n_critic` critic steps on fresh real batches, then one generator step (seed Algorithm 2; WGAN
Algorithm 1 of Arjovsky et al.). Checkpoints hold everything a step depends on (weights, optimizer
moments, data order, every RNG), so a resumed run on CPU continues bit-for-bit as an uninterrupted one.
"""

from __future__ import annotations

import csv
import os
import random
import time
import warnings
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
from genmodels.training.hooks import Hook, SampleGrids


START_OVER = "delete it (or its whole run folder) to start that run over, or choose another --out"


class CheckpointError(ConfigError):
    """A checkpoint cannot be read as plain data (damaged, foreign, or holding code); the message names the file."""


def read_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """A checkpoint's contents, loaded with ``weights_only=True``: tensors and plain Python types only, so a
    crafted file cannot run code. Anything else is refused with one line naming the file.

    torch's own warnings are silenced while it reads: a damaged file can start with bytes that look like an
    unknown pickle protocol, and torch warns about that before failing, which would put a second line (its
    source path and all) above the one-line error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # unpickling errors come in many types
        raise CheckpointError(f"{path} is damaged or not a checkpoint that can be read as plain data "
                              f"({_first_sentence(err)}); {START_OVER}") from None
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{path} is not a genmodels checkpoint; {START_OVER}")
    return state


def _first_sentence(err: BaseException, limit: int = 100) -> str:
    """An exception as "Type: first sentence", short: torch's loader errors run to several lines of advice."""
    text = (str(err).splitlines() or [""])[0].split(". ")[0].rstrip(".")[:limit]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def checkpoint_config(state: dict[str, Any], path: str | os.PathLike[str]) -> RunConfig:
    """The config a checkpoint was trained with; a missing or invalid one is a damaged checkpoint, named as such."""
    try:
        return RunConfig.from_dict(state["config"])
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise CheckpointError(f"{path} holds no valid run config ({_first_sentence(err)}); {START_OVER}") from None


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
        self.elapsed = 0.0
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
            "history": self.history,
            "fixed_noise": self.fixed_noise.cpu(),
            "extra_state": self.extra_state,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "latent_gmm": state_of(self.latent_gmm()),  # for loading the run; training refits it
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "numpy": _numpy_state_to_plain(np.random.get_state()),
                "python": random.getstate(),
            },
        }

    def save_checkpoint(self, path: str | os.PathLike[str] | None = None) -> Path:
        state = self.state_dict()  # atomic: an interrupted save leaves the previous checkpoint intact
        return write_atomic(Path(path or self.out_dir / CHECKPOINT), lambda tmp: _torch_save(state, tmp))

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        state = read_checkpoint(path, map_location=self.device)
        saved = checkpoint_config(state, path)
        if model_identity(saved) != model_identity(self.config):
            raise ValueError(f"checkpoint {path} belongs to a different config ({saved.run_name()}); "
                             "use another out_dir or delete it")
        try:
            self.model.load_state_dict(state["model"])
            for name, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
        except (KeyError, RuntimeError, ValueError) as err:  # a dict with "step" that is no checkpoint of ours
            raise CheckpointError(f"{path} does not hold this run's weights ({_first_sentence(err)}); "
                                  f"{START_OVER}") from None
        self.stream.load_state_dict({k: v.to(self.device) if k == "order" else v for k, v in state["stream"].items()})
        self.step, self.elapsed, self._history = state["step"], state["elapsed"], state["history"]
        self._pending.clear()
        self.fixed_noise = state["fixed_noise"].to(self.device)
        self.extra_state = state.get("extra_state", {})
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"].cpu())
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        np.random.set_state(_numpy_state_from_plain(rng["numpy"]))
        random.setstate(_python_state_from_plain(rng["python"]))

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


def _torch_save(obj: Any, path: Path) -> None:
    """torch.save through a file we open and close: given a path, torch's writer keeps the file open after a
    failed write (a full disk) for as long as the exception's frames live, so its space is not freed."""
    with open(path, "wb") as f:
        torch.save(obj, f)


def _numpy_state_to_plain(state: tuple[Any, ...]) -> dict[str, Any]:
    """numpy's legacy RNG state as a tensor and plain numbers (loadable with weights_only=True)."""
    name, keys, pos, has_gauss, cached = state
    return {"name": str(name), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def _numpy_state_from_plain(state: dict[str, Any]) -> tuple[Any, ...]:
    keys = state["keys"].cpu().numpy().astype(np.uint32)
    return (state["name"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"])


def _python_state_from_plain(state: Any) -> tuple[Any, ...]:
    version, internal, gauss = state  # lists after a round trip through some loaders; random wants tuples
    return (version, tuple(internal), gauss)


def model_identity(config: RunConfig) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed: everything but the budget and evaluation knobs."""
    budget = ("steps", "images", "metrics_every", "metric_samples")
    return {k: v for k, v in config.identity().items() if k not in budget}


def train(config: RunConfig, out_dir: str | os.PathLike[str] | None = None, resume: bool = True,
          train_data: ImageSet | None = None, hooks: list[Hook] | None = None) -> Trainer:
    """Train a config into `out_dir` (checkpoint, history.csv, samples/), resuming when a checkpoint exists.
    With ``log="tensorboard"`` a `TensorBoardHook` runs last, so it sees what the other hooks measured."""
    all_hooks: list[Hook] = [SampleGrids(config.sample_every), *(hooks or [])]
    if config.log == "tensorboard":
        from genmodels.training.tensorboard_log import TensorBoardHook

        all_hooks.append(TensorBoardHook())  # a missing tensorboard package fails here, before training
    trainer = Trainer(config, out_dir, train_data, hooks=all_hooks)
    trainer.fit(resume=resume)
    return trainer
