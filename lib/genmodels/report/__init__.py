"""The report: collect a sweep's runs from ``results/``, draw the comparison figures, write the Designs,
Training and Discussion text from the code and the measured numbers, and turn ``report/report.ipynb`` into PDF
(nbconvert + XeLaTeX) and HTML.

One concern per module: `collect` (which runs, the study design), `designs` (architectures and training
settings from the registries and the built models), `tables`, `figures`, `discussion` (generated prose),
`captions` (numbered display in the notebook) and `build` (papermill, nbconvert, LaTeX). The notebook uses the
names re-exported here (``from genmodels import report as R``; ``R.collect_runs``...) and holds no logic.

The report never trains. A configuration of the sweep without a finished run appears as "todo", "partial" or
"failed" in every table it would have been in, never silently dropped.
"""

from __future__ import annotations

from ..registry import DEFAULT_VARIANT, MODEL_NAMES, model_spec  # name -> "LSGAN", name -> its default variant
from ..results import COLLAPSE_IS  # the report notebook reads R.COLLAPSE_IS
from .build import REPORT_NOTEBOOK, ROOT, BuildResult, ReportError, build_report, pdf_text
from .captions import Captions
from .collect import (HEADLINE, Headline, Study, clipped_runs, collect_runs, headline_runs, kl_labels, lipschitz_runs,
                      main_runs, representative, seed_spread, study_model, sweep_axes)
from .designs import architecture_table
from .discussion import discussion, spread_sentences
from .figures import (axes_figure, axis_montage, kl_sweep_figure, loss_curves, missing_axes, quality_time_figure)
from .tables import (collapse_table, equal_compute_table, kl_table, markdown, metric_table, seed_spread_table)

__all__ = ["DEFAULT_VARIANT", "MODEL_NAMES", "model_spec", "COLLAPSE_IS", "REPORT_NOTEBOOK", "ROOT", "BuildResult",
           "ReportError", "build_report", "pdf_text", "Captions", "HEADLINE", "Headline", "Study", "clipped_runs",
           "collect_runs", "headline_runs", "kl_labels", "lipschitz_runs", "main_runs", "representative",
           "seed_spread", "study_model", "sweep_axes", "architecture_table", "discussion", "spread_sentences",
           "axes_figure", "axis_montage", "kl_sweep_figure", "loss_curves", "missing_axes", "quality_time_figure",
           "collapse_table", "equal_compute_table", "kl_table", "markdown", "metric_table", "seed_spread_table"]
