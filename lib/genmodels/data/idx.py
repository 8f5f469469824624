"""The idx file format MNIST and Fashion-MNIST are distributed in: checked before torchvision reads it, and
written where a package ships the images as arrays. No torch: the data-set registrations import this layer."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from genmodels.core.store import write_atomic
from genmodels.data.errors import CorruptDataError

if TYPE_CHECKING:
    import numpy as np

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


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


def idx_missing(folder: Path, split: str) -> bool:
    """Whether any of `split`'s two idx files is absent from `folder`."""
    return not all((folder / name).is_file() for name in MNIST_FILES[split])


def write_idx(folder: Path, names: tuple[str, str], images: "np.ndarray", labels: "np.ndarray") -> None:
    """Write images (N, 28, 28) and labels (N,) as idx files, the format MNIST is distributed in."""
    n, h, w = images.shape
    for name, header, payload in (
        (names[0], struct.pack(">IIII", 0x803, n, h, w), images),
        (names[1], struct.pack(">II", 0x801, n), labels),
    ):
        content = header + payload.astype("uint8").tobytes()
        write_atomic(folder / name, lambda tmp: tmp.write_bytes(content))


__all__ = ["MNIST_FILES", "check_idx", "idx_missing", "write_idx"]
