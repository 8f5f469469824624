"""One flat, validated dataclass holds every knob of a run.

It maps 1:1 onto the `parameters` cell of `notebooks/train.ipynb` and onto an entry of a sweep YAML.
Model-specific fields default to ``None`` ("the model's literature default"); `resolved()` fills them in,
so a hash of the resolved config identifies a run, and a knob that does not belong to the chosen model
(a Lipschitz method on a VAE, say) is an error instead of being silently ignored.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import math
import re
import typing
from dataclasses import dataclass, fields
from typing import Any, Callable, Collection, Mapping

from genmodels.core import registry
from genmodels.core.recipes import RECIPES, TUNED

# the registered names (genmodels.core.registry), live: a model or data set registered later is valid at once
MODELS = registry.MODELS.keys()
DATASETS = registry.DATASETS.keys()
PRECISIONS = ("fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")  # or "cuda:N", one GPU of several
DEPTHS = range(1, 6)  # layers per module: every stride-2 layer halves 32x32, so depth 5 reaches a 1x1 map
# what the critic sees through (genmodels.models.augment): DiffAugment transforms, or instance noise
AUGMENTS = ("none", "translation", "cutout", "translation,cutout", "noise")
LATENT_PRIORS = ("standard", "gmm")  # where a VAE's sampled latents come from (genmodels.training.latent_density)
LOGS = ("none", "tensorboard")  # where training also logs, besides history.csv and samples/ (genmodels.training.tensorboard_log)

# Fields that say where or how a run executes, not what it computes: they are left out of the run's hash.
NON_IDENTITY_FIELDS = ("out_dir", "data_root", "device", "threads", "sample_every", "checkpoint_every", "progress",
                       "log")

# numpy's legacy seeding (np.random.seed in genmodels.training.loop.seed_everything) takes seeds in [0, 2**32 - 1]
MAX_SEED = 2**32 - 1
# Batch norm (in every generator and most critics) normalises over the batch: one image has no spread.
MIN_BATCH_SIZE = 2
# The smallest metric_samples the quality metrics can score meaningfully: precision/recall (prdc, k = 3) need
# k + 2 = 5 points, and the Inception Score's 10 splits need 2 images each -- with one image per split the score
# is exactly 1 whatever the model (measured: 10 samples score IS 1.00 on real test images, 20 score 2.0).
MIN_METRIC_SAMPLES = 20
# The most torch threads a run may ask for (its `threads` field, a sweep's --threads).
MAX_THREADS = 1024
# The most images generated at once, for quality metrics (metric_samples) or by `sample --n`: they are held in
# memory as floats with their classifier features (50,000 RGB images are 0.6 GB), and 50,000 is already the
# sample count FID is customarily reported at (Heusel et al. 2017; Brock et al. 2019). A size beyond it is
# refused before anything trains or loads, not found out while allocating after an hour of training.
MAX_SAMPLES = 50_000
# The largest model allowed, in parameters: training keeps four fp32 copies (weights, gradients, two Adam
# moments), 32 GB at this size before activations. The largest real configuration, width 512 at depth 5, has
# 1.04 billion parameters (GAN/WGAN; VAE 0.64 billion); sizes beyond this fail in the allocator, after start-up.
MAX_PARAMETERS = 2_000_000_000
# Up to these sizes every model has fewer parameters than that (1.05 billion at most: parameters only grow with
# each size, and tests/cli/test_train_inputs.py counts the corner), so validation counts parameters only beyond them.
SAFE_SIZES = {"width": 512, "z_dim": 1024, "h_dim": 512}

class ConfigError(ValueError):
    """A config value is invalid; the message is one sentence naming the field and what is allowed."""


def _known_fields_only(cls: type) -> type:
    """`cls(**values)` with a field it lacks raises `ConfigError` naming the field with a did-you-mean, as a sweep
    file or config.json does (`check_known_fields`), not the dataclass's TypeError "unexpected keyword argument"."""
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **values: Any) -> None:
        check_known_fields(values)
        init(self, *args, **values)

    cls.__init__ = __init__  # type: ignore[misc]
    return cls


@_known_fields_only
@dataclass
class RunConfig:
    """Everything that defines a training run. ``None`` means "the model's default under the recipe" (see
    `resolved`): the model's `registry.ModelSpec` states each value, so no comment here repeats one."""

    model: str = "vae"
    dataset: str = "mnist"
    depth: int = 3  # layers per module (encoder/decoder, generator/discriminator), 1..5
    z_dim: int = 100
    width: int = 64  # channels of the first conv layer; doubles per layer up to 8x
    # VAE (seed Module 1); the values each model-specific field takes are its spec's `rules`
    kl_factor: float | None = None
    h_dim: int | None = None
    # LSGAN (seed Module 2): the discriminator's output
    d_output: str | None = None
    # WGAN (seed Module 3): the Lipschitz constraint and its knobs
    lipschitz: str | None = None
    clip_value: float | None = None
    gp_weight: float | None = None
    n_critic: int | None = None  # LSGAN or WGAN: critic steps per generator step
    # optimisation
    lr: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    batch_size: int | None = None
    steps: int = 2000  # generator (or VAE) optimizer steps
    images: int | None = None  # alternative budget: real images seen; overrides `steps`
    seed: int = 0  # the random seed of weights, noise and data order (not the seed-faithful recipe)
    n_train: int | None = None  # use only the first n training images (tests, quick runs)
    precision: str = "fp32"
    # training recipe (genmodels.core.recipes): "tuned" (the project's best) or "seed" (the seed-faithful loop);
    # its ingredients: generator weight averaging and discriminator augmentation
    recipe: str = TUNED
    ema: float | None = None  # decay of the generator's exponential moving average (0 = off)
    augment: str | None = None  # DiffAugment policy or instance noise (`AUGMENTS`)
    # VAE sampling: "standard" decodes z ~ N(0, I); "gmm" a mixture fitted to the training codes (ex-post density)
    latent_prior: str | None = None
    # where and how it runs (not part of the run's identity)
    device: str = "auto"
    threads: int | None = None  # torch CPU threads of this run (sweeps running runs side by side pin it to 1)
    sample_every: int = 200
    checkpoint_every: int = 500
    data_root: str | None = None
    out_dir: str | None = None
    progress: bool = True
    log: str = "none"  # "tensorboard": also write loss terms, quality and sample grids to <out_dir>/tensorboard/
    # filled by the metrics integration: evaluate quality every N steps (0 = only at the end)
    metrics_every: int = 0
    metric_samples: int = 2000  # generated samples per quality evaluation; 0 turns quality metrics off

    def __post_init__(self) -> None:
        self.validate()

    # ---------------------------------------------------------------- validation
    def validate(self) -> None:
        _choice("model", self.model, MODELS)
        _choice("dataset", self.dataset, DATASETS)
        _int_range("depth", self.depth, DEPTHS[0], DEPTHS[-1])
        _int_range("z_dim", self.z_dim, 1)
        _int_range("width", self.width, 1)
        if self.batch_size is not None:
            _int_range("batch_size", self.batch_size, MIN_BATCH_SIZE,
                       why="batch norm needs at least 2 images per batch")
        _int_range("steps", self.steps, 1)
        check_seed(self.seed)
        _int_range("sample_every", self.sample_every, 0)
        _int_range("checkpoint_every", self.checkpoint_every, 0)
        _int_range("metrics_every", self.metrics_every, 0)
        if self.metric_samples != 0:
            _int_range("metric_samples", self.metric_samples, MIN_METRIC_SAMPLES,
                       why="0 turns quality metrics off; fewer samples cannot be scored")
            check_sample_count("metric_samples", self.metric_samples)
        elif self.metrics_every:  # accepted, it would silently measure nothing
            raise ConfigError(f"metrics_every={self.metrics_every} asks for quality metrics during training, but "
                              "metric_samples=0 turns them off; set metric_samples (e.g. 2000) or drop metrics_every.")
        _choice("precision", self.precision, PRECISIONS)
        _choice("recipe", self.recipe, RECIPES)
        if self.augment is not None:
            _choice("augment", self.augment, AUGMENTS)
        if self.latent_prior is not None:
            _choice("latent_prior", self.latent_prior, LATENT_PRIORS)
        if self.ema is not None and (not _is_number(self.ema) or not 0.0 <= self.ema < 1.0):
            raise ConfigError(f"ema must be a number in [0, 1) (0 turns averaging off), got {_show(self.ema)}.")
        if not (isinstance(self.device, str) and re.fullmatch(r"cuda:\d+", self.device)):  # cuda:N is one GPU
            _choice("device", self.device, DEVICES)
        _choice("log", self.log, LOGS)
        if self.images is not None:
            _int_range("images", self.images, 1)
        if self.n_train is not None:
            _int_range("n_train", self.n_train, 1)
        if self.threads is not None:
            _int_range("threads", self.threads, 1, MAX_THREADS)
        for name, owners in registry.model_specific_fields(config_fields()).items():
            if getattr(self, name) is not None and self.model not in owners:
                raise ConfigError(
                    f"{name} applies only to model {' or '.join(owners)}, not to model '{self.model}'; "
                    f"remove it or change the model."
                )
        spec = registry.model_spec(self.model)
        for name, rule in spec.rules.items():  # the values the model's own fields take
            if getattr(self, name) is not None:
                _check_rule(name, getattr(self, name), rule)
        if self.n_critic is not None:
            _int_range("n_critic", self.n_critic, 1)
        if self.lr is not None:
            _float_min("lr", self.lr, 0.0, high=MAX_LR)
        for beta in ("beta1", "beta2"):
            value = getattr(self, beta)
            if value is not None and (not _is_number(value) or not 0.0 <= value < 1.0):
                raise ConfigError(f"{beta} must be a number in [0, 1), got {_show(value)}.")
        if spec.check is not None:  # cross-field rules of the model's own knobs
            spec.check(self)
        _check_types(self)  # the fields no check above covers (paths, flags), and any value of the wrong type
        for name in ("data_root", "out_dir"):
            if getattr(self, name) == "":
                raise ConfigError(f"{name} must name a folder or be unset, got ''.")
        _check_size(self)

    # ---------------------------------------------------------------- defaults
    def resolved(self) -> "RunConfig":
        """The same config with every ``None`` replaced by the model's literature default."""
        return RunConfig(**dataclasses.asdict(with_defaults(self)))

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the generator (or VAE) the budget allows."""
        if self.images is None:
            return self.steps
        r = self.resolved()
        per_step = r.batch_size * (r.n_critic or 1)  # type: ignore[operator]  # every recipe sets batch_size
        return max(1, self.images // per_step)

    def identity(self) -> dict[str, Any]:
        """The resolved fields that decide what a run computes (hashing, comparing runs)."""
        values = dataclasses.asdict(self.resolved())
        return {k: v for k, v in values.items() if k not in NON_IDENTITY_FIELDS}

    def config_hash(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def run_name(self) -> str:
        """A readable folder name; the hash suffix keeps different configs apart."""
        r = self.resolved()
        parts = [f"d{r.depth}", f"z{r.z_dim}"]
        tag = registry.model_spec(r.model).run_name_tag
        if tag is not None:
            parts.append(tag(r))
        if r.recipe != TUNED:
            parts.append(r.recipe)
        parts.append(f"s{r.seed}")
        return "-".join(parts) + "-" + self.config_hash()[:6]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        """Build from loose input (YAML, JSON): unknown keys are errors, numeric strings become numbers."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"a configuration is a mapping of field names to values, got {_show(values)}.")
        check_known_fields(values)
        return cls(**{k: _coerce_number(k, v) for k, v in values.items()})


def check_known_fields(values: Mapping[Any, Any]) -> None:
    """Every key of `values` is a `RunConfig` field; else `ConfigError` naming the first unknown one, with the
    closest known name."""
    known = {f.name for f in fields(RunConfig)}
    unknown = sorted((str(k) for k in values if k not in known))  # a YAML key may be a number or null
    if unknown:
        hint = _closest(unknown[0], known)
        raise ConfigError(
            f"unknown config field '{unknown[0]}'" + (f" (did you mean '{hint}'?)" if hint else "")
            + f"; known fields: {', '.join(sorted(known))}."
        )


def _coerce_number(name: str, value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` as a string; a float field gets the number the user meant."""
    if name in _field_types() and _field_types()[name][0] is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def model_defaults(config: RunConfig) -> dict[str, Any]:
    """The literature defaults of the model, overridden by what the config's recipe sets (genmodels.core.recipes);
    both are the model's `registry.ModelSpec`'s."""
    spec = registry.model_spec(config.model)
    return {**spec.literature_defaults(config), **spec.recipe_settings(config.recipe, config)}


def literature_defaults(config: RunConfig) -> dict[str, Any]:
    """Per model, with the citation each number comes from (genmodels.builtin)."""
    return registry.model_spec(config.model).literature_defaults(config)


def with_defaults(config: RunConfig) -> RunConfig:
    """A copy of `config` with every ``None`` its model has a default for filled in, not validated again: what
    `resolved` validates, and what the builders get while validation itself counts a model's parameters."""
    filled = copy.copy(config)
    for name, value in model_defaults(config).items():
        if getattr(filled, name) is None:
            setattr(filled, name, value)
    return filled


# -------------------------------------------------------------------- helpers
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _choice(name: str, value: Any, allowed: Collection[str]) -> None:
    if not isinstance(value, str) or value not in allowed:  # a list is no name (and unhashable)
        hint = _closest(str(value), allowed)
        raise ConfigError(
            f"{name} must be one of {', '.join(allowed)}; got {_show(value)}"
            + (f" (did you mean '{hint}'?)." if hint else ".")
        )


def _int_range(name: str, value: Any, low: int, high: int | None = None, why: str = "") -> None:
    bounds = f"between {low} and {high}" if high is not None else f"an integer >= {low}"
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        raise ConfigError(f"{name} must be {'an integer ' if high is not None else ''}{bounds}"
                          + (f" ({why})" if why else "") + f", got {_show(value)}.")


def check_seed(value: Any, name: str = "seed") -> None:
    """The one rule for a seed, wherever one is read (a run's config, `sample --seed`, `TrainedRun.sample`):
    numpy's legacy seeding takes [0, 2**32 - 1], and torch's generator overflows above 2**64 with a traceback."""
    _int_range(name, value, 0, MAX_SEED)


def check_sample_count(name: str, value: Any) -> None:
    """At most `MAX_SAMPLES` images generated at once (`metric_samples`, `sample --n`, an interpolation's
    rows x steps): more would fail in the allocator, after the work before it."""
    if isinstance(value, int) and value > MAX_SAMPLES:
        raise ConfigError(f"{name} must be at most {MAX_SAMPLES} (the images generated at once are held in memory), "
                          f"got {_show(value)}.")


def _show(value: Any, limit: int = 80) -> str:
    """repr() cut to one short piece: an error line must stay one line whatever a sweep file holds."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


# a field's annotated type -> (does a value have it, how to say it)
_TYPE_CHECKS: dict[type, tuple[Callable[[Any], bool], str]] = {
    str: (lambda v: isinstance(v, str), "a string"),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    float: (lambda v: _is_number(v), "a number"),
    bool: (lambda v: isinstance(v, bool), "true or false"),
}


@functools.lru_cache(maxsize=None)
def _field_types() -> dict[str, tuple[type, bool]]:
    """Each RunConfig field's base type and whether None is allowed, read from the annotations once."""
    hints = typing.get_type_hints(RunConfig)
    out = {}
    for f in fields(RunConfig):
        args = typing.get_args(hints[f.name])
        out[f.name] = (next((a for a in args if a is not type(None)), hints[f.name]), type(None) in args)
    return out


def _check_types(config: RunConfig) -> None:
    """Every field holds a value of its annotated type: a sweep file can put a mapping where a path goes."""
    for name, (base, optional) in _field_types().items():
        value = getattr(config, name)
        if value is None and optional:
            continue
        ok, kind = _TYPE_CHECKS[base]
        if not ok(value):
            raise ConfigError(f"{name} must be {kind}{' or unset' if optional else ''}, got {_show(value)}.")


def default_variant(model: str) -> str:
    """The variant label of a config that leaves every knob of `model` at its default (the report's main grid):
    derived from the defaults, so it cannot disagree with them."""
    return registry.model_spec(model).variant(RunConfig(model=model).resolved())


# model name -> its default variant label ("gan" -> "linear output"), live as the registry
DEFAULT_VARIANT: Mapping[str, str] = registry.FactView(registry.MODELS, lambda spec: default_variant(spec.name))

# the largest value a float knob takes (a loss weight, a clipping bound): far past any useful one, small enough that
# the arithmetic it enters stays finite; a learning rate above `MAX_LR` makes Adam's update itself overflow
MAX_FLOAT = 1e6
MAX_LR = 10.0

_PARAMETER_COUNTS: dict[tuple[object, ...], int] = {}


def parameter_count(config: RunConfig) -> int:
    """Parameters of the model `config` describes, counted on torch's meta device: shapes only, no memory, so
    config validation can refuse a model that would not fit before anything allocates it.

    Built through the registry's builder (no import of the model classes here). Called from `RunConfig.validate`,
    so it must not resolve the config (that validates again): it fills in the defaults without validating
    (`with_defaults`). Cached by the fields that decide the shapes.
    """
    import torch

    channels = registry.DATASET_CHANNELS.get(config.dataset, 1)
    key = (config.model, channels, config.depth, config.z_dim, config.width, config.h_dim, config.lipschitz)
    if key not in _PARAMETER_COUNTS:
        with torch.device("meta"):
            model = registry.model_spec(config.model).build(with_defaults(config), channels)
        _PARAMETER_COUNTS[key] = sum(p.numel() for p in model.parameters())
    return _PARAMETER_COUNTS[key]


def _check_size(config: RunConfig) -> None:
    """Refuse a model too large to allocate, counted on torch's meta device (no memory), before any start-up."""
    if all((getattr(config, name) or 0) <= limit for name, limit in SAFE_SIZES.items()):
        return  # counting costs a few milliseconds per shape; sweeps validate hundreds of configs
    n = parameter_count(config)
    if n > MAX_PARAMETERS:
        sizes = f"width={config.width}, depth={config.depth}, z_dim={config.z_dim}"
        has_h_dim = "h_dim" in registry.model_spec(config.model).fields
        if has_h_dim:
            sizes += f", h_dim={config.h_dim or 'default'}"
        fields_ = "width, z_dim or h_dim" if has_h_dim else "width or z_dim"
        raise ConfigError(f"{sizes} make a {config.model} of {n:.3g} parameters ({16 * n / 1e9:.3g} GB of weights, "
                          f"gradients and Adam moments), more than the limit of {MAX_PARAMETERS:.3g}; lower {fields_}.")


def _float_min(name: str, value: Any, low: float, strict: bool = True, high: float = MAX_FLOAT) -> None:
    ok = _is_number(value) and (value > low if strict else value >= low) and value <= high
    if not ok:
        raise ConfigError(f"{name} must be a number {'>' if strict else '>='} {low:g} and at most {high:g}, "
                          f"got {_show(value)}.")


def _check_rule(name: str, value: Any, rule: registry.FieldRule) -> None:
    """A model's rule for one of its fields (`registry.ModelSpec.rules`), worded as every other field's error."""
    if isinstance(rule, registry.Choice):
        _choice(name, value, rule.values)
    elif isinstance(rule, registry.Integer):
        _int_range(name, value, rule.low)
    else:
        _float_min(name, value, rule.low, strict=rule.strict)


def _closest(word: str, candidates: Any) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def config_fields() -> list[str]:
    return [f.name for f in fields(RunConfig)]


__all__ = ["RunConfig", "ConfigError", "MODELS", "DATASETS", "RECIPES", "AUGMENTS", "LOGS", "model_defaults",
           "config_fields", "with_defaults", "default_variant", "DEFAULT_VARIANT", "parameter_count", "MIN_METRIC_SAMPLES", "MAX_PARAMETERS", "MAX_SEED",
           "MAX_SAMPLES", "MAX_THREADS", "check_seed", "check_sample_count"]
