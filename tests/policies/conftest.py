"""Fixtures for the policy documents: a knowledge folder of one's own, written per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

RETURNS = """# Returns

## Free returns within 30 days

Returns are free within 30 days of delivery. Tees must be unworn and unwashed, tags on.

## Worn or washed tees

We can't take back a tee that has been worn or washed, unless it is faulty.
"""

CARE = """# Care

## Washing

Wash at 30°C, inside out, with similar colours.
"""


@pytest.fixture(autouse=True)
def _no_knowledge_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SHOPMATE_KNOWLEDGE_DIR",
        "SHOPMATE_KNOWLEDGE_TOKENS",
        "SHOPMATE_KNOWLEDGE_RELOAD_S",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    """A small folder of two documents, three sections."""
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "returns.md").write_text(RETURNS, encoding="utf-8")
    (folder / "care.md").write_text(CARE, encoding="utf-8")
    return folder


def edit(path: Path, text: str) -> None:
    """Rewrite a document so that its stamp surely changes, however coarse the file clock.

    Some filesystems keep modification times to the second; the size changes too, but a
    same-size edit within that second would look unchanged. Moving the mtime on by a second
    makes the edit visible, as a later save would be.
    """
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    after = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(after, after))
