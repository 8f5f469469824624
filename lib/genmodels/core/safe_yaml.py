"""YAML for files a user hands over (sweep files): safe types only, duplicate keys refused, alias bombs refused.

`yaml.safe_load` already refuses code, but it keeps the last of two equal keys without a word (a sweep block
written twice silently loses one half), and it shares an anchored node among its aliases, so a "billion
laughs" file of a few hundred bytes loads fine and only blows up when something walks or prints the result
(MemoryError in a sweep's error message). Here a document whose aliases expand to more than
`MAX_EXPANDED_NODES` nodes is refused before anything walks it, and so is a duplicate key.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

# far above any real sweep file (the shipped default profile has a few hundred nodes), far below trouble
MAX_EXPANDED_NODES = 100_000
MERGE_TAG = "tag:yaml.org,2002:merge"


class YAMLInputError(ValueError):
    """The text is not YAML this project accepts; the message is one line, with the line number if known."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and documents whose aliases expand beyond a budget."""

    def compose_document(self) -> Node:
        node = super().compose_document()
        size = expanded_size(node)
        if size > MAX_EXPANDED_NODES:
            raise YAMLInputError(f"its aliases (*name) expand to more than {MAX_EXPANDED_NODES:,} values; "
                                 "write the values out instead of nesting aliases")
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:  # "<<: *base" merges keys; explicit keys may override them
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeConstructor reports it below
                continue
            if duplicate:
                raise YAMLInputError(f"duplicate key {key!r} on line {key_node.start_mark.line + 1}; "
                                     "YAML keeps only the last one, so remove or rename one of them")
        return super().construct_mapping(node, deep=deep)


def expanded_size(root: Node) -> int:
    """How many nodes the document has once every alias is expanded (a shared node counted every time it is
    reached), computed without expanding: memoised per node and iterative, so a deep document cannot overflow
    the stack. An alias inside the value it names would expand forever: refused."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            visiting.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_EXPANDED_NODES:  # stop early: the caller refuses the document anyway
                return sizes[key]
            continue
        if key in sizes:
            continue
        if key in visiting:  # reached again below itself (depth-first): a cycle
            raise YAMLInputError("an alias (*name) refers to a value that contains it; it would never end")
        visiting.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load(text: str) -> Any:
    """The one YAML document in `text`, as plain Python values. Raises `YAMLInputError` (one line) for invalid
    YAML, duplicate keys, alias bombs and documents nested too deeply."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except YAMLInputError:
        raise
    except yaml.YAMLError as err:
        raise YAMLInputError(f"not valid YAML: {' '.join(str(err).split())}") from None
    except RecursionError:
        raise YAMLInputError("nested too deeply to be a sweep file") from None


__all__ = ["load", "YAMLInputError", "MAX_EXPANDED_NODES", "expanded_size"]
