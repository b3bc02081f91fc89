"""Installs reproduce: pyproject.toml's ranges, requirements.lock and the environment agree.

CI and the README's first command install from the lock, so a release of any library
reaches ShopMate only when someone refreshes the lock on purpose (README "Upgrading").
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$", re.M)
# The libraries whose next major release could change what ShopMate does without a test
# seeing it first: each range stops before that release.
SDKS = {"anthropic", "slack-bolt", "slack-sdk", "sqlite-utils", "httpx2", "fastapi", "pydantic"}


def locked() -> dict[str, tuple[str, str | None]]:
    """name → (version, environment marker or None), as pinned in requirements.lock."""
    text = (ROOT / "requirements.lock").read_text()
    return {canonicalize_name(m[1]): (m[2], m[3]) for m in PIN.finditer(text)}


def declared() -> list[Requirement]:
    """Every requirement pyproject.toml declares: the product's and each extra's."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    return [Requirement(line) for line in lines if not line.startswith("shopmate")]


def test_every_declared_dependency_is_locked_within_its_range():
    pins = locked()
    missing = [str(r) for r in declared() if canonicalize_name(r.name) not in pins]
    assert missing == [], "run .ci/lock: pyproject.toml declares what the lock lacks"
    outside = [
        f"{r.name}=={pins[canonicalize_name(r.name)][0]} not in {r.specifier}"
        for r in declared()
        if Version(pins[canonicalize_name(r.name)][0]) not in r.specifier
    ]
    assert outside == [], "run .ci/lock: the lock is older than pyproject.toml's ranges"


def test_every_pin_carries_hashes():
    text = (ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    unhashed = [e.split(" ", 1)[0] for e in entries if "==" in e and "--hash=sha256:" not in e]
    assert unhashed == []


def test_the_sdks_are_capped_below_their_next_major_version():
    uncapped = [
        str(r)
        for r in declared()
        if canonicalize_name(r.name) in SDKS
        and not any(spec.operator == "<" for spec in r.specifier)
    ]
    assert uncapped == []


def test_the_environment_holds_exactly_the_locked_versions():
    """What the tests run on is what the lock says (CI and the README install from it)."""
    wrong = []
    for name, (version, marker) in sorted(locked().items()):
        if marker and not Marker(marker).evaluate():
            continue
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "not installed"
        if have != version:
            wrong.append(f"{name}: locked {version}, installed {have}")
    assert wrong == [], "reinstall from the lock: pip install -r requirements.lock"


def test_ci_and_the_readme_install_from_the_lock():
    readme = (ROOT / "README.md").read_text()
    first_command = readme[readme.index("```bash") :].splitlines()[1]
    assert "pip install -r requirements.lock" in first_command
    assert "--no-deps -e ." in first_command
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install --quiet -r requirements.lock" in ci
    assert "'.[dev]'" not in ci, "CI would resolve the newest versions instead of the lock"
