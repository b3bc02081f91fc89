"""`shopmate run` as users run it: Socket Mode through the fake Socket Mode server, with faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.claude import FakeClaude
from fakes.claude.replies import reply
from fakes.slack import FakeSlack
from fakes.slack.events import mention_event, next_ts
from fakes.slack.socket_mode import FakeSocketMode
from tests.slack.processes import CHANNEL, TEAM, ShopMateProcess, environment
from tests.slack.test_serve_memory import mapped_files

WAIT = 30.0  # generous: a loaded 2-core CI machine


class Running:
    def __init__(
        self, process: ShopMateProcess, slack: FakeSlack, socket_mode: FakeSocketMode
    ) -> None:
        self.process, self.slack, self.socket_mode = process, slack, socket_mode

    def mention(self, text: str) -> tuple[str, str]:
        """Send a mention as Slack would over Socket Mode; returns (envelope_id, ts)."""
        ts = next_ts()
        payload = mention_event(team=TEAM, channel=CHANNEL, user="U0USER", text=text, ts=ts)
        return self.socket_mode.send_event(payload), ts

    def answered(self, ts: str, text: str | None = None) -> bool:
        """Wait until the thread of `ts` shows a finished reply (containing `text`, if given)."""

        def done() -> bool:
            return any(
                not m.streaming and m.text and (text is None or text in m.text)
                for m in self.slack.messages(CHANNEL, ts)
            )

        return self.slack.wait_for(done, timeout=WAIT)


@pytest.fixture(scope="module")
def module_claude() -> Iterator[FakeClaude]:
    with FakeClaude() as claude:
        yield claude


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, module_claude: FakeClaude
) -> Iterator[Running]:
    """One `shopmate run` for the module (starting one costs seconds); each test's faults
    are on whichever connection is current, and it looks only at connections after them."""
    tmp_path: Path = tmp_path_factory.mktemp("run")
    with FakeSlack(team_id=TEAM) as slack, FakeSocketMode() as socket_mode:
        slack.socket_mode = socket_mode
        # A 1 s ping interval: a silent connection is noticed in seconds, not tens of them.
        env = environment(
            tmp_path / "shopmate.db",
            slack.api_url,
            module_claude.url,
            SHOPMATE_SOCKET_PING_INTERVAL="1",
        )
        process = ShopMateProcess(["run"], env, tmp_path)
        try:
            assert process.wait_log(r"connected to Slack with Socket Mode", timeout=WAIT), (
                process.log
            )
            yield Running(process, slack, socket_mode)
        finally:
            process.stop()


@pytest.fixture
def fake_claude(module_claude: FakeClaude) -> FakeClaude:
    """The module's fake Claude, with nothing left queued by an earlier test."""
    module_claude.reset()
    return module_claude


def test_run_answers_a_mention_over_socket_mode(running: Running, fake_claude: FakeClaude):
    fake_claude.enqueue(reply("Hello from Socket Mode."))
    envelope, ts = running.mention("hello")
    assert running.answered(ts, "Hello from Socket Mode."), running.process.log
    assert running.socket_mode.acked(envelope)
    # Slack's connection tickets come from apps.connections.open, with the app-level token.
    assert all(c.ok for c in running.slack.calls_to("apps.connections.open"))


def test_run_answers_without_loading_aiohttp(running: Running, fake_claude: FakeClaude):
    """Like `serve` (bot/cli/lean.py): the sync clients only, nothing of aiohttp resident."""
    fake_claude.enqueue(reply("Lean and answering."))
    _, ts = running.mention("hello again")
    assert running.answered(ts, "Lean and answering."), running.process.log
    loaded = mapped_files(running.process.process.pid)
    assert not [f for f in loaded if "/aiohttp/" in f or "/multidict/" in f]
    assert [f for f in loaded if "/pydantic_core/" in f], "the reading above sees C extensions"


@pytest.mark.parametrize("mode", ["eof", "silent"])
def test_run_reconnects_after_an_abrupt_drop_and_answers(
    running: Running, fake_claude: FakeClaude, mode: str
):
    socket_mode = running.socket_mode
    dropped_at = time.monotonic()
    dropped = socket_mode.drop(mode)
    assert socket_mode.wait_for(lambda: socket_mode.connected_since(dropped_at) is not None, WAIT)
    replacement = socket_mode.connected_since(dropped_at)
    assert replacement is not None and replacement.id != dropped

    fake_claude.enqueue(reply("Back after the drop."))
    envelope, ts = running.mention("are you there?")
    assert running.answered(ts, "Back after the drop."), running.process.log
    assert [a.connection for a in socket_mode.acks_for(envelope)] == [replacement.id]


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
def test_an_event_on_the_connection_after_a_refresh_is_acked_and_not_resent(
    running: Running, fake_claude: FakeClaude, reason: str
):
    socket_mode = running.socket_mode
    asked_at = time.monotonic()
    old = socket_mode.disconnect(reason)
    assert socket_mode.wait_for(lambda: socket_mode.connected_since(asked_at) is not None, WAIT)
    new = socket_mode.connected_since(asked_at)
    assert new is not None and new.id != old

    fake_claude.enqueue(reply("Handed over."))
    envelope, ts = running.mention("still there?")
    assert running.answered(ts, "Handed over."), running.process.log
    assert socket_mode.wait_for(lambda: socket_mode.acked(envelope), WAIT)
    # Acked on the new connection before Slack's 3 s deadline: delivered once, never re-sent.
    assert [d.connection for d in socket_mode.deliveries_of(envelope)] == [new.id]
    assert [a.connection for a in socket_mode.acks_for(envelope)] == [new.id]
    # The old connection was let go by the app, not kept alongside the new one.
    assert socket_mode.wait_for(
        lambda: next(c for c in socket_mode.connections if c.id == old).closed is not None, WAIT
    )
