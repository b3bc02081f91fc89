"""ConversationStore: messages kept exactly and in order, turns recorded atomically, retention."""

from __future__ import annotations

import json
import sqlite3

import psycopg
import pytest

from storage import Storage, StorageClosed, Usage, open_storage
from tests.storage.conftest import FakeClock, refuse_inserts, rows

# What a failing write raises, on either backend.
DATABASE_ERRORS = (sqlite3.DatabaseError, psycopg.DatabaseError)

KEY = "slack:T1:C1:1700000000.000100"

TOOL_TURN = [
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me check."},
            {
                "type": "tool_use",
                "id": "toolu_01",
                "name": "get_order",
                "input": {"order_id": "ORD-1001"},
            },
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_01",
                "content": '{"status": "shipped"}',
                "is_error": False,
            }
        ],
    },
    {"role": "assistant", "content": [{"type": "text", "text": "It has shipped! 🚚"}]},
]


def start_thread(storage: Storage, key: str = KEY, **details: str) -> int:
    defaults = {"team": "T1", "channel": "C1", "thread_ts": "1700000000.000100"}
    return storage.conversations.ensure(key, platform="slack", **{**defaults, **details})


def test_ensure_is_idempotent_and_returns_the_same_id(storage: Storage) -> None:
    first = start_thread(storage)
    assert start_thread(storage) == first
    assert len(storage.conversations.list()) == 1


def test_ensure_fills_in_missing_details_but_never_overwrites_them(storage: Storage) -> None:
    storage.conversations.ensure(KEY, platform="slack", team="T1")
    storage.conversations.ensure(KEY, platform="slack", team="T9", channel="C1")

    row = storage.conversations.get(KEY)
    assert row is not None
    assert (row["team"], row["channel"], row["thread_ts"]) == ("T1", "C1", None)


def test_get_returns_the_conversation_row_or_none(storage: Storage, clock: FakeClock) -> None:
    conversation_id = start_thread(storage)

    assert storage.conversations.get(KEY) == {
        "id": conversation_id,
        "thread_key": KEY,
        "platform": "slack",
        "team": "T1",
        "channel": "C1",
        "thread_ts": "1700000000.000100",
        "created_utc": "2026-03-01T09:00:00.000000+00:00",
        "updated_utc": "2026-03-01T09:00:00.000000+00:00",
    }
    assert storage.conversations.get("slack:T1:C1:unknown") is None
    assert storage.conversations.exists(KEY)
    assert not storage.conversations.exists("slack:T1:C1:unknown")


def test_add_user_message_creates_the_conversation_with_platform_from_the_key(
    storage: Storage,
) -> None:
    storage.conversations.add_user_message("local:default", "hello", user="alice")

    row = storage.conversations.get("local:default")
    assert row is not None
    assert row["platform"] == "local"


@pytest.mark.parametrize("key", ["nocolon", ":missing-platform", "local:"])
def test_a_thread_key_without_a_platform_prefix_is_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="platform"):
        storage.conversations.add_user_message(key, "hello")


def test_history_returns_string_content_as_a_text_block(storage: Storage) -> None:
    storage.conversations.add_user_message(KEY, "Where is ORD-1001?")

    assert storage.conversations.history(KEY) == [
        {"role": "user", "content": [{"type": "text", "text": "Where is ORD-1001?"}]}
    ]


def test_history_keeps_tool_blocks_exactly_and_in_order(storage: Storage) -> None:
    storage.conversations.add_user_message(KEY, "Where is ORD-1001?")
    storage.conversations.add_turn(KEY, TOOL_TURN)
    storage.conversations.add_user_message(KEY, [{"type": "text", "text": "Thanks"}])

    assert storage.conversations.history(KEY) == [
        {"role": "user", "content": [{"type": "text", "text": "Where is ORD-1001?"}]},
        *TOOL_TURN,
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
    ]


def test_history_of_an_unknown_thread_is_empty(storage: Storage) -> None:
    assert storage.conversations.history("local:nobody") == []


def test_threads_do_not_see_each_others_messages(storage: Storage) -> None:
    storage.conversations.add_user_message("local:a", "from a")
    storage.conversations.add_user_message("local:b", "from b")

    assert [m["content"][0]["text"] for m in storage.conversations.history("local:a")] == ["from a"]


def test_add_turn_records_usage_status_model_and_channel_of_the_conversation(
    storage: Storage,
) -> None:
    start_thread(storage)
    turn_id = storage.conversations.add_turn(
        KEY,
        TOOL_TURN,
        usage={
            "input_tokens": 100,
            "output_tokens": 20,
            "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 7,
            "model_calls": 2,
        },
        user="U1",
        model="claude-sonnet-4-6",
    )

    [turn] = storage.conversations.export(KEY)["turns"]  # type: ignore[index]
    assert turn["id"] == turn_id
    assert {k: v for k, v in turn.items() if k not in ("id", "conversation_id")} == {
        "status": "complete",
        "error": None,
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_read_input_tokens": 5,
        "cache_creation_input_tokens": 7,
        "model_calls": 2,
        "user": "U1",
        "team": "T1",
        "channel": "C1",
        "model": "claude-sonnet-4-6",
        "created_utc": "2026-03-01T09:00:00.000000+00:00",
        "question_id": None,
    }


def test_a_failed_turn_without_messages_is_still_recorded(storage: Storage) -> None:
    storage.conversations.add_user_message(KEY, "hello")
    storage.conversations.add_turn(
        KEY, [], usage={"input_tokens": 50}, status="failed", error="overloaded"
    )

    export = storage.conversations.export(KEY)
    assert export is not None
    [turn] = export["turns"]
    assert (turn["status"], turn["error"], turn["input_tokens"]) == ("failed", "overloaded", 50)
    assert len(storage.conversations.history(KEY)) == 1


def test_add_turn_stores_all_of_its_messages_or_none_of_them(storage: Storage) -> None:
    storage.conversations.add_user_message(KEY, "Where is ORD-1001?")
    # Simulate a failure after the messages are written but before the turn row is.
    refuse_inserts(storage, "turns", "disk says no")

    with pytest.raises(DATABASE_ERRORS, match="disk says no"):
        storage.conversations.add_turn(KEY, TOOL_TURN)

    assert len(storage.conversations.history(KEY)) == 1
    # The connection is still usable after the rollback.
    storage.conversations.add_user_message(KEY, "still there?")
    assert len(storage.conversations.history(KEY)) == 2


@pytest.mark.parametrize(
    ("messages", "kwargs", "match"),
    [
        ([{"role": "system", "content": "x"}], {}, "role"),
        ([{"role": "assistant"}], {}, "content"),
        ([{"role": "assistant", "content": 42}], {}, "str or a list"),
        ([{"role": "assistant", "content": [{"type": "x", "v": object()}]}], {}, "JSON"),
        ([], {"status": "partial"}, "status"),
    ],
)
def test_add_turn_refuses_malformed_input_and_stores_nothing(
    storage: Storage, messages: list, kwargs: dict, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        storage.conversations.add_turn(KEY, messages, **kwargs)
    assert not storage.conversations.exists(KEY)


def test_writes_move_updated_utc_and_list_shows_most_recent_first(
    storage: Storage, clock: FakeClock
) -> None:
    storage.conversations.add_user_message("local:old", "first")
    clock.advance(minutes=1)
    storage.conversations.add_user_message("local:new", "second")
    clock.advance(minutes=1)
    storage.conversations.add_turn("local:old", [{"role": "assistant", "content": "reply"}])

    assert [c["thread_key"] for c in storage.conversations.list()] == ["local:old", "local:new"]
    assert [c["thread_key"] for c in storage.conversations.list(limit=1)] == ["local:old"]
    old = storage.conversations.get("local:old")
    assert old is not None
    assert old["created_utc"] == "2026-03-01T09:00:00.000000+00:00"
    assert old["updated_utc"] == "2026-03-01T09:02:00.000000+00:00"


def test_export_is_json_serialisable_and_holds_messages_and_turns(storage: Storage) -> None:
    start_thread(storage)
    storage.conversations.add_user_message(KEY, "Where is ORD-1001?", user="U1")
    storage.conversations.add_turn(KEY, TOOL_TURN, usage={"output_tokens": 3}, user="U1")

    export = storage.conversations.export(KEY)

    assert export is not None
    assert json.loads(json.dumps(export)) == export
    assert export["conversation"]["thread_key"] == KEY
    assert [m["role"] for m in export["messages"]] == ["user", "assistant", "user", "assistant"]
    assert export["messages"][0] == {
        "role": "user",
        "content": [{"type": "text", "text": "Where is ORD-1001?"}],
        "user": "U1",
        "created_utc": "2026-03-01T09:00:00.000000+00:00",
    }
    assert len(export["turns"]) == 1
    assert storage.conversations.export("local:unknown") is None


def test_purge_deletes_old_conversations_with_their_messages_turns_and_events(
    storage: Storage, clock: FakeClock
) -> None:
    storage.conversations.add_user_message("local:old", "old question")
    storage.conversations.add_turn("local:old", TOOL_TURN)
    storage.claims.claim("evt-old", owner="p1", thread_key="local:old", lease_seconds=30)
    storage.claims.finish("evt-old")
    clock.advance(days=40)
    storage.conversations.add_user_message("local:recent", "new question")
    storage.conversations.add_turn("local:recent", [], status="failed")
    storage.claims.claim("evt-recent", owner="p1", thread_key="local:recent", lease_seconds=30)

    counts = storage.conversations.purge_older_than("2026-03-15T00:00:00.000000+00:00")

    assert counts == {
        "file links": 0,
        "files": 0,
        "conversations": 1,
        "messages": 4,
        "turns": 1,
        "events": 1,
    }
    assert not storage.conversations.exists("local:old")
    assert storage.conversations.history("local:old") == []
    assert storage.claims.status("evt-old") is None
    assert storage.claims.status("evt-recent") == "claimed"
    assert len(storage.conversations.history("local:recent")) == 1
    assert len(rows(storage, "turns")) == 1
    if storage.backend == "sqlite":  # PostgreSQL never lets a foreign key dangle
        with storage._shared.read() as db:
            assert list(db.query("select * from pragma_foreign_key_check")) == []


def test_purge_with_nothing_old_enough_deletes_nothing(storage: Storage) -> None:
    storage.conversations.add_user_message("local:a", "hi")

    counts = storage.conversations.purge_older_than("2026-01-01")

    assert counts == {
        "file links": 0,
        "files": 0,
        "conversations": 0,
        "messages": 0,
        "turns": 0,
        "events": 0,
    }
    assert storage.conversations.exists("local:a")


def usage(tokens: int) -> dict[str, int]:
    return {
        "input_tokens": tokens,
        "output_tokens": tokens,
        "cache_read_input_tokens": tokens,
        "cache_creation_input_tokens": tokens,
        "model_calls": 1,
    }


def test_usage_report_sums_turns_and_tokens_per_day_team_and_channel(
    storage: Storage, clock: FakeClock
) -> None:
    start_thread(storage, "slack:T1:C1:1", team="T1", channel="C1")
    start_thread(storage, "slack:T1:C2:1", team="T1", channel="C2")
    storage.conversations.add_turn("slack:T1:C1:1", [], usage=usage(1))
    storage.conversations.add_turn("slack:T1:C1:1", [], usage=usage(2), status="failed")
    storage.conversations.add_turn("slack:T1:C2:1", [], usage=usage(10))
    clock.advance(days=1)
    storage.conversations.add_turn("slack:T1:C1:1", [], usage=usage(100))

    report = storage.conversations.usage_report()

    assert report == [
        {
            "day": "2026-03-01",
            "team": "T1",
            "channel": "C1",
            "turns": 2,
            "failed": 1,
            "input_tokens": 3,
            "output_tokens": 3,
            "cache_read_input_tokens": 3,
            "cache_creation_input_tokens": 3,
            "model_calls": 2,
        },
        {
            "day": "2026-03-01",
            "team": "T1",
            "channel": "C2",
            "turns": 1,
            "failed": 0,
            "input_tokens": 10,
            "output_tokens": 10,
            "cache_read_input_tokens": 10,
            "cache_creation_input_tokens": 10,
            "model_calls": 1,
        },
        {
            "day": "2026-03-02",
            "team": "T1",
            "channel": "C1",
            "turns": 1,
            "failed": 0,
            "input_tokens": 100,
            "output_tokens": 100,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 100,
            "model_calls": 1,
        },
    ]
    assert [row["day"] for row in storage.conversations.usage_report("2026-03-02")] == [
        "2026-03-02"
    ]


def test_turns_since_counts_turns_and_all_tokens_filtered_by_user_and_team(
    storage: Storage, clock: FakeClock
) -> None:
    storage.conversations.add_turn("local:a", [], usage=usage(1), user="U1", team="T1")
    clock.advance(minutes=5)
    storage.conversations.add_turn("local:a", [], usage=usage(10), user="U1", team="T1")
    storage.conversations.add_turn("local:b", [], usage=usage(100), user="U2", team="T1")
    storage.conversations.add_turn("local:c", [], usage=usage(1000), user="U3", team="T2")
    since = "2026-03-01T09:01:00.000000+00:00"

    assert storage.conversations.turns_since(since, user="U1") == Usage(turns=1, tokens=40)
    assert storage.conversations.turns_since(since, team="T1") == Usage(turns=2, tokens=440)
    assert storage.conversations.turns_since(since) == Usage(turns=3, tokens=4440)
    assert storage.conversations.turns_since("2026-03-01") == Usage(turns=4, tokens=4444)
    assert storage.conversations.turns_since(since, user="nobody") == Usage(turns=0, tokens=0)


def test_a_closed_storage_refuses_to_be_used(db_target) -> None:
    storage = open_storage(db_target)
    storage.close()
    storage.close()  # closing twice is harmless

    with pytest.raises(StorageClosed):
        storage.conversations.history(KEY)


def test_message_count_is_zero_until_the_first_message_of_that_thread(storage: Storage) -> None:
    conversations = storage.conversations
    assert conversations.message_count(KEY) == 0, "unknown thread"
    conversations.ensure(KEY, platform="slack")
    assert conversations.message_count(KEY) == 0, "joined, nothing said yet"
    conversations.add_user_message(KEY, "where is ORD-1001?")
    conversations.add_turn(KEY, TOOL_TURN)
    assert conversations.message_count(KEY) == 1 + len(TOOL_TURN)
    assert conversations.message_count("slack:T1:C1:1700000000.000200") == 0


def test_the_keys_of_a_slack_thread_are_found_in_every_workspace(storage: Storage) -> None:
    for key in ("slack:T1:C1:1.000", "slack:T2:C1:1.000", "slack:T1:C1:11.000", "local:C1:1.000"):
        storage.conversations.add_user_message(key, "hi")

    assert storage.conversations.keys_for_slack_thread("C1", "1.000") == [
        "slack:T1:C1:1.000",
        "slack:T2:C1:1.000",
    ]


def test_summaries_count_messages_turns_and_stored_bytes(storage: Storage) -> None:
    storage.conversations.add_user_message("local:a", "hi")
    storage.conversations.add_turn("local:a", [{"role": "assistant", "content": "hello"}])

    [row] = storage.conversations.summaries()

    assert (row["thread_key"], row["messages"], row["turns"]) == ("local:a", 2, 1)
    assert row["content_bytes"] == len('[{"type":"text","text":"hi"}]') + len(
        '[{"type":"text","text":"hello"}]'
    )
