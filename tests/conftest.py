"""Shared test set-up: offline data in a per-session folder, real files only.

The MNIST test idx files are imported from ``$GENMODELS_IMPORT`` when set, else from the sibling
``../shared/data`` folder this project's CI provides; tests that need them skip with a reason otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


# set at import, before any test module reads them
os.environ["GENMODELS_OFFLINE"] = "1"
if "GENMODELS_IMPORT" not in os.environ and SHARED_DATA.is_dir():
    os.environ["GENMODELS_IMPORT"] = str(SHARED_DATA)
# one data root for the whole session, inside the repo's ignored data/ so repeated runs reuse imports
os.environ.setdefault("GENMODELS_DATA", str(ROOT / "data"))


def classifier_cache() -> Path:
    """A test-only classifier cache in the ignored results/ folder, keyed by classifier.py's source: the MNIST
    classifier trains once (about a minute) and every test and test sweep of later sessions reuses it."""
    import hashlib

    source = ROOT / "lib" / "genmodels" / "quality" / "classifier.py"
    return ROOT / "results" / ".test-cache" / hashlib.sha256(source.read_bytes()).hexdigest()[:10]


os.environ.setdefault("GENMODELS_CLASSIFIERS", str(classifier_cache() / "classifiers"))


def mnist_test_available() -> bool:
    paths = [Path(p) / "MNIST" / "raw" for p in os.environ.get("GENMODELS_IMPORT", "").split(os.pathsep) if p]
    paths.append(Path(os.environ["GENMODELS_DATA"]) / "MNIST" / "raw")
    return any((p / "t10k-images-idx3-ubyte.gz").is_file() or (p / "t10k-images-idx3-ubyte").is_file() for p in paths)


def fashion_available() -> bool:
    return Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file() or (
        Path(os.environ["GENMODELS_DATA"]) / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    ).is_file()


needs_mnist_test = pytest.mark.skipif(
    not mnist_test_available(),
    reason="the official MNIST test idx files are not here (set GENMODELS_IMPORT to their folder)")
needs_fashion = pytest.mark.skipif(
    not fashion_available(), reason="Fashion-MNIST not installed (Debian package dataset-fashion-mnist)")


def fake_finished_run(run_dir: Path, config_hash: str = "hash") -> Path:
    """A run folder with every file a finished run has (`store.RUN_FILES`), tiny but sound (a valid config, a
    checkpoint with every key loading needs), and complete.json naming `config_hash`: what the store's status
    checks read, without training."""
    import torch

    from genmodels.core import store
    from genmodels.core.config import RunConfig

    store.write_json(run_dir / store.CONFIG, {**RunConfig().to_dict(), "config_hash": config_hash})
    store.write_json(run_dir / store.METRICS, {"quality": None, "step": 1})
    store.write_json(run_dir / store.META, {"config_hash": config_hash})
    store.write_text(run_dir / store.HISTORY, "step\n1\n")
    torch.save({**dict.fromkeys((*store.WEIGHT_KEYS, "optimizers", "stream", "elapsed", "history", "fixed_noise", "ema", "rng")),
                "step": 1, "model": {"weight": torch.zeros(2)}, "config": RunConfig().to_dict()},
               run_dir / store.CHECKPOINT)
    store.mark_complete(run_dir, config_hash, "now")
    return run_dir


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temporary folder (a child process's $TMPDIR) with a short path, removed afterwards: a kernel's Unix socket
    path may have at most 107 bytes, and a test's tmp_path alone can take 70 of them."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="gm-", dir="/tmp" if Path("/tmp").is_dir() else None))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick profile's sweep, run once per session (the chain train -> metrics, ~2-3 minutes)."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("quick-results")
    done = subprocess.run([sys.executable, "-m", "genmodels", "sweep", str(ROOT / "configs" / "quick.yaml"),
                           "--results", str(root), "--no-progress"], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return root


@pytest.fixture(scope="session")
def built_report(tmp_path_factory: pytest.TempPathFactory, quick_results: Path) -> Path:
    """The report (HTML, and PDF where TeX is installed) built from the quick profile's results, once per
    session: the report tests read its PDF, the browser test opens its HTML."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("report")
    done = subprocess.run([sys.executable, "-m", "genmodels", "report", "--sweep", str(ROOT / "configs" / "quick.yaml"),
                           "--results", str(quick_results), "--out", str(out), "--allow-no-pdf"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def single_thread() -> Iterator[None]:
    """Tiny models run many times faster on one thread than on two contended ones (2-core CI)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
