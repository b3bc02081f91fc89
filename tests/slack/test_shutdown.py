"""A deploy's SIGTERM: `serve` and `run` stop taking work, finish what is in flight, exit 0."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot import prompts
from fakes.claude import FakeClaude, Pace
from fakes.claude.replies import reply
from fakes.slack import FakeSlack
from fakes.slack.events import EventSender, mention_event, next_ts
from fakes.slack.socket_mode import FakeSocketMode
from storage import open_storage
from tests.slack.processes import CHANNEL, SECRET, TEAM, ShopMateProcess, environment

WAIT = 30.0
# Long enough to still be streaming when SIGTERM lands (~3 s at 20 words a second).
LONG_ANSWER = " ".join(f"word{i}" for i in range(60)) + " THE-END."


class Deployed:
    """One `shopmate serve` or `shopmate run` process and the fakes it talks to."""

    def __init__(
        self,
        mode: str,
        process: ShopMateProcess,
        slack: FakeSlack,
        socket_mode: FakeSocketMode,
        url: str | None,
        db: Path,
    ) -> None:
        self.mode, self.process, self.slack, self.socket_mode = mode, process, slack, socket_mode
        self.url, self.db = url, db

    def mention(self, text: str) -> tuple[int | None, str]:
        """Deliver a mention the way this mode gets events; (HTTP status or None, ts)."""
        ts = next_ts()
        payload = mention_event(team=TEAM, channel=CHANNEL, user="U0USER", text=text, ts=ts)
        if self.mode == "run":
            self.socket_mode.send_event(payload)
            return None, ts
        status, _, _ = EventSender(f"{self.url}/slack/events", SECRET).post(payload)
        return status, ts

    def visible(self, ts: str) -> str:
        return "".join(m.text for m in self.slack.messages(CHANNEL, ts))

    def streaming_started(self, ts: str) -> bool:
        return self.slack.wait_for(lambda: "word1" in self.visible(ts), timeout=WAIT)

    def claim_status(self, ts: str) -> str | None:
        storage = open_storage(self.db)
        try:
            return storage.claims.status(f"slack:{TEAM}:{CHANNEL}:{ts}")
        finally:
            storage.close()


@contextmanager
def deployed(mode: str, tmp_path: Path, claude: FakeClaude, **env: str) -> Iterator[Deployed]:
    with FakeSlack(team_id=TEAM) as slack, FakeSocketMode() as socket_mode:
        slack.socket_mode = socket_mode
        environ = environment(tmp_path / "shopmate.db", slack.api_url, claude.url, **env)
        args = ["serve", "--port", "0"] if mode == "serve" else ["run"]
        process = ShopMateProcess(args, environ, tmp_path)
        try:
            ready = r"listening on (http://\S+?)/slack/events|connected to Slack with Socket Mode"
            match = process.wait_log(ready, timeout=WAIT)
            assert match, process.log
            yield Deployed(
                mode, process, slack, socket_mode, match.group(1), Path(environ["SHOPMATE_DB"])
            )
        finally:
            process.stop()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("mode", ["serve", "run"])
def test_sigterm_mid_answer_lets_the_answer_finish_and_exits_0(
    mode: str, tmp_path: Path, fake_claude: FakeClaude
):
    fake_claude.pace = Pace(0.0, 20.0)
    fake_claude.enqueue(reply(LONG_ANSWER))
    with deployed(mode, tmp_path, fake_claude) as app:
        status, ts = app.mention("tell me everything")
        assert status in (None, 200)
        assert app.streaming_started(ts), app.process.log
        assert "THE-END." not in app.visible(ts)  # still streaming: SIGTERM lands mid-answer
        app.process.terminate()

        if mode == "serve":
            # No new work: health checks fail over and events are left for the next process
            # (503, so Slack sends them again), never acked and ignored.
            health = f"{app.url}/healthz"
            deadline = time.monotonic() + WAIT
            while _status(health) != 503 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _status(health) == 503
            refused, _ = app.mention("a new question during the deploy")
            assert refused == 503
        else:
            # Socket Mode: the connection is closed (cleanly) so Slack sends events elsewhere.
            socket_mode = app.socket_mode
            assert socket_mode.wait_for(
                lambda: all(c.closed is not None for c in socket_mode.connections), WAIT
            )
            assert [c.how_closed for c in socket_mode.connections] == ["client"]
            closed_at = socket_mode.connections[0].closed

        assert app.process.wait(WAIT) == 0, app.process.log
        messages = app.slack.messages(CHANNEL, ts)
        assert not any(m.streaming for m in messages)
        assert app.visible(ts).strip() == LONG_ANSWER
        assert app.claim_status(ts) == "done"
        if mode == "run":
            # The connection was closed first, while the answer was still being written.
            completed = min(v.time for m in messages for v in m.history if "THE-END." in v.text)
            assert closed_at is not None and closed_at < completed


@pytest.mark.parametrize("mode", ["serve", "run"])
def test_an_answer_that_outlives_the_grace_ends_with_a_notice_and_exit_0(
    mode: str, tmp_path: Path, fake_claude: FakeClaude
):
    fake_claude.pace = Pace(0.0, 20.0)
    fake_claude.enqueue(reply(LONG_ANSWER))
    with deployed(mode, tmp_path, fake_claude, SHOPMATE_SHUTDOWN_GRACE="0.5") as app:
        _, ts = app.mention("tell me everything")
        assert app.streaming_started(ts), app.process.log
        app.process.terminate()
        assert app.process.wait(WAIT) == 0, app.process.log

        shown = app.visible(ts)
        assert "THE-END." not in shown
        assert shown.rstrip().endswith(prompts.SHUTDOWN_NOTICE)
        assert re.search(r"word\d+", shown)  # what was already written stays
        assert not any(m.streaming for m in app.slack.messages(CHANNEL, ts))
        # Not marked done: the next process may pick the question up again.
        assert app.claim_status(ts) != "done"
