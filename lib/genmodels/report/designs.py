"""The Designs and Training sections, generated from the registries and from the models as built, so the report
cannot describe a layer, a loss or an optimiser the code does not have.

Layers are read by walking the built networks (`describe_network`), parameter counts are counted on them, loss
formulas are the model classes' own (`loss_formula`, kept beside the loss code), the plotted loss terms and the
per-model cases come from each `ModelSpec`, and optimisers and their settings are what the trainer builds for
each recipe (`genmodels.training.loop.optimizer_settings`).
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd
from torch import nn

from genmodels.core.config import DEPTHS, RECIPES, RunConfig
from genmodels.models import build_model, count_parameters
from genmodels.core.registry import MODEL_NAMES, MODELS, ModelSpec, model_spec
from genmodels.training.loop import optimizer_settings
from genmodels.report.collect import HEADLINE
from genmodels.report.english import count_word, the_names

# the order the Training table lists recipes in: the assignment's baseline first, then this project's default
RECIPE_ORDER = tuple(sorted(RECIPES, key=lambda recipe: recipe != "seed"))


# ------------------------------------------------------------------ cases: the configurations described apart
def model_cases(spec: ModelSpec) -> list[tuple[str, dict[str, Any]]]:
    """The spec's labelled cases as (label, config fields), the defaults under its display name where it names
    none. A case that sets a depth stands for that depth and deeper ones, and its label says so."""
    cases = spec.cases or ((spec.display_name, {}),)
    out = []
    for label, fields in cases:
        if "depth" in fields:
            first, last = fields["depth"], DEPTHS[-1]
            label = f"{label}, depth {first}" + (f"-{last}" if last > first else "")
        out.append((label, {"model": spec.name, **fields}))
    return out


# ------------------------------------------------------------------ layers, read off the built networks
def describe_layer(layer: nn.Module) -> str:
    """One layer in words: its kind and what sets its shape apart (kernel/stride, output units, slope)."""
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        kind = "convT" if isinstance(layer, nn.ConvTranspose2d) else "conv"
        return f"{kind} {layer.kernel_size[0]}x{layer.kernel_size[1]}/{layer.stride[0]}"
    if isinstance(layer, nn.Linear):
        return f"linear {layer.out_features}"
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "batch norm"
    if isinstance(layer, nn.GroupNorm):
        return "layer norm" if layer.num_groups == 1 else f"group norm ({layer.num_groups} groups)"
    if isinstance(layer, nn.LeakyReLU):
        return f"LeakyReLU {layer.negative_slope:g}"
    names = {nn.ReLU: "ReLU", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.Flatten: "flatten"}
    return names.get(type(layer), type(layer).__name__)


ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid)


def layer_blocks(module: nn.Module) -> list[list[str]]:
    """The module's layers cut into blocks, each ending with its activation: [conv, batch norm, ReLU], ..."""
    blocks: list[list[str]] = [[]]
    for layer in (m for m in module.modules() if not list(m.children())):
        blocks[-1].append(describe_layer(layer))
        if isinstance(layer, ACTIVATIONS):
            blocks.append([])
    return [block for block in blocks if block]


def compress(blocks: list[list[str]]) -> str:
    """Blocks joined with commas, a block repeated back to back written once: "3 x [conv 4x4/2, batch norm, ReLU]"."""
    out, i = [], 0
    while i < len(blocks):
        reps = 1
        while i + reps < len(blocks) and blocks[i + reps] == blocks[i]:
            reps += 1
        out.append(f"{reps} x [{', '.join(blocks[i])}]" if reps > 1 else ", ".join(blocks[i]))
        i += reps
    return ", ".join(out)


def describe_network(network: nn.Module) -> str:
    """A network's layers, per named stage where it has several (the VAE encoder's features, hidden layer and
    its two parallel heads), so parallel heads are not read as a sequence."""
    stages = list(network.named_children())
    if len(stages) == 1:
        return compress(layer_blocks(stages[0][1]))
    return "; ".join(f"{name}: {compress(layer_blocks(stage))}" for name, stage in stages)


def design_table(depth: int, width: int, z_dim: int = HEADLINE.z_dim, channels: int = 1) -> pd.DataFrame:
    """Per registered model and network, its layers as built at `depth` (parameter counts are
    `architecture_table`'s); a case of a model (`ModelSpec.cases`) adds a row only where a network differs from
    an earlier row."""
    rows: list[dict[str, Any]] = []
    for spec in MODELS.values():
        seen: set[tuple[str, str]] = set()
        for label, fields in model_cases(spec):
            config = RunConfig(**{**fields, "depth": depth, "z_dim": z_dim, "width": width})
            built = build_model(config, channels)
            for attribute, part in spec.parts:
                network = getattr(built, attribute)
                layers = describe_network(network)
                if (part, layers) in seen:
                    continue
                seen.add((part, layers))
                rows.append({"network": f"{label}: {part}", f"layers (depth {depth})": layers})
    return pd.DataFrame(rows)


def designs_markdown(width: int, depth: int = HEADLINE.depth, z_dim: int = HEADLINE.z_dim) -> str:
    """The Designs section's text per registered model: its notes (`ModelSpec.notes`), its loss as the model
    class states it, and the loss terms its curves plot."""
    paragraphs = [f"{count_word(len(MODELS))} convolutional generative models on 32x32 images in [-1, 1] (28x28 "
                  "digits are padded with background): " + ", ".join(MODEL_NAMES.values()) + ". Every network has a "
                  f"configurable depth of {DEPTHS[0]} to {DEPTHS[-1]} layers, and the latent size `z_dim` "
                  "is any positive integer. Each model computes its own loss and returns it as named terms, so a "
                  "single training path serves all of them. The table below lists every network's layers as "
                  f"built at depth {depth} (base width {width}, z_dim {z_dim}), read from the code; a convolution "
                  "written kxk/s has a kxk kernel and stride s, and a linear layer its number of outputs."]
    for spec in MODELS.values():
        built = build_model(RunConfig(model=spec.name, depth=depth, z_dim=z_dim, width=width))
        text = f"**{spec.display_name}** {spec.notes}".rstrip()
        formula = vars(type(built)).get("loss_formula")  # the class's own: a subclass with other losses has its own
        if formula:
            text += f" {formula}"
        text += " Plotted loss terms: " + ", ".join(label for _, label in spec.loss_terms) + "."
        paragraphs.append(text)
    return "\n\n".join(paragraphs)


def architecture_table(width: int, z_dim: int = HEADLINE.z_dim, channels: int = 1) -> pd.DataFrame:
    """Parameter counts of each module per depth (at the report's width and z_dim)."""
    rows = []
    for depth in DEPTHS:
        row: dict[str, Any] = {"depth": depth}
        for model in MODEL_NAMES:
            m = build_model(RunConfig(model=model, depth=depth, z_dim=z_dim, width=width), channels)
            for attribute, part in model_spec(model).parts:
                row[f"{MODEL_NAMES[model]} {part}"] = count_parameters(getattr(m, attribute))
        rows.append(row)
    return pd.DataFrame(rows).set_index("depth").map(_count)


def _count(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.0f} k"


# ------------------------------------------------------------------ training settings, as the trainer builds them
def optimizer_row(fields: Mapping[str, Any], recipe: str) -> dict[str, Any]:
    """The training settings of one configuration under `recipe`: the optimiser class and settings the trainer
    builds (`optimizer_settings`), batch, critic steps, generator averaging and augmentation."""
    config = RunConfig(**fields, recipe=recipe).resolved()
    optimizer, settings = optimizer_settings(config)
    betas = settings.get("betas")
    return {"recipe": recipe, "optimizer": optimizer.__name__, "lr": f"{settings['lr']:g}",
            "betas": f"({betas[0]:g}, {betas[1]:g})" if betas else "-", "batch": config.batch_size,
            "n_critic": config.n_critic or "-", "G average": f"EMA {config.ema:g}" if config.ema else "-",
            "critic input": {"none": "-", "noise": "noise 0.1"}.get(config.augment or "none", config.augment),
            # where sampled latents come from: N(0, I), or a mixture fitted to the training codes after training
            "sampled z": {"gmm": "mixture fit", "standard": "N(0, I)"}.get(config.latent_prior or "", "N(0, I)")}


def recipe_table() -> pd.DataFrame:
    """Training settings per registered model, case and recipe; a case whose settings equal an earlier case's
    of the same model in every recipe (the LSGAN's sigmoid output) is left out."""
    rows: list[dict[str, Any]] = []
    for spec in MODELS.values():
        seen: list[list[dict[str, Any]]] = []
        for label, fields in model_cases(spec):
            settings = [optimizer_row(fields, recipe) for recipe in RECIPE_ORDER]
            if settings in seen:
                continue
            seen.append(settings)
            rows.extend({"model": label, **row} for row in settings)
    return pd.DataFrame(rows)


def recipe_display(table: pd.DataFrame) -> pd.DataFrame:
    """`recipe_table` as the report prints it, narrow enough for the text width at its normal size: optimiser
    and learning rate in one column ("Adam 3e-4"), short headers (the caption explains them)."""
    out = table.copy()
    out.insert(2, "optimiser, lr", [f"{o} {_short_float(float(lr))}" for o, lr in zip(out.optimizer, out.lr)])
    out = out.drop(columns=["optimizer", "lr"]).rename(columns={"G average": "G avg.", "critic input": "D input",
                                                                "sampled z": "z from"})
    out["z from"] = out["z from"].replace({"mixture fit": "mixture"})
    return out


def _short_float(value: float) -> str:
    """ "3e-4", "2.5e-3": a learning rate in a few characters, every significant digit kept."""
    mantissa, exponent = f"{value:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def training_markdown() -> str:
    """How each model is trained, in words: one optimiser over the whole model, or one per network with
    alternating updates, read from the optimisers the trainer builds for it."""
    from genmodels.training.loop import make_optimizers

    single, alternating = [], []
    for spec in MODELS.values():
        config = RunConfig(model=spec.name, depth=1, z_dim=2, width=4)
        optimizers = make_optimizers(build_model(config), config)
        (single if len(optimizers) == 1 else alternating).append(spec.display_name)
    parts = []
    if single:
        parts.append(f"{the_names(single)} {'is' if len(single) == 1 else 'are'} trained with one optimizer over the "
                     "whole model (the assignment's Algorithm 1).")
    if alternating:
        parts.append(f"{the_names(alternating)} {'is' if len(alternating) == 1 else 'are'} trained with two "
                     "optimizers, alternating `n_critic` discriminator (critic) updates on fresh real batches with "
                     "one generator update (the assignment's Algorithm 2); the generator update reuses the last critic "
                     "update's fake batch, as the assignment's single forward pass does.")
    return " ".join(parts) + "\n\n" + RECIPES_TEXT


# what the two recipes (genmodels.core.recipes) are, in the report's words; their settings per model are the table's
RECIPES_TEXT = (
    "How the models are trained is a *recipe*, recorded with every run: the assignment's ('seed') keeps the "
    "assignment's and the literature's optimiser settings unchanged; the tuned one adds an exponential moving average of the "
    "generator's weights, from which every sample is drawn (its batch-norm statistics recomputed), and the "
    "learning rates, batch size and critic steps that measured the most quality per CPU-second (docs/"
    "recipes.md; differentiable augmentation was measured too, and left out because it made both GANs "
    "worse at these budgets). At depth 5 the LSGAN's discriminator sees real and generated images through "
    "Gaussian instance noise (sigma 0.1; Sonderby et al. 2016), which kept it from collapsing in the first steps. "
    "For the VAE, the tuned recipe draws sampled latents from a 10-component Gaussian "
    "mixture fitted to the posterior means of the training images after training (\"ex-post density "
    "estimation\", Ghosh et al. 2020) instead of the N(0, I) prior, which leaves regions the encoder never uses; "
    "reconstructions are unchanged. The architectures and losses are the assignment's in both.")
