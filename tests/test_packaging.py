"""The shipped packages say what they need, and the product does not lean on its test fakes."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
OWN = {"bot", "storage", "fakes", "bench", "tests"}
# The one product module that may import the fakes: the offline demo plays against them.
MAY_IMPORT_FAKES = {Path("bot/cli/demo_run.py")}


def _imports(path: Path) -> set[str]:
    """Top-level module names imported anywhere in `path` (lazy imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _third_party(package: str) -> dict[str, set[Path]]:
    found: dict[str, set[Path]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _imports(path) - OWN - set(sys.stdlib_module_names):
            found.setdefault(name, set()).add(path.relative_to(ROOT))
    return found


def _declared(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
        names.add(name.lower().replace("_", "-"))
    return names


def _distributions(module: str) -> set[str]:
    return {d.lower().replace("_", "-") for d in packages_distributions().get(module, [])}


def test_every_library_the_product_imports_is_a_declared_dependency() -> None:
    declared = _declared(PYPROJECT["project"]["dependencies"])
    missing = {
        module: sorted(map(str, paths))
        for package in ("bot", "storage")
        for module, paths in _third_party(package).items()
        if not _distributions(module) & declared
    }
    assert missing == {}


def test_every_library_the_fakes_import_is_declared_with_them() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    declared = _declared(PYPROJECT["project"]["dependencies"] + extras["fakes"])
    missing = {
        module: sorted(map(str, paths))
        for module, paths in _third_party("fakes").items()
        if not _distributions(module) & declared
    }
    assert missing == {}


def test_the_fakes_ship_as_their_own_package_and_only_the_demo_uses_them() -> None:
    assert not list((ROOT / "bot").glob("simulators/*.py"))  # (a stale __pycache__ may stay)
    packages = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert "fakes*" in packages  # `shopmate demo` works from a plain install
    leaning = sorted(
        str(path.relative_to(ROOT))
        for package in ("bot", "storage")
        for path in (ROOT / package).rglob("*.py")
        if "fakes" in _imports(path) and path.relative_to(ROOT) not in MAY_IMPORT_FAKES
    )
    assert leaning == []
