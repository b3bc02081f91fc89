"""Policy documents split into named sections, and shipped with the package."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from bot.policies.documents import DEFAULT_KNOWLEDGE_DIR, parse_document

ROOT = Path(__file__).resolve().parents[2]


def test_sections_are_named_by_title_and_heading():
    document = parse_document(
        "returns.md",
        "# Returns\n\nIntro line.\n\n## Worn tees\n\nNot worn.\n\n### Detail\n\nStill here.\n"
        "\n## Empty\n\n## Refunds\nIn 5 days.\n",
    )
    assert [s.name for s in document.sections] == [
        "Returns",
        "Returns › Worn tees",
        "Returns › Refunds",
    ]
    assert "### Detail" in document.sections[1].text, "deeper headings stay in their section"


def test_a_document_without_a_title_is_named_by_its_file_and_fences_hide_headings():
    document = parse_document("shipping-and-tracking.md", "```\n## not a heading\n```\ntext\n")
    assert document.title == "Shipping and tracking"
    assert [s.name for s in document.sections] == ["Shipping and tracking"]


def test_the_shipped_documents_cover_the_five_topics_in_the_seed_s_facts():
    files = sorted(p.name for p in DEFAULT_KNOWLEDGE_DIR.glob("*.md"))
    assert files == [
        "care.md",
        "exchanges-and-sizing.md",
        "returns.md",
        "shipping-and-tracking.md",
        "sustainability.md",
    ]
    text = "\n".join(p.read_text(encoding="utf-8") for p in DEFAULT_KNOWLEDGE_DIR.glob("*.md"))
    # The seed's facts: free returns within 30 days, the team's address, Royal Mail, the cotton.
    for fact in ("30 days", "hello@threadco.com", "Royal Mail", "GOTS", "Wave Print Crop Tee"):
        assert fact in text
    assert "!" not in text.replace("<!--", ""), "the house voice has no exclamation marks"


def test_the_shipped_documents_are_package_data():
    # A wheel (not only `pip install -e`) must carry them: pyproject's package-data for `bot`
    # has to match every shipped document.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["bot"]
    for path in DEFAULT_KNOWLEDGE_DIR.glob("*.md"):
        relative = path.relative_to(ROOT / "bot").as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
