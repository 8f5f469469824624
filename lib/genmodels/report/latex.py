"""A table for the PDF report, set by the report itself rather than by pandoc: the caption and the table in one
unbreakable block (no page break between them, none inside a table that fits a page), set as a float like the
report's figures, so that a table which does not fit the rest of a page moves to the next one and the text after
it fills the space (an inline block ran past the page's foot into its number instead), columns at their natural
width where the table fits the text, long-text columns wrapped (tabularx) where it does not, and a header that
is wider than its column set on two lines.

pandoc, which nbconvert runs on Markdown output, turns any pipe table with a line over 72 characters into
relative-width columns that wrap every cell ("(0.9, / 0.999)" over two lines) and sets it as a longtable that
breaks across pages away from its caption. The notebook output keeps the Markdown for HTML and adds this as
``text/latex``, which nbconvert's LaTeX exporter prefers.
"""

from __future__ import annotations

import shutil

import pandas as pd

# characters of \small text that fit the report's text width (US letter, 0.8 in margins: 6.9 in), measured on
# the PDF: natural-width tables up to this wide are set as they are, wider ones wrap their long columns
TEXT_CHARS = 100
# a column whose longest cell has more characters than this wraps when the table is too wide
LONG_CELL = 24
# a table with more rows than this may not fit one page: it is set as a longtable, whose header repeats
MAX_BLOCK_ROWS = 38


def escape(text: object) -> str:
    """Plain text as LaTeX: the one function every header and cell of a table goes through (captions are Markdown,
    set by pandoc, which escapes them). The ten special characters, and square brackets braced: after a line break
    ``\\`` LaTeX reads a ``[`` as the start of a length, so the header "FID median [range]" set on two lines
    stopped the PDF with "Missing number"."""
    from nbconvert.filters import escape_latex

    return escape_latex(str(text)).replace("[", "{[}").replace("]", "{]}")


def markdown_to_latex(markdown: str) -> str | None:
    """A caption's Markdown as LaTeX through pandoc (None where pandoc is missing: then there is no PDF)."""
    if shutil.which("pandoc") is None:
        return None
    from nbconvert.filters.pandoc import convert_pandoc

    return convert_pandoc(markdown, "markdown+tex_math_double_backslash", "latex").strip()


def _header(text: str, width: int) -> str:
    """A header cell; on two lines (split at the middle space) where it is much wider than its column."""
    words = str(text).split(" ")
    if len(str(text)) <= max(width + 4, 10) or len(words) < 2:
        return escape(text)
    best = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))))
    top, bottom = " ".join(words[:best]), " ".join(words[best:])
    return rf"\begin{{tabular}}[b]{{@{{}}l@{{}}}}{escape(top)}\\{escape(bottom)}\end{{tabular}}"


def _wrapped_columns(widths: list[int]) -> list[bool]:
    """Which columns wrap: none where the natural widths fit `TEXT_CHARS`; else the widest first, one by one,
    until the others at their natural width leave each wrapped column at least `LONG_CELL` characters."""
    wrapped = [False] * len(widths)
    if sum(widths) + 2 * len(widths) <= TEXT_CHARS:
        return wrapped
    for i in sorted(range(len(widths)), key=lambda i: -widths[i]):
        if widths[i] <= LONG_CELL:
            break
        wrapped[i] = True
        rest = sum(w for w, x in zip(widths, wrapped) if not x) + 2 * len(widths)
        if rest + LONG_CELL * sum(wrapped) <= TEXT_CHARS:
            break
    return wrapped


def table_latex(frame: pd.DataFrame, caption_markdown: str, index: bool = False) -> str | None:
    """The caption above the table, kept together; None where pandoc is missing (no PDF is built then)."""
    caption = markdown_to_latex(caption_markdown)
    if caption is None:
        return None
    if index:
        frame = frame.reset_index()
    cells = [[str(v) for v in row] for row in frame.itertuples(index=False)]
    headers = [str(c).strip() for c in frame.columns]
    widths = [max([len(r[i]) for r in cells] + [1]) for i in range(len(headers))]
    header_widths = [len(h) if len(h) <= max(w + 4, 10) else len(h) // 2 + 1 for h, w in zip(headers, widths)]
    long = _wrapped_columns([max(w, h) for w, h in zip(widths, header_widths)])
    spec = "".join(">{\\raggedright\\arraybackslash}X" if is_long else "l" for is_long in long)
    head = " & ".join(_header(h, w) for h, w in zip(headers, widths)) + r" \\"
    body = "\n".join(" & ".join(escape(c) for c in row) + r" \\" for row in cells)
    if len(cells) > MAX_BLOCK_ROWS:  # longer than a page: a longtable, its header repeated on every page
        return "\n".join([r"\par\medskip", caption, r"\par\nopagebreak\smallskip", r"{\small",
                          rf"\begin{{longtable}}{{@{{}}{'l' * len(headers)}@{{}}}}", r"\toprule", head, r"\midrule",
                          r"\endhead", body, r"\bottomrule", r"\end{longtable}}", r"\par\medskip"])
    if any(long):
        table = [rf"\begin{{tabularx}}{{\linewidth}}{{@{{}}{spec}@{{}}}}", r"\toprule", head, r"\midrule", body,
                 r"\bottomrule", r"\end{tabularx}"]
    else:  # natural widths; scaled down only if the estimate was short of the truth
        table = [r"\begin{adjustbox}{max width=\linewidth}", rf"\begin{{tabular}}{{@{{}}{spec}@{{}}}}", r"\toprule",
                 head, r"\midrule", body, r"\bottomrule", r"\end{tabular}", r"\end{adjustbox}"]
    return "\n".join([r"\begin{table}[!htbp]", r"\noindent\begin{minipage}{\linewidth}", caption, r"\par\smallskip",
                      r"\centering\small", *table, r"\end{minipage}", r"\end{table}"])
