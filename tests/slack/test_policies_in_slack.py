"""Policy answers in a Slack thread: the section named, searched turns stored and replayed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.wiring import build_services
from tests.conftest import SAMPLE_ORDERS
from tests.slack.conftest import Harness, start_harness


@pytest.fixture
def searching(settings, claude_client, fake_slack, fake_claude) -> Iterator[Harness]:
    """ShopMate with a zero policy budget: every policy question goes through search_policies."""
    services = build_services(replace(settings, knowledge_token_budget=0), client=claude_client)
    services.storage.orders.upsert_many(SAMPLE_ORDERS)
    harness = start_harness(services, fake_slack, fake_claude)
    yield harness
    harness.server.stop()
    services.close()


def test_a_policy_question_in_a_thread_is_answered_with_its_section(harness: Harness):
    question = harness.mention("Does the Wave Crop run small?")
    harness.wait_answered(question)
    text = harness.reply_text(question)
    assert "cut just above the hip" in text
    assert "(**Exchanges and sizing › Wave Print Crop Tee fit**)" in text


def test_searched_answers_are_stored_and_the_thread_carries_on(searching: Harness):
    first = searching.mention("Can I return a worn tee?")
    searching.wait_answered(first)
    assert "(**Returns › Worn or washed tees**)" in searching.reply_text(first)
    follow_up = searching.say_in_thread("And how should I wash my tees?", first["event"]["ts"])
    searching.wait_answered(follow_up)
    assert "(**Care › Washing**)" in searching.reply_text(follow_up)
    # The follow-up's request replays the first turn's search call and its result.
    replayed = str(searching.claude.requests[-1].body["messages"])
    assert "'name': 'search_policies'" in replayed and "Returns › Worn or washed tees" in replayed
