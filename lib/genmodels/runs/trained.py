"""A finished (or checkpointed) run, loaded back for use: its config, metrics and trained model, and what a
user does with a generative model — draw samples, interpolate between latents, reconstruct (VAE).

A run folder is data written by some version of this project, possibly an older one, possibly damaged or
not a run folder at all. Loading it never runs code (checkpoints are read with ``weights_only=True`` by
`genmodels.training.checkpoint`) and every way it can fail is a `RunError` or a `CheckpointError` (both
`ConfigError`s, so the CLI prints them as one line) naming the file at fault.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from genmodels.core import safe_read, store
from genmodels.core.config import ConfigError, RunConfig, check_sample_count, check_seed
from genmodels.core.registry import model_spec

CHECKPOINTS = ("final", "best")  # which weights: the last step's, or the best by FID (best.pt) where there is one
SAMPLE_FORMATS = (".png", ".pt", ".npz")  # what `write_samples` writes, chosen by the file's suffix


class RunError(ConfigError):
    """A folder cannot be used as a trained run (not a run, another version's, a damaged or foreign checkpoint),
    or a request of the run is invalid; the message is one line naming the file or the argument."""


def load_config(run_dir: str | os.PathLike[str]) -> RunConfig:
    """The resolved config a run folder was trained with (its ``config.json``)."""
    path = Path(run_dir) / store.CONFIG
    if not Path(run_dir).is_dir():
        raise RunError(f"{run_dir} is not a folder; pass a run folder (one holding {store.CONFIG} and "
                       f"{store.CHECKPOINT})")
    values = store.read_json(path)
    if not isinstance(values, dict):
        state = "is missing" if not path.exists() else "is not a JSON object"
        raise RunError(f"{path} {state}; {run_dir} is not a run folder (train one with `python -m genmodels train`)")
    values = dict(values)
    values.pop("config_hash", None)
    try:
        return RunConfig.from_dict(values)
    except (ConfigError, TypeError) as err:
        raise RunError(f"{path} was written by another version of genmodels and cannot be read by this one: "
                       f"{err}") from None


@dataclass
class TrainedRun:
    """A run folder's trained model, ready to sample from. Made by `load_run`."""

    run_dir: Path
    config: RunConfig  # resolved: every model default filled in
    metrics: dict[str, Any]  # metrics.json ({} for a run that has not finished)
    model: nn.Module  # eval mode; a GAN's generator is its weight average where the run kept one, a VAE under
    # latent_prior gmm samples through its fitted mixture (genmodels.training.latent_density.ExPostSampler)
    device: torch.device
    checkpoint: Path  # the file the weights came from
    step: int  # the training step of those weights
    averaged: bool = False  # whether the generator is the weight average (EMA) rather than the raw weights
    notes: list[str] = field(default_factory=list)  # what to know about the weights (best asked for, none kept)

    @property
    def is_vae(self) -> bool:
        return model_spec(self.config.model).reconstructs

    def sample(self, n: int = 64, seed: int = 0) -> torch.Tensor:
        """`n` images (n, C, 32, 32) on the CPU in [-1, 1] from z ~ N(0, I); the same seed gives the same images."""
        from genmodels.training.generate import sample

        check_count("n", n)
        check_seed(seed)
        return sample(self.model, n, self.config.z_dim, seed=seed, device=self.device).cpu()

    def interpolate(self, steps: int = 10, seed: int = 0, rows: int = 1, z0: torch.Tensor | None = None,
                    z1: torch.Tensor | None = None) -> torch.Tensor:
        """Images (rows * steps, C, 32, 32) along spherical paths between latents: `rows` random pairs drawn
        with `seed`, or the one path from `z0` to `z1` (each (z_dim,) or (1, z_dim)) when both are given."""
        from genmodels.training.generate import interpolation_grid, interpolation_path

        check_count("steps", steps)
        if (z0 is None) != (z1 is None):
            raise RunError("interpolate needs both z0 and z1, or neither (then random pairs are drawn with seed)")
        if z0 is not None and z1 is not None:
            for name, z in (("z0", z0), ("z1", z1)):
                if z.numel() != self.config.z_dim:
                    raise RunError(f"{name} has {z.numel()} values; this run's latent has z_dim={self.config.z_dim}")
            return interpolation_path(self.model, z0.float(), z1.float(), steps).cpu()
        check_count("rows", rows)
        check_seed(seed)
        check_sample_count("rows * steps", rows * steps)
        return interpolation_grid(self.model, self.config.z_dim, rows=rows, steps=steps, seed=seed,
                                  device=self.device).cpu()

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The VAE's reconstruction (decoded posterior mean) of images `x` in [-1, 1], (B, C, 32, 32) or (C, 32, 32).
        A GAN has no encoder, so it cannot reconstruct: that is a `RunError` saying so; so are pixels that are NaN,
        infinite or outside [-1, 1] (`pixel_problem`)."""
        if not self.is_vae:
            raise RunError(f"reconstruct needs a VAE, but {self.run_dir} is a {self.config.model} run: a GAN has "
                           "no encoder (use sample or interpolate)")
        from genmodels.models.blocks import IMAGE_SIZE

        shape = (self.model.image_channels, IMAGE_SIZE, IMAGE_SIZE)
        needs = f"images of shape (B, {', '.join(map(str, shape))}) or ({', '.join(map(str, shape))}) in [-1, 1]"
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            got = f"a {x.dtype} tensor" if isinstance(x, torch.Tensor) else f"a {type(x).__name__}"
            raise RunError(f"reconstruct takes a float tensor of {needs}, got {got}")
        single = x.dim() == 3
        batch = x.unsqueeze(0) if single else x
        if batch.dim() != 4 or tuple(batch.shape[1:]) != shape:
            raise RunError(f"reconstruct takes {needs}, got shape {tuple(x.shape)}")
        check_sample_count("reconstruct's batch", len(batch))  # the same bound as generating: held at once
        wrong = pixel_problem(batch)
        if wrong is not None:
            raise RunError(f"reconstruct takes {needs}, got {wrong}")
        out = self.model.reconstruct(batch.float().to(self.device)).cpu()
        return out[0] if single else out

    def __repr__(self) -> str:
        c = self.config
        return (f"TrainedRun({self.run_dir}: {c.model} on {c.dataset}, depth {c.depth}, z_dim {c.z_dim}; "
                f"{self.checkpoint.name} at step {self.step}{', averaged generator' if self.averaged else ''})")


def load_run(run_dir: str | os.PathLike[str], checkpoint: str = "final",
             device: str | torch.device = "cpu") -> TrainedRun:
    """Load a run folder's trained model (eval mode) with its config and metrics.

    checkpoint: "final" (``checkpoint.pt``, the weights the run's figures and metrics describe) or "best"
    (``best.pt``, the best by FID during training, where the run measured quality while training; otherwise
    the final weights, and `TrainedRun.notes` says so). Where the run kept a generator weight average (the
    tuned recipe's GANs), the model's generator is that average: it is what the run's samples and metrics
    came from. device: "cpu" (default), "cuda", or "auto" (CUDA when present).
    """
    if checkpoint not in CHECKPOINTS:
        raise RunError(f"checkpoint must be one of {', '.join(CHECKPOINTS)}; got {checkpoint!r}")
    run_dir = Path(run_dir)
    state = store.run_state(run_dir)  # what `results` and a sweep say about the folder, said here too
    if state.status is store.Status.DAMAGED:
        raise RunError(f"{run_dir} is damaged: {state.reason}; {store.REPAIR}")
    config = load_config(run_dir)
    notes: list[str] = []
    path = run_dir / (store.BEST if checkpoint == "best" else store.CHECKPOINT)
    if checkpoint == "best" and not path.is_file():
        notes.append(f"no {store.BEST} in {run_dir} (quality was not measured during training): the final "
                     "weights are loaded")
        path = run_dir / store.CHECKPOINT
    try:
        safe_read.check_regular(path, safe_read.CHECKPOINT_LIMIT, inside=run_dir)
    except FileNotFoundError:
        raise RunError(f"{path} is missing: the run has not saved a checkpoint yet (still running, or stopped "
                       "before its first), so there is no trained model to load") from None
    except OSError as err:
        raise RunError(f"{path} cannot be loaded: {err}") from None
    device = _device(device)
    model, step, averaged, weight_notes = _model_from_checkpoint(config, path, device)
    notes += weight_notes
    metrics = store.read_json(run_dir / store.METRICS)
    return TrainedRun(run_dir, config, metrics if isinstance(metrics, dict) else {}, model, device, path, step,
                      averaged, notes)


def _model_from_checkpoint(config: RunConfig, path: Path, device: torch.device
                           ) -> tuple[nn.Module, int, bool, list[str]]:
    """The model `config` describes with the checkpoint's weights, the averaged generator swapped in where the run
    kept one; with the notes a user should read (a run that kept an average whose checkpoint lacks it)."""
    from genmodels.models import AdversarialModel, build_model
    from genmodels.training import checkpoint
    from genmodels.training.checkpoint import CheckpointError

    state = checkpoint.read(path, map_location=device)
    checkpoint.require(state, path, checkpoint.WEIGHT_KEYS, "to load its weights")
    if not isinstance(state["model"], dict):
        raise CheckpointError(f"{path} is not a genmodels checkpoint (its 'model' holds no weights)")
    checkpoint.check_belongs(state, path, config, f"the {store.CONFIG} beside it")
    checkpoint.check_finite(state, path)
    model = build_model(config).to(device)
    averaged = bool(state.get("ema"))
    notes = []
    if isinstance(model, AdversarialModel) and config.ema and not averaged:
        notes.append(f"{path} holds no weight average ('ema'), though this run kept one: sampling from the raw "
                     "generator, not the average its samples and metrics came from")
    try:
        model.load_state_dict(state["model"])
        if averaged:  # the tuned recipe's averaged generator is what the run's samples and metrics used
            from genmodels.training.weight_average import GeneratorEMA

            ema = GeneratorEMA(model.generator, config.ema or 0.999, config.z_dim).to_device(device)
            ema.load_state_dict(state["ema"])
            model.generator = ema.generator()
        if config.latent_prior == "gmm":  # the VAE samples through the mixture fitted to its training codes
            from genmodels.training.latent_density import ExPostSampler, LatentGMM

            model = ExPostSampler(model, LatentGMM.from_state(state["latent_gmm"]).to(device))
    except (RuntimeError, KeyError, AttributeError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path} does not hold weights of the model its {store.CONFIG} describes "
                              f"({checkpoint.first_sentence(err, 200)})") from None
    return model.eval(), state["step"], averaged, notes


def _device(device: str | torch.device) -> torch.device:
    """A torch device from "cpu", "cuda", "cuda:N" or "auto"; anything else, or CUDA where there is none, is a
    `RunError` rather than torch's own multi-line error."""
    from genmodels.training.loop import resolve_device

    if isinstance(device, torch.device):
        return device
    try:
        resolved = resolve_device(device)
    except RuntimeError:
        raise RunError(f"device must be cpu, cuda, cuda:N or auto; got {device!r}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RunError(f"device {device!r} was asked for but no CUDA device is available; use cpu or auto")
    return resolved


# how far past [-1, 1] a pixel may lie: float rounding of scaled images, never another scale such as [0, 1]
PIXEL_TOLERANCE = 1e-3


def pixel_problem(images: torch.Tensor) -> str | None:
    """What makes float images not pixels in [-1, 1] ("NaN", "infinite values", "values in [0, 255]"), or None.

    The model computes on any numbers it is given: images in [0, 255] or [0, 1] (another scale) or NaN would come
    back as plausible-looking reconstructions of something else, so they are refused, saying which."""
    if images.numel() == 0:
        return None
    if bool(torch.isnan(images).any()):
        return "NaN"
    if not bool(torch.isfinite(images).all()):
        return "infinite values"
    low, high = float(images.min()), float(images.max())
    if low < -1 - PIXEL_TOLERANCE or high > 1 + PIXEL_TOLERANCE:
        return (f"values in [{low:g}, {high:g}] (scale them to [-1, 1]: uint8 pixels p as p / 127.5 - 1, "
                "which genmodels.data.to_float does)")
    return None


def check_count(name: str, value: Any) -> None:
    """A number of images to generate: at least 1, at most what fits at once (`config.MAX_SAMPLES`)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RunError(f"{name} must be an integer >= 1, got {value!r}")
    check_sample_count(name, value)


# ------------------------------------------------------------------ writing samples
def check_sample_path(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """`path` if `write_samples` may write it, else a one-line error: checked before a model is loaded, so a typo
    costs nothing. It must end in a known suffix, name a file (not a folder), lie outside every run folder (samples
    written there would replace or sit among a run's files; links are followed to where it lands), and be new unless
    `overwrite` (a dangling link is not new: it is the user's)."""
    from genmodels.core.files import check_new_file
    from genmodels.runs.run import enclosing_run

    path = Path(path).expanduser()
    if path.suffix.lower() not in SAMPLE_FORMATS:
        raise RunError(f"--out {path}: the file name must end in {', '.join(SAMPLE_FORMATS)} (an image grid, a "
                       "torch tensor, or a numpy array)")
    try:
        folder = path.is_dir()
    except OSError as err:  # a name too long for the file system
        raise RunError(f"--out {path}: {err.strerror or err}") from None
    if folder:
        raise RunError(f"--out {path} is a folder; name a file in it (e.g. {path / ('samples' + path.suffix)})")
    try:  # a link on the way (a folder linked to a run's samples/) leads where the file lands
        landing = path.parent.resolve() / path.name
    except (OSError, RuntimeError) as err:  # a link loop
        raise RunError(f"--out {path}: its folder cannot be resolved ({err})") from None
    inside = enclosing_run(landing)
    if inside is not None:
        raise RunError(f"--out {path} is inside the run folder {inside}; write samples outside it")
    check_new_file(path, "--out", overwrite)
    return path


def write_samples(images: torch.Tensor, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write images (n, C, H, W) in [-1, 1] by `path`'s suffix: ``.png`` a square-ish grid, ``.pt`` the tensor
    (torch.save), ``.npz`` a numpy array named ``samples``. Written atomically (`store.write_atomic`); an existing
    file is replaced only with `overwrite`, and never inside a run folder (`check_sample_path`)."""
    path = check_sample_path(path, overwrite)
    suffix = path.suffix.lower()
    images = images.detach().cpu()
    if suffix == ".png":
        from torchvision.utils import save_image

        nrow = max(1, int(np.ceil(np.sqrt(len(images)))))
        return store.write_atomic(path, lambda tmp: save_image(images, tmp, format="png", nrow=nrow, normalize=True,
                                                               value_range=(-1, 1), padding=2, pad_value=1.0))
    if suffix == ".pt":
        return store.write_atomic(path, lambda tmp: torch.save(images.contiguous(), tmp))

    def write_npz(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to the temporary name
            np.savez(f, samples=images.numpy())

    return store.write_atomic(path, write_npz)


__all__ = ["TrainedRun", "RunError", "load_run", "load_config", "write_samples", "check_sample_path", "check_count", "CHECKPOINTS",
           "SAMPLE_FORMATS", "PIXEL_TOLERANCE", "pixel_problem"]
