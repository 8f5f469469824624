"""How the report notebook shows a figure or table: numbered, captioned, and the same in HTML and PDF (a table
carries its own LaTeX, `latex.table_latex`, so the PDF keeps it whole and beside its caption)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from genmodels.report.latex import table_latex
from genmodels.report.tables import markdown


class Captions:
    """Numbers figures and tables and displays each with its caption (HTML and PDF alike)."""

    def __init__(self) -> None:
        self.figures = 0
        self.tables = 0

    def figure(self, fig: plt.Figure | None, caption: str, dpi: int = 150) -> None:
        import io

        from IPython.display import Markdown, display

        if fig is None:
            display(Markdown(f"*No figure: {caption} (no finished runs for it).*"))
            return
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        self._show(buffer.getvalue(), caption)

    def image(self, path: str | os.PathLike[str] | None, caption: str) -> None:
        from IPython.display import Markdown, display

        if path is None or not Path(path).is_file():
            display(Markdown(f"*No figure: {caption} (run missing).*"))
            return
        self._show(Path(path).read_bytes(), caption)

    def _show(self, png: bytes, caption: str) -> None:
        """The image, numbered, then its caption: the HTML shows the two outputs in turn; the PDF sets the image
        with the caption it carries in its metadata as one float (report/template/genmodels) and leaves out the
        caption's own output."""
        from IPython.display import Image, Markdown, display

        self.figures += 1
        text = f"**Figure {self.figures}.** {caption}"
        display(Image(png), metadata={"genmodels_caption": text})
        display(Markdown(text), metadata={"genmodels_figure_caption": True})

    def table(self, frame: pd.DataFrame, caption: str, index: bool = False) -> int | None:
        """Show the table with its caption; its number, for later captions to refer to (None: not shown)."""
        from IPython.display import Markdown, display

        if frame is None or frame.empty:
            display(Markdown(f"*No table: {caption} (no runs for it).*"))
            return None
        self.tables += 1
        caption = f"**Table {self.tables}.** {caption}"
        data = {"text/markdown": f"{caption}\n\n" + markdown(frame, index=index)}
        latex = table_latex(frame, caption, index=index)  # the PDF's: caption and table kept together
        if latex is not None:
            data["text/latex"] = latex
        display(data, raw=True)
        return self.tables

    @staticmethod
    def text(markdown_text: str) -> None:
        """Show generated prose (Markdown, formulas included) as the notebook's output."""
        from IPython.display import Markdown, display

        if markdown_text:
            display(Markdown(markdown_text))
