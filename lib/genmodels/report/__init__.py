"""The report: collect a sweep's runs from ``results/``, draw the comparison figures, write the Designs,
Training and Discussion text from the code and the measured numbers, and turn ``report/report.ipynb`` into PDF
(nbconvert + XeLaTeX) and HTML.

One concern per module: `collect` (which runs, the study design), `designs` (architectures and training
settings from the registries and the built models), `tables`, `figures`, the Discussion -- `questions` (one
module per question of the assignment: its runs, findings, paragraph and Conclusion sentence), beside the shared
`evidence` (a metric with its spread over seeds, comparisons, numbered run references) and `english` (lists,
names, counts) -- and `prose` (the introduction, and the Discussion assembled with its Conclusion and
Limitations), `references` (the bibliography), `captions` (numbered display in the notebook, HTML and PDF),
`sections` (what each notebook cell shows) and `build` (papermill, nbconvert, LaTeX).

The names below are what the report notebook calls (``from genmodels import report as R``; ``R.intro``...),
what the CLI builds with, and `collect_runs`; everything else is imported from its module.

The report never trains. A configuration of the sweep without a finished run appears as "todo", "partial" or
"failed" in every table it would have been in, never silently dropped.
"""

from __future__ import annotations

from genmodels.report.build import BuildResult, ReportError, build_report, pdf_text
from genmodels.report.captions import Captions
from genmodels.report.collect import Study, collect_runs
from genmodels.report.sections import (classifier_section, collapse_section, dataset_sections, designs_section,
                                       discussion_section, equal_compute_section, generation_section, intro,
                                       kl_section, lipschitz_section, loss_curve_figures, references_section,
                                       training_section, unfinished_section)

__all__ = ["Study", "Captions", "intro", "designs_section", "training_section", "loss_curve_figures",
           "lipschitz_section", "generation_section", "classifier_section", "dataset_sections", "kl_section",
           "collapse_section", "equal_compute_section", "discussion_section", "unfinished_section",
           "references_section", "build_report", "BuildResult", "ReportError", "pdf_text", "collect_runs"]
