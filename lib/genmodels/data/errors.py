"""The data layer's errors: what the CLI prints as one line naming the file and how to get a good copy."""

from __future__ import annotations


class DataError(RuntimeError):
    """A data set cannot be found or read; the message says what to install or where to put files."""


class CorruptDataError(DataError):
    """A data file exists but is damaged or truncated; the message names it and how to get a good copy.
    Never mistaken for a missing file: no fallback hides it."""


__all__ = ["DataError", "CorruptDataError"]
