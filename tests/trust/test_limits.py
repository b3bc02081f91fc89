"""What it costs: turns per minute and tokens per day per user and workspace; long input cut."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import prompts
from bot.input_cut import cut_input
from bot.limits import Limits, UsageLimiter
from fakes.slack.events import mention_event
from storage import Usage
from tests.slack.conftest import TEAM, USER, WAIT, wait_until
from tests.trust.conftest import thread_key

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class RecordedUsage:
    """Turns as storage would report them: (time, user, team, tokens)."""

    def __init__(self) -> None:
        self.turns: list[tuple[datetime, str, str, int]] = []

    def add(self, user: str, team: str, tokens: int = 0, *, ago: timedelta = timedelta()):
        self.turns.append((NOW - ago, user, team, tokens))

    def turns_since(self, since_utc, *, user=None, team=None) -> Usage:
        found = [
            t
            for t in self.turns
            if t[0] >= since_utc and user in (None, t[1]) and team in (None, t[2])
        ]
        return Usage(turns=len(found), tokens=sum(t[3] for t in found))


def limiter(usage: RecordedUsage, **limits: int) -> UsageLimiter:
    return UsageLimiter(usage, Limits(**limits), clock=lambda: NOW)


def reason(limiter_: UsageLimiter, user: str = "U1", team: str = "T1") -> str | None:
    with limiter_.turn(user=user, team=team) as refusal:
        return refusal.reason if refusal else None


def test_turns_in_the_last_minute_count_per_user_and_per_workspace():
    usage = RecordedUsage()
    check = limiter(usage, user_turns_per_minute=2, team_turns_per_minute=3)
    usage.add("U1", "T1", ago=timedelta(seconds=10))
    usage.add("U1", "T1", ago=timedelta(minutes=5))  # outside the window
    assert reason(check) is None
    usage.add("U1", "T1", ago=timedelta(seconds=5))
    assert reason(check) == "user_turns_per_minute"
    assert reason(check, user="U2") is None, "another user is not held back"
    usage.add("U2", "T1")
    assert reason(check, user="U3") == "team_turns_per_minute"
    assert reason(check, user="U3", team="T2") is None


def test_tokens_in_the_last_day_count_per_user_and_per_workspace():
    usage = RecordedUsage()
    check = limiter(usage, user_tokens_per_day=1000, team_tokens_per_day=1500)
    usage.add("U1", "T1", 999, ago=timedelta(hours=23))
    usage.add("U1", "T1", 5000, ago=timedelta(hours=25))  # yesterday's no longer count
    assert reason(check) is None
    usage.add("U1", "T1", 1, ago=timedelta(minutes=2))
    assert reason(check) == "user_tokens_per_day"
    usage.add("U2", "T1", 500, ago=timedelta(minutes=2))
    assert reason(check, user="U3") == "team_tokens_per_day"


def test_turns_still_running_count_so_a_burst_cannot_slip_through():
    check = limiter(RecordedUsage(), user_turns_per_minute=2)
    with check.turn(user="U1", team="T1") as first, check.turn(user="U1", team="T1") as second:
        assert first is None and second is None
        assert reason(check) == "user_turns_per_minute"
    assert reason(check) is None, "finished (and unrecorded) turns free their place"


def test_a_refused_turn_holds_no_place():
    check = limiter(RecordedUsage(), user_turns_per_minute=1)
    with check.turn(user="U1", team="T1") as admitted:
        assert admitted is None
        assert reason(check) == "user_turns_per_minute"
        assert reason(check) == "user_turns_per_minute"
    assert reason(check) is None


def test_cut_input_keeps_short_text_and_cuts_long_text():
    assert cut_input("hello", 5) == ("hello", False)
    assert cut_input("hello world", 6) == ("hello", True)


def test_a_user_over_their_turns_per_minute_gets_a_friendly_notice_and_no_model_call(make_app):
    app = make_app({"SHOPMATE_USER_TURNS_PER_MINUTE": "2"})
    for question in ("Where is ORD-1001?", "And ORD-1002?"):
        answered = app.mention(question)
        app.wait_answered(answered)
        assert app.reply_text(answered) not in ("", prompts.USER_SLOW_DOWN_NOTICE)
    requests = len(app.claude.requests)

    limited = app.mention("And ORD-1003?")
    app.wait_answered(limited)
    assert app.reply_text(limited) == prompts.USER_SLOW_DOWN_NOTICE
    assert len(app.claude.requests) == requests
    assert app.services.storage.conversations.history(thread_key(limited)) == [], "not kept"

    colleague = app.mention("Where is ORD-1003?", user="U0COLLEAGUE")
    app.wait_answered(colleague)
    assert "RM381726495GB" in app.reply_text(colleague), "other users are not held back"


def test_a_workspace_over_its_tokens_per_day_gets_a_notice(make_app):
    app = make_app({"SHOPMATE_TEAM_TOKENS_PER_DAY": "1"})
    first = app.mention("Where is ORD-1001?")
    app.wait_answered(first)
    assert "RM493827651GB" in app.reply_text(first)
    requests = len(app.claude.requests)
    second = app.mention("Where is ORD-1002?", user="U0COLLEAGUE")
    app.wait_answered(second)
    assert app.reply_text(second) == prompts.TEAM_DAILY_LIMIT_NOTICE
    assert len(app.claude.requests) == requests


def test_a_user_over_their_tokens_per_day_gets_a_notice(make_app):
    app = make_app({"SHOPMATE_USER_TOKENS_PER_DAY": "1"})
    first = app.mention("Where is ORD-1001?")
    app.wait_answered(first)
    second = app.mention("Where is ORD-1002?")
    app.wait_answered(second)
    assert app.reply_text(second) == prompts.USER_DAILY_LIMIT_NOTICE


class HeldModel:
    """The fake Claude's model, holding every request until the test opens the gate."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.waiting = 0
        self._lock = threading.Lock()

    def respond(self, request: dict[str, Any]) -> Any:
        with self._lock:
            self.waiting += 1
        assert self.gate.wait(WAIT), "the test never opened the gate"
        return self.inner.respond(request)


def test_a_burst_from_one_user_across_threads_lets_exactly_the_limit_through(make_app):
    app = make_app({"SHOPMATE_USER_TURNS_PER_MINUTE": "3"})
    held = app.claude.model = HeldModel(app.claude.model)
    payloads = [
        mention_event(team=TEAM, channel=f"C0{i}", user=USER, text="Where is ORD-1001?")
        for i in range(8)
    ]
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(app.deliver, payloads)) == {200}

    # Admitted turns wait on Claude, so none finishes while the others are checked (a turn
    # finishing during a check may count twice, erring towards "no"). With every place held:
    # exactly 3 reach Claude, and the other 5 are told to slow down.
    def limited() -> int:
        return sum(app.reply_text(p) == prompts.USER_SLOW_DOWN_NOTICE for p in payloads)

    try:
        assert wait_until(lambda: held.waiting == 3 and limited() == 5)
    finally:
        held.gate.set()
    for payload in payloads:
        app.wait_answered(payload)
    app.settle()
    texts = [app.reply_text(p) for p in payloads]
    assert sum("RM493827651GB" in t for t in texts) == 3
    assert sum(t == prompts.USER_SLOW_DOWN_NOTICE for t in texts) == 5


def test_a_long_message_is_cut_with_a_notice_and_claude_gets_only_the_cut_text(make_app):
    app = make_app({"SHOPMATE_MAX_INPUT_CHARS": "60"})
    text = "Where is ORD-1001? " + "Please also read this very long story. " * 40
    mention = app.mention(text)
    app.wait_answered(mention)

    reply = app.reply_text(mention)
    assert reply.startswith(prompts.input_cut_notice(60)), "the user is told first"
    assert "RM493827651GB" in reply, "and still answered"
    first_request = app.claude.requests[0].body["messages"]
    sent = json.dumps(first_request, ensure_ascii=False)
    assert text[:60].rstrip() in sent and text[:61] not in sent
    stored = app.services.storage.conversations.history(thread_key(mention))[0]
    assert stored["content"][0]["text"] == text[:60].rstrip()


def test_a_short_message_is_sent_whole_without_a_notice(make_app):
    app = make_app({"SHOPMATE_MAX_INPUT_CHARS": "60"})
    mention = app.mention("Where is ORD-1001?")
    app.wait_answered(mention)
    assert "read only" not in app.reply_text(mention)
    assert app.claude.requests[0].body["messages"][0]["content"][0]["text"] == (
        "Where is ORD-1001?"
    )
