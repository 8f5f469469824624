"""Model and data set registries: every fact about a model or a data set, in one `ModelSpec` or `DatasetSpec`.

Config validation, the builders, training, metrics, plots, results and the report look facts up here instead
of branching on names, so adding a model (or a data set) is its own file plus one `register_model` (or
`register_dataset`) call; `genmodels.builtin` registers the three models and four data sets this project
ships, each name once (``import genmodels`` imports it; this module imports no model and no config). The registries are live: a spec registered later (a test's toy model, a user's
extension) is seen by every lookup and every view below.

This module imports neither torch nor pandas (``import genmodels`` and config checks stay light): a builder
imports its model class when it is called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, Mapping, TypeVar, Union

if TYPE_CHECKING:
    from torch import nn

    from genmodels.core.config import RunConfig

# Settings of a model: fixed values, or a function of the (unresolved) config where they depend on another
# field (WGAN's defaults depend on its Lipschitz method).
Settings = Union[Mapping[str, Any], Callable[["RunConfig"], Mapping[str, Any]]]


def _settings(value: Settings, config: "RunConfig") -> dict[str, Any]:
    return dict(value(config) if callable(value) else value)


# The values a model's own field takes, as data: config validation (genmodels.core.config) checks them and words
# the error, so every model's message reads the same and this module needs no config import.
@dataclass(frozen=True)
class Choice:
    """One of a fixed set of names (a WGAN's Lipschitz methods)."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Integer:
    """An integer >= `low`."""

    low: int


@dataclass(frozen=True)
class Number:
    """A finite number above `low` (`strict`) or at least `low`."""

    low: float
    strict: bool = True


FieldRule = Union[Choice, Integer, Number]


@dataclass(frozen=True)
class ModelSpec:
    """Everything the library knows about one model, apart from its layers and losses (its own module)."""

    name: str  # the config's `model` value
    display_name: str  # how tables, figures and prose name it ("LSGAN")
    build: Callable[["RunConfig", int], "nn.Module"]  # (config with every default filled in, image channels)
    fields: tuple[str, ...]  # the model-specific RunConfig fields it owns (others must stay unset)
    defaults: Settings  # its literature defaults, each with its citation where it is defined
    recipes: Mapping[str, Settings]  # per training recipe (genmodels.core.recipes), the fields it sets on top
    loss_terms: tuple[tuple[str, str], ...]  # (history column, label) of the loss curves to plot
    variant: Callable[["RunConfig"], str]  # its model-specific knob in words, of a resolved config
    run_name_tag: Callable[["RunConfig"], str] | None = None  # its part of a run's folder name, if any
    optimizer: Callable[["RunConfig"], str] = lambda config: "adam"  # "adam" or "rmsprop", of a resolved config
    # the values each of its fields takes, checked when set; fields left out take any value of their type
    rules: Mapping[str, FieldRule] = field(default_factory=dict)
    check: Callable[["RunConfig"], None] | None = None  # cross-field validation; raises ConfigError
    log_scale_terms: tuple[str, ...] = ()  # loss terms plotted on a log axis
    reconstructs: bool = False  # an autoencoder: has `reconstruct(x)`, scored on test reconstructions too
    # its networks as (attribute of the built model, what the report calls it), e.g. ("critic", "discriminator")
    parts: tuple[tuple[str, str], ...] = (("critic", "critic"), ("generator", "generator"))
    # labelled configurations the report describes apart, where layers or training settings differ (WGAN: the
    # gradient penalty, also from the depth at which its tuned recipe changes, and clipping); () is the defaults.
    # A case that sets `depth` stands for that depth and deeper ones.
    cases: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    notes: str = ""  # the report's Designs prose about it: sources and design choices, never its layers or losses

    def __post_init__(self) -> None:
        foreign = sorted(set(self.rules) - set(self.fields))
        if foreign:  # a rule for a field the model does not own would never be checked
            raise ValueError(f"model {self.name!r} has rules for fields it does not own: {', '.join(foreign)}")

    def literature_defaults(self, config: "RunConfig") -> dict[str, Any]:
        return _settings(self.defaults, config)

    def recipe_settings(self, recipe: str, config: "RunConfig") -> dict[str, Any]:
        return _settings(self.recipes[recipe], config)


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the library knows about one data set; its files are read by `loader` (genmodels.data.readers
    holds the shipped ones)."""

    name: str  # the config's `dataset` value
    display_name: str
    channels: int  # image channels after loading
    loader: Callable[..., Any]  # (base, split, download) -> (uint8 images, labels, meta)
    classifier: str  # the classifier (genmodels.quality.classifier) scoring its runs: a data set sharing its test set
    image_size: int = 32  # every image is padded or kept to this side
    # (base) -> what of its training split is not here without a download, in words, or None when all of it is;
    # None: not checked (its runs find out)
    missing: Callable[..., Any] | None = None


MODELS: dict[str, ModelSpec] = {}
DATASETS: dict[str, DatasetSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add a model; its name becomes a valid `RunConfig.model` everywhere at once."""
    return _register(MODELS, spec)


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add a data set; its name becomes a valid `RunConfig.dataset` everywhere at once."""
    return _register(DATASETS, spec)


def unregister_model(name: str) -> None:
    MODELS.pop(name, None)


def unregister_dataset(name: str) -> None:
    DATASETS.pop(name, None)


_Spec = TypeVar("_Spec", ModelSpec, DatasetSpec)


def _register(table: dict[str, _Spec], spec: _Spec) -> _Spec:
    if spec.name in table and table[spec.name] is not spec:
        raise ValueError(f"{spec.name!r} is registered already; unregister it first")
    table[spec.name] = spec
    return spec


def model_spec(name: str) -> ModelSpec:
    """The spec of a registered model; a KeyError naming the known ones otherwise (configs are validated first,
    so this only fails for code that skips validation)."""
    return _lookup(MODELS, name, "model")


def dataset_spec(name: str) -> DatasetSpec:
    return _lookup(DATASETS, name, "data set")


def _lookup(table: dict[str, _Spec], name: str, kind: str) -> _Spec:
    try:
        return table[name]
    except KeyError:
        raise KeyError(f"unknown {kind} {name!r}; registered: {', '.join(table)}") from None


def model_specific_fields(field_order: list[str]) -> dict[str, tuple[str, ...]]:
    """Which models own each model-specific field, fields in `field_order` (RunConfig's), owners in registry
    order: what config validation checks, and in the order it reports."""
    owners: dict[str, tuple[str, ...]] = {}
    for name in field_order:
        found = tuple(model for model, spec in MODELS.items() if name in spec.fields)
        if found:
            owners[name] = found
    return owners


# ------------------------------------------------------------------ live views, for modules keyed by name
_V = TypeVar("_V")


class FactView(Mapping[str, _V], Generic[_V]):
    """A read-only name -> fact mapping over a registry that follows later registrations (a plain dict built
    at import would miss them)."""

    def __init__(self, table: Mapping[str, Any], fact: Callable[[Any], _V]) -> None:
        self._table, self._fact = table, fact

    def __getitem__(self, name: str) -> _V:
        return self._fact(self._table[name])

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._table))

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return repr(dict(self))


MODEL_NAMES: Mapping[str, str] = FactView(MODELS, lambda spec: spec.display_name)  # "gan" -> "LSGAN"
DATASET_CHANNELS: Mapping[str, int] = FactView(DATASETS, lambda spec: spec.channels)
CLASSIFIER_DATA: Mapping[str, str] = FactView(DATASETS, lambda spec: spec.classifier)  # "mnist-5k" -> "mnist"

__all__ = ["ModelSpec", "DatasetSpec", "Choice", "Integer", "Number", "FieldRule", "MODELS", "DATASETS",
           "register_model", "register_dataset", "unregister_model", "unregister_dataset", "model_spec",
           "dataset_spec", "model_specific_fields", "FactView", "MODEL_NAMES", "DATASET_CHANNELS", "CLASSIFIER_DATA"]
