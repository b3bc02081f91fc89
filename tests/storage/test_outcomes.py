"""Every conversation ShopMate answered in has one outcome, derived from what is stored:
resolved by ShopMate, handed to a person, rated 👎, stopped, failed (or still open inside the
resolution window). `shopmate history export` writes it with the conversation."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot import outcomes
from bot.cli import main
from storage import Storage
from storage.feedback import Click
from tests.storage.conftest import FakeClock

KEY = "slack:T1:C1:1700000000.000100"
WINDOW = timedelta(hours=24)
ANSWER = [{"role": "assistant", "content": "ORD-1001 ships tomorrow."}]


def ask_and_answer(storage: Storage, *, status: str = "complete", key: str = KEY) -> int:
    storage.conversations.ensure(
        key, platform="slack", team="T1", channel="C1", thread_ts=key.rsplit(":", 1)[1]
    )
    question = storage.conversations.add_user_message(key, "Where is ORD-1001?", user="U1")
    return storage.conversations.add_turn(
        key, ANSWER, user="U1", team="T1", status=status, question_id=question
    )


def outcome_now(storage: Storage, clock: FakeClock, key: str = KEY) -> str:
    [facts] = storage.outcomes.facts(thread_key=key)
    return outcomes.outcome_of(facts, now=clock(), window=WINDOW)


def rate_down(storage: Storage, turn_id: int, *, rating: str = "negative") -> None:
    click = Click(turn_id=turn_id, user="U2", rating=rating, action_ts="1700000001.000001")
    assert storage.feedback.record(click) == "new"


def test_an_answer_with_no_hand_off_and_no_thumbs_down_is_resolved_once_the_window_passes(
    storage: Storage, clock: FakeClock
):
    ask_and_answer(storage)
    clock.advance(hours=23, minutes=59)
    assert outcome_now(storage, clock) == outcomes.OPEN
    clock.advance(minutes=1)
    assert outcome_now(storage, clock) == outcomes.RESOLVED


def test_a_thumbs_up_does_not_stop_a_conversation_being_resolved(
    storage: Storage, clock: FakeClock
):
    rate_down(storage, ask_and_answer(storage), rating="positive")
    clock.advance(days=2)
    assert outcome_now(storage, clock) == outcomes.RESOLVED


def test_a_conversation_with_an_escalation_was_handed_to_a_person(
    storage: Storage, clock: FakeClock
):
    ask_and_answer(storage)
    storage.handoff.file_escalation(thread_key=KEY, reason="complaint", summary="Torn parcel.")
    clock.advance(days=2)
    assert outcome_now(storage, clock) == outcomes.HANDED_OFF


def test_a_conversation_with_a_change_request_was_handed_to_a_person(
    storage: Storage, clock: FakeClock
):
    storage.orders.upsert_many(
        [
            {
                "order_id": "ORD-1001",
                "status": "shipped",
                "item": "Tee",
                "eta": None,
                "tracking": None,
            }
        ]
    )
    ask_and_answer(storage)
    storage.handoff.file_request(
        kind="refund", order_id="ORD-1001", details={}, reason="Faded.", thread_key=KEY
    )
    clock.advance(days=2)
    assert outcome_now(storage, clock) == outcomes.HANDED_OFF


def test_a_thumbs_down_makes_it_rated_down_even_after_the_window(
    storage: Storage, clock: FakeClock
):
    turn = ask_and_answer(storage)
    clock.advance(days=2)
    assert outcome_now(storage, clock) == outcomes.RESOLVED
    rate_down(storage, turn)  # a late 👎 takes the resolution back
    assert outcome_now(storage, clock) == outcomes.RATED_DOWN


def test_a_hand_off_outranks_a_thumbs_down(storage: Storage, clock: FakeClock):
    rate_down(storage, ask_and_answer(storage))
    storage.handoff.file_escalation(thread_key=KEY, reason="complaint", summary="Still torn.")
    assert outcome_now(storage, clock) == outcomes.HANDED_OFF


def test_an_answer_the_asker_stopped_is_stopped(storage: Storage, clock: FakeClock):
    ask_and_answer(storage, status="stopped")
    clock.advance(days=2)
    assert outcome_now(storage, clock) == outcomes.STOPPED


def test_an_answer_that_failed_is_failed(storage: Storage, clock: FakeClock):
    ask_and_answer(storage, status="failed")
    clock.advance(days=2)
    assert outcome_now(storage, clock) == outcomes.FAILED


def test_the_last_answer_decides_between_failed_and_answered(storage: Storage, clock: FakeClock):
    ask_and_answer(storage, status="failed")
    ask_and_answer(storage)  # the asker tried again, and got an answer
    clock.advance(days=2)
    assert outcome_now(storage, clock) == outcomes.RESOLVED


def test_a_question_not_answered_yet_has_no_outcome(storage: Storage):
    storage.conversations.add_user_message(KEY, "Hello?", user="U1")
    assert storage.outcomes.facts(thread_key=KEY) == []


def test_the_resolution_rate_is_resolved_out_of_the_decided_conversations():
    counts = {outcomes.RESOLVED: 2, outcomes.HANDED_OFF: 1, outcomes.OPEN: 5}
    assert outcomes.resolution_rate(counts) == pytest.approx(2 / 3)
    assert outcomes.rate_text(counts) == "67% (2 of 3)"
    assert outcomes.rate_text({outcomes.OPEN: 1}) == "-"


def test_history_export_writes_the_outcome(
    storage: Storage, clock: FakeClock, db_path: Path, tmp_path: Path, monkeypatch
):
    turn = ask_and_answer(storage)
    rate_down(storage, turn)
    storage.close()
    monkeypatch.setenv("SHOPMATE_DB", str(db_path))
    target = tmp_path / "out.json"
    assert main(["history", "export", KEY, "-o", str(target)]) == 0
    exported = json.loads(target.read_text())
    assert exported["outcome"] == {
        "outcome": "rated_down",
        "meaning": "rated 👎",
        "resolution_window_hours": 24.0,
    }
