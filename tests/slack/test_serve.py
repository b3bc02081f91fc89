"""`shopmate serve` as users run it: a process, configured by environment, answering Slack."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.server import HttpServer
from fakes.claude import FakeClaude
from fakes.slack import FakeSlack
from fakes.slack.events import EventSender, mention_event, next_ts
from tests.slack.conftest import wait_until
from tests.slack.processes import SECRET, ShopMateProcess, environment


@pytest.fixture
def served(tmp_path: Path, fake_claude: FakeClaude) -> Iterator[tuple[str, FakeSlack]]:
    with FakeSlack(team_id="T0001") as slack:
        env = environment(tmp_path / "serve.db", slack.api_url, fake_claude.url)
        process = ShopMateProcess.serve(env, tmp_path)
        try:
            yield process.ready().url, slack
        finally:
            process.stop()


def test_serve_answers_health_checks_and_signed_mentions(served):
    url, slack = served
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
        assert response.status == 200
    ts = next_ts()
    status, _, _ = EventSender(f"{url}/slack/events", SECRET).post(
        mention_event(team="T0001", channel="C0001", user="U0USER", text="hello", ts=ts)
    )
    assert status == 200
    assert slack.wait_for(
        lambda: any(not m.streaming and m.text for m in slack.messages("C0001", ts)), timeout=15
    )


def test_serve_without_slack_settings_says_what_is_missing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_an_app_token_says_what_is_missing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SLACK_BOT_TOKEN": "xoxb-x"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "SLACK_APP_TOKEN" in result.stderr


def test_the_http_server_stops_even_when_its_wake_up_pipe_is_gone():
    """Seen once in a CI run: stop() met EBADF writing to the loop's wake-up pipe. It must
    still close the listening socket (a stuck stop would keep the port and hang shutdown)."""

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = HttpServer(app).start()
    with urllib.request.urlopen(f"{server.url}/", timeout=10) as response:
        assert response.read() == b"ok"
    os.close(server._server.trigger.trigger)  # the pipe's write end, as it was found closed

    server.stop()  # raised OSError: [Errno 9] Bad file descriptor

    assert wait_until(lambda: not _accepts(server.port), timeout=10)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
