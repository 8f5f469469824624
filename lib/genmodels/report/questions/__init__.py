"""The Discussion's questions, one module each: `models` (which model samples best, by which measure, at what
cost), `axes` (depth and latent size), `kl_factor`, `stability` (discriminator output, Lipschitz constraint)
and `recipe`. Each module holds its question's runs, what they measured (plain data, no prose), its paragraph
and its sentence of the Conclusion, so one study is read in one file.

Every sentence is a template filled from the measured numbers: which model leads, whether a difference
exceeds the spread, whether a trend is monotone, whether a posterior collapsed are conditions, never fixed
prose, so the text stays true when the numbers change. A study or an axis value the sweep did not run gets one
line, never a claim.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd

from genmodels.report.evidence import RunRefs
from genmodels.report.questions import axes, kl_factor, models, recipe, stability

# the paragraphs in the assignment's order; a paragraph may be empty (a question the sweep cannot ask)
PARAGRAPHS: tuple[Callable[[pd.DataFrame, RunRefs], str], ...] = (
    models.paragraph, axes.depth_paragraph, axes.latent_paragraph, kl_factor.paragraph, stability.paragraph,
    recipe.paragraph)
# each question's sentence of the Conclusion, in the same order
TAKEAWAYS: tuple[Callable[[pd.DataFrame], str], ...] = (
    models.takeaway, axes.takeaway, kl_factor.takeaway, stability.takeaway, recipe.takeaway)


def discussion_paragraphs(runs: pd.DataFrame, refs: RunRefs) -> list[str]:
    """The questions' paragraphs, in the assignment's order (those the sweep cannot ask left out)."""
    return [text for text in (paragraph(runs, refs) for paragraph in PARAGRAPHS) if text]
