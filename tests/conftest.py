"""Shared test set-up: offline data in a per-session folder, real files only, and the grouping that lets
pytest-xdist run the suite on every core.

The MNIST test idx files are imported from ``$GENMODELS_IMPORT`` when set, else from the sibling
``../shared/data`` folder this project's CI provides; tests that need them skip with a reason otherwise.

Under pytest-xdist (`make test`: ``-n <cores> --dist loadgroup``) each worker process and everything it starts
uses one torch thread, so the workers do not fight over the cores; tests that share an expensive fixture wider
than a test are kept on one worker by an ``xdist_group`` mark (`pytest_collection_modifyitems`), so that fixture
is built once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

if TYPE_CHECKING:
    from genmodels.runs.notebook_run import RunSpec

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


# set at import, before any test module reads them
os.environ["GENMODELS_OFFLINE"] = "1"
if "GENMODELS_IMPORT" not in os.environ and SHARED_DATA.is_dir():
    os.environ["GENMODELS_IMPORT"] = str(SHARED_DATA)
# one data root for the whole session, inside the repo's ignored data/ so repeated runs reuse imports
os.environ.setdefault("GENMODELS_DATA", str(ROOT / "data"))
# an xdist worker shares the cores with the other workers: one thread each, for the worker and for the processes
# it starts (sweeps, kernels, the CLI), or tiny models run many times slower on contended threads
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


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


def tree_snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry under `root` and its content (a link's target, a FIFO's kind): what a command must not change."""
    seen: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        seen[key] = (f"link {os.readlink(path)}" if path.is_symlink() else "folder" if path.is_dir() else
                     path.read_bytes() if path.is_file() else "other")
    return seen


def assert_damaged_alike(sound: "RunSpec", damage: Callable[[Path], object], reason: str) -> tuple[Any, str, str]:
    """Damage the finished run `sound`, then check that every command names it alike and changes nothing: the
    sweep's state, `results_frame`, the dry run and `load_run`. Returns (the state, the dry run's table, the
    error `load_run` raised) for a test's own further checks."""
    from genmodels.runs.results import results_frame
    from genmodels.runs.sweep import dry_run_table
    from genmodels.runs.trained import RunError, load_run

    damage(sound.run_dir)
    before = tree_snapshot(sound.results_root.parent)
    state = sound.state()
    assert state.status.value == "damaged" and reason in (state.reason or ""), state
    frame = results_frame(sound.results_root)
    assert list(frame.status) == ["damaged"] and list(frame.problem) == [state.reason]
    table = dry_run_table([sound])
    assert f"damaged: {state.reason}" in table
    with pytest.raises(RunError, match="is damaged: ") as info:
        load_run(sound.run_dir)
    assert "\n" not in str(info.value)
    assert tree_snapshot(sound.results_root.parent) == before  # nothing read was changed
    return state, table, str(info.value)


@pytest.fixture
def sound(tmp_path: Path) -> "RunSpec":
    """A finished run of the default configuration, as a sweep leaves it (executed notebook included)."""
    from genmodels.core import store
    from genmodels.core.config import RunConfig
    from genmodels.runs.notebook_run import RunSpec

    config = RunConfig()
    root = tmp_path / "results"
    run = fake_finished_run(store.run_folder(root, config.dataset, config.model, config.run_name()),
                            config.config_hash())
    store.write_text(run / store.EXECUTED, "{}")
    return RunSpec(config, run, root)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temporary folder (a child process's $TMPDIR) with a short path, removed afterwards: a kernel's Unix socket
    path may have at most 107 bytes, and a test's tmp_path alone can take 70 of them."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="gm-", dir="/tmp" if Path("/tmp").is_dir() else None))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


QUICK_PROFILE_JOBS = ("--jobs", "2", "--threads", "1")


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick profile's sweep, run once per session (the chain train -> metrics, ~2-3 minutes): two runs side
    by side on one torch thread each, as on the project's 2-core machine, whatever this machine has (the Dask
    test compares its own sweep with these run folders)."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("quick-results")
    done = subprocess.run([sys.executable, "-m", "genmodels", "sweep", str(ROOT / "configs" / "quick.yaml"),
                           "--results", str(root), "--no-progress", *QUICK_PROFILE_JOBS],
                          capture_output=True, text=True, timeout=1200)
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


# ---------------------------------------------------------------------------------------------- xdist groups
# fixtures wider than a test that cost nothing to build twice: they do not tie their tests to one worker
CHEAP_SHARED_FIXTURES = frozenset({"single_thread", "mnist5k"})
# session fixtures built from the quick profile's sweep: every test that uses one runs on the same worker
QUICK_PROFILE_FIXTURES = frozenset({"quick_results", "built_report"})


def shared_fixture_group(item: pytest.Item) -> str | None:
    """The xdist group of a test that uses an expensive fixture wider than itself: ``quick-profile`` for the quick
    sweep and the report built from it, else the test's file (its path under the root, unique across folders) for
    a fixture scoped to its module (or session).
    None for a test that shares nothing expensive: xdist may run it on any worker."""
    if QUICK_PROFILE_FIXTURES & set(item.fixturenames):
        return "quick-profile"
    definitions = getattr(item, "_fixtureinfo", None)
    for name, defs in (definitions.name2fixturedefs.items() if definitions else ()):
        # a fixture of this project (pytest's own, such as tmp_path_factory, have no base id)
        ours = bool(defs) and bool(defs[-1].baseid)
        if ours and name not in CHEAP_SHARED_FIXTURES and defs[-1].scope != "function":
            return item.nodeid.split("::")[0]
    return None


def name_the_group_in_the_node_id(item: pytest.Item, group: str) -> None:
    """xdist's scheduler reads a test's group from its node id (``<node id>@<group>``), which pytest-xdist 3.8 writes
    to `item._nodeid`; pytest 9 builds the node id from `item._id` instead, so the group is written there."""
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest: xdist's own renaming works
        return
    if "@" not in item.nodeid:
        item._id = NodeId.parse(f"{item.nodeid}@{group}")  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            group = shared_fixture_group(item)
            if group:
                item.add_marker(pytest.mark.xdist_group(group))
        mark = item.get_closest_marker("xdist_group")
        if mark and getattr(config.option, "loadgroup", False):
            name_the_group_in_the_node_id(item, str(mark.args[0] if mark.args else mark.kwargs.get("name", "default")))
    if getattr(config.option, "loadgroup", False):
        slow_first(items)


def slow_first(items: list[pytest.Item]) -> None:
    """The slow tests to the front, each tier in its own order. xdist hands out the groups first (largest first),
    then single tests in collection order, a worker taking more when it has at most two left: a one-minute
    test collected last would start when the other worker has nothing left to do, and the suite would wait for it
    alone. Longest first is the classic remedy (Graham's LPT rule)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)

