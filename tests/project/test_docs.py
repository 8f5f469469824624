"""The documentation holds together: README.md stays short, every relative link in README.md and docs/*.md leads
to a file (and, where it names one, a heading) that exists, and every module and file of the package they name
exists. Fast: reads markdown and imports modules; trains nothing.

Module paths are resolved with importlib at test time (longest importable prefix, then attributes), so the test
follows the package's layout instead of holding a list of its modules; a failure lists every path that did not
resolve, with the document that names it.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 250  # a guide read in five minutes; measurements and catalogues live in docs/

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
MODULE_PATH = re.compile(r"(?<![\w/.-])genmodels(?:\.[A-Za-z_]\w*)+")
PACKAGE_FILE = re.compile(r"(?<![\w/.-])(?:lib/)?genmodels/[\w./-]*\w")
REPO_FILE = re.compile(r"(?<![\w/.-])(?:bench|configs|notebooks|tests)/(?:[\w-]+/)*[\w.-]+\.(?:py|yaml|ipynb)\b")


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans, where brackets and parentheses are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[`*_]", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a markdown file (a repeated heading gets -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    for match in HEADING.finditer(FENCE.sub("", path.read_text())):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def test_readme_is_short() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move detail to docs/ (at most {MAX_README_LINES})"


def test_slug_follows_github() -> None:
    assert slug("Adding a model or data set") == "adding-a-model-or-data-set"
    assert slug("What each ingredient did, and what was left out") == "what-each-ingredient-did-and-what-was-left-out"
    assert slug("This machine's speed varies") == "this-machines-speed-varies"
    assert slug("`metrics.json`") == "metricsjson"


@pytest.mark.parametrize("doc", DOCS, ids=_name)
def test_relative_links_lead_somewhere(doc: Path) -> None:
    broken = []
    for target in LINK.findall(_prose(doc.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        linked = (doc.parent / file_part).resolve() if file_part else doc
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {_name(linked)}")
    assert not broken, f"{_name(doc)}: " + "; ".join(broken)


def resolve(dotted: str) -> str | None:
    """None if `dotted` is an importable module or an attribute of one; else why not."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        module_name = ".".join(parts[:end])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name and (module_name == err.name or module_name.startswith(err.name + ".")):
                continue  # this prefix is not a module: try a shorter one, the rest as attributes
            return f"importing {module_name} fails: {err}"
        except Exception as err:  # a module that exists but does not import
            return f"importing {module_name} fails: {type(err).__name__}: {err}"
        for i, attr in enumerate(parts[end:], start=end):
            try:
                obj = getattr(obj, attr)
            except Exception:
                return f"{'.'.join(parts[:i])} has no {attr!r}"
        return None
    return "no such module"


def test_module_paths_in_the_docs_exist() -> None:
    named: dict[str, set[str]] = {}
    for doc in DOCS:
        for dotted in MODULE_PATH.findall(doc.read_text()):
            named.setdefault(dotted, set()).add(_name(doc))
    assert "genmodels.load_run" in named  # the pattern finds what the README names
    failures = [f"{dotted} ({', '.join(sorted(docs))}): {why}"
                for dotted, docs in sorted(named.items()) if (why := resolve(dotted))]
    assert not failures, "module paths the docs name that do not resolve:\n" + "\n".join(failures)


def test_files_named_in_the_docs_exist() -> None:
    missing = []
    for doc in DOCS:
        text = doc.read_text()
        for path in PACKAGE_FILE.findall(text):
            full = ROOT / (path if path.startswith("lib/") else f"lib/{path}")
            if not full.exists():
                missing.append(f"{path} ({_name(doc)})")
        missing += [f"{path} ({_name(doc)})" for path in REPO_FILE.findall(text) if not (ROOT / path).exists()]
    assert not missing, "files the docs name that do not exist: " + ", ".join(sorted(set(missing)))


def test_readme_links_every_doc() -> None:
    """Nothing in docs/ is out of the README's reach: each page is linked from its "Where to read more"."""
    section = README.read_text().split("## Where to read more", 1)[1]
    unlinked = [_name(d) for d in DOCS[1:] if f"(docs/{d.name})" not in section]
    assert not unlinked, f"docs not linked from the README's 'Where to read more': {unlinked}"
