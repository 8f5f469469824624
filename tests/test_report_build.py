"""How a report build's files appear (issue 19): the executed notebook, HTML and PDF are renamed into place
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
    return {p.name: p.read_text(errors="replace") for p in out.iterdir() if p.name != build.LOCK}


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
