"""notebooks/train.ipynb's parameters cell is RunConfig: the same names in the same order, the same defaults and
types, and comments that state no value the registry resolves (such a value goes stale when a recipe changes).

Read with `ast`, without a kernel, so it runs in the fast tier."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from genmodels.core import registry
from genmodels.core.config import RunConfig

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "train.ipynb"
NOTEBOOK_ONLY = ("results_root",)  # where the results live: the notebook's, not part of a run's config


def _parameters() -> dict[str, tuple[ast.AnnAssign, str]]:
    """Each assignment of the cell tagged `parameters`, with its line's comment, in the cell's order."""
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    source = cells[0].source
    lines = source.splitlines()
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign):
            assert isinstance(node.target, ast.Name), ast.unparse(node)
            line = lines[node.lineno - 1]
            out[node.target.id] = (node, line.split("#", 1)[1].strip() if "#" in line else "")
    return out


def _annotation(node: ast.AnnAssign) -> str:
    """The notebook's annotation in RunConfig's spelling: `Optional[float]` is `float | None`."""
    return re.sub(r"^Optional\[(\w+)\]$", r"\1 | None", ast.unparse(node.annotation))


def test_names_are_the_config_fields_in_order() -> None:
    """As written, and as papermill sees them (what a sweep injects into)."""
    import papermill as pm

    assert list(_parameters()) == [f.name for f in dataclasses.fields(RunConfig)] + list(NOTEBOOK_ONLY)
    assert list(pm.inspect_notebook(str(NOTEBOOK))) == list(_parameters())


@pytest.mark.parametrize("field", dataclasses.fields(RunConfig), ids=lambda f: f.name)
def test_default_and_type_are_the_config_s(field: dataclasses.Field[Any]) -> None:
    node, _ = _parameters()[field.name]
    assert ast.literal_eval(node.value) == field.default  # type: ignore[arg-type]
    assert _annotation(node) == field.type  # RunConfig's annotations are strings (postponed evaluation)


def _resolved_by_the_registry() -> set[str]:
    """The fields a model's literature defaults or a recipe fill in, for any registered model and recipe."""
    names: set[str] = set()
    for model in registry.MODELS:
        spec = registry.model_spec(model)
        for depth in (1, 5):  # recipes that depend on depth
            config = RunConfig(model=model, depth=depth)
            names |= set(spec.literature_defaults(config))
            for recipe in spec.recipes:
                names |= set(spec.recipe_settings(recipe, config))
    return names


def test_comments_state_no_value_the_registry_resolves() -> None:
    """`n_critic: None means 5 for a WGAN` was wrong once a recipe set 1: a comment says what a field is."""
    resolved = _resolved_by_the_registry()
    assert {"n_critic", "lr", "batch_size", "kl_factor", "lipschitz"} <= resolved
    for name in resolved:
        _, comment = _parameters()[name]
        assert comment, f"{name} has no comment"
        assert not re.search(r"\bNone\b|default", comment), f"{name}'s comment states its default: {comment!r}"
