"""Project wiring: the pip and conda dependency lists agree, and CI runs the README's test command.

`environment.yml` is the conda route to the same environment `make setup` builds from pyproject.toml;
when someone adds a package to one file and forgets the other, one of the two routes breaks silently.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

CONDA_TO_PIP = {"pytorch": "torch"}  # conda package name -> PyPI name
CONDA_ONLY = {"python", "pip", "texlive-core", "pandoc"}  # the interpreter and system tools (TeX, pandoc)
SPEC = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*?)\s*$")


def normalize(name: str) -> str:
    """PEP 503 name normalisation, so 'PyYAML' and 'pyyaml' are the same package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(spec: str) -> tuple[str, str | None]:
    """(normalised name, lower bound or None) of a pip or conda requirement like 'torch>=2.1'."""
    match = SPEC.match(spec.split(";")[0])
    assert match, f"cannot parse requirement {spec!r}"
    name, constraint = match.groups()
    lower = re.search(r">=\s*([0-9][0-9A-Za-z.*]*)", constraint)
    return normalize(name), lower.group(1) if lower else None


def pyproject_requirements() -> dict[str, str | None]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    return dict(parse(s) for s in specs)


def conda_requirements() -> dict[str, str | None]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found: dict[str, str | None] = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):  # the pip: section; '-e .' is this project itself
            for spec in entry.get("pip", []):
                if not spec.strip().startswith("-e"):
                    name, lower = parse(spec)
                    found[name] = lower
            continue
        name, lower = parse(str(entry))
        if name in CONDA_ONLY:
            continue
        found[CONDA_TO_PIP.get(name, name)] = lower
    return found


def test_parse_examples() -> None:
    """The tiny parser itself: names normalised, lower bounds extracted, other pins ignored."""
    assert parse("torch>=2.1") == ("torch", "2.1")
    assert parse("PyYAML >= 6.0, <7") == ("pyyaml", "6.0")
    assert parse("nbval") == ("nbval", None)
    assert parse("ipykernel==6.25") == ("ipykernel", None)


def test_every_pip_dependency_is_in_environment_yml() -> None:
    missing = sorted(set(pyproject_requirements()) - set(conda_requirements()))
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"


def test_every_conda_dependency_is_in_pyproject() -> None:
    missing = sorted(set(conda_requirements()) - set(pyproject_requirements()))
    assert not missing, f"in environment.yml but not pyproject.toml: {missing}"


def test_lower_bounds_agree() -> None:
    pip, conda = pyproject_requirements(), conda_requirements()
    differ = {name: (pip[name], conda[name]) for name in set(pip) & set(conda)
              if pip[name] and conda[name] and pip[name] != conda[name]}
    assert not differ, f"lower bounds differ (pyproject, environment.yml): {differ}"


def test_environment_installs_this_project() -> None:
    """The conda environment must pip-install the project itself, or `import genmodels` fails there."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [e["pip"] for e in env["dependencies"] if isinstance(e, dict) and "pip" in e]
    assert any(spec.replace(" ", "") == "-e." for section in pip_sections for spec in section)


def test_the_packages_the_assignment_names_are_declared() -> None:
    """torch, torchvision, jupyterlab, nbconvert, papermill, matplotlib, seaborn, pytest, nbval (SPEC.md)."""
    declared = set(pyproject_requirements())
    wanted = {"torch", "torchvision", "jupyterlab", "nbconvert", "papermill", "matplotlib", "seaborn", "pytest",
              "nbval"}
    assert wanted <= declared, sorted(wanted - declared)


def test_ci_runs_make_test() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\s*make test\s*$", ci, re.MULTILINE), ci
    assert re.search(r"^test:", (ROOT / "Makefile").read_text(), re.MULTILINE)


def test_readme_documents_make_test() -> None:
    """The README's test command is the one CI runs."""
    assert "make test" in (ROOT / "README.md").read_text()


def constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[normalize(name)] = version.strip()
    return pins


def test_constraints_pin_every_dependency_within_its_bounds() -> None:
    """`make setup` installs with constraints.txt: every declared package is pinned there (torch excepted: it is
    the machine's build), at a version that satisfies pyproject's lower bound."""
    from packaging.version import Version

    pins = constraints()
    declared = {name: lower for name, lower in pyproject_requirements().items() if name not in ("torch", "torchvision")}
    missing = sorted(set(declared) - set(pins))
    assert not missing, f"declared in pyproject.toml but not pinned in constraints.txt (run make lock): {missing}"
    too_old = {n: (pins[n], lower) for n, lower in declared.items() if lower and Version(pins[n]) < Version(lower)}
    assert not too_old, f"pinned below pyproject's lower bound (pin, bound): {too_old}"
    assert not any(name.startswith(("torch", "nvidia-")) and name != "torchmetrics" for name in pins)


def test_make_setup_installs_with_the_constraints() -> None:
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("uid, allow_root", [("0", True), ("1000", False)], ids=["root", "user"])
def test_make_lab_starts_jupyterlab_as_root_and_as_a_user(tmp_path: Path, uid: str, allow_root: bool) -> None:
    """JupyterLab refuses to start as root without --allow-root: `make lab` adds it for root only.
    Run with a stand-in `jupyter` that prints its arguments and an `id` that says who we are; `setup` is
    taken as done (-o), so nothing is installed."""
    import os
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    bin_ = tmp_path / "venv" / "bin"
    bin_.mkdir(parents=True)
    fakes = {bin_ / "jupyter": 'echo "jupyter $*"', tmp_path / "id": f'echo {uid}'}
    for path, body in fakes.items():
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    done = subprocess.run(["make", "-s", "-o", "setup", "lab", f"VENV={tmp_path / 'venv'}", "LAB_ARGS=--no-browser"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    expected = "jupyter lab notebooks/" + (" --allow-root" if allow_root else "") + " --no-browser"
    assert done.stdout.strip() == expected
