"""The package's layers hold: every import points down a layer or sideways within one, and no import circles.

Read from the modules' own source with `ast` (every ``import`` / ``from ... import`` of a genmodels module, at
module level or inside a function; imports under ``if TYPE_CHECKING:`` are annotations only and left out), so a
new upward import fails here before it tangles the layers. docs/architecture.md draws the same table.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lib" / "genmodels"

# bottom to top; a module belongs to the first prefix that matches its dotted name
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("genmodels.core",)),
    ("data and models", ("genmodels.data", "genmodels.models")),
    ("catalogue", ("genmodels.builtin",)),
    ("training", ("genmodels.training",)),
    ("quality and plots", ("genmodels.quality", "genmodels.plots")),
    ("runs", ("genmodels.runs",)),
    ("report", ("genmodels.report",)),
    ("application", ("genmodels.cli", "genmodels.explore", "genmodels.__main__", "genmodels")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and docs/architecture.md")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(module: str, path: Path) -> set[str]:
    """The genmodels modules `module` imports at run time (a name imported from a package counts as that
    package's submodule where one exists, else as the package)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "genmodels")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] == "genmodels":
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    found.add(sub if sub in MODULES else source)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    found.discard(module)
    return {m for m in found if m in MODULES}


GRAPH = {m: imported_modules(m, p) for m, p in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_or_sideways(module: str) -> None:
    if module == "genmodels":
        return  # the package's front door re-exports the public API from every layer
    upward = [f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
              for target in sorted(GRAPH[module]) if layer_of(target) > layer_of(module) and target != "genmodels"]
    assert not upward, "upward imports: " + "; ".join(upward)


def test_no_import_circles() -> None:
    """A depth-first search over the import graph (the package's __init__, imported by every module, left out)."""
    graph = {m: {t for t in targets if t != "genmodels"} for m, targets in GRAPH.items() if m != "genmodels"}
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                circles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                walk(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert not circles, "import circles: " + "; ".join(circles)


def test_the_checker_sees_an_upward_import_and_a_circle(tmp_path: Path) -> None:
    """The checks above are not vacuous: a made-up module importing the report from the core is caught."""
    fake = tmp_path / "bad.py"
    fake.write_text("def f():\n    from genmodels.report import build\n    from ..runs import sweep\n")
    MODULES["genmodels.core.bad"] = fake
    try:
        found = imported_modules("genmodels.core.bad", fake)
        assert found == {"genmodels.report.build", "genmodels.runs.sweep"}
        assert all(layer_of(t) > layer_of("genmodels.core.bad") for t in found)
    finally:
        del MODULES["genmodels.core.bad"]
