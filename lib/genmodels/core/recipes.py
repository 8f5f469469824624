"""The training recipes: how a model is trained, apart from what it is (layers, norms and losses stay the seed's).

Two recipes, chosen by the config field ``recipe``:

- the seed-faithful one (config value ``seed``, after the assignment's seed code it follows): the loop a
  pytorch/examples-style script would write, plain alternating updates with the literature's optimiser
  settings and batch size 64, no weight averaging.
- ``tuned`` (the default): what measured more quality per CPU-second in ``bench/time_to_quality.py``
  (docs/recipes.md): batch 32 at higher learning rates, one critic step per generator step for WGAN-GP, and an
  exponential moving average of the generator's weights from which every sample is drawn
  (genmodels.training.weight_average).

In both, the generator step reuses the last critic step's fake batch, as the seed (one forward pass for both
losses) and pytorch/examples' DCGAN do. Differentiable augmentation of the discriminator's inputs (DiffAugment,
Zhao et al. 2020) is implemented and selectable (``augment``), but measured worse here at these budgets
(docs/recipes.md), so neither recipe uses it. Every ingredient is a config field of its own (``lr``,
``batch_size``, ``n_critic``, ``ema``, ``augment``, ``latent_prior``); ``None`` takes the recipe's value, and
what each recipe sets for each model is that model's `ModelSpec.recipes` (genmodels.builtin).
"""

from __future__ import annotations

TUNED = "tuned"
SEED_FAITHFUL = "seed"  # the config value: run names and hashes contain it, so a rename would orphan every run
RECIPES = (TUNED, SEED_FAITHFUL)

__all__ = ["TUNED", "SEED_FAITHFUL", "RECIPES"]
