"""HTML that renders its formulas offline: LaTeX math becomes MathML when the HTML is written.

nbconvert's HTML leaves ``$...$`` in the page for MathJax, which it loads from a CDN, so a report opened
without a network shows raw LaTeX. Here the markdown renderer converts every formula to MathML
(``latex2mathml``, pure Python) at export time, and the template (``report/template/genmodels-html``) loads no
script from the network, so ``report.html`` stays a single self-contained file that any current browser
(Chromium ≥ 109, Firefox, Safari) renders as it is, online or not. The PDF is made from the same notebook by
XeLaTeX, which reads the LaTeX itself; nothing here touches it.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from traitlets import default

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parents[3] / "report" / "template"  # the repository's report/template: genmodels/ (PDF), genmodels-html/ (HTML)
TEMPLATE = "genmodels-html"
UNRENDERED = "latex-unrendered"  # the class of a formula latex2mathml could not convert (shown as code)


def latex_to_mathml(latex: str, display: bool = False) -> str:
    """One formula as a ``<math>`` element; a formula the converter cannot read is shown as its LaTeX in a
    ``<code class="latex-unrendered">`` (and logged), so the report is still written and a check can find it."""
    from latex2mathml.converter import convert

    try:
        return convert(latex.strip(), display="block" if display else "inline")
    except Exception as err:  # latex2mathml raises a bare Exception subclass per kind of syntax error
        log.warning("formula left as LaTeX (latex2mathml: %s: %s): %s", type(err).__name__, err, latex)
        return f'<code class="{UNRENDERED}">{html.escape(latex)}</code>'


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer with math written as MathML instead of left for MathJax."""

    def inline_math(self, body: str) -> str:
        return latex_to_mathml(body)

    def block_math(self, body: str) -> str:
        return latex_to_mathml(body, display=True)

    def latex_environment(self, name: str, body: str) -> str:
        return latex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


class OfflineHTMLExporter(HTMLExporter):
    """The lab HTML export with MathML formulas and no script from a CDN (MathJax, require.js): the file
    needs no network. Markdown cells and markdown outputs both go through `markdown2html`."""

    @default("template_name")
    def _template_name_default(self) -> str:
        return TEMPLATE

    @default("extra_template_basedirs")
    def _extra_template_basedirs_default(self) -> list[str]:
        return [str(TEMPLATES)]

    @pass_context
    def markdown2html(self, context: Any, source: str) -> str:
        """`HTMLExporter.markdown2html` with `MathMLRenderer` (nbconvert names its renderer class inline)."""
        cell = context.get("cell", {})
        renderer = MathMLRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        return MarkdownWithMath(renderer=renderer).render(source)
