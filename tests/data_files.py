"""Not a test: data files written byte for byte in their distributed formats (MNIST idx, CIFAR-10's python
pickles), for loaders tested in several folders on formats this machine lacks."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz: bool = False) -> None:
    """Write MNIST idx files (magic 0x803 images, 0x801 labels, big-endian sizes), optionally gzipped."""
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    payloads = {
        f"{prefix}-images-idx3-ubyte": struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes(),
        f"{prefix}-labels-idx1-ubyte": struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes(),
    }
    for name, payload in payloads.items():
        if gz:
            with gzip.open(folder / f"{name}.gz", "wb") as f:
                f.write(payload)
        else:
            (folder / name).write_bytes(payload)


def write_cifar(root: Path, per_batch: int, n_test: int, seed: int = 0) -> dict[str, tuple[np.ndarray, list[int]]]:
    """A tiny CIFAR-10 in the python-pickle format torchvision reads (`cifar-10-batches-py/`).

    The real files are Python 2 pickles whose str keys load as 'data', 'labels', ... under
    ``pickle.load(f, encoding="latin1")`` (what torchvision does); `data` is uint8 (N, 3072) with the
    1024 red, then green, then blue values of each row-major 32x32 image.
    """
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    written: dict[str, tuple[np.ndarray, list[int]]] = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = n_test if name == "test_batch" else per_batch
        batch = {
            "batch_label": f"{name} of 6",
            "labels": [int(v) for v in rng.integers(0, 10, n)],
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "filenames": [f"img_{name}_{i}.png" for i in range(n)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        written[name] = (batch["data"], batch["labels"])  # type: ignore[assignment]
    meta = {"num_cases_per_batch": per_batch, "num_vis": 3072,
            "label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return written
