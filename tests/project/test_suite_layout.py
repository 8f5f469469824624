"""The suite's own layout: every test file runs on its own (`pytest tests/quality/test_metrics.py`), not only in
the whole suite.

pytest imports test files without packages, putting each file's folder on `sys.path` as it collects it, so a test
module can import a helper from another folder only when that folder happens to be collected first: such a file
passes in `make test` and fails alone. Helpers shared across folders live at the tests root (`conftest.py`,
`same_run.py`, `data_files.py`), which is always on the path.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _test_modules() -> dict[str, Path]:
    """Every module of the suite by its import name (files are imported by their stem)."""
    return {path.stem: path for path in TESTS.rglob("*.py")}


def _imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names


def test_every_module_name_is_unique_across_folders() -> None:
    stems = Counter(path.stem for path in TESTS.rglob("*.py") if path.name != "__init__.py")
    assert [stem for stem, n in stems.items() if n > 1] == []


def test_a_test_file_imports_helpers_only_from_its_folder_or_the_root() -> None:
    modules = _test_modules()
    crossing = []
    for path in sorted(TESTS.rglob("test_*.py")):
        for name in _imported_names(path) & set(modules):
            if modules[name].parent not in (path.parent, TESTS):
                crossing.append(f"{path.relative_to(TESTS)} imports {modules[name].relative_to(TESTS)}")
    assert crossing == []


def test_the_check_sees_a_crossing_import(tmp_path: Path) -> None:
    """The import reader finds `from test_x import y` inside a function too (where the crossing ones were)."""
    planted = tmp_path / "test_planted.py"
    planted.write_text("def test_it():\n    from test_training import CrashAt\n")
    assert "test_training" in _imported_names(planted)
