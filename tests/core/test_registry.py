"""The model and data set registries (genmodels.core.registry): a model added with one `register_model` call and
no edit to the library is valid, trains, is scored, and shows up in results and report rows; the facts the
results and the report print are the registry's.

The toy model is a hinge-loss GAN (Lim & Ye 2017; Miyato et al. 2018) made of the LSGAN's networks. Its
metrics are computed with an untrained (seeded) feature classifier: the numbers are meaningless, but the whole
path (sampling, FID/KID/IS/precision-recall, metrics.json, results row) runs in the fast tier without training
the MNIST classifier.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from genmodels.report.collect import main_runs
from genmodels.report.designs import architecture_table

from genmodels.core import registry
from genmodels.core.config import DEFAULT_VARIANT, ConfigError, RunConfig, default_variant
from genmodels.core.registry import ModelSpec

TOY = "hinge"


def _hinge_gan_class() -> type:
    from genmodels.models import GAN

    class HingeGAN(GAN):
        """The LSGAN's networks trained with the hinge loss: critic relu(1 - D(x)) + relu(1 + D(G(z)))."""

        def critic_loss(self, x: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
            d_fake, d_real = self.discriminate(fake.detach()), self.discriminate(x)
            loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
            return {"loss": loss, "d_real": d_real.mean(), "d_fake": d_fake.mean()}

        def generator_loss(self, fake: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"loss": -self.discriminate(fake).mean()}

    return HingeGAN


HINGE_GAN = ModelSpec(
    name=TOY, display_name="Hinge GAN",
    build=lambda c, channels: _hinge_gan_class()(c.depth, c.z_dim, c.width, channels, augment=c.augment),
    fields=("n_critic", "ema", "augment"),
    defaults={"n_critic": 1, "lr": 2e-4, "beta1": 0.0, "beta2": 0.9},
    recipes={"seed": {"batch_size": 64, "ema": 0.0, "augment": "none"},
             "tuned": {"batch_size": 32, "ema": 0.999, "augment": "none"}},
    loss_terms=(("critic_loss", "critic (hinge)"), ("gen_loss", "generator")),
    variant=lambda c: "hinge loss",
)


@contextlib.contextmanager
def registered(spec: ModelSpec) -> Iterator[ModelSpec]:
    registry.register_model(spec)
    try:
        yield spec
    finally:
        registry.unregister_model(spec.name)


@pytest.fixture
def hinge_gan() -> Iterator[ModelSpec]:
    with registered(HINGE_GAN) as spec:
        yield spec


def _untrained_evaluator(results_root: Path) -> Any:
    from genmodels.quality.classifier import FeatureClassifier
    from genmodels.quality.evaluation import Evaluator

    class UntrainedEvaluator(Evaluator):
        """Scores with a seeded, untrained feature extractor instead of the cached trained classifier."""

        def classifier(self, dataset: str, device: Any = "cpu", data_root: Any = None) -> FeatureClassifier:
            torch.manual_seed(0)
            model = FeatureClassifier(channels=registry.dataset_spec(dataset).channels).eval()
            model.meta = {"dataset": registry.dataset_spec(dataset).classifier}  # type: ignore[assignment]
            return model

    return UntrainedEvaluator(results_root, real_samples=400, reference=False, log=None)  # > 128 features each


def test_toy_model_trains_scores_and_reaches_results_and_report_rows(hinge_gan: ModelSpec, tmp_path: Path,
                                                                    single_thread: None) -> None:
    from genmodels import plots
    from genmodels.runs.results import results_frame
    from genmodels.runs.run import run_config

    config = RunConfig(model=TOY, dataset="mnist-5k", depth=1, z_dim=4, width=8, batch_size=8, steps=4,
                       n_train=64, sample_every=0, checkpoint_every=0, metric_samples=200, progress=False,
                       device="cpu")
    assert config.resolved().lr == 2e-4 and config.resolved().ema == 0.999  # its defaults, then its recipe's
    root = tmp_path / "results"
    run_dir = root / config.dataset / TOY / config.run_name()
    result = run_config(config, run_dir, evaluate=_untrained_evaluator(root))
    assert math.isfinite(result.metrics["quality"]["fid"])

    frame = results_frame(root)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row.model, row.variant, row.status) == (TOY, "hinge loss", "complete")
    assert math.isfinite(row.FID) and math.isfinite(row.loss_critic_loss)

    main = main_runs(frame)  # the report's rows: every knob at its default, tuned recipe, seed 0
    assert list(main.label) == [row.label]
    assert registry.MODEL_NAMES[TOY] == "Hinge GAN" and list(registry.MODEL_NAMES)[-1] == TOY

    history = pd.read_csv(run_dir / "history.csv")
    figure = plots.loss_curves(history, TOY)
    assert [ax.get_title() for ax in figure.axes] == ["critic (hinge)", "generator"]


def test_toy_model_is_in_the_generated_designs_and_training_settings(hinge_gan: ModelSpec) -> None:
    """The report's Designs and Training tables iterate the registry: the toy model gets its rows, its settings
    from its spec, and no loss formula it does not state itself (its class inherits the LSGAN's)."""
    from genmodels.report import designs

    table = designs.design_table(2, width=8, z_dim=4)
    assert {"Hinge GAN: critic", "Hinge GAN: generator"} <= set(table.network)
    settings = designs.recipe_table()
    mine = settings[settings.model == "Hinge GAN"]
    assert list(mine.optimizer) == ["Adam", "Adam"] and set(mine.betas) == {"(0, 0.9)"}
    paragraph = designs.designs_markdown(8, 2, 4).split("**Hinge GAN**", 1)[1]
    assert "MSE" not in paragraph and "critic (hinge), generator" in paragraph


def test_toy_model_fields_are_validated_and_gone_when_unregistered() -> None:
    with registered(HINGE_GAN):
        RunConfig(model=TOY, n_critic=2)
        with pytest.raises(ConfigError, match="d_output applies only to model gan"):
            RunConfig(model=TOY, d_output="linear")
        with pytest.raises(ConfigError, match="n_critic applies only to model gan or wgan or hinge"):
            RunConfig(model="vae", n_critic=2)
    with pytest.raises(ConfigError, match="model must be one of vae, gan, wgan;"):
        RunConfig(model=TOY)


def test_a_model_s_own_rules_are_what_validation_checks() -> None:
    """The values a model's fields take are its spec's: a toy model's rules are enforced with the same wording as
    the shipped models', and only for that model."""
    with registered(ModelSpec(**{**HINGE_GAN.__dict__, "rules": {"n_critic": registry.Integer(2)}})):
        RunConfig(model=TOY, n_critic=2)
        with pytest.raises(ConfigError, match=r"^n_critic must be an integer >= 2, got 1\.$"):
            RunConfig(model=TOY, n_critic=1)
        RunConfig(model="gan", n_critic=1)  # the LSGAN's own rules allow it


def test_a_rule_for_a_field_the_model_does_not_own_is_refused() -> None:
    with pytest.raises(ValueError, match="rules for fields it does not own: d_output"):
        ModelSpec(**{**HINGE_GAN.__dict__, "rules": {"d_output": registry.Choice(("linear",))}})


def test_registering_a_taken_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="'gan' is registered already"):
        registry.register_model(ModelSpec(**{**HINGE_GAN.__dict__, "name": "gan"}))


# ------------------------------------------------------------------ the facts others print are the registry's
@pytest.mark.parametrize("model", ["vae", "gan", "wgan"])
def test_results_and_report_facts_agree_with_the_registry(model: str) -> None:
    from genmodels.runs.results import variant

    spec = registry.model_spec(model)
    assert registry.MODEL_NAMES[model] == spec.display_name
    default = RunConfig(model=model).resolved()
    assert variant(default) == DEFAULT_VARIANT[model] == default_variant(model)
    assert list(registry.MODEL_NAMES) == list(registry.MODELS)


def test_display_names_are_the_reports() -> None:
    assert dict(registry.MODEL_NAMES) == {"vae": "VAE", "gan": "LSGAN", "wgan": "WGAN"}
    assert dict(DEFAULT_VARIANT) == {"vae": "kl=0.001", "gan": "linear output", "wgan": "gradient penalty"}


@pytest.mark.parametrize("model", ["vae", "gan", "wgan"])
def test_built_models_carry_the_resolved_defaults(model: str) -> None:
    """One place for defaults: the built model holds what `resolved()` says, and model classes' own depth
    default is RunConfig's (they disagreed: the VAE class had depth 5, RunConfig 3; the builder fell back to
    kl_factor 0.0 where the resolved default is 1e-3)."""
    from genmodels.models import GAN, VAE, WGAN, build_model

    config = RunConfig(model=model, depth=2, z_dim=4, width=8)
    built, r = build_model(config), config.resolved()
    if model == "vae":
        assert built.kl_factor == r.kl_factor == 1e-3
        assert built.encoder.hidden[0].out_features == r.h_dim
    if model == "wgan":
        assert (built.lipschitz, built.gp_weight) == (r.lipschitz, r.gp_weight)
    depth_default = RunConfig.__dataclass_fields__["depth"].default
    for cls in (VAE, GAN, WGAN):
        assert cls.__init__.__defaults__[0] == depth_default  # type: ignore[index]


@pytest.mark.parametrize("dataset", list(registry.DATASETS))
def test_dataset_facts_are_the_registry_s(dataset: str) -> None:
    from genmodels.quality.classifier import CLASSIFIER_DATA
    from genmodels.models import DATASET_CHANNELS, build_model

    spec = registry.dataset_spec(dataset)
    assert CLASSIFIER_DATA[dataset] == spec.classifier and DATASET_CHANNELS[dataset] == spec.channels
    generator = build_model(RunConfig(model="gan", dataset=dataset, depth=1, z_dim=2, width=4)).generator
    assert generator(torch.zeros(1, 2)).shape == (1, spec.channels, spec.image_size, spec.image_size)


def test_readme_registration_snippet_runs(tmp_path: Path, single_thread: None) -> None:
    """README "Adding a model or data set": its Python block runs as printed, and the model it adds trains."""
    import genmodels
    from genmodels.training.loop import Trainer

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = readme.split("## Adding a model or data set", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    try:
        exec(compile(code, "README.md", "exec"), namespace)
        config = namespace["config"]
        assert genmodels.model_spec("hinge").display_name == "Hinge GAN" and config.resolved().n_critic == 1
        tiny = RunConfig(**{**config.to_dict(), "depth": 1, "z_dim": 4, "width": 8, "batch_size": 8, "steps": 2,
                            "n_train": 32, "dataset": "mnist-5k", "progress": False, "device": "cpu"})
        history = Trainer(tiny, out_dir=tmp_path).fit(resume=False)
        assert len(history) == 2 and {"critic_loss", "gen_loss"} <= set(history[-1])
    finally:
        registry.unregister_model("hinge")


def test_public_api_and_cli_list_the_registered_names(capsys: pytest.CaptureFixture[str]) -> None:
    import genmodels
    from genmodels.cli import build_parser

    for name in genmodels.__all__:
        assert getattr(genmodels, name) is not None
    assert genmodels.register_model is registry.register_model and genmodels.build_model.__module__ == "genmodels.models"
    with registered(HINGE_GAN):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["train", "--help"])
    assert "one of vae, gan, wgan, hinge" in " ".join(capsys.readouterr().out.split())


def test_report_architecture_table_is_the_built_models() -> None:
    """The report's parameter table names each model's parts from the registry and counts the built networks."""
    from genmodels.models import build_model, count_parameters

    table = architecture_table(width=4, z_dim=2)
    expected = [f"{spec.display_name} {part}" for spec in registry.MODELS.values() for _, part in spec.parts]
    assert list(table.columns) == expected
    gan = build_model(RunConfig(model="gan", depth=2, z_dim=2, width=4))
    assert table.loc[2, "LSGAN discriminator"] == f"{count_parameters(gan.critic) / 1e3:.0f} k"
