"""Every third-party package a module imports is declared in pyproject.toml: the product's
packages in [project.dependencies] (what `pip install .` installs, as the compose image
does), tests in those or the `test` extra, bench in those or the `bench` extra. Imports
inside functions count (the CLI loads boto3 lazily), and so do pytest.importorskip and
importlib.import_module with a literal name. A package installed only by chance (as
another one's dependency, or by the test extra) breaks a fresh install.

.ci/check_deps.sh checks the same by running every command from a fresh `pip install .`.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("domain", "projections", "api", "workers", "cli", "migrations")
FIRST_PARTY = {*PRODUCT, "tests", "bench"}
# The calls that import a module named by their first argument.
_IMPORTING_CALLS = {("pytest", "importorskip"), ("importlib", "import_module")}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*extras: str) -> set[str]:
    """Distribution names of [project.dependencies] and of the given extras."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    names = set()
    for requirement in requirements:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match, f"unparseable requirement {requirement!r}"
        names.add(normalized(match.group()))
    return names


def imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) in _IMPORTING_CALLS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def third_party_imports(*folders: str) -> dict[str, list[str]]:
    """Top-level name of each third-party module imported under FOLDERS -> the files."""
    found: dict[str, list[str]] = {}
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            for module in imported_modules(ast.parse(path.read_text(), str(path))):
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                    found.setdefault(top, []).append(str(path.relative_to(REPO)))
    return found


def undeclared(imports: dict[str, list[str]], allowed: set[str]) -> list[str]:
    providers = packages_distributions()
    problems = []
    for top, files in sorted(imports.items()):
        dists = {normalized(d) for d in providers.get(top, [])}
        if not dists:
            problems.append(f"{top} (in {files[0]}): no installed distribution provides it")
        elif not dists & allowed:
            problems.append(f"{top} (in {files[0]}): from {', '.join(sorted(dists))}, undeclared")
    return problems


@pytest.mark.parametrize(
    ("folders", "extras"),
    [
        pytest.param(PRODUCT, (), id="product-runtime"),
        pytest.param(("tests",), ("test",), id="tests-test-extra"),
        pytest.param(("bench",), ("bench",), id="bench-bench-extra"),
    ],
)
def test_every_import_is_declared(folders: tuple[str, ...], extras: tuple[str, ...]) -> None:
    problems = undeclared(third_party_imports(*folders), declared(*extras))
    where = "[project.dependencies]" + "".join(f" or [{e}]" for e in extras)
    assert not problems, f"declare in pyproject.toml {where}:\n  " + "\n  ".join(problems)


def test_the_check_sees_imports_inside_functions() -> None:
    """The scan must not stop at module level: the bug it guards against was a lazy import."""
    tree = ast.parse(
        "def f():\n    import boto3\n    from botocore.auth import SigV4Auth\nyaml = pytest.importorskip('yaml')\n"
    )
    assert imported_modules(tree) == {"boto3", "botocore.auth", "yaml"}
