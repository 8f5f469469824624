"""The report's generated prose around the questions: the introduction (the sweep's facts and the headline
result), and the Discussion assembled from `questions`' paragraphs with its Conclusion (one sentence per
question) and the Limitations, every sentence filled from the measured numbers, so the text cannot drift from
the results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from genmodels.core import store
from genmodels.report.collect import HEADLINE, cost_clock, run_metrics
from genmodels.report.english import join
from genmodels.report.evidence import RunRefs
from genmodels.report.questions import TAKEAWAYS, discussion_paragraphs, kl_factor, models, stability
from genmodels.report.references import cite

# the Conclusion's length limit: what a reader should take away, not a second summary
CONCLUSION_SENTENCES = 5


def intro_markdown(runs: pd.DataFrame, sweep: str | Path) -> str:
    """The report's opening: which sweep, how many of its configurations finished, the training time and
    machine (from the first finished run's meta.json), each data set's training images and source; then the
    headline result in two sentences."""
    done = runs[runs.status == "complete"]
    meta = (store.read_json(Path(done.iloc[0].run_dir) / store.META) or {}) if len(done) else {}
    sources = done.groupby("dataset").agg(images=("train_images", "first"), source=("data_source", "first"),
                                          fallback=("fallback", "any")) if len(done) else pd.DataFrame()
    lines = [f"This report is generated from the runs of the sweep `{Path(sweep).name}`: "
             f"{len(done)} of {len(runs)} configurations finished"
             + (f" ({', '.join(f'{n} {s}' for s, n in runs[runs.status != 'complete'].status.value_counts().items())})"
                if len(done) < len(runs) else "")
             + f", {done.seconds.sum() / 60:.1f} minutes of training in total ({cost_clock(runs)})"
             + _machine(meta.get("device") or {}) + "."]
    for dataset, row in sources.iterrows():
        note = (" -- full MNIST was not available, so runs trained on 4,000 images of the real 5,000-image subset; "
                "the other 1,000 are held out as the metrics' reference" if row.fallback else "")
        lines.append(f"Training data for {dataset}: {row.images:,.0f} images ({row.source}){note}.")
    headline = headline_sentences(runs)
    return " ".join(lines) + (f"\n\n**Headline.** {headline}" if headline else "")


def _machine(device: dict) -> str:
    """ " on 2 CPU cores", or " on an NVIDIA H200 GPU with 16 CPU cores": where the runs trained, from a run's
    meta.json ("" when it does not say)."""
    cores = f"{device['cpus']} CPU cores" if device.get("cpus") else ""
    if device.get("type") == "cuda":
        gpu = f"{device.get('name') or 'a'} GPU"
        return f" on {gpu}" + (f" with {cores}" if cores else "")
    return f" on {cores}" if cores else ""


def headline_sentences(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> str:
    """Two sentences: which model generates the best samples (or that none is clearly best), and the main
    finding on stability; empty when no model was scored."""
    first = models.headline(runs, dataset)
    if not first:
        return ""
    second = stability.headline(runs)
    return first + (" " + second if second else "")


# ------------------------------------------------------------------ the Discussion
@dataclass
class Discussion:
    """The Discussion's parts, as Markdown, and the runs its references name."""

    notes: list[str]  # unfinished or unscored runs, before the paragraphs
    paragraphs: list[str]
    conclusion: str
    limitations: str
    refs: RunRefs

    def markdown(self) -> str:
        return "\n\n".join([*self.notes, *self.paragraphs, "## Conclusion", self.conclusion, "## Limitations",
                            self.limitations])

    def runs_table(self, columns: int = 2) -> pd.DataFrame:
        """The cited runs, `columns` (reference, run) pairs per row, so the list stays short."""
        listing = self.refs.listing()
        rows = math.ceil(len(listing) / columns)
        table = {}
        for c in range(columns):
            chunk = listing[c * rows:(c + 1) * rows] + [("", "")] * rows
            table[f"ref{' ' * c}"] = [ref for ref, _ in chunk[:rows]]
            table[f"run{' ' * c}"] = [label for _, label in chunk[:rows]]
        return pd.DataFrame(table)


def build_discussion(runs: pd.DataFrame) -> Discussion:
    refs = RunRefs()
    return Discussion(_notes(runs), discussion_paragraphs(runs, refs), conclusion(runs), limitations(runs), refs)


def discussion(runs: pd.DataFrame) -> list[str]:
    """The Discussion's paragraphs in order: notes on unfinished runs, one paragraph per question, the
    Conclusion and the Limitations."""
    d = build_discussion(runs)
    return [*d.notes, *d.paragraphs, d.conclusion, d.limitations]


def discussion_markdown(runs: pd.DataFrame) -> str:
    """The Discussion as Markdown (the runs it cites are `build_discussion(runs).runs_table()`)."""
    return build_discussion(runs).markdown()


def missing_data_sentences(runs: pd.DataFrame) -> list[str]:
    """Per data set the sweep could not have (its runs set aside before training), how many runs and why."""
    if "data_missing" not in runs:
        return []
    aside = runs[(runs.status != "complete") & runs.data_missing.notna()]
    return [f"The {len(group)} {dataset} configurations were not trained, as the data set was missing: "
            f"{group.data_missing.iloc[0]}." for dataset, group in aside.groupby("dataset", sort=False)]


def _notes(runs: pd.DataFrame) -> list[str]:
    out = []
    done = runs[runs.status == "complete"]
    missing = runs[runs.status != "complete"]
    if not missing.empty:
        out.append(f"{len(missing)} of {len(runs)} configurations have no finished run "
                   f"({', '.join(f'{n} {s}' for s, n in missing.status.value_counts().items())}); "
                   "they are marked in every table and left out of the comparisons below.")
        out.extend(missing_data_sentences(runs))
    if done.FID.isna().any():
        out.append(f"{int(done.FID.isna().sum())} finished runs have no quality metrics (no test split or "
                   "metric_samples 0); they are left out of the comparisons.")
    return out


# ------------------------------------------------------------------ Conclusion
def conclusion(runs: pd.DataFrame) -> str:
    """At most `CONCLUSION_SENTENCES` sentences, each the takeaway of one question that the sweep answered."""
    sentences = [text for text in (takeaway(runs) for takeaway in TAKEAWAYS) if text]
    if not sentences:
        return "The sweep holds too few finished runs for a conclusion."
    return " ".join(sentences[:CONCLUSION_SENTENCES])


# ------------------------------------------------------------------ Limitations
def limitations(runs: pd.DataFrame, dataset: str = HEADLINE.dataset) -> str:
    """What bounds every claim above: the budgets, the metrics and their reference, seeds, and the data."""
    done = runs[runs.status == "complete"]
    if done.empty:
        return "No run finished, so nothing is claimed."
    out = []
    seconds, steps = done.seconds.dropna(), done.steps.dropna()
    if len(seconds):
        out.append(f"Every run trained on a small budget: {_range(steps)} steps and {_range(seconds)} s of "
                   f"training ({cost_clock(runs)}) each, far less than the literature's "
                   "models train, so an order between models is an order at this budget and may change with "
                   "longer training.")
    scored = done.dropna(subset=["classifier_accuracy"])
    if len(scored):
        row = scored.iloc[0]
        floor = _fid_floor(scored)
        reference = f"the reference is {row.reference}" if isinstance(row.reference, str) else ""
        out.append("FID, KID, IS, precision and recall are computed on the features of a classifier trained on the "
                   f"data set itself ({100 * row.classifier_accuracy:.1f} % accurate on its reference images), not "
                   "on the Inception network, so they rank runs within this report but are not comparable with "
                   f"published values, and such metrics can disagree with one another {cite('theis2016')}"
                   + (f"; {reference}" if reference else "")
                   + (f", and two halves of real images score FID {floor:.1f} against each other, the floor "
                      "no model can beat" if floor is not None else "") + ".")
    ranked = models.contenders(runs, dataset)
    seeds = sorted({c.spread("FID").n for c in ranked})
    if seeds:
        lipschitz = stability.lipschitz_study(runs)
        clipped_once = lipschitz is not None and lipschitz.clip.spread("FID").n < 2
        outputs = stability.collapse_study(runs)
        over = ["each model's headline configuration",
                *(["the discriminator-output study"] if outputs is not None else []),
                *(["weight clipping"] if lipschitz is not None and not clipped_once else [])]
        one_seed = ["every other point of the grid", *(["the KL sweep"] if kl_factor.kl_study(runs, dataset) else []),
                    *(["weight clipping"] if clipped_once else [])]
        out.append(f"Only {join(over)} ran over seeds ({join(map(str, seeds), 'or')} seeds finished per headline); "
                   f"{join(one_seed)} rest on one seed, and GAN results are known to vary with the seed "
                   f"{cite('lucic2018')}.")
    if done.fallback.fillna(False).astype(bool).any():
        images = int(done[done.fallback.fillna(False).astype(bool)].train_images.iloc[0])
        out.append(f"Offline, MNIST is the 5,000-image subset: the models trained on {images:,} of its images and "
                   "the other 1,000 were held out as the metrics' reference, a fraction of the 60,000 training "
                   "and 10,000 test images of full MNIST.")
    return " ".join(out)


def _fid_floor(scored: pd.DataFrame) -> float | None:
    """FID between two halves of the real reference images (metrics.json's real_reference), if recorded."""
    for _, run in scored.iterrows():
        value = (run_metrics(run).get("real_reference") or {}).get("fid_halves")
        if isinstance(value, (int, float)):
            return float(value)
    return None


def _range(values: pd.Series) -> str:
    """ "400 to 8000", or "40" where all are equal (rounded)."""
    lo, hi = f"{values.min():.0f}", f"{values.max():.0f}"
    return lo if lo == hi else f"{lo} to {hi}"
