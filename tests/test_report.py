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

from genmodels.report import collect_runs, main_runs, pdf_text

ROOT = Path(__file__).resolve().parents[1]
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


def test_discussion_numbers_agree_with_metrics_files(built: Path, quick_results: Path) -> None:
    text = discussion_text(built)
    runs = collect_runs(QUICK, quick_results)
    main = main_runs(runs[runs.status == "complete"])
    match = re.search(r"On mnist, the lowest FID of the depth x z_dim grid is ([\d.]+), by the (\w+) at depth (\d) "
                      r"and z_dim (\d+) \(run ([^)]+)\)", text)
    assert match, text
    fid, _, depth, z, label = match.groups()
    metrics = json.loads((quick_results / label / "metrics.json").read_text())
    assert fid == f"{metrics['quality']['fid']:.2f}"
    best = min(json.loads((Path(r) / "metrics.json").read_text())["quality"]["fid"] for r in main.run_dir)
    assert float(fid) == pytest.approx(best, abs=0.006)
    config = json.loads((quick_results / label / "config.json").read_text())
    assert (config["depth"], config["z_dim"]) == (int(depth), int(z))

    kl = re.search(r"KL factor from ([\d.e-]+) to ([\d.e-]+) changed the test reconstruction MSE from ([\d.]+) to "
                   r"([\d.]+) and the sample FID from ([\d.]+) to ([\d.]+)", text)
    assert kl, text
    vae = runs[(runs.model == "vae") & (runs.status == "complete") & (runs.seed == 0)].set_index("kl_factor")
    for factor, mse, fid_value in ((kl[1], kl[3], kl[5]), (kl[2], kl[4], kl[6])):
        m = json.loads((Path(vae.loc[float(factor)].run_dir) / "metrics.json").read_text())
        assert mse == f"{m['test_reconstruction']['mse']:.4f}" and fid_value == f"{m['quality']['fid']:.2f}"

    collapse = re.search(r"(\d+) of (\d+) runs with a sigmoid output", text)
    assert collapse and collapse[2] == "1"


def test_headline_spread_over_seeds_agrees_with_metrics_files(built: Path, quick_results: Path) -> None:
    """The Discussion states each model's headline FID as median [min, max] over its seeds, read from the runs,
    and says whether two models' ranges overlap."""
    text = " ".join(discussion_text(built).split())
    runs = collect_runs(QUICK, quick_results)
    for model, name in (("vae", "VAE"), ("gan", "LSGAN"), ("wgan", "WGAN")):
        seeds = runs[(runs.model == model) & (runs.depth == 2) & (runs.z_dim == 16)
                     & runs.variant.isin(["kl=0.001", "linear output", "gradient penalty"])]
        fids = sorted(json.loads((Path(r) / "metrics.json").read_text())["quality"]["fid"] for r in seeds.run_dir)
        assert len(fids) == 2, model
        median = (fids[0] + fids[1]) / 2
        assert f"{name} FID {median:.1f} [{fids[0]:.1f}, {fids[1]:.1f}]" in text, (name, fids, text)
    assert re.search(r"their FID ranges (overlap, so the difference is within the spread over seeds|do not overlap)",
                     text)


def test_missing_runs_are_reported_not_dropped(tmp_path: Path, quick_results: Path) -> None:
    """A sweep with one configuration that never ran: it shows up as missing."""
    sweep = tmp_path / "s.yaml"
    document = QUICK.read_text().replace("- {model: gan, depth: 2, z_dim: 16, d_output: sigmoid}",
                                         "- {model: gan, depth: 2, z_dim: 16, d_output: sigmoid}\n  - {model: gan, depth: 4, z_dim: 16}")
    sweep.write_text(document)
    runs = collect_runs(sweep, quick_results)
    assert runs.status.value_counts().to_dict() == {"complete": 9, "todo": 1}
    from genmodels.report import discussion

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
