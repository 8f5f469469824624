"""The report built from the quick profile's results: headings, figures, no blank figure, and a Discussion
whose numbers agree with the metrics files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from genmodels.report import collect_runs, pdf_text

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.yaml"
HAVE_TEX = all(shutil.which(t) for t in ("xelatex", "pandoc", "pdftotext", "pdfimages"))

pytestmark = pytest.mark.slow  # builds the quick profile's sweep and the PDF


@pytest.fixture(scope="module")
def built(built_report: Path) -> Path:
    return built_report


def discussion_text(out: Path) -> str:
    nb = nbformat.read(out / "report.executed.ipynb", as_version=4)
    start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("# Discussion"))
    return "".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells[start:] if c.cell_type == "code"
                   for o in c.get("outputs", []))


def image_outputs(out: Path) -> int:
    nb = nbformat.read(out / "report.executed.ipynb", as_version=4)
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_html_is_written_with_every_section(built: Path) -> None:
    html = (built / "report.html").read_text()
    for heading in ("Designs", "Training", "Generation", "Results", "Discussion"):
        assert f">{heading}<" in html or f"{heading}</h1>" in html, heading
    assert "In&nbsp;[" not in html and "from genmodels" not in html  # no code, no prompts


@pytest.mark.skipif(not HAVE_TEX, reason="needs xelatex, pandoc and poppler-utils (make setup installs them)")
def test_pdf_has_sections_and_every_figure(built: Path) -> None:
    pdf = built / "report.pdf"
    assert pdf.is_file()
    text = pdf_text(pdf)
    for number, heading in enumerate(("Designs", "Training", "Generation", "Results", "Discussion"), start=1):
        assert re.search(rf"^\s*{number}\s+{heading}\s*$", text, re.M), heading
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    images = [line for line in listing.splitlines()[2:] if line.split()[2] == "image"]
    assert len(images) == image_outputs(built) >= 10
    assert len(re.findall(r"Figure \d+\.", text)) == image_outputs(built)


@pytest.mark.skipif(not HAVE_TEX, reason="needs xelatex, pandoc and poppler-utils (make setup installs them)")
def test_no_figure_in_the_pdf_is_blank(built: Path, tmp_path: Path) -> None:
    pdf = str(built / "report.pdf")
    listing = subprocess.run(["pdfimages", "-list", pdf], capture_output=True, text=True, check=True).stdout
    kinds = [line.split()[2] for line in listing.splitlines()[2:]]  # "image" or "smask" (alpha channels)
    subprocess.run(["pdfimages", "-png", pdf, str(tmp_path / "img")], check=True)
    files = sorted(tmp_path.glob("img-*.png"))
    assert len(files) == len(kinds)
    for path, kind in zip(files, kinds):
        if kind != "image":
            continue
        pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
        assert pixels.std() > 5, f"{path.name} is blank"


def text_below_the_text_area(pdf: Path) -> list[str]:
    """Words set below the text area of any page (the report's 0.8 in bottom margin), the page number aside: what a
    block taller than the rest of its page leaves when LaTeX cannot move it (pdftotext's word boxes)."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    below = []
    for number, page in enumerate(re.findall(r'<page width="[\d.]+" height="([\d.]+)">(.*?)</page>', html, re.S), 1):
        # points; a word's box reaches below its baseline, which may sit on the area's foot: 8 pt of the 12 pt line
        bottom = float(page[0]) - 0.8 * 72 + 8
        for y_max, word in re.findall(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</word>',
                                      page[1]):
            if float(y_max) > bottom and word != str(number):
                below.append(f"page {number}: {word}")
    return below


@pytest.mark.skipif(not HAVE_TEX, reason="needs xelatex, pandoc and poppler-utils (make setup installs them)")
def test_nothing_runs_below_the_text_area(built: Path) -> None:
    """Tables and figures are floats: one that does not fit the rest of its page moves on whole, where an inline
    table ran into the page number (the default profile's table of all runs did)."""
    assert text_below_the_text_area(built / "report.pdf") == []


@pytest.mark.skipif(not HAVE_TEX, reason="needs xelatex, pandoc and poppler-utils (make setup installs them)")
def test_pdf_keeps_captions_with_their_tables_and_figures(built: Path) -> None:
    """No page break between a caption and its table (nor inside a table), or between a figure and its caption:
    each table's caption and last row are on one page, and each figure's image on its caption's page."""
    pdf = built / "report.pdf"
    pages = pdf_text(pdf).split("\f")
    page_of = lambda pattern: next(i for i, page in enumerate(pages, 1) if re.search(pattern, page))  # noqa: E731
    nb = nbformat.read(built / "report.executed.ipynb", as_version=4)
    tables = [o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if re.match(r"\*\*Table \d+\.\*\*", o.get("data", {}).get("text/markdown", ""))]
    assert len(tables) >= 8
    for number, table in enumerate(tables, start=1):
        last_row = [cell.strip() for cell in table.strip().splitlines()[-1].strip("|").split("|") if cell.strip()]
        caption_page = pages[page_of(rf"Table {number}\.") - 1]
        # the row's first and last cells (a long cell may wrap and hyphenate: left out)
        for cell in {last_row[0], last_row[-1]}:
            if len(cell) <= 24:
                assert re.search(r"\s+".join(map(re.escape, cell.split())), caption_page), (number, cell)
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    image_pages = [int(line.split()[0]) for line in listing.splitlines()[2:] if line.split()[2] == "image"]
    for number, page in enumerate(image_pages, start=1):
        assert page_of(rf"Figure {number}\.") == page, number


def cited_runs(out: Path) -> dict[int, str]:
    """The Discussion's run references (R1, R2, ...) -> run label, from its "Runs the Discussion cites" table."""
    nb = nbformat.read(out / "report.executed.ipynb", as_version=4)
    table = next(o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                 if "Runs the Discussion cites" in o.get("data", {}).get("text/markdown", ""))
    return {int(ref): label for ref, label in re.findall(r"\|\s*R(\d+)\s*\|\s*(\S+)\s*", table)}


def measured(run_dir: Path) -> dict[str, float]:
    """What a run's metrics.json and meta.json hold, by the Discussion's names for it (seconds: the CPU time of
    training, as the report counts a CPU run's cost)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    meta = json.loads((run_dir / "meta.json").read_text())
    quality = metrics["quality"]
    assert meta["device"]["type"] == "cpu"
    out = {"FID": quality["fid"], "IS": quality["inception_score_mean"], "precision": quality["precision"],
           "recall": quality["recall"], "seconds": meta["cpu_seconds"]["training"]}
    if "test_reconstruction" in metrics:
        out["test_mse"] = metrics["test_reconstruction"]["mse"]
    return out


def test_every_number_the_discussion_cites_equals_a_metrics_file(built: Path, quick_results: Path) -> None:
    """Each number written with run references ("149.8 [149.0, 150.5] over 2 seeds (R1-R2)") is, as printed, the
    value in those runs' metrics files, or their median [min, max]."""
    from genmodels.core.metric_table import METRICS
    from genmodels.report.evidence import cited_numbers

    text = " ".join(discussion_text(built).split())
    labels = cited_runs(built)
    numbers = cited_numbers(text)
    assert len(numbers) >= 10, text
    for number in numbers:
        values = [measured(quick_results / labels[n]) for n in number.refs]
        names = ["seconds"] if number.seconds else [k for k, m in METRICS.items() if m.prose_decimals == number.decimals]
        fmt = lambda v: f"{v:.{number.decimals}f}"  # noqa: E731
        ok = False
        for name in (n for n in names if all(n in v for v in values)):
            column = np.array([v[name] for v in values])
            ok |= (fmt(column[0]) == number.value if number.lo is None and len(column) == 1 else
                   (fmt(np.median(column)), fmt(column.min()), fmt(column.max())) == (number.value, number.lo,
                                                                                         number.hi))
        assert ok, (number.text, [labels[n] for n in number.refs])


def test_discussion_names_the_best_model_and_the_studies(built: Path, quick_results: Path) -> None:
    """The claims follow the metrics files: the model with the lowest median FID over its seeds is named (or a
    tie within the spread), and the KL and sigmoid studies are reported with their runs."""
    text = " ".join(discussion_text(built).split())
    runs = collect_runs(QUICK, quick_results)
    medians = {}
    for model, name in (("vae", "VAE"), ("gan", "LSGAN"), ("wgan", "WGAN")):
        seeds = runs[(runs.model == model) & (runs.depth == 2) & (runs.z_dim == 16)
                     & runs.variant.isin(["kl=0.001", "linear output", "gradient penalty"])]
        fids = sorted(json.loads((Path(r) / "metrics.json").read_text())["quality"]["fid"] for r in seeds.run_dir)
        assert len(fids) == 2, model
        medians[name] = ((fids[0] + fids[1]) / 2, fids)
        assert f"{name} {medians[name][0]:.1f} [{fids[0]:.1f}, {fids[1]:.1f}] (R" in text, (name, fids, text)
    (best, (_, best_fids)), (second, (_, second_fids)) = sorted(medians.items(), key=lambda kv: kv[1][0])[:2]
    if best_fids[1] < second_fids[0]:  # the ranges do not overlap
        assert f"By FID, the {best} generates the best samples on MNIST at depth 2, z_dim 16." in text
    else:
        assert f"no model is clearly best on MNIST at depth 2, z_dim 16: the {best} has the lowest median" in text
    assert "KL factor" in text and re.search(r"kl=0\.1: test MSE [\d.]+ \(R\d+\)", text)
    collapse = re.search(r"(\d+) of (\d+) runs with a sigmoid output", text)
    assert collapse and collapse[2] == "1"
    for heading in ("Conclusion", "Limitations"):
        assert f"## {heading}" in discussion_text(built)


def test_no_sentence_template_appears_more_than_twice(built: Path) -> None:
    from test_discussion import repeated_templates

    assert repeated_templates(discussion_text(built)) == {}


def test_missing_runs_are_reported_not_dropped(tmp_path: Path, quick_results: Path) -> None:
    """A sweep with one configuration that never ran: it shows up as missing."""
    sweep = tmp_path / "s.yaml"
    document = QUICK.read_text().replace("- {model: gan, depth: 2, z_dim: 16, d_output: sigmoid}",
                                         "- {model: gan, depth: 2, z_dim: 16, d_output: sigmoid}\n  - {model: gan, depth: 4, z_dim: 16}")
    sweep.write_text(document)
    runs = collect_runs(sweep, quick_results)
    assert runs.status.value_counts().to_dict() == {"complete": 9, "todo": 1}
    from genmodels.report.prose import discussion

    assert discussion(runs)[0].startswith("1 of 10 configurations have no finished run (1 todo)")


def test_quality_curve_is_in_history_and_best_checkpoint_kept(quick_results: Path) -> None:
    """metrics_every 20 in the quick profile: FID at steps 20 and 40 in history.csv, best.pt beside the last."""
    import pandas as pd

    for run in collect_runs(QUICK, quick_results).itertuples():
        history = pd.read_csv(Path(run.run_dir) / "history.csv")
        measured = history.dropna(subset=["fid"])
        assert measured.step.tolist() == [20, 40], run.label
        metrics = json.loads((Path(run.run_dir) / "metrics.json").read_text())
        assert [row["step"] for row in metrics["quality_curve"]] == [20, 40]
        assert (Path(run.run_dir) / "best.pt").is_file()
        assert metrics["best"]["fid"] == min(row["fid"] for row in metrics["quality_curve"])
