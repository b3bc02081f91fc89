"""Order ids pasted into a message are looked up before Claude is asked, as if Claude had asked.

Real anthropic SDK against the fake Messages API, which checks every request as the real API
does (tool_use/tool_result pairing, `tools` present, valid and unique tool_use ids).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import anthropic
import pytest

from bot.events import TextDelta, ToolFinished, ToolStarted, TurnComplete
from bot.prefetch import OrderIdPrefetcher, PlannedCall
from bot.settings import Settings
from bot.wiring import Services, build_services
from fakes.claude import FakeClaude, reply, tool_call
from tests.conftest import SAMPLE_ORDERS
from tests.test_answers import assert_valid_request

THREAD = "local:prefetch"
TRACK_1001 = "[RM493827651GB](https://track.royalmail.com/tracking/RM493827651GB)"


def answer(services: Services, text: str, thread: str = THREAD) -> list:
    events = list(services.answers.answer(thread, text, user="U1", team="T1"))
    assert isinstance(events[-1], TurnComplete), events[-1]
    return events


def calls(fake: FakeClaude) -> list[dict]:
    """Bodies of the Messages requests (the fake answered 400 to any invalid one)."""
    return [r.body for r in fake.requests if r.path == "/v1/messages"]


def tool_uses(message: dict) -> list[dict]:
    return [b for b in message["content"] if b["type"] == "tool_use"]


def results(message: dict) -> list[dict]:
    return [b for b in message["content"] if b["type"] == "tool_result"]


@pytest.fixture
def services_without_prefetch(
    settings: Settings, claude_client: anthropic.Anthropic
) -> Iterator[Services]:
    built = build_services(replace(settings, prefetch_orders=False), client=claude_client)
    built.storage.orders.upsert_many(SAMPLE_ORDERS)
    yield built
    built.close()


def test_a_pasted_id_is_sent_as_claudes_own_tool_call_and_answered_in_one_call(
    services, fake_claude
):
    events = answer(services, "Hi, where is ORD-1001?")

    [body] = calls(fake_claude)
    question, asked, looked_up = body["messages"]
    assert question["role"] == "user" and "where is ORD-1001?" in json.dumps(question)
    assert asked["role"] == "assistant" and looked_up["role"] == "user"
    [use] = tool_uses(asked)
    assert use["name"] == "get_order" and use["input"] == {"order_id": "ORD-1001"}
    assert use["id"].startswith("toolu_prefetch_")
    [result] = results(looked_up)
    assert result["tool_use_id"] == use["id"] and "is_error" not in result
    assert json.loads(result["content"])["tracking_number"] == "RM493827651GB"
    assert body["tools"], "a request holding tool blocks passes tools"

    done = events[-1]
    assert done.usage.model_calls == 1
    kinds = [type(e) for e in events]
    assert kinds.index(ToolStarted) < kinds.index(ToolFinished) < kinds.index(TextDelta)
    finished = next(e for e in events if isinstance(e, ToolFinished))
    assert (finished.tool_use_id, finished.summary) == (use["id"], "shipped")
    for field_shown in ("ORD-1001", "Sunset Gradient Tee (M, Orange)", "shipped", "2 Apr"):
        assert field_shown in done.text
    assert TRACK_1001 in done.text

    stored = services.storage.conversations.history(THREAD)
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[1]["content"] == [use], "the prefetched call is stored as sent"
    assert stored[2]["content"] == [_without_cache_control(result)]
    assert stored[3]["content"] == [{"type": "text", "text": done.text}]


def test_two_ids_in_one_message_are_one_tool_turn_and_one_call(services, fake_claude):
    done = answer(services, "Can you check ord-1002 and ORD-1003, please? And ORD-1002 again")[-1]
    [body] = calls(fake_claude)
    asked, looked_up = body["messages"][1:]
    assert [u["input"]["order_id"] for u in tool_uses(asked)] == ["ORD-1002", "ORD-1003"]
    assert [r["tool_use_id"] for r in results(looked_up)] == [u["id"] for u in tool_uses(asked)]
    assert done.usage.model_calls == 1
    assert "**ORD-1002**" in done.text and "**ORD-1003**" in done.text


def test_without_an_id_in_the_text_claude_looks_it_up_itself_in_two_calls(services, fake_claude):
    done = answer(services, "Where's my order ord1001?")[-1]  # not the id pattern's form
    first, second = calls(fake_claude)
    assert [m["role"] for m in first["messages"]] == ["user"], "nothing was looked up before"
    assert [u["input"] for u in tool_uses(second["messages"][1])] == [{"order_id": "ORD-1001"}]
    assert done.usage.model_calls == 2
    assert TRACK_1001 in done.text


def test_claudes_own_lookups_are_still_answered_in_parallel(services, fake_claude):
    fake_claude.enqueue(
        reply(
            text="I'll check your other orders too.",
            tool_calls=[
                tool_call("get_order", {"order_id": "ORD-1002"}),
                tool_call("get_order", {"order_id": "ORD-1003"}),
            ],
        ),
        reply(text="All three checked."),
    )
    events = answer(services, "ORD-1001 — and my other two orders?")
    first, second = calls(fake_claude)
    assert len(first["messages"]) == 3, "the prefetched pair went into the first call"
    assert_valid_request(second["messages"])
    own = second["messages"][3]
    assert [u["input"]["order_id"] for u in tool_uses(own)] == ["ORD-1002", "ORD-1003"]
    statuses = [json.loads(r["content"])["status"] for r in results(second["messages"][4])]
    assert statuses == ["processing", "delivered"]
    started = [e.input["order_id"] for e in events if isinstance(e, ToolStarted)]
    assert started == ["ORD-1001", "ORD-1002", "ORD-1003"]
    stored = services.storage.conversations.history(THREAD)
    assert [m["role"] for m in stored] == ["user", "assistant"] * 3
    assert_valid_request(stored)


@pytest.mark.parametrize(
    ("text", "looked_up", "error", "explained"),
    [
        ("Where is ORD-9999?", "ORD-9999", "not found", "can't find an order"),
        ("Where is ORD-1001x?", "ORD-1001X", "not a valid order id", "doesn't look like"),
        (f"Where is ORD-{'1' * 80}?", f"ORD-{'1' * 80}", "not a valid order id", "doesn't look"),
    ],
)
def test_an_unknown_or_malformed_id_becomes_an_error_result_claude_explains(
    services, fake_claude, text, looked_up, error, explained
):
    done = answer(services, text)[-1]
    [body] = calls(fake_claude)
    [use] = tool_uses(body["messages"][1])
    assert use["input"] == {"order_id": looked_up}
    [result] = results(body["messages"][2])
    assert result["is_error"] is True and error in result["content"]
    assert explained in done.text
    assert done.usage.model_calls == 1


def test_prefetching_off_by_setting_leaves_every_lookup_to_claude(
    services_without_prefetch, fake_claude
):
    assert Settings.from_mapping({"SHOPMATE_PREFETCH_ORDERS": "false"}).prefetch_orders is False
    done = answer(services_without_prefetch, "Hi, where is ORD-1001?")[-1]
    first, second = calls(fake_claude)
    assert [m["role"] for m in first["messages"]] == ["user"]
    assert not tool_uses(second["messages"][1])[0]["id"].startswith("toolu_prefetch_")
    assert done.usage.model_calls == 2
    assert TRACK_1001 in done.text


def test_beyond_the_limit_claude_asks_for_the_remaining_ids(settings, claude_client, fake_claude):
    services = build_services(replace(settings, prefetch_max_ids=2), client=claude_client)
    services.storage.orders.upsert_many(SAMPLE_ORDERS)
    try:
        done = answer(services, "ORD-1001, ORD-1002 and ORD-1003?")[-1]
    finally:
        services.close()
    first, second = calls(fake_claude)
    assert [u["input"]["order_id"] for u in tool_uses(first["messages"][1])] == [
        "ORD-1001",
        "ORD-1002",
    ]
    assert [u["input"]["order_id"] for u in tool_uses(second["messages"][3])] == ["ORD-1003"]
    assert all(f"**ORD-100{n}**" in done.text for n in (1, 2, 3))


def test_later_turns_of_a_thread_send_the_prefetched_history_validly(services, fake_claude):
    thread = [
        "Hi, where is ORD-1001?",
        # No id and no tool (a size change would add a hand-off call: tests/handoff).
        "Great, what are your tees made of?",
        "And ORD-1003, ORD-9999?",
        "Thanks!",
        "Sorry, ORD-1001 once more?",
    ]
    for text in thread:
        answer(services, text)
    bodies = calls(fake_claude)
    assert len(bodies) == len(thread), "one call per turn, ids or not"
    last = bodies[-1]["messages"]
    assert_valid_request(last)
    prefetched = [u for m in last if m["role"] == "assistant" for u in tool_uses(m)]
    assert len(prefetched) == 4 and len({u["id"] for u in prefetched}) == 4
    stored = services.storage.conversations.history(THREAD)
    assert_valid_request(stored)
    sent = [
        {"role": m["role"], "content": [_without_cache_control(b) for b in m["content"]]}
        for m in last
    ]
    assert sent == stored[:-1], "the last call sent the stored thread, its new pair included"


def _without_cache_control(block: dict) -> dict:
    return {k: v for k, v in block.items() if k != "cache_control"}


def test_a_thread_over_a_small_budget_keeps_prefetched_pairs_whole(
    settings, claude_client, fake_claude
):
    services = build_services(replace(settings, history_token_budget=500), client=claude_client)
    services.storage.orders.upsert_many(SAMPLE_ORDERS)
    try:
        for n in range(8):
            answer(services, f"Where is ORD-100{1 + n % 3}? ({n})")
    finally:
        services.close()
    bodies = calls(fake_claude)
    assert len(bodies) == 8
    assert len(bodies[-1]["messages"]) < 8 * 4, "old exchanges were dropped"
    for body in bodies:
        assert body["messages"][0]["role"] == "user"
        assert_valid_request(body["messages"])


def test_the_planner_reads_ids_as_the_pattern_says():
    plan = OrderIdPrefetcher(r"ORD-\d{4,}", limit=3).plan
    assert plan("no ids here, just an order") == []
    assert plan("(ORD-1001), ord-1002. ORD-1001!") == [
        PlannedCall("get_order", {"order_id": "ORD-1001"}),
        PlannedCall("get_order", {"order_id": "ORD-1002"}),
    ]
    assert plan("XORD-1001 and ORD-1001-2") == [
        PlannedCall("get_order", {"order_id": "XORD-1001"}),
        PlannedCall("get_order", {"order_id": "ORD-1001-2"}),
    ], "a match glued to more characters is passed whole, for the tool to refuse"
    assert len(plan("ORD-1001 ORD-1002 ORD-1003 ORD-1004")) == 3
    assert OrderIdPrefetcher(r"TC\d{6}").plan("tc123456?") == [
        PlannedCall("get_order", {"order_id": "TC123456"})
    ]
