"""FeedbackStore: one rating per person per answer, re-deliveries stored once, reports."""

from __future__ import annotations

from dataclasses import replace

from storage import Storage
from storage.feedback import CHANGED, DUPLICATE, NEW, SAME, UNKNOWN, Click
from tests.storage.conftest import FakeClock

KEY = "slack:T1:C1:1700000000.000100"
ANSWER = [{"role": "assistant", "content": [{"type": "text", "text": "It has shipped."}]}]


def answered_turn(storage: Storage, question: str = "Where is ORD-1001?", key: str = KEY) -> int:
    _, _, channel, thread_ts = key.split(":")
    storage.conversations.ensure(
        key, platform="slack", team="T1", channel=channel, thread_ts=thread_ts
    )
    question_id = storage.conversations.add_user_message(key, question, user="U1", team="T1")
    return storage.conversations.add_turn(key, ANSWER, user="U1", question_id=question_id)


def click(turn_id: int, rating: str = "positive", *, user: str = "U1", at: str = "1.000001"):
    return Click(
        turn_id=turn_id,
        user=user,
        rating=rating,
        action_ts=at,
        team="T1",
        team_domain="threadco",
        channel="C1",
        thread_ts="1700000000.000100",
        message_ts="1700000000.000200",
    )


def test_a_rating_is_stored_changed_by_the_same_person_and_kept_apart_from_anothers(
    storage: Storage,
) -> None:
    turn = answered_turn(storage)

    assert storage.feedback.record(click(turn, "positive", at="10.000001")) == NEW
    assert storage.feedback.record(click(turn, "negative", at="11.000001")) == CHANGED
    assert storage.feedback.record(click(turn, "negative", at="12.000001")) == SAME
    assert storage.feedback.record(click(turn, "positive", user="U2", at="13.000001")) == NEW

    assert storage.feedback.get(turn, "U1")["rating"] == "negative"  # type: ignore[index]
    assert storage.feedback.get(turn, "U2")["rating"] == "positive"  # type: ignore[index]
    [row] = storage.feedback.rated_answers()
    assert (row["positive"], row["negative"]) == (1, 1)


def test_a_click_delivered_again_or_late_changes_nothing(storage: Storage) -> None:
    turn = answered_turn(storage)
    first = click(turn, "positive", at="10.000001")
    assert storage.feedback.record(first) == NEW
    assert storage.feedback.record(first) == DUPLICATE

    assert storage.feedback.record(click(turn, "negative", at="10.000009")) == CHANGED
    # The first click arriving again after the second must not undo it.
    assert storage.feedback.record(first) == DUPLICATE
    assert storage.feedback.get(turn, "U1")["rating"] == "negative"  # type: ignore[index]


def test_a_click_on_an_unknown_answer_or_from_another_thread_stores_nothing(
    storage: Storage,
) -> None:
    turn = answered_turn(storage)

    assert storage.feedback.record(click(turn + 1000)) == UNKNOWN
    assert storage.feedback.record(replace(click(turn), channel="C999")) == UNKNOWN
    assert storage.feedback.record(replace(click(turn), thread_ts="1700000000.999999")) == UNKNOWN
    assert storage.feedback.rated_answers() == []


def test_rated_answers_show_the_question_and_filter_by_rating_and_time(
    storage: Storage, clock: FakeClock
) -> None:
    liked = answered_turn(storage, "Where is ORD-1001?")
    disliked = answered_turn(storage, "Can I return socks?")
    storage.feedback.record(click(liked, "positive", at="1.000001"))
    clock.advance(days=10)
    storage.feedback.record(click(disliked, "negative", at="2.000001"))

    rows = storage.feedback.rated_answers()
    assert [(r["turn_id"], r["question"]) for r in rows] == [
        (disliked, "Can I return socks?"),
        (liked, "Where is ORD-1001?"),
    ]
    assert rows[0]["message_ts"] == "1700000000.000200"
    assert rows[0]["team_domain"] == "threadco"
    assert [r["turn_id"] for r in storage.feedback.rated_answers(negative_only=True)] == [disliked]
    since = "2026-03-05T00:00:00.000000+00:00"
    assert [r["turn_id"] for r in storage.feedback.rated_answers(since_utc=since)] == [disliked]


def test_share_report_counts_per_day_and_channel_of_the_answer(
    storage: Storage, clock: FakeClock
) -> None:
    first = answered_turn(storage)
    storage.feedback.record(click(first, "positive", user="U1"))
    storage.feedback.record(click(first, "negative", user="U2"))
    clock.advance(days=1)
    second = answered_turn(storage)
    storage.feedback.record(click(second, "positive", user="U1"))

    report = storage.feedback.share_report()
    assert [(r["day"], r["channel"], r["positive"], r["negative"]) for r in report] == [
        ("2026-03-01", "C1", 1, 1),
        ("2026-03-02", "C1", 1, 0),
    ]
    assert len(storage.feedback.share_report("2026-03-02")) == 1


def test_purging_a_conversation_takes_its_ratings_along(storage: Storage, clock: FakeClock) -> None:
    turn = answered_turn(storage)
    storage.feedback.record(click(turn))
    clock.advance(days=100)

    counts = storage.conversations.purge_older_than("2026-03-15T00:00:00.000000+00:00")

    assert counts["turns"] == 1
    assert storage.feedback.rated_answers() == []
    assert storage.feedback.get(turn, "U1") is None


def test_a_conversations_export_includes_its_ratings(storage: Storage) -> None:
    turn = answered_turn(storage)
    storage.feedback.record(click(turn, "negative", user="U2"))

    [rating] = storage.conversations.export(KEY)["feedback"]  # type: ignore[index]
    assert (rating["turn_id"], rating["user"], rating["rating"]) == (turn, "U2", "negative")
