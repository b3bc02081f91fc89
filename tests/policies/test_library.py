"""The policy library: prompt or search mode by budget, edits picked up without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.policies import KnowledgeError, PolicyLibrary
from tests.policies.conftest import CARE, edit


def test_documents_within_the_budget_go_into_the_prompt_and_the_search_tool_is_withheld(
    knowledge: Path,
):
    library = PolicyLibrary(knowledge, token_budget=10_000)
    setup = library.turn_setup()
    assert '<section name="Returns › Worn or washed tees">' in setup.system_text
    assert "unless it is faulty" in setup.system_text
    assert setup.withheld_tools == frozenset({"search_policies"})


def test_documents_over_the_budget_are_searched_by_section(knowledge: Path):
    library = PolicyLibrary(knowledge, token_budget=50)
    setup = library.turn_setup()
    assert "search_policies" in setup.system_text and "unless it is faulty" not in setup.system_text
    assert not setup.withheld_tools
    found = library.search("Can I return a worn tee?")
    assert found[0]["name"] == "Returns › Worn or washed tees"
    assert found[0]["document"] == "returns.md"
    assert library.search("the and of") == [], "words that name no policy find nothing"


def test_an_edit_is_picked_up_at_the_next_check_and_reindexed(knowledge: Path):
    now = [0.0]
    library = PolicyLibrary(knowledge, token_budget=50, reload_interval=5, clock=lambda: now[0])
    edit(knowledge / "care.md", CARE + "\n## Ironing\n\nIron inside out on a low heat.\n")
    assert library.search("iron") == [], "no check before the interval is up"
    now[0] = 5.0
    assert library.search("iron")[0]["name"] == "Care › Ironing"
    (knowledge / "returns.md").unlink()
    now[0] = 10.0
    assert library.search("worn") == []
    assert [s.name for s in library.current().sections] == ["Care › Washing", "Care › Ironing"]


def test_an_edit_that_crosses_the_budget_switches_the_mode(knowledge: Path):
    library = PolicyLibrary(knowledge, token_budget=400, reload_interval=0)
    assert library.current().mode == "prompt"
    edit(knowledge / "care.md", CARE + "\n## Long\n\n" + "More care advice. " * 200)
    assert library.current().mode == "search"
    assert not library.turn_setup().withheld_tools


def test_a_broken_edit_keeps_the_last_good_documents_and_logs_once(
    knowledge: Path, caplog: pytest.LogCaptureFixture
):
    library = PolicyLibrary(knowledge, token_budget=10_000, reload_interval=0)
    (knowledge / "care.md").write_bytes(b"# Care\n\n\xff\xfe not UTF-8\n")
    assert "Wash at 30°C" in library.turn_setup().system_text
    assert "Wash at 30°C" in library.turn_setup().system_text
    errors = [r for r in caplog.records if "not reloaded" in r.getMessage()]
    assert len(errors) == 1 and "care.md is not UTF-8" in errors[0].getMessage()
    edit(knowledge / "care.md", CARE.replace("30°C", "40°C"))
    assert "Wash at 40°C" in library.turn_setup().system_text


def test_a_missing_or_empty_folder_is_refused_at_start(tmp_path: Path):
    with pytest.raises(KnowledgeError, match="does not exist"):
        PolicyLibrary(tmp_path / "nowhere", token_budget=100)
    (tmp_path / "empty").mkdir()
    with pytest.raises(KnowledgeError, match=r"no Markdown documents \(\*\.md\)"):
        PolicyLibrary(tmp_path / "empty", token_budget=100)
    (tmp_path / "empty" / "blank.md").write_text("\n\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="empty"):
        PolicyLibrary(tmp_path / "empty", token_budget=100)
