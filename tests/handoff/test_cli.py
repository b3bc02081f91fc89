"""`shopmate escalations [--open]`: escalations with their links, requests with who decided."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from storage import open_storage
from tests.conftest import SAMPLE_ORDERS


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "shopmate.db"
    monkeypatch.setenv("SHOPMATE_DB", str(path))
    with open_storage(path) as storage:
        storage.orders.upsert_many(SAMPLE_ORDERS)
        handoff = storage.handoff
        posted = handoff.file_escalation(
            thread_key="slack:T1:C1:1.000",
            reason="angry_customer",
            summary="Customer is upset about a late parcel.",
            order_id="ORD-1002",
            user="U1",
        ).row
        handoff.escalation_posted(
            posted["id"], channel="C0ESC", ts="5.000", permalink="https://x.slack.com/p1"
        )
        emailed = handoff.file_escalation(
            thread_key="local:t", reason="other", summary="Wants a gift note.", user="me"
        ).row
        for order_id in ("ORD-1001", "ORD-1003"):
            handoff.file_request(
                kind="size_exchange",
                order_id=order_id,
                details={"new_size": "L"},
                reason="Too small.",
                thread_key="slack:T1:C1:1.000",
                user="U1",
            )
        handoff.decide(1, "approved", by="U0BOSS", order_status="exchange approved", order_note="n")
        assert emailed["id"] == 2
    return path


def test_escalations_lists_escalations_and_requests(db: Path, capsys) -> None:
    assert main(["escalations"]) == 0
    out = capsys.readouterr().out
    assert "2 escalation(s), newest first:" in out
    assert out.index("#2  open") < out.index("#1  open")
    assert "angry customer  order ORD-1002  asked by U1  thread slack:T1:C1:1.000" in out
    assert "https://x.slack.com/p1" in out
    assert "(not posted: no SHOPMATE_ESCALATION_CHANNEL; email line given)" in out
    assert "2 change request(s), newest first:" in out
    assert "#1  approved by U0BOSS" in out
    assert "size exchange for ORD-1001 (to L)  asked by U1" in out


def test_escalations_open_shows_only_pending_requests(db: Path, capsys) -> None:
    assert main(["escalations", "--open"]) == 0
    out = capsys.readouterr().out
    assert "2 open escalation(s)" in out
    assert "1 pending change request(s)" in out
    assert "ORD-1003" in out and "ORD-1001 (to L)" not in out


def test_escalations_refuses_a_missing_database(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SHOPMATE_DB", str(tmp_path / "nope.db"))
    assert main(["escalations"]) != 0
    assert not (tmp_path / "nope.db").exists()


def test_a_resolved_escalation_leaves_the_open_list_and_the_thread_can_escalate_again(
    db: Path, capsys
) -> None:
    assert main(["escalations", "resolve", "1", "--note", "Refunded postage", "--by", "sam"]) == 0
    assert capsys.readouterr().out == "Escalation #1 is resolved.\n"
    assert main(["escalations", "--open"]) == 0
    out = capsys.readouterr().out
    assert "1 open escalation(s)" in out and "#1 " not in out
    assert main(["escalations"]) == 0
    assert "#1  resolved" in (out := capsys.readouterr().out)
    assert "resolved by sam: Refunded postage" in out
    assert main(["escalations", "resolve", "1"]) == 1, "resolved once, not twice"
    assert "escalation #1 is resolved already; nothing changed" in capsys.readouterr().err
    assert main(["escalations", "resolve", "99"]) == 1
    assert "there is no escalation #99" in capsys.readouterr().err
    with open_storage(db) as storage:
        again = storage.handoff.file_escalation(
            thread_key="slack:T1:C1:1.000", reason="angry_customer", summary="Upset again."
        )
        twice = storage.handoff.file_escalation(
            thread_key="slack:T1:C1:1.000", reason="angry_customer", summary="Still upset."
        )
        actions = [row["action"] for row in storage.handoff.audit("escalation", 1)]
    assert again.created and again.row["id"] == 3, "a new case after the old one was resolved"
    assert not twice.created and twice.row["id"] == 3, "but still one open per thread and reason"
    assert "resolved" in actions
