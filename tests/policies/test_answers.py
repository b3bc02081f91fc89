"""Policy answers end to end: the real anthropic SDK against the fake Claude and its scripted model.

The documents go into the cached system prefix while they fit the budget, and are searched
with `search_policies` past it; either way the answer quotes them and names the section, and
an edit on disk is used by the next turn, with no restart.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import anthropic
import pytest

from bot.events import ToolStarted, TurnComplete
from bot.policies import DEFAULT_KNOWLEDGE_DIR
from bot.settings import Settings
from bot.wiring import Services, build_services
from fakes.claude import FakeClaude
from tests.conftest import SAMPLE_ORDERS
from tests.policies.conftest import edit

WORN = "Can I return a worn tee?"
WORN_SECTION = "Returns › Worn or washed tees"
PROMPT_BUDGET, SEARCH_BUDGET = 8_000, 100


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped documents, free to edit."""
    return Path(shutil.copytree(DEFAULT_KNOWLEDGE_DIR, tmp_path / "knowledge"))


def open_services(
    settings: Settings, client: anthropic.Anthropic, folder: Path, budget: int
) -> Services:
    return build_services(
        replace(
            settings,
            knowledge_dir=folder,
            knowledge_token_budget=budget,
            knowledge_reload_seconds=0,
        ),
        client=client,
    )


@pytest.fixture
def prompt_mode(settings, claude_client, folder) -> Iterator[Services]:
    services = open_services(settings, claude_client, folder, PROMPT_BUDGET)
    yield services
    services.close()


@pytest.fixture
def search_mode(settings, claude_client, folder) -> Iterator[Services]:
    services = open_services(settings, claude_client, folder, SEARCH_BUDGET)
    yield services
    services.close()


def ask(
    services: Services, question: str, history: list | None = None
) -> tuple[list, TurnComplete]:
    events = list(services.engine.run_turn(history or [], question))
    done = events[-1]
    assert isinstance(done, TurnComplete), done
    return events, done


def test_a_policy_answer_quotes_the_section_and_the_cache_breakpoint_follows_the_documents(
    prompt_mode: Services, fake_claude: FakeClaude
):
    events, done = ask(prompt_mode, WORN)
    assert f"(**{WORN_SECTION}**)" in done.text
    assert "We can't take back a tee that has been worn or washed" in done.text
    assert not [e for e in events if isinstance(e, ToolStarted)], "answered from the prompt"

    body = fake_claude.requests[-1].body
    base, documents = body["system"]
    assert "cache_control" not in base and base["text"].startswith("You are ShopMate")
    assert f'<section name="{WORN_SECTION}">' in documents["text"]
    assert documents["text"].rstrip().endswith("</policies>"), "the documents close the system"
    assert documents["cache_control"] == {"type": "ephemeral"}, "one breakpoint right after them"
    assert json.dumps(body).count('"cache_control"') == 2, "and one on the newest message"
    assert "search_policies" not in [t["name"] for t in body["tools"]]

    # The next turn reads the documents from the cache.
    history = [{"role": "user", "content": WORN}, *done.messages]
    _, second = ask(prompt_mode, "How should I wash it?", history)
    assert "(**Care › Washing**)" in second.text
    assert second.usage.cache_read_input_tokens > 0


def test_past_the_budget_claude_searches_the_sections_and_names_the_one_it_used(
    search_mode: Services, fake_claude: FakeClaude
):
    events, done = ask(search_mode, WORN)
    started = [e for e in events if isinstance(e, ToolStarted)]
    assert [e.name for e in started] == ["search_policies"]
    assert f"(**{WORN_SECTION}**)" in done.text
    assert "We can't take back a tee that has been worn or washed" in done.text

    first, second = (r.body for r in fake_claude.requests[-2:])
    assert "<section" not in json.dumps(first["system"]), "the documents stay out of the prompt"
    assert "search_policies" in [t["name"] for t in first["tools"]]
    result = second["messages"][-1]["content"][0]
    assert result["type"] == "tool_result"
    assert json.loads(result["content"])["results"][0]["section"] == WORN_SECTION


@pytest.mark.parametrize("budget", [PROMPT_BUDGET, SEARCH_BUDGET], ids=["prompt", "search"])
def test_an_edited_document_answers_the_next_turn_without_a_restart(
    settings, claude_client, folder: Path, budget: int
):
    services = open_services(settings, claude_client, folder, budget)
    try:
        _, before = ask(services, WORN)
        assert "We can't take back a tee that has been worn or washed" in before.text
        returns = folder / "returns.md"
        edit(
            returns,
            returns.read_text(encoding="utf-8").replace(
                "We can't take back a tee that has been worn or washed",
                "We now take back worn tees for store credit, even if worn or washed",
            ),
        )
        _, after = ask(services, WORN)
        assert "We now take back worn tees for store credit" in after.text
        assert f"(**{WORN_SECTION}**)" in after.text
    finally:
        services.close()


def test_the_seed_s_size_change_is_explained_from_the_exchange_policy(
    prompt_mode: Services, fake_claude: FakeClaude
):
    prompt_mode.storage.orders.upsert_many(SAMPLE_ORDERS)
    _, first = ask(
        prompt_mode, "Hi, I placed an order last week — ORD-1001 — and haven't had an update."
    )
    history = [
        {
            "role": "user",
            "content": "Hi, I placed an order last week — ORD-1001 — and haven't had an update.",
        },
        *first.messages,
    ]
    events, done = ask(prompt_mode, "Great, can I change the size to Large?", history)
    assert "(**Exchanges and sizing › Exchanging a size after it has shipped**)" in done.text
    assert "we can swap the size" in done.text, "the words come from the document"
    assert "request_size_exchange" in [e.name for e in events if isinstance(e, ToolStarted)]
