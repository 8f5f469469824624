"""How the PDF sets a table (genmodels.report.latex): with its caption in one unbreakable block, at natural
widths where it fits the text, its long-text columns wrapped where it does not, and as a longtable only when it
is longer than a page."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from genmodels.report.latex import MAX_BLOCK_ROWS, table_latex

pytestmark = pytest.mark.skipif(shutil.which("pandoc") is None, reason="the caption is converted by pandoc")


def test_a_narrow_table_keeps_its_caption_and_natural_widths() -> None:
    frame = pd.DataFrame({"model": ["VAE", "LSGAN"], "FID": ["8.2", "16.6"], "train_s": ["30", "38"]})
    tex = table_latex(frame, "**Table 4.** Budget with `n_critic` and 5 % of *x*.")
    assert tex.startswith(r"\begin{table}[!htbp]") and tex.endswith(r"\end{table}")  # a float, as figures are
    assert tex.index(r"\begin{minipage}") < tex.index(r"\textbf{Table 4.}") < tex.index(r"\begin{tabular}")
    assert tex.index(r"\end{tabular}") < tex.index(r"\end{minipage}")  # one box: no page break inside
    assert r"{@{}lll@{}}" in tex and "train\\_s" in tex and r"5 \%" in tex and r"\emph{x}" in tex
    assert "longtable" not in tex and r"max width=\linewidth" in tex


def test_a_wide_table_wraps_only_its_longest_column() -> None:
    frame = pd.DataFrame({"network": ["LSGAN, sigmoid output: discriminator"],
                          "layers (depth 3)": ["conv 4x4/2, LeakyReLU 0.2, 2 x [conv 4x4/2, batch norm, LeakyReLU "
                                               "0.2], conv 3x3/1, LeakyReLU 0.2, flatten, linear 1, sigmoid"]})
    tex = table_latex(frame, "**Table 1.** Layers.")
    assert r"\begin{tabularx}{\linewidth}{@{}l>{\raggedright\arraybackslash}X@{}}" in tex


def test_a_header_much_wider_than_its_column_takes_two_lines() -> None:
    frame = pd.DataFrame({"median train s (all runs)": ["4"], "model": ["VAE"]})
    tex = table_latex(frame, "**Table 2.** x")
    assert r"\begin{tabular}[b]{@{}l@{}}median train\\s (all runs)\end{tabular}" in tex


def test_a_table_longer_than_a_page_is_a_longtable_with_its_header_repeated() -> None:
    frame = pd.DataFrame({"label": [f"mnist/gan/d3-z100-s{i}" for i in range(MAX_BLOCK_ROWS + 1)],
                          "status": ["todo"] * (MAX_BLOCK_ROWS + 1)})
    tex = table_latex(frame, "**Table 12.** Configurations without a finished run.")
    assert r"\begin{longtable}" in tex and r"\endhead" in tex and "minipage" not in tex
    assert tex.index(r"\textbf{Table 12.}") < tex.index(r"\nopagebreak") < tex.index(r"\begin{longtable}")

