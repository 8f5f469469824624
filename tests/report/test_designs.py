"""The report's Designs and Training sections are generated from the registries and the built models: checked
here against the models and the optimisers the trainer builds, so the text cannot contradict the code."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genmodels.core.config import RECIPES, RunConfig
from genmodels.models import build_model
from genmodels.core.registry import model_spec
from genmodels.report import designs
from genmodels.training.loop import make_optimizers


def _leaves(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if not list(m.children())]


def _row(table, network: str) -> str:
    rows = table[table.network == network]
    assert len(rows) == 1, (network, list(table.network))
    return rows.iloc[0, 1]


@pytest.mark.parametrize("depth", [1, 3, 5])
def test_vae_decoder_has_batch_norm_before_tanh_in_the_text_iff_in_the_model(depth: int) -> None:
    """The issue's example: hand-written text said the decoder ends with batch norm and tanh; the code has none."""
    text = _row(designs.design_table(depth, width=8, z_dim=4), "VAE: decoder")
    decoder = build_model(RunConfig(model="vae", depth=depth, z_dim=4, width=8)).decoder
    *_, before, last = _leaves(decoder)
    assert isinstance(last, nn.Tanh) and text.endswith(f"{designs.describe_layer(before)}, tanh")
    assert ("batch norm, tanh" in text) == isinstance(before, nn.BatchNorm2d)
    assert not isinstance(before, nn.BatchNorm2d)  # the code's choice (docs/design.md): no batch norm at the output

    # the description follows the model: a decoder given an output batch norm is described with it
    decoder.net = nn.Sequential(*list(decoder.net)[:-1], nn.BatchNorm2d(1), nn.Tanh())
    assert designs.describe_network(decoder).endswith("batch norm, tanh")


def test_every_generated_optimizer_is_what_the_trainer_builds() -> None:
    """Each row of the Training table (optimiser class, lr, betas) equals the optimiser `make_optimizers` returns
    for that model, case and recipe; WGAN with clipping trains with RMSprop."""
    table = designs.recipe_table()
    checked = 0
    for spec_name in ("vae", "gan", "wgan"):
        for label, fields in designs.model_cases(model_spec(spec_name)):
            for recipe in RECIPES:
                config = RunConfig(**{**fields, "z_dim": 4, "width": 4}, recipe=recipe)
                optimizer = next(iter(make_optimizers(build_model(config), config).values()))
                rows = table[(table.model == label) & (table.recipe == recipe)]
                if rows.empty:  # a case left out because its settings equal an earlier case's
                    continue
                row = rows.iloc[0]
                group = optimizer.param_groups[0]
                assert row.optimizer == type(optimizer).__name__, (label, recipe)
                assert row.lr == f"{group['lr']:g}"
                adam = isinstance(optimizer, torch.optim.Adam)
                assert row.betas == (f"({group['betas'][0]:g}, {group['betas'][1]:g})" if adam else "-")
                checked += 1
    assert checked == len(table)
    clipping = table[table.model == "WGAN, clipping"]
    assert set(clipping.optimizer) == {"RMSprop"}
    config = RunConfig(model="wgan", lipschitz="clip").resolved()
    assert model_spec("wgan").optimizer(config) == "rmsprop"


def test_designs_text_names_every_model_and_its_own_loss() -> None:
    text = designs.designs_markdown(width=8, depth=2, z_dim=4)
    for name in ("vae", "gan", "wgan"):
        spec = model_spec(name)
        built = build_model(RunConfig(model=name, depth=1, z_dim=2, width=4))
        assert f"**{spec.display_name}**" in text and type(built).loss_formula in text
        assert ", ".join(label for _, label in spec.loss_terms) in text


def test_gradient_penalty_critic_has_layer_norm_and_clipping_critic_batch_norm() -> None:
    table = designs.design_table(3, width=8, z_dim=4)
    assert "layer norm" in _row(table, "WGAN-GP: critic") and "batch norm" not in _row(table, "WGAN-GP: critic")
    assert "batch norm" in _row(table, "WGAN, clipping: critic")
    assert _row(table, "LSGAN, sigmoid output: discriminator").endswith("linear 1, sigmoid")
