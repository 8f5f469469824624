"""The data sets as one uint8 tensor per split.

`images` (ImageSet and conversions), `idx` (MNIST's file format), `files` (the data root, system copies,
downloads, what is here offline), `readers` (one reader per data set, through torchvision's classes), `load`
(`load_dataset`, `unavailable`), `errors`. The names below are imported on first use (PEP 562), so that
registering the data sets (`genmodels.builtin`, which takes its availability checks from `files`) loads no torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# name -> submodule that defines it
_LAZY = {
    "DataError": "errors", "CorruptDataError": "errors",
    "ImageSet": "images", "to_float": "images", "to_uint8": "images", "checksum": "images",
    "data_root": "files", "downloads_allowed": "files",
    "load_dataset": "load", "unavailable": "load",
    "stratified_split": "readers",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
