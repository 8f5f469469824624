"""Building the report: execute ``report/report.ipynb`` over a sweep's results with papermill, then export
HTML (formulas as MathML, readable offline) and, where TeX is installed, PDF through nbconvert and XeLaTeX.

The executed notebook, the HTML and the PDF are written under hidden temporary names and renamed over the
previous ones together at the very end (`_commit`), so that a build killed while its notebook runs or while
LaTeX works leaves the previous report as it was: a reader never finds a new HTML beside an old PDF, or a
half-executed notebook. A build without a PDF removes the previous PDF, which would describe other runs.

A build replaces or removes only files a build wrote: each build records its files' SHA-256 in the folder
(`MANIFEST`), and a file of one of its names that the record does not vouch for (a user's own report.pdf in the
folder named by ``--out``, or a report edited since) stops the build before anything runs, unless the user said
``--overwrite``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genmodels.core import store
from genmodels.core.files import sha256_file

# the project's root: lib/genmodels/report/build.py is four levels below it
ROOT = Path(__file__).resolve().parents[3]
REPORT_NOTEBOOK = ROOT / "report" / "report.ipynb"
# what a build writes into its output folder
EXECUTED, HTML, PDF = "report.executed.ipynb", "report.html", "report.pdf"
FAILED = "report.failed.ipynb"  # the executed notebook of a build whose notebook failed
LATEX_LOG = "latex-error.log"
LOCK = ".report.lock"  # one build per output folder at a time
MANIFEST = ".report.json"  # the SHA-256 of each file the last build left here
OUTPUTS = (EXECUTED, HTML, PDF, FAILED, LATEX_LOG)  # every name a build writes, replaces or removes


class ReportError(RuntimeError):
    """The report notebook failed; the message names the error and the executed notebook to look at."""



@dataclass
class BuildResult:
    notebook: Path
    html: Path
    pdf: Path | None
    message: str



def build_report(sweep_file: str | os.PathLike[str], results_root: str | os.PathLike[str] = "results",
                 out_dir: str | os.PathLike[str] = "report", overwrite: bool = False) -> BuildResult:
    """Execute the report notebook over the results, then export HTML and (where TeX exists) PDF.

    The HTML has its formulas as MathML and loads nothing from the network (`genmodels.report.mathml`), so it reads
    the same offline; the PDF gets the notebook's LaTeX as it is. One build writes an output folder at a time
    (a second one is a `ReportError`); the outputs appear together at the end, and replace only what a build
    wrote unless `overwrite` (the module's docstring)."""
    out = Path(out_dir)
    # before the lock, which would leave its file in a user's folder: a refused build writes nothing
    foreign = [] if overwrite else not_from_a_build(out, earlier_build=(out / LOCK).exists())
    if foreign:
        raise ReportError(f"{foreign[0]} was not written by a report build (or was changed since); move it, "
                          "choose another --out, or pass --overwrite to replace it")
    out.mkdir(parents=True, exist_ok=True)
    try:
        with store.folder_lock(out, wait=0, name=LOCK):
            staged = {name: store.partial_name(out / name) for name in (EXECUTED, HTML, PDF)}
            try:
                for name in staged:  # what a killed build left (this build holds the folder's lock)
                    for stale in store.partial_names(out / name):
                        stale.unlink(missing_ok=True)
                return _build(sweep_file, results_root, out, staged)
            finally:
                for path in staged.values():  # whatever was not renamed into place
                    path.unlink(missing_ok=True)
                record_outputs(out)  # whatever this build left, the files of its names are a build's now
    except store.FolderBusy:
        raise ReportError(f"{out} is being written by another report build; wait for it to end or choose "
                          "another --out") from None


def not_from_a_build(out: Path, earlier_build: bool) -> list[Path]:
    """The files of a build's names in `out` that no build wrote as they are: not in the last build's record, or
    changed since. A folder whose lock file shows a build but that has no record was written by a version that
    kept none: its files count as a build's."""
    recorded = store.read_json(out / MANIFEST)
    if not isinstance(recorded, dict):
        recorded = None
    present = [out / name for name in OUTPUTS if os.path.lexists(out / name)]
    if recorded is None:
        return [] if earlier_build else present
    return [path for path in present if path.is_symlink() or not path.is_file()
            or recorded.get(path.name) != sha256_file(path)]


def record_outputs(out: Path) -> None:
    """Record the SHA-256 of each file of a build's names in `out` (called once this build made them its own)."""
    present = {name: sha256_file(out / name) for name in OUTPUTS
               if (out / name).is_file() and not (out / name).is_symlink()}
    store.write_json(out / MANIFEST, present)


def _build(sweep_file: str | os.PathLike[str], results_root: str | os.PathLike[str], out: Path,
           staged: dict[str, Path]) -> BuildResult:
    import nbformat
    import papermill as pm

    from genmodels.runs.kernels import IPCKernelManager, kernel_name
    from genmodels.report.mathml import OfflineHTMLExporter

    try:
        pm.execute_notebook(str(REPORT_NOTEBOOK), str(staged[EXECUTED]), kernel_name=kernel_name(),
                            progress_bar=False, parameters={"sweep": str(Path(sweep_file).resolve()),
                                                            "results_root": str(Path(results_root).resolve())},
                            cwd=str(out.resolve()), kernel_manager_class=IPCKernelManager)
    except pm.PapermillExecutionError as err:
        os.replace(staged[EXECUTED], out / FAILED)
        try:
            culprit = unreadable_run_file(sweep_file, results_root)
        except Exception:  # a diagnosis that fails must not hide the error it diagnoses
            culprit = None
        where = f"; {culprit}" if culprit else ""
        raise ReportError(f"the report notebook failed: {err.ename}: {err.evalue}{where}; see {out / FAILED}") from None
    nb = nbformat.read(staged[EXECUTED], as_version=4)
    html, _ = OfflineHTMLExporter(config=export_config()).from_notebook_node(nb)  # MathML: renders offline
    staged[HTML].write_text(html)
    missing = [tool for tool in ("xelatex", "pandoc") if shutil.which(tool) is None]
    if missing:
        _commit(out, staged, pdf=False)
        return BuildResult(out / EXECUTED, out / HTML, None,
                           f"no PDF: {' and '.join(missing)} not found (Debian: apt-get install texlive-xetex "
                           "texlive-fonts-recommended texlive-plain-generic pandoc); the HTML report is complete")
    try:
        pdf = export_pdf(nb, out)
    except Exception as err:  # nbconvert raises LatexFailed with the TeX log
        log = getattr(err, "output", "") or str(err)
        store.write_text(out / LATEX_LOG, str(log))
        _commit(out, staged, pdf=False)
        return BuildResult(out / EXECUTED, out / HTML, None, f"no PDF: LaTeX failed, see {out / LATEX_LOG}")
    staged[PDF].write_bytes(pdf)
    _commit(out, staged, pdf=True)
    return BuildResult(out / EXECUTED, out / HTML, out / PDF, f"wrote {out / PDF} and {out / HTML}")


def unreadable_run_file(sweep_file: str | os.PathLike[str], results_root: str | os.PathLike[str]) -> str | None:
    """The first run of the sweep whose folder is damaged (`store.run_state`: a figure or sample grid that is not a
    PNG, a history holding text, ...), as "run folder R: what is wrong", or None. Asked when the notebook failed:
    its error ("not a PNG file", a float where text belongs) names neither the run nor the file, and a user needs
    both to repair or re-run it."""
    from genmodels.runs.sweep import load_sweep

    for spec in load_sweep(sweep_file, results_root):
        state = spec.state()
        if state.status is store.Status.DAMAGED:
            return f"run folder {spec.run_dir}: {state.reason}"
    return None


def export_config() -> Any:
    """What the HTML and PDF show of the executed notebook: outputs only, no code, prompts or removed cells."""
    from traitlets.config import Config

    config = Config()
    config.TemplateExporter.exclude_input = True
    config.TemplateExporter.exclude_input_prompt = True
    config.TemplateExporter.exclude_output_prompt = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove"}
    config.TagRemovePreprocessor.enabled = True
    return config


def export_pdf(nb: Any, folder: Path) -> bytes:
    """The notebook's PDF through XeLaTeX with the report's template (report/template/genmodels); `folder` is where
    relative paths in the notebook point. Raises nbconvert's LatexFailed, with the TeX log, when LaTeX stops."""
    from nbconvert import PDFExporter

    from genmodels.report.mathml import TEMPLATES

    # the template as constructor arguments: set as attributes after construction, the exporter kept the stock
    # LaTeX template (its search path is fixed at construction), so report/template/genmodels never applied
    exporter = PDFExporter(config=export_config(), extra_template_basedirs=[str(TEMPLATES)], template_name="genmodels")
    pdf, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(folder.resolve())}})
    return pdf


def _commit(out: Path, staged: dict[str, Path], pdf: bool) -> None:
    """Rename this build's outputs over the previous ones, one right after the other. A previous PDF goes first
    when this build has none (it would describe other runs than the HTML beside it); a previous build's failed
    notebook and LaTeX log go when this build did not fail there."""
    stale = [FAILED] + ([PDF] if not pdf else [LATEX_LOG])
    for name in stale:
        (out / name).unlink(missing_ok=True)
    for name in (EXECUTED, HTML, PDF) if pdf else (EXECUTED, HTML):
        os.replace(staged[name], out / name)



def pdf_text(pdf: Path) -> str:
    """The PDF's text (pdftotext), for checks."""
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
