"""`shopmate feedback` and the thumbs-up share in `shopmate stats`, from a database with ratings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from fakes.slack import FakeSlack
from storage import open_storage
from storage.feedback import Click

ANSWER = [{"role": "assistant", "content": [{"type": "text", "text": "Here you go."}]}]


def rate(storage, key: str, question: str, ratings: dict[str, str], *, at: str) -> int:
    """A stored question and answer in thread `key`, rated by each user in `ratings`."""
    _, team, channel, thread_ts = key.split(":")
    storage.conversations.ensure(
        key, platform="slack", team=team, channel=channel, thread_ts=thread_ts
    )
    question_id = storage.conversations.add_user_message(key, question, user="U1", team=team)
    turn = storage.conversations.add_turn(key, ANSWER, user="U1", question_id=question_id)
    for user, rating in ratings.items():
        storage.feedback.record(
            Click(
                turn_id=turn,
                user=user,
                rating=rating,
                action_ts=at,
                team=team,
                team_domain="threadco",
                channel=channel,
                thread_ts=thread_ts,
                message_ts="1700000500.000200",
            )
        )
    return turn


@pytest.fixture
def rated_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three rated answers: one 12 days ago (liked), two today (one liked, one split)."""
    db_path = tmp_path / "shopmate.db"
    now = datetime.now(UTC)
    clock = {"now": now - timedelta(days=12)}
    with open_storage(db_path, clock=lambda: clock["now"]) as storage:
        rate(
            storage, "slack:T1:C1:1700000000.000100", "Old question?", {"U1": "positive"}, at="1.1"
        )
        clock["now"] = now
        rate(
            storage,
            "slack:T1:C1:1700000100.000100",
            "Where is ORD-1001?",
            {"U1": "positive"},
            at="2.1",
        )
        rate(
            storage,
            "slack:T1:C2:1700000200.000100",
            "Can I return\nworn socks?",
            {"U1": "negative", "U2": "positive"},
            at="3.1",
        )
    monkeypatch.setenv("SHOPMATE_DB", str(db_path))
    return db_path


def test_feedback_lists_rated_answers_with_question_and_link(rated_db, capsys) -> None:
    assert main(["feedback"]) == 0
    out = capsys.readouterr().out

    assert "3 rated answer(s)" in out
    blocks = out.split("\n\n")[1:4]
    assert "up 1  down 1" in blocks[0] and "Q: Can I return worn socks?" in blocks[0]
    assert "Q: Where is ORD-1001?" in blocks[1]
    assert "Q: Old question?" in blocks[2]
    # No SLACK_BOT_TOKEN: links are built from the workspace domain the click reported.
    assert (
        "https://threadco.slack.com/archives/C2/p1700000500000200"
        "?thread_ts=1700000200.000100&cid=C2 (built)" in blocks[0]
    )
    assert "made from the workspace domain" in out


def test_feedback_negative_and_since_filter(rated_db, capsys) -> None:
    assert main(["feedback", "--negative"]) == 0
    out = capsys.readouterr().out
    assert "1 rated answer(s)" in out and "worn socks" in out and "ORD-1001" not in out

    assert main(["feedback", "--since", "7d"]) == 0
    out = capsys.readouterr().out
    assert "2 rated answer(s)" in out and "Old question" not in out


def test_stats_shows_the_share_of_thumbs_up_per_day_and_channel(rated_db, capsys) -> None:
    assert main(["stats", "--days", "30"]) == 0
    out = capsys.readouterr().out
    feedback = out.split("Feedback: share of thumbs up")[1]
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    old = f"{datetime.now(UTC) - timedelta(days=12):%Y-%m-%d}"
    lines = {line.split()[0]: line.split()[1:] for line in feedback.splitlines() if line.strip()}
    assert lines[today] == ["3", "2", "1", "67%"]
    assert lines[old] == ["1", "1", "0", "100%"]
    per_channel = feedback.split("Feedback per channel")[1]
    rows = [line.split() for line in per_channel.splitlines() if line.startswith("T1")]
    assert rows == [["T1", "C1", "2", "2", "0", "100%"], ["T1", "C2", "2", "1", "1", "50%"]]


def test_feedback_on_an_empty_database_says_so(tmp_path, monkeypatch, capsys) -> None:
    db_path = tmp_path / "empty.db"
    open_storage(db_path).close()
    monkeypatch.setenv("SHOPMATE_DB", str(db_path))
    assert main(["feedback", "--negative"]) == 0
    assert "No rated answers" in capsys.readouterr().out


def test_feedback_asks_slack_for_permalinks_when_it_has_a_token(rated_db, monkeypatch, capsys):
    with FakeSlack(team_domain="threadco-hq") as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("SLACK_API_URL", slack.api_url)
        assert main(["feedback", "--since", "7d"]) == 0
        out = capsys.readouterr().out
        assert out.count("https://threadco-hq.slack.com/archives/") == 2, out
        assert "(built)" not in out
        assert len(slack.calls_to("chat.getPermalink")) == 2

        # Slack refuses: the links are built instead, and the output says why.
        slack.fail_next("chat.getPermalink", error="channel_not_found")
        assert main(["feedback", "--since", "7d"]) == 0
        out = capsys.readouterr().out
        assert out.count("https://threadco.slack.com/archives/") == 2, out
        assert "(chat.getPermalink: channel_not_found)" in out
