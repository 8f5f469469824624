"""The report's English, shared by every generated paragraph and table caption: lists joined as prose writes
them, models and data sets by their display names, small counts in words, a paragraph with its question.

Each helper lives here once, so "the VAE, the LSGAN and the WGAN" reads the same in the Designs and the
Discussion.
"""

from __future__ import annotations

from typing import Iterable

from genmodels.core.registry import MODEL_NAMES, dataset_spec


def join(words: Iterable[str], last: str = "and") -> str:
    """ "a", "a and b", "a, b and c"."""
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {last} " + words[-1]


def capital(text: str) -> str:
    """The text with its first letter upper-case, as a sentence starts."""
    return text[:1].upper() + text[1:]


def the(model: str) -> str:
    """ "the LSGAN": a registered model inside a sentence."""
    return f"the {MODEL_NAMES[model]}"


def the_names(names: Iterable[str]) -> str:
    """ "The VAE", "The LSGAN and the WGAN": display names starting a sentence."""
    return capital(join(f"the {name}" for name in names))


def data_name(dataset: str) -> str:
    """ "MNIST": the data set as the report names it (its own name where it is not registered)."""
    try:
        return dataset_spec(dataset).display_name
    except KeyError:
        return dataset


def count_word(n: int) -> str:
    """Small counts in words, as prose writes them ("Three convolutional generative models")."""
    words = ("No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")
    return words[n] if n < len(words) else str(n)


def paragraph(title: str, sentences: Iterable[str]) -> str:
    """A Discussion paragraph: its question in bold, then its sentences (empty ones left out); a sentence may
    end in a list (a blank line), after which the text goes on without a leading space."""
    return (f"**{title}** " + " ".join(s for s in sentences if s)).replace("\n\n ", "\n\n")
