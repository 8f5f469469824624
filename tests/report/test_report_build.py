"""How a report build's files appear: the executed notebook, HTML and PDF are renamed into place
together at the end, so a build killed while its notebook runs or while LaTeX works leaves the previous report
as it was, and a build without a PDF removes the previous PDF. Papermill and LaTeX are stood in for (what is
tested is the order of writes, not the notebook); the real build is in test_report.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from genmodels.report import build

OLD = {build.EXECUTED: "old notebook", build.HTML: "old html", build.PDF: "old pdf"}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An output folder holding a previous build's three files."""
    folder = tmp_path / "report"
    folder.mkdir()
    for name, text in OLD.items():
        (folder / name).write_text(text)
    build.record_outputs(folder)  # as the build that wrote them did
    return folder


def stand_in_papermill(monkeypatch: pytest.MonkeyPatch, then: BaseException | None = None) -> None:
    """papermill writes a one-cell notebook to its output path (as it does, cell by cell), then raises `then`."""
    import papermill

    def execute(notebook: str, output: str, **_: Any) -> None:
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Results\n\nnew")]), output)
        if then is not None:
            raise then

    monkeypatch.setattr(papermill, "execute_notebook", execute)


def with_tex(monkeypatch: pytest.MonkeyPatch, pdf: Any) -> None:
    """xelatex and pandoc 'found'; the PDF export returns `pdf` bytes, or raises it when it is an exception."""
    from nbconvert import PDFExporter

    def export(self: Any, nb: Any, resources: Any = None, **_: Any) -> tuple[bytes, dict]:
        if isinstance(pdf, BaseException):
            raise pdf
        return pdf, {}

    monkeypatch.setattr(build.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(PDFExporter, "from_notebook_node", export)


def files(out: Path) -> dict[str, str]:
    return {p.name: p.read_text(errors="replace") for p in out.iterdir() if p.name not in (build.LOCK, build.MANIFEST)}


def test_killed_while_the_notebook_runs_leaves_the_previous_report(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in_papermill(monkeypatch, then=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        build.build_report("s.yaml", "results", out)
    assert files(out) == OLD  # no half-executed notebook, no temporary file


def test_killed_during_the_pdf_export_leaves_the_previous_report(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in_papermill(monkeypatch)
    with_tex(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        build.build_report("s.yaml", "results", out)
    assert files(out) == OLD  # no new HTML beside the old PDF


def test_a_build_writes_its_three_files_together(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in_papermill(monkeypatch)
    with_tex(monkeypatch, b"new pdf")
    result = build.build_report("s.yaml", "results", out)
    assert result.pdf == out / build.PDF
    now = files(out)
    assert set(now) == set(OLD) and now[build.PDF] == "new pdf" and "new" in now[build.HTML]
    assert "new" in now[build.EXECUTED]


def test_a_build_without_pdf_removes_the_previous_pdf(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in_papermill(monkeypatch)
    monkeypatch.setattr(build.shutil, "which", lambda tool: None)
    result = build.build_report("s.yaml", "results", out)
    assert result.pdf is None and result.message.startswith("no PDF")
    assert set(files(out)) == {build.EXECUTED, build.HTML}  # the old PDF would describe other runs


def test_a_failed_notebook_keeps_the_previous_report_and_names_its_own(out: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill

    stand_in_papermill(monkeypatch, then=papermill.PapermillExecutionError(0, 1, "", "ValueError", "bad", []))
    with pytest.raises(build.ReportError, match=f"ValueError: bad; see {out / build.FAILED}"):
        build.build_report("s.yaml", "results", out)
    assert {k: v for k, v in files(out).items() if k != build.FAILED} == OLD


def test_a_killed_builds_temporary_files_are_removed_by_the_next(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL leaves a build no chance to clean up: its partial files go when the next build starts."""
    from genmodels.core import store

    left = [store.partial_name(out / name) for name in (build.EXECUTED, build.HTML, build.PDF)]
    for path in left:
        path.write_text("half")
    stand_in_papermill(monkeypatch)
    monkeypatch.setattr(build.shutil, "which", lambda tool: None)
    build.build_report("s.yaml", "results", out)
    assert not any(path.exists() for path in left)
    assert set(files(out)) == {build.EXECUTED, build.HTML}


def test_a_users_own_report_in_the_folder_stops_the_build_before_anything_runs(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`report --out ~/thesis` where the thesis is report.pdf: one line naming it, and the folder as it was."""
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / build.PDF).write_text("my thesis")
    stand_in_papermill(monkeypatch, then=AssertionError("the notebook ran"))
    with pytest.raises(build.ReportError, match=f"{folder / build.PDF} was not written by a report build"):
        build.build_report("s.yaml", "results", folder)
    assert [p.name for p in folder.iterdir()] == [build.PDF] and (folder / build.PDF).read_text() == "my thesis"


def test_a_report_edited_since_its_build_is_replaced_only_with_overwrite(out: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (out / build.HTML).write_text("the html, with my notes")
    stand_in_papermill(monkeypatch)
    monkeypatch.setattr(build.shutil, "which", lambda tool: None)
    with pytest.raises(build.ReportError, match="or was changed since"):
        build.build_report("s.yaml", "results", out)
    assert (out / build.HTML).read_text() == "the html, with my notes"
    build.build_report("s.yaml", "results", out, overwrite=True)
    assert "new" in (out / build.HTML).read_text()
    build.build_report("s.yaml", "results", out)  # the build's own files again: replaced without a word


def test_a_folder_an_earlier_version_built_is_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No record, but the lock file every build leaves: a build of a version that kept no record wrote them."""
    folder = tmp_path / "report"
    folder.mkdir()
    for name, text in OLD.items():
        (folder / name).write_text(text)
    (folder / build.LOCK).touch()
    stand_in_papermill(monkeypatch)
    monkeypatch.setattr(build.shutil, "which", lambda tool: None)
    build.build_report("s.yaml", "results", folder)
    assert "new" in (folder / build.HTML).read_text() and not (folder / build.PDF).exists()


# ---------------------------------------------------------------------------------------------- the shapes a user can make
def shape_runs(entries: list[tuple[dict[str, Any], str, dict[str, Any]]]) -> Any:
    """A sweep's runs as the report reads them (`results.run_row`), each with the status and measures given."""
    import math

    import pandas as pd

    from genmodels.core import store
    from genmodels.core.config import RunConfig
    from genmodels.runs.results import RUN_COLUMNS, run_row

    rows = []
    for i, (values, status, measured) in enumerate(entries):
        row = run_row(RunConfig(**values), Path(f"run-{i}"), store.RunState(store.Status.TODO), f"run {i}")
        rows.append({**row, **{column: math.nan for column in RUN_COLUMNS}, "status": status, **measured})
    return pd.DataFrame(rows)


MEASURED = {"FID": 12.5, "KID": 0.0123, "IS": 7.0, "precision": 0.5, "recall": 0.4, "seconds": 30.0, "images": 960,
            "collapsed": False}
SHAPES = {
    "metrics off": [({"model": m, "metric_samples": 0}, "complete", {"seconds": 3.0, "images": 96})
                    for m in ("vae", "gan", "wgan")],
    "one run": [({"model": "gan"}, "complete", MEASURED)],
    "one model": [({"model": "vae", "seed": seed}, "complete", MEASURED) for seed in (0, 1)],
    "one data set": [({"model": m, "dataset": "fashion-mnist"}, "complete", MEASURED) for m in ("vae", "gan")],
    "only failed runs": [({"model": m}, "failed", {}) for m in ("vae", "gan")],
}


def shape_tables(name: str) -> list[tuple[Any, str]]:
    """Every table the report draws from a sweep's runs, for one shape, with a caption holding LaTeX's specials."""
    from genmodels.report import tables
    from genmodels.report.questions.kl_factor import kl_table
    from genmodels.report.questions.stability import collapse_table

    runs = shape_runs(SHAPES[name])
    done, dataset = runs[runs.status == "complete"], runs.dataset.iloc[0]
    frames = [tables.metric_table(runs), kl_table(runs, dataset), tables.seed_spread_table(runs, dataset),
              collapse_table(runs), tables.equal_compute_table(runs, dataset), tables.long_run_table(runs),
              tables.classifier_table(done), tables.budget_table(done), tables.unfinished_table(runs)]
    return [(frame, f"{name}: 50 % of runs_done & #1 [range] {{x}} ~ $\\alpha$") for frame in frames
            if frame is not None and not frame.empty]


needs_pandoc = pytest.mark.skipif(build.shutil.which("pandoc") is None, reason="pandoc is not installed")


@needs_pandoc
def test_every_header_and_cell_is_escaped() -> None:
    """A header set on two lines starts its second line after LaTeX's line break, where "[" opens a length: "FID
    median [range]" over cells of "n/a" (metrics off) stopped the PDF with "Missing number"."""
    from genmodels.report.latex import table_latex

    frame, caption = next((f, c) for f, c in shape_tables("metrics off") if "FID median [range]" in f.columns)
    latex = table_latex(frame, caption)
    assert latex is not None and "\\\\[" not in latex and "median\\\\{[}range{]}" in latex, latex
    assert "50 \\% of runs\\_done \\& \\#1" in latex  # the caption, through pandoc


@pytest.mark.slow  # XeLaTeX sets one document of every shape's tables: ~10 s
@pytest.mark.skipif(build.shutil.which("xelatex") is None or build.shutil.which("pandoc") is None,
                    reason="xelatex or pandoc is not installed")
def test_every_shape_of_sweep_sets_its_tables_in_the_pdf(tmp_path: Path) -> None:
    """Metrics off, one run, one model, one data set, only failed runs: every table the report draws is set by
    LaTeX with the report's template, in one PDF, its headers intact."""
    from genmodels.report.latex import table_latex

    outputs = []
    for name in SHAPES:
        for frame, caption in shape_tables(name):
            latex = table_latex(frame, caption)
            outputs.append(nbformat.v4.new_output("display_data", data={"text/latex": latex, "text/plain": name}))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=outputs)])
    pdf = build.export_pdf(nb, tmp_path)
    (tmp_path / "shapes.pdf").write_bytes(pdf)
    text = " ".join(build.pdf_text(tmp_path / "shapes.pdf").split())
    assert all(f"{name}: 50 % of runs_done" in text for name in SHAPES), text[:2000]
    assert "[range]" in text  # the header's second line, set as text (LaTeX reads "\\[" as a length)


@pytest.mark.parametrize(("damage", "named"), [
    (lambda run: (run / "figures" / "samples.png").write_bytes(b"not an image"), "figures/samples.png is not a PNG image"),
    (lambda run: (run / "history.csv").write_text("step,loss\n1,abc\n"), "history.csv: line 2 holds text"),
    (lambda run: (run / "samples").mkdir() or (run / "samples" / "step_000010.png").write_text("<html>"),
     "samples/step_000010.png is not a PNG image"),
])
def test_a_notebook_failing_on_a_damaged_run_names_the_run_folder_and_the_file(
        damage: Any, named: str, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook's own error ("SyntaxError: not a PNG file") names neither; the build's one line names both, and
    the run folder is left as it was."""
    import hashlib

    from papermill.exceptions import PapermillExecutionError

    from conftest import fake_finished_run
    from genmodels.runs.sweep import load_sweep

    sweep = tmp_path / "s.yaml"
    sweep.write_text("defaults: {dataset: mnist-5k, steps: 2, metric_samples: 0}\ngrid: [{model: vae}]\n")
    spec = load_sweep(sweep, tmp_path / "results")[0]
    run = fake_finished_run(spec.run_dir, spec.config.config_hash())
    (run / "train.ipynb").write_text("{}")  # as a sweep leaves it
    (run / "figures").mkdir()
    (run / "figures" / "samples.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4) + b"IHDR" + bytes(16))
    damage(run)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.rglob("*") if p.is_file()}
    stand_in_papermill(monkeypatch, then=PapermillExecutionError(3, 1, "R.x()", "SyntaxError", "not a PNG file", []))
    with pytest.raises(build.ReportError) as info:
        build.build_report(sweep, tmp_path / "results", out)
    message = str(info.value)
    assert f"run folder {run}: {named}" in message and "SyntaxError: not a PNG file" in message, message
    assert "\n" not in message
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.rglob("*") if p.is_file()} == before
