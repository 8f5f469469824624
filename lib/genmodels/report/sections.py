"""What each code cell of ``report/report.ipynb`` shows, one function per cell, so the notebook holds only
headings, prose true of every model, and calls: the captions and every choice of what to show live here.

Each function takes the notebook's `Captions` (which numbers and displays) and the sweep's `Study`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pandas as pd

from genmodels.core.config import RunConfig
from genmodels.core.registry import MODEL_NAMES
from genmodels.core.metric_table import metric as metric_facts
from genmodels.runs.results import COLLAPSE_IS
from genmodels.report import designs, figures, prose, references, tables
from genmodels.report.captions import Captions
from genmodels.report.collect import HEADLINE, Study, cost_clock, cost_unit, main_runs, representative, study_model
from genmodels.report.english import count_word, data_name
from genmodels.report.questions.kl_factor import kl_table
from genmodels.report.questions.stability import clipped_runs, collapse_table, lipschitz_runs


def _headline_words() -> str:
    """ "depth 3, z_dim 100" """
    return f"depth {HEADLINE.depth}, z_dim {HEADLINE.z_dim}"


def _data() -> str:
    """The headline data set as the report names it ("MNIST")."""
    return data_name(HEADLINE.dataset)


def _clipping_critic_steps() -> str:
    """The critic steps per generator step of weight clipping under the default recipe, in words."""
    steps = RunConfig(model=study_model("lipschitz"), lipschitz="clip").resolved().n_critic
    return count_word(int(steps or 1)).lower()


def intro(cap: Captions, study: Study) -> None:
    cap.text(prose.intro_markdown(study.runs, study.sweep))


def designs_section(cap: Captions, study: Study) -> None:
    """The models' notes and losses, every network's layers as built at the headline depth, and parameter
    counts per depth, all read from the registry and the built models."""
    cap.text(designs.designs_markdown(study.width, HEADLINE.depth, HEADLINE.z_dim))
    cap.table(designs.design_table(HEADLINE.depth, study.width, HEADLINE.z_dim),
              f"Layers of every network as built at depth {HEADLINE.depth} (base width {study.width}, z_dim "
              f"{HEADLINE.z_dim}, one channel), read from the code; a model's variant gets a row where a network "
              "differs.")
    cap.table(designs.architecture_table(study.width), f"Trainable parameters per module and depth (base width "
              f"{study.width}, z_dim {HEADLINE.z_dim}, one channel). A network has two modules, so its depth is twice "
              "the module depth.", index=True)


def training_section(cap: Captions, study: Study) -> None:
    """How each model is trained and with which settings per recipe (as the trainer builds them), then the
    budget the sweep's runs spent."""
    cap.text(designs.training_markdown())
    settings = cap.table(designs.recipe_display(designs.recipe_table()), "Training settings per model and recipe, "
                         "read from the code (the optimiser the trainer builds, and the registry's defaults and "
                         "recipes): 'seed' is the assignment's loop with the literature's optimisers and settings "
                         "(each cited beside its default in genmodels.builtin); 'tuned' is this project's best "
                         "(README). G avg.: the average of the generator's weights samples are drawn from; D input: "
                         "noise added to the discriminator's inputs; z from: where sampled latents come from (N(0, I), "
                         "or a mixture fitted to the training codes). This sweep: "
                         f"{tables.recipes_used(study.runs)}.")
    cap.table(tables.budget_table(study.done), "Training budget per run (medians over finished runs; seconds and "
              f"images/s in {cost_clock(study.runs)}). A step of a model with a critic holds n_critic critic updates "
              f"(Table {settings}), each on a real batch, so its images count them.")


def _headline_runs(study: Study) -> Iterator[tuple[str, pd.Series | None, str]]:
    """(model, its headline run or None, the run's state: "complete", another status, or "not in the sweep") for
    every registered model."""
    for model in MODEL_NAMES:
        run = representative(study.runs, model)
        yield model, run, "not in the sweep" if run is None else str(run.status)


def loss_curve_figures(cap: Captions, study: Study) -> None:
    for model, run, state in _headline_runs(study):
        if run is None or state != "complete":
            cap.text(f"*No loss curves for {MODEL_NAMES[model]}: its depth-{HEADLINE.depth}, z_dim-{HEADLINE.z_dim} "
                     f"{_data()} run is {state}.*")
            continue
        cap.figure(figures.loss_curves(run), f"Loss terms of the {MODEL_NAMES[model]} (depth {run.depth}, z_dim "
                   f"{run.z_dim}, {_data()}) over training; light: every step, dark: moving average.")


def lipschitz_section(cap: Captions, study: Study) -> None:
    """Weight clipping's loss curves, the Lipschitz comparison, and quality against training time."""
    wgan = MODEL_NAMES[study_model("lipschitz")]
    clip = clipped_runs(study.done)
    if len(clip):
        cap.figure(figures.loss_curves(clip.iloc[0]), f"{wgan} with weight clipping: the Wasserstein estimate stays "
                   "small because clipping bounds the critic's weights, not its gradient.")
    cap.table(tables.metric_table(lipschitz_runs(study.runs)), f"{wgan} Lipschitz constraint: gradient penalty vs "
              f"weight clipping at {_headline_words()}, seed 0, with each run's training seconds (weight clipping "
              f"keeps {_clipping_critic_steps()} critic steps per generator step); the Discussion ranks the two "
              "only where they trained for equal time.")
    cap.figure(figures.quality_time_figure(study.runs), "Quality against training time: FID (left) and Inception "
               f"Score (right) measured during training of each model's depth-{HEADLINE.depth}, z_dim-{HEADLINE.z_dim} "
               f"{_data()} runs, one line per seed, against the {cost_unit(study.runs)} of training. Models are "
               "compared at equal compute, not equal steps.")


def generation_section(cap: Captions, study: Study) -> None:
    """Each model's sample progression and interpolation, and reconstructions where the model reconstructs."""
    from genmodels.core.registry import model_spec

    for model, run, state in _headline_runs(study):
        if run is None or state != "complete":
            continue
        folder = Path(run.run_dir) / "figures"
        cap.image(folder / "sample_progression.png", f"{MODEL_NAMES[model]} samples from the fixed noise batch over "
                  f"training (depth {run.depth}, z_dim {run.z_dim}, {_data()})."
                  + (" The latent mixture is refitted for each grid, so one noise vector can fall into another "
                     "component, and digit, from grid to grid." if run.get("latent_prior") == "gmm" else ""))
        cap.image(folder / "interpolation.png", f"{MODEL_NAMES[model]}: each row decodes an interpolation between "
                  "two random latents: spherical in noise space, or, for a VAE sampling from its fitted mixture, a "
                  "straight line between the two codes.")
    for model, run, state in _headline_runs(study):
        if model_spec(model).reconstructs and run is not None and state == "complete":
            cap.image(Path(run.run_dir) / "figures" / "reconstructions.png",
                      f"{MODEL_NAMES[model]} reconstructions of held-out test images (posterior mean).")


def classifier_section(cap: Captions, study: Study) -> None:
    cap.table(tables.classifier_table(study.done), "Feature classifier per data set (content hash, accuracy on the "
              "reference images), the sample counts of every metric, and the reference: held-out real images no "
              "model or classifier trained on -- the official test split where it was found, else (MNIST offline) "
              "1,000 images held out of the 5,000-image subset, 100 per digit.")


def dataset_sections(cap: Captions, study: Study) -> None:
    """Per data set: samples along the sweep's axes per model, metrics along the axes, and the main runs."""
    runs = study.runs
    for dataset in study.datasets:
        cap.text(f"## {dataset}")
        missing = prose.missing_data_sentences(runs[runs.dataset == dataset])
        if missing and not (runs[runs.dataset == dataset].status == "complete").any():
            cap.text(f"*{missing[0]}*")  # nothing to draw: the sweep set these runs aside
            continue
        for model in MODEL_NAMES:
            cap.figure(figures.axis_montage(runs, model, dataset), f"{MODEL_NAMES[model]} on {dataset}: final "
                       "samples along the sweep's depth axis (top) and z_dim axis (bottom), with FID and IS.")
        for metric in ("FID", "IS"):
            axes_fig = figures.axes_figure(runs, dataset, metric)
            if axes_fig is None:
                continue  # the line below names the axes this sweep did not run
            cap.figure(axes_fig, f"{dataset}: {metric} along the depth axis (left) and the z_dim axis (right) per "
                       f"model ({'higher' if metric_facts(metric).higher_is_better else 'lower'} is better); where a point was run with "
                       "several seeds, the marker is their median and the bar their range.")
        gaps = figures.missing_axes(runs, dataset)
        if gaps:
            cap.text(f"*{gaps}*")
        main = main_runs(runs)
        cap.table(tables.metric_table(main[main.dataset == dataset].sort_values(["model", "depth", "z_dim"])),
                  f"All main runs on {dataset} (default model knobs, seed 0). Unfinished runs show their status.")


def kl_section(cap: Captions, study: Study) -> None:
    vae = MODEL_NAMES[study_model("kl_factor")]
    cap.figure(figures.kl_sweep_figure(study.runs), f"{vae} KL-factor sweep ({_data()}): samples (top) and test "
               "reconstructions (bottom). The KL factor trades reconstruction detail against how closely the codes "
               "follow the prior; samples are drawn as the runs' recipe says (the tuned one: from a mixture fitted "
               "to the training codes, so the prior's holes no longer cost sample quality).")
    cap.table(kl_table(study.runs), "KL-factor sweep: sample quality and test reconstruction MSE.")


def collapse_section(cap: Captions, study: Study) -> None:
    cap.table(collapse_table(study.runs), "GAN runs over seeds per discriminator output; a run counts as "
              f"collapsed when its samples fall into fewer than ~{COLLAPSE_IS:g} effective classes "
              f"(IS < {COLLAPSE_IS:g}).")


def equal_compute_section(cap: Captions, study: Study) -> None:
    cap.table(tables.seed_spread_table(study.runs), "Headline numbers with their spread: each model's "
              f"depth-{HEADLINE.depth}, z_dim-{HEADLINE.z_dim} {_data()} configuration over seeds, median and "
              "[min, max] of the final FID and IS.")
    cap.table(tables.equal_compute_table(study.runs), f"Each model's best run on {_data()} (by FID) with its "
              f"training time ({cost_clock(study.runs)}) on this machine, and the medians over all its main runs.")
    longer = tables.long_run_table(study.runs)
    if len(longer):
        cap.table(longer, "Long runs: what a configuration reaches with a few times the grid's budget, beside the "
                  "same configuration and seed at the grid's budget.")


def discussion_section(cap: Captions, study: Study) -> None:
    """One paragraph per question of the assignment, the Conclusion and the Limitations, then the runs the
    paragraphs cite by reference (R1, R2, ...)."""
    text = prose.build_discussion(study.runs)
    cap.text(text.markdown())
    if text.refs.keys:
        cap.table(text.runs_table(), "Runs the Discussion cites: each reference and its run folder under the results "
                  "root (dataset/model/name; the name holds depth, z_dim, the model's knob, the seed and a hash of "
                  "the configuration).")


def references_section(cap: Captions, study: Study) -> None:
    """The works the report cites: in its notebook's own text, the generated Designs and Training text, and the
    Discussion."""
    import nbformat

    from genmodels.report.build import REPORT_NOTEBOOK

    notebook = nbformat.read(REPORT_NOTEBOOK, as_version=4)
    text = " ".join([*(c.source for c in notebook.cells if c.cell_type == "markdown"),
                     designs.designs_markdown(study.width, HEADLINE.depth, HEADLINE.z_dim),
                     designs.training_markdown(), prose.discussion_markdown(study.runs)])
    cap.text(references.references_markdown(text))


def unfinished_section(cap: Captions, study: Study) -> None:
    unfinished = tables.unfinished_table(study.runs)
    if len(unfinished):
        cap.table(unfinished, "Configurations of the sweep without a finished run.")
    else:
        cap.text(f"All {len(study.runs)} configurations of the sweep finished.")
