"""The checkpoint file format: what a checkpoint holds, how it is written, and how it is read back and checked.

A checkpoint is data written by some version of this project, possibly damaged, possibly not ours at all, so it
is read as data: ``weights_only=True`` (tensors and plain Python types; a crafted pickle cannot run code), then
every key a reader needs is checked before it is used, the step is a count (never negative), and the weights are
finite floating point numbers. Every fault is a `CheckpointError` (a `ConfigError`: one line in the CLI) naming the
file and, where one is missing, the key.

Everything a training step depends on is in it (weights, optimizer moments, data order, every RNG), so a resumed
run on CPU continues bit-for-bit as an uninterrupted one. The RNG states are kept as tensors and plain numbers,
which ``weights_only`` loading accepts.
"""

from __future__ import annotations

import math
import os
import random
import warnings
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from genmodels.core.config import ConfigError, RunConfig
from genmodels.core import safe_read
from genmodels.core import store
from genmodels.core.store import WEIGHT_KEYS, write_atomic

START_OVER = "delete it (or its whole run folder) to start that run over, or choose another --out"

# what resuming training needs besides the weights (`WEIGHT_KEYS`, which the store's run-folder check owns)
RESUME_KEYS = (*WEIGHT_KEYS, "optimizers", "stream", "elapsed", "history", "fixed_noise", "rng")
# the configuration fields a checkpoint must agree on to be resumed or loaded: all but the budget and evaluation
BUDGET_FIELDS = ("steps", "images", "metrics_every", "metric_samples")


class CheckpointError(ConfigError):
    """A checkpoint cannot be used: damaged, foreign, holding code, missing a key, of another configuration, or
    holding weights that are not numbers. The message is one line naming the file."""


# ---------------------------------------------------------------------------------------------- writing
def save(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write `state` atomically: an interrupted or failed save leaves the previous checkpoint intact.

    torch.save goes through a file opened and closed here: given a path, torch's writer keeps the file open after
    a failed write (a full disk) for as long as the exception's frames live, so its space would not be freed."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            torch.save(state, f)

    return write_atomic(Path(path), write)


def rng_state() -> dict[str, Any]:
    """Every RNG a training step draws from, as tensors and plain numbers."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"name": str(name), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": random.getstate(),
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Set every RNG back to what `rng_state` recorded."""
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    numpy = state["numpy"]
    np.random.set_state((numpy["name"], numpy["keys"].cpu().numpy().astype(np.uint32), numpy["pos"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    version, internal, gauss = state["python"]  # lists after a round trip through some loaders; random wants tuples
    random.setstate((version, tuple(internal), gauss))


# ---------------------------------------------------------------------------------------------- reading
def read(path: str | os.PathLike[str], map_location: Any = "cpu",
         inside: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A checkpoint's contents, loaded with ``weights_only=True``: tensors and plain Python types only, so a
    crafted file cannot run code. Anything else is refused with one line naming the file; the step is checked.

    torch's own warnings are silenced while it reads: a damaged file can start with bytes that look like an
    unknown pickle protocol, and torch warns about that before failing, which would put a second line (its
    source path and all) above the one-line error. `inside`: the run folder the checkpoint belongs to, which a
    link may not lead out of."""
    try:  # a FIFO would block torch.load forever
        safe_read.check_regular(path, safe_read.CHECKPOINT_LIMIT, inside=inside)
    except OSError as err:  # UnsafeFile, a link loop, a dangling link
        raise CheckpointError(f"{path}: {err.strerror or err}; {START_OVER}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # unpickling errors come in many types
        raise CheckpointError(f"{path} is damaged or not a checkpoint that can be read as plain data "
                              f"({first_sentence(err)}); {START_OVER}") from None
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{path} is not a genmodels checkpoint; {START_OVER}")
    step = state["step"]
    if isinstance(step, torch.Tensor) and step.numel() == 1 and not step.is_floating_point():
        step = state["step"] = int(step)
    if store.step_problem(step) is not None:
        raise CheckpointError(f"{path} {store.step_problem(step)}; {START_OVER}")
    return state


def require(state: dict[str, Any], path: str | os.PathLike[str], keys: Iterable[str], use: str) -> None:
    """Every key in `keys` is in the checkpoint; else one line naming the missing keys and what needed them
    (`use`: "to resume training", "to load its weights")."""
    missing = [key for key in keys if key not in state]
    if missing:
        raise CheckpointError(f"{path} is not a genmodels checkpoint that can be used {use}: it has no "
                              f"{' and no '.join(map(repr, missing))}; {START_OVER}")


def resume_keys(config: RunConfig) -> tuple[str, ...]:
    """What resuming a run of `config` reads from its checkpoint: the weight average too where the run keeps one."""
    return (*RESUME_KEYS, *(("ema",) if config.resolved().ema else ()))


def check_resumable(state: dict[str, Any], path: str | os.PathLike[str], config: RunConfig) -> None:
    """Everything `Trainer.load_checkpoint` needs is there and sound: checked before a run touches its folder."""
    check_belongs(state, path, config, "this run")
    require(state, path, resume_keys(config), "to resume training")
    check_finite(state, path)
    wrong = resume_problem(state)
    if wrong is not None:
        raise CheckpointError(f"{path} {wrong}; {START_OVER}")


def resume_problem(state: dict[str, Any]) -> str | None:
    """What in a checkpoint's training bookkeeping no run writes (a history that is not a list of rows, an elapsed
    wall-clock or CPU time that is not a finite count of seconds, a `fixed_noise` that is not finite float latents),
    or None: `Trainer.load_checkpoint` checks the weights, optimizer moments, data order and RNGs as it loads them,
    and the noise's shape; these it would take as they are (NaN noise draws every later sample grid blank)."""
    history = state["history"]
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        return "holds a 'history' that is not a list of rows"
    for key in ("elapsed", "cpu_elapsed"):  # cpu_elapsed: None in a checkpoint of an earlier version
        seconds = state.get(key)
        if key == "cpu_elapsed" and seconds is None:
            continue
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < math.inf:
            return f"holds {key!r} {seconds!r}, not a number of seconds >= 0"
    noise = state["fixed_noise"]
    if not isinstance(noise, torch.Tensor) or not noise.is_floating_point():
        got = f"a {noise.dtype} tensor" if isinstance(noise, torch.Tensor) else f"a {type(noise).__name__}"
        return f"holds a 'fixed_noise' that is {got}, not a float tensor of latents"
    if not bool(torch.isfinite(noise).all()):
        kind = "NaN" if bool(torch.isnan(noise).any()) else "infinite values"
        return f"holds a 'fixed_noise' of {kind}, not finite latents"
    return None


def config_of(state: dict[str, Any], path: str | os.PathLike[str]) -> RunConfig:
    """The config a checkpoint was trained with; a missing or invalid one is a damaged checkpoint, named as such."""
    try:
        return RunConfig.from_dict(state["config"])
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise CheckpointError(f"{path} holds no valid run config ({first_sentence(err)}); {START_OVER}") from None


def model_identity(config: RunConfig) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed: everything but the budget and evaluation knobs."""
    return {k: v for k, v in config.identity().items() if k not in BUDGET_FIELDS}


def check_belongs(state: dict[str, Any], path: str | os.PathLike[str], config: RunConfig, where: str) -> RunConfig:
    """The checkpoint's config, when it is of `config`'s model (`model_identity`); else one line naming both.
    `where` says what the checkpoint was compared with ("this run", "the config.json beside it")."""
    saved = config_of(state, path)
    if model_identity(saved) != model_identity(config):
        raise CheckpointError(f"{path} belongs to another configuration ({saved.run_name()}) than {where} "
                              f"({config.run_name()}); choose another output folder or delete that one")
    return saved


def check_finite(state: dict[str, Any], path: str | os.PathLike[str], keys: Iterable[str] = ("model", "ema")) -> None:
    """The weights under `keys` are floating point (`store.weight_types_problem`; torch would silently cast integer
    ones into the model) and finite numbers (`store.nonfinite_problem`): a checkpoint of NaN weights would draw only
    NaN images, and resuming it would train nothing."""
    wrong = store.weight_types_problem(state, tuple(keys))
    if wrong is not None:
        raise CheckpointError(f"{path} {wrong}: no genmodels run saves such weights; {START_OVER}")
    wrong = store.nonfinite_problem(state, tuple(keys))
    if wrong is not None:
        raise CheckpointError(f"{path} {wrong}: the run it saved had diverged; {START_OVER}")


def first_sentence(err: BaseException, limit: int = 100) -> str:
    """An exception as "Type: first sentence", short: torch's loader errors run to several lines of advice."""
    text = (str(err).splitlines() or [""])[0].split(". ")[0].rstrip(".")[:limit]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


__all__ = ["CheckpointError", "START_OVER", "WEIGHT_KEYS", "RESUME_KEYS", "save", "rng_state", "restore_rng", "read",
           "require", "resume_keys", "check_resumable", "config_of", "model_identity", "check_belongs", "check_finite", "first_sentence"]
