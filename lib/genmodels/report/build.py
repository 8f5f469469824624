"""Building the report: execute ``report/report.ipynb`` over a sweep's results with papermill, then export
HTML (formulas as MathML, readable offline) and, where TeX is installed, PDF through nbconvert and XeLaTeX.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# the project's root: lib/genmodels/report/build.py is four levels below it
ROOT = Path(__file__).resolve().parents[3]
REPORT_NOTEBOOK = ROOT / "report" / "report.ipynb"


class ReportError(RuntimeError):
    """The report notebook failed; the message names the error and the executed notebook to look at."""



@dataclass
class BuildResult:
    notebook: Path
    html: Path
    pdf: Path | None
    message: str



def build_report(sweep_file: str | os.PathLike[str], results_root: str | os.PathLike[str] = "results",
                 out_dir: str | os.PathLike[str] = "report") -> BuildResult:
    """Execute the report notebook over the results, then export HTML and (where TeX exists) PDF.

    The HTML has its formulas as MathML and loads nothing from the network (`genmodels.report.mathml`), so it reads
    the same offline; the PDF gets the notebook's LaTeX as it is."""
    import nbformat
    import papermill as pm
    from nbconvert import PDFExporter
    from traitlets.config import Config

    from genmodels.runs.execute import IPCKernelManager, kernel_name
    from genmodels.report.mathml import TEMPLATES, OfflineHTMLExporter

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    executed = out / "report.executed.ipynb"
    try:
        pm.execute_notebook(str(REPORT_NOTEBOOK), str(executed), kernel_name=kernel_name(), progress_bar=False,
                            parameters={"sweep": str(Path(sweep_file).resolve()),
                                        "results_root": str(Path(results_root).resolve())},
                            cwd=str(out.resolve()), kernel_manager_class=IPCKernelManager)
    except pm.PapermillExecutionError as err:
        raise ReportError(f"the report notebook failed: {err.ename}: {err.evalue}; see {executed}") from None
    nb = nbformat.read(executed, as_version=4)
    config = Config()
    config.TemplateExporter.exclude_input = True
    config.TemplateExporter.exclude_input_prompt = True
    config.TemplateExporter.exclude_output_prompt = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove"}
    config.TagRemovePreprocessor.enabled = True
    html, _ = OfflineHTMLExporter(config=config).from_notebook_node(nb)  # MathML: renders offline
    html_path = out / "report.html"
    html_path.write_text(html)
    missing = [tool for tool in ("xelatex", "pandoc") if shutil.which(tool) is None]
    if missing:
        return BuildResult(executed, html_path, None,
                           f"no PDF: {' and '.join(missing)} not found (Debian: apt-get install texlive-xetex "
                           "texlive-fonts-recommended texlive-plain-generic pandoc); the HTML report is complete")
    # the template as constructor arguments: set as attributes after construction, the exporter kept the stock
    # LaTeX template (its search path is fixed at construction), so report/template/genmodels never applied
    pdf_exporter = PDFExporter(config=config, extra_template_basedirs=[str(TEMPLATES)], template_name="genmodels")
    try:
        pdf, _ = pdf_exporter.from_notebook_node(nb, resources={"metadata": {"path": str(out.resolve())}})
    except Exception as err:  # nbconvert raises LatexFailed with the TeX log
        log = getattr(err, "output", "") or str(err)
        (out / "latex-error.log").write_text(str(log))
        return BuildResult(executed, html_path, None, f"no PDF: LaTeX failed, see {out / 'latex-error.log'}")
    pdf_path = out / "report.pdf"
    pdf_path.write_bytes(pdf)
    return BuildResult(executed, html_path, pdf_path, f"wrote {pdf_path} and {html_path}")



def pdf_text(pdf: Path) -> str:
    """The PDF's text (pdftotext), for checks."""
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
