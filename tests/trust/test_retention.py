"""What is kept: purge by age in one transaction, export one conversation, retention at start-up."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import prompts
from bot.process import Process
from bot.retention import RetentionSweeper, purge_expired
from bot.slack.server import start_up
from storage import open_storage
from tests.slack.conftest import wait_until
from tests.trust.conftest import shopmate, slack_client, thread_key

OLD_KEY = "slack:T1:C1:1000.000001"
NEW_KEY = "slack:T1:C1:2000.000001"
TOOL_TURN = [
    {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t1", "name": "get_order", "input": {}}],
    },
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "{}"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "It shipped."}]},
]


def seed(db_path: Path, *, old_days: int = 100) -> None:
    """An old conversation, a recent one, and an old refused message that has no thread."""
    clock = {"now": datetime.now(UTC) - timedelta(days=old_days)}
    with open_storage(db_path, clock=lambda: clock["now"]) as storage:
        storage.conversations.add_user_message(OLD_KEY, "old question", user="U1", team="T1")
        storage.conversations.add_turn(OLD_KEY, TOOL_TURN, usage={"input_tokens": 5})
        storage.claims.claim(
            "slack:T1:C1:1000.000001", owner="p1", thread_key=OLD_KEY, lease_seconds=30
        )
        storage.claims.finish("slack:T1:C1:1000.000001")
        storage.claims.claim(
            "slack:T1:C9:1000.000009", owner="p1", thread_key="slack:T1:C9:x", lease_seconds=30
        )
        storage.claims.finish("slack:T1:C9:1000.000009")
        clock["now"] = datetime.now(UTC)
        storage.conversations.add_user_message(NEW_KEY, "new question", user="U1", team="T1")
        storage.claims.claim(
            "slack:T1:C1:2000.000001", owner="p1", thread_key=NEW_KEY, lease_seconds=30
        )


def counts(db_path: Path) -> dict[str, int]:
    db = sqlite3.connect(db_path)
    try:
        tables = ("conversations", "messages", "turns", "processed_events")
        return {t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}
    finally:
        db.close()


def test_purge_deletes_whole_old_conversations_and_prints_what_it_removed(tmp_path):
    db_path = tmp_path / "s.db"
    seed(db_path)
    result = shopmate(
        "history",
        "purge",
        "--older-than",
        "90d",
        "--yes",
        env={"SHOPMATE_DB": str(db_path)},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "Removed conversations idle for over 90 day(s): "
        "4 messages, 1 turns, 2 events, 1 conversations"
    )
    with open_storage(db_path) as storage:
        assert not storage.conversations.exists(OLD_KEY)
        assert storage.conversations.history(NEW_KEY)[0]["content"][0]["text"] == "new question"
        assert storage.claims.status("slack:T1:C1:1000.000001") is None
        assert storage.claims.status("slack:T1:C9:1000.000009") is None, "orphans go too"
        assert storage.claims.status("slack:T1:C1:2000.000001") == "claimed"
    assert counts(db_path) == {
        "conversations": 1,
        "messages": 1,
        "turns": 0,
        "processed_events": 1,
    }


def test_purge_defaults_to_the_retention_setting_and_needs_one_of_them(tmp_path):
    db_path = tmp_path / "s.db"
    seed(db_path, old_days=40)
    env = {"SHOPMATE_DB": str(db_path)}
    neither = shopmate("history", "purge", env=env, cwd=tmp_path)
    assert neither.returncode == 1 and "SHOPMATE_RETENTION_DAYS" in neither.stderr
    kept = shopmate(
        "history", "purge", "--yes", env={**env, "SHOPMATE_RETENTION_DAYS": "60"}, cwd=tmp_path
    )
    assert kept.returncode == 0 and "Nothing to remove" in kept.stdout
    purged = shopmate(
        "history", "purge", "--yes", env={**env, "SHOPMATE_RETENTION_DAYS": "30d"}, cwd=tmp_path
    )
    assert purged.returncode == 0 and "1 conversations" in purged.stdout
    bad = shopmate("history", "purge", "--older-than", "soon", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "90d" in bad.stderr


def test_purge_is_one_transaction_so_a_failure_removes_nothing(tmp_path):
    db_path = tmp_path / "s.db"
    seed(db_path)
    before = counts(db_path)
    db = sqlite3.connect(db_path)
    # The last step (deleting the conversation rows) fails: everything before must roll back.
    db.execute(
        "create trigger refuse before delete on conversations "
        "begin select raise(abort, 'refused by test'); end"
    )
    db.commit()
    db.close()
    with open_storage(db_path) as storage, pytest.raises(sqlite3.DatabaseError):
        storage.conversations.purge_older_than(datetime.now(UTC) - timedelta(days=90))
    assert counts(db_path) == before


def test_export_writes_one_conversation_as_json(tmp_path):
    db_path = tmp_path / "s.db"
    seed(db_path)
    env = {"SHOPMATE_DB": str(db_path)}
    result = shopmate("history", "export", OLD_KEY, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    exported = json.loads(result.stdout)
    assert exported["conversation"]["thread_key"] == OLD_KEY
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant", "user", "assistant"]
    assert exported["messages"][0]["content"] == [{"type": "text", "text": "old question"}]
    assert exported["turns"][0]["input_tokens"] == 5

    target = tmp_path / "request-42.json"
    to_file = shopmate("history", "export", OLD_KEY, "-o", str(target), env=env, cwd=tmp_path)
    assert to_file.returncode == 0 and json.loads(target.read_text()) == exported

    missing = shopmate("history", "export", "slack:T1:C1:9.9", env=env, cwd=tmp_path)
    assert missing.returncode == 1 and "no conversation" in missing.stderr


def test_retention_zero_keeps_everything(tmp_path):
    db_path = tmp_path / "s.db"
    seed(db_path, old_days=3000)
    with open_storage(db_path) as storage:
        assert purge_expired(storage.conversations, 0) is None
        sweeper = RetentionSweeper(storage.conversations, 0).start()
        sweeper.stop()
        assert storage.conversations.exists(OLD_KEY)


def test_a_sweeper_purges_at_start_and_again_on_its_interval(tmp_path):
    db_path = tmp_path / "s.db"
    seed(db_path)
    with open_storage(db_path) as storage:
        sweeper = RetentionSweeper(storage.conversations, 90, interval_s=0.05).start()
        try:
            assert not storage.conversations.exists(OLD_KEY), "purged before serving"
            later = "slack:T1:C1:3000.000001"
            with open_storage(
                db_path, clock=lambda: datetime.now(UTC) - timedelta(days=95)
            ) as old_clock:
                old_clock.conversations.add_user_message(later, "went quiet long ago")
            assert wait_until(lambda: not storage.conversations.exists(later), timeout=10)
            assert storage.conversations.exists(NEW_KEY)
        finally:
            sweeper.stop()


def test_start_up_applies_retention_before_taking_events(make_app, tmp_path):
    app = make_app({"SHOPMATE_RETENTION_DAYS": "90"})
    seed(Path(app.services.settings.db_path))
    sweeper = start_up(app.services, app.responder, slack_client(app.services, app.slack))
    sweeper.stop()
    assert not app.services.storage.conversations.exists(OLD_KEY)
    assert app.services.storage.conversations.exists(NEW_KEY)


def test_refused_messages_leave_only_an_event_key_which_retention_removes(make_app):
    app = make_app()
    mention = app.mention("Where is ORD-1001?", user="U0GUEST", user_team="T0OTHER")
    app.wait_answered(mention)
    assert app.reply_text(mention) == prompts.OTHER_WORKSPACE_NOTICE
    assert not app.services.storage.conversations.exists(thread_key(mention))
    removed = app.services.storage.conversations.purge_older_than(
        datetime.now(UTC) + timedelta(seconds=1)
    )
    assert removed["events"] == 1 and removed["conversations"] == 0


def test_order_copies_fetched_before_the_retention_window_go_with_the_conversations(tmp_path):
    """Copies of orders from the shop's system hold customer data: the same window applies."""
    db_path = tmp_path / "s.db"
    seed(db_path)
    long_ago = datetime.now(UTC) - timedelta(days=100)
    with open_storage(db_path, clock=lambda: long_ago) as old_clock:
        old_clock.order_cache.put("shopify", "ORD-1001", {"status": "shipped"})
    with open_storage(db_path) as storage:
        storage.order_cache.put("shopify", "ORD-1002", {"status": "processing"})
        removed = RetentionSweeper(
            storage.conversations, 90, order_copies=storage.order_cache
        ).sweep()
        assert removed is not None and removed["order_copies"] == 1
        assert removed["conversations"] == 1, "the conversations' purge is unchanged"
        assert storage.order_cache.get("shopify", "ORD-1001") is None
        assert storage.order_cache.get("shopify", "ORD-1002") is not None, "a fresh copy stays"


def test_the_process_applies_retention_to_order_copies(services):
    """`serve`, `run` and `api` all sweep through bot/process.py: the copies are in its sweep."""
    process = Process(services)
    assert process.retention.order_copies is services.storage.order_cache
