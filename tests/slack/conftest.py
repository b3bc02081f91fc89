"""A running ShopMate (Bolt over waitress) wired to the fake Slack and fake Claude."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import pytest

from bot.slack.app import build_app, build_web_client
from bot.slack.budget import CallBudget
from bot.slack.responder import SlackResponder
from bot.slack.server import HttpServer, make_wsgi_app
from bot.wiring import Services
from fakes.claude import FakeClaude
from fakes.slack import FakeSlack, Message
from fakes.slack.events import EventSender, mention_event, message_event, next_ts
from tests.conftest import SECRET

TEAM = "T0001"
CHANNEL = "C0001"
DM = "D0001"
USER = "U0USER"
WAIT = 15.0


class ListenerPool(ThreadPoolExecutor):
    """Bolt's listener pool, counting its jobs: the barrier behind every "nothing happened" check.

    Bolt acks an event (the HTTP 200 the test sees) after submitting its listener here and
    before the listener runs, so right after a delivery nothing has happened yet. Once every
    job submitted so far has finished, each delivered event has been handled to the end: the
    responder claims and answers on the listener's own thread (the serializer runs a queued
    turn on the thread that owns the queue, itself a listener job).
    """

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="slack-listener")
        self._done = threading.Condition()
        self.submitted = 0
        self.finished = 0

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        with self._done:
            self.submitted += 1

        def counted():
            try:
                return fn(*args, **kwargs)
            finally:
                with self._done:
                    self.finished += 1
                    self._done.notify_all()

        return super().submit(counted)

    def wait_idle(self, timeout: float) -> bool:
        """True once every job submitted so far has finished (False after `timeout`)."""
        with self._done:
            return self._done.wait_for(lambda: self.finished == self.submitted, timeout)


@dataclass
class Harness:
    """Drives the app the way Slack does and looks at what users would see."""

    services: Services
    slack: FakeSlack
    claude: FakeClaude
    responder: SlackResponder
    server: HttpServer
    sender: EventSender
    pool: ListenerPool
    posted: list[str] = field(default_factory=list)

    def deliver(self, payload: dict, **kwargs) -> int:
        status, _, _ = self.sender.post(payload, **kwargs)
        return status

    def mention(
        self,
        text: str,
        *,
        channel: str = CHANNEL,
        thread_ts: str | None = None,
        user: str = USER,
        **extra,
    ) -> dict:
        payload = mention_event(
            team=TEAM,
            channel=channel,
            user=user,
            text=text,
            ts=next_ts(),
            thread_ts=thread_ts,
            **extra,
        )
        assert self.deliver(payload) == 200
        return payload

    def dm(self, text: str, *, thread_ts: str | None = None, user: str = USER) -> dict:
        payload = message_event(
            team=TEAM,
            channel=DM,
            channel_type="im",
            user=user,
            text=text,
            ts=next_ts(),
            thread_ts=thread_ts,
        )
        assert self.deliver(payload) == 200
        return payload

    def say_in_thread(self, text: str, thread_ts: str, *, channel: str = CHANNEL) -> dict:
        payload = message_event(
            team=TEAM,
            channel=channel,
            channel_type="channel",
            user=USER,
            text=text,
            ts=next_ts(),
            thread_ts=thread_ts,
        )
        assert self.deliver(payload) == 200
        return payload

    def wait_answered(self, payload: dict, timeout: float = WAIT) -> None:
        """Wait until the message's turn is over (its event claim is marked done)."""
        event = payload["event"]
        key = f"slack:{TEAM}:{event['channel']}:{event['ts']}"
        answered = wait_until(lambda: self.services.storage.claims.status(key) == "done", timeout)
        assert answered, f"no answer to {event['text']!r} within {timeout}s"

    def settle(self, timeout: float = WAIT) -> None:
        """Wait until every event delivered so far has been handled to the end.

        Call it before asserting that something did NOT happen: it is the point by which
        it would have happened.
        """
        assert self.pool.wait_idle(timeout), f"listeners still running after {timeout}s"
        idle = self.responder.agent_view.wait_idle(timeout)
        assert idle, f"agent-view calls (titles) still running after {timeout}s"

    def replies(self, payload: dict) -> list[Message]:
        event = payload["event"]
        thread_ts = event.get("thread_ts") or event["ts"]
        return self.slack.messages(event["channel"], thread_ts)

    def reply_text(self, payload: dict) -> str:
        return "".join(m.text for m in self.replies(payload))


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll a condition until it holds or `timeout` passes (every wait in tests is bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(team_id=TEAM) as slack:
        yield slack


def start_harness(
    services: Services, slack: FakeSlack, claude: FakeClaude, budget: CallBudget | None = None
) -> Harness:
    # The same WebClient users get (connection retries; 429s reach ShopMate), pointed at the fake.
    web = build_web_client(replace(services.settings, slack_api_url=slack.api_url))
    pool = ListenerPool(services.settings.slack_workers)
    app, responder = build_app(services, web_client=web, budget=budget, listener_executor=pool)
    server = HttpServer(make_wsgi_app(app, max_body_bytes=services.settings.max_body_bytes))
    server.start()
    sender = EventSender(f"{server.url}/slack/events", SECRET)
    return Harness(services, slack, claude, responder, server, sender, pool)


@pytest.fixture
def harness(
    services: Services, fake_slack: FakeSlack, fake_claude: FakeClaude
) -> Iterator[Harness]:
    h = start_harness(services, fake_slack, fake_claude)
    yield h
    h.server.stop()
