"""The report: collect a sweep's runs from ``results/``, draw the comparison figures, write the Designs,
Training and Discussion text from the code and the measured numbers, and turn ``report/report.ipynb`` into PDF
(nbconvert + XeLaTeX) and HTML.

One concern per module: `collect` (which runs, the study design), `designs` (architectures and training
settings from the registries and the built models), `tables`, `figures`, the Discussion in four layers --
`findings` (what the sweep measured per question, as data), `evidence` (a metric with its spread over seeds,
comparisons, numbered run references), `questions` (one paragraph template per question) and `prose` (the
introduction, and the Discussion assembled with its Conclusion and Limitations; no module is named
`discussion`, which is the function) --, `references` (the bibliography), `captions` (numbered display in the
notebook, HTML and PDF),
`sections` (what each notebook cell shows) and `build` (papermill, nbconvert, LaTeX). The notebook uses the
names re-exported here (``from genmodels import report as R``; ``R.collect_runs``...) and holds no logic.

The report never trains. A configuration of the sweep without a finished run appears as "todo", "partial" or
"failed" in every table it would have been in, never silently dropped.
"""

from __future__ import annotations

from genmodels.core.config import DEFAULT_VARIANT  # name -> its default variant
from genmodels.core.registry import MODEL_NAMES, model_spec  # name -> "LSGAN"
from genmodels.runs.results import COLLAPSE_IS  # the report notebook reads R.COLLAPSE_IS
from genmodels.report.build import REPORT_NOTEBOOK, ROOT, BuildResult, ReportError, build_report, pdf_text
from genmodels.report.captions import Captions
from genmodels.report.collect import (HEADLINE, Headline, Study, clipped_runs, collect_runs, headline_runs, kl_labels, lipschitz_runs,
                      long_runs, main_runs, representative, seed_spread, study_model, sweep_axes)
from genmodels.report.designs import (architecture_table, design_table, describe_network, designs_markdown, model_cases,
                      optimizer_row, recipe_table, training_markdown)
from genmodels.report.prose import Discussion, build_discussion, discussion, discussion_markdown, headline_sentences, intro_markdown
from genmodels.report.references import WORKS, cite, references_markdown
from genmodels.report.figures import axes_figure, axis_montage, kl_sweep_figure, loss_curves, missing_axes, quality_time_figure
from genmodels.report.sections import (classifier_section, collapse_section, dataset_sections, designs_section, discussion_section,
                       equal_compute_section, generation_section, intro, kl_section, lipschitz_section,
                       loss_curve_figures, references_section, training_section, unfinished_section)
from genmodels.report.tables import (budget_table, classifier_table, collapse_table, equal_compute_table, kl_table, long_run_table,
                     markdown, metric_table, recipes_used, seed_spread_table, unfinished_table)

__all__ = ["DEFAULT_VARIANT", "MODEL_NAMES",
           "model_spec", "COLLAPSE_IS", "REPORT_NOTEBOOK", "ROOT", "BuildResult", "ReportError", "build_report",
           "pdf_text", "Captions", "HEADLINE", "Headline", "Study", "clipped_runs", "collect_runs", "headline_runs",
           "kl_labels", "lipschitz_runs", "long_runs", "main_runs", "representative", "seed_spread", "study_model", "sweep_axes",
           "architecture_table", "design_table", "describe_network", "designs_markdown", "model_cases",
           "optimizer_row", "recipe_table", "training_markdown", "discussion", "discussion_markdown",
           "intro_markdown", "Discussion", "build_discussion", "headline_sentences", "WORKS", "cite",
           "references_markdown", "axes_figure", "axis_montage", "kl_sweep_figure", "loss_curves",
           "missing_axes", "quality_time_figure", "classifier_section", "collapse_section", "dataset_sections",
           "designs_section", "discussion_section", "equal_compute_section", "generation_section", "intro",
           "kl_section", "lipschitz_section", "loss_curve_figures", "references_section", "training_section", "unfinished_section",
           "budget_table", "classifier_table", "collapse_table", "equal_compute_table", "kl_table", "long_run_table", "markdown",
           "metric_table", "recipes_used", "seed_spread_table", "unfinished_table"]
