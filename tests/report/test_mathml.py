"""The HTML report's formulas are MathML written at export time and the page loads nothing from the network,
so it reads the same offline (the browser check is tests/notebooks/test_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from genmodels.report.mathml import UNRENDERED, OfflineHTMLExporter, latex_to_mathml

ROOT = Path(__file__).resolve().parents[2]
INLINE_MATH = re.compile(r"(?<![$\\])\$(?!\$)(.+?)(?<![$\\])\$")


def designs_text() -> str:
    """The Designs section's generated text, which carries the models' loss formulas."""
    from genmodels.report import designs

    return designs.designs_markdown(width=16, depth=3)


def report_formulas() -> list[str]:
    nb = nbformat.read(ROOT / "report" / "report.ipynb", as_version=4)
    texts = [c.source for c in nb.cells if c.cell_type == "markdown"] + [designs_text()]
    return [m for text in texts for m in INLINE_MATH.findall(text)]


def test_every_formula_of_the_report_converts() -> None:
    formulas = report_formulas()
    assert len(formulas) >= 5  # the loss formulas of the Designs section
    for latex in formulas:
        assert latex_to_mathml(latex).startswith("<math"), latex


def test_display_math_is_a_block() -> None:
    assert 'display="block"' in latex_to_mathml(r"\sum_i x_i", display=True)


def test_an_unreadable_formula_is_shown_as_code_not_dropped(caplog: pytest.LogCaptureFixture) -> None:
    assert latex_to_mathml(r"x^1^2 < y") == f'<code class="{UNRENDERED}">x^1^2 &lt; y</code>'
    assert "formula left as LaTeX" in caplog.text


@pytest.fixture(scope="module")
def exported() -> str:
    """The report notebook as the report exports it, with the Designs text as the output it displays (the
    formulas are in its markdown cells and in that generated Markdown output)."""
    nb = nbformat.read(ROOT / "report" / "report.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
        "display_data", data={"text/markdown": designs_text()})]))
    html, _ = OfflineHTMLExporter().from_notebook_node(nb)
    return html


def test_report_html_has_mathml_and_no_latex_left(exported: str) -> None:
    body = exported.split("<body", 1)[1]
    assert body.count("<math ") == len(report_formulas())
    text = re.sub(r"<math .*?</math>", "", body, flags=re.S)
    assert "\\mathcal" not in text and "\\mathrm" not in text
    assert not INLINE_MATH.search(re.sub(r"<(script|style)\b.*?</\1>", "", text, flags=re.S))


def test_report_html_loads_nothing_from_the_network(exported: str) -> None:
    assert not re.search(r"""<(script|link|img)\b[^>]*\b(src|href)=["']?(https?:)?//""", exported), \
        re.findall(r"""<(?:script|link|img)\b[^>]*""", exported)
    assert "mathjax" not in exported.lower() and "cdnjs" not in exported
