"""A registered data set's split as one `ImageSet`, and whether a data set can be had here at all: the registry's
reader (`DatasetSpec.loader`) does the reading, this adds what every data set shares (the data root, 32x32, the
split's checksum in its metadata)."""

from __future__ import annotations

import os

from genmodels.core import registry
from genmodels.data.errors import DataError
from genmodels.data.files import data_root, downloads_allowed
from genmodels.data.images import ImageSet, checksum, pad_to_32


def unavailable(name: str, root: str | os.PathLike[str] | None = None, download: bool | None = None) -> str | None:
    """Why data set `name`'s training images cannot be had here, in one sentence; None when they can.

    For a sweep to report a missing data set once, before anything trains, instead of failing each of its runs.
    Cheap first: its files on disk, a system copy to import or a package that ships them (the data set's
    `DatasetSpec.missing`). Only where none is here and downloads are allowed is the data set loaded once, which
    downloads it for all its runs (or says why it cannot)."""
    if name not in registry.DATASETS:
        return f"unknown data set {name!r}; choose one of {', '.join(registry.DATASETS)}"
    spec = registry.dataset_spec(name)
    if spec.missing is None:
        return None  # not checkable ahead: its runs load it and report what they find
    missing = spec.missing(data_root(root))
    if missing is None:
        return None
    if not (downloads_allowed() if download is None else download):
        return f"{spec.display_name} cannot be had offline: {missing}, and downloads are off ($GENMODELS_OFFLINE)"
    try:
        load_dataset(name, "train", root, download=True)
    except DataError as err:
        return f"{spec.display_name} cannot be had: {str(err).splitlines()[0]}"
    return None


def load_dataset(
    name: str, split: str = "train", root: str | os.PathLike[str] | None = None, download: bool | None = None
) -> ImageSet:
    """Load the registered data set `name` (genmodels.core.registry: "mnist", "mnist-5k", ...), split "train" or
    "test"."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    base = data_root(root)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"data root {base} cannot be created ({err.strerror or err}); choose another data_root "
                        "(or $GENMODELS_DATA)") from None
    if download is None:
        download = downloads_allowed()
    if name not in registry.DATASETS:
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(registry.DATASETS)}")
    images, labels, meta = registry.dataset_spec(name).loader(base, split, download)
    images = pad_to_32(images)
    if split == "test":
        meta.setdefault("reference", f"official {name} test split")
    meta = {"dataset": name, "split": split, **meta, "images": int(images.shape[0]), "checksum": checksum(images)}
    return ImageSet(images, labels.long(), meta)


__all__ = ["unavailable", "load_dataset"]
