"""`shopmate serve` keeps out what it never uses (bot/cli/lean.py), and still answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fakes.claude import FakeClaude
from fakes.slack import FakeSlack
from fakes.slack.events import mention_event, next_ts
from tests.slack.processes import ShopMateProcess, environment


def mapped_files(pid: int) -> set[str]:
    """Files a process has mapped (its loaded C extensions among them), from /proc."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split(maxsplit=5)[5] for line in lines if len(line.split(maxsplit=5)) == 6}


def test_serve_answers_without_loading_aiohttp(tmp_path: Path, fake_claude: FakeClaude):
    with FakeSlack(team_id="T0001") as slack:
        env = environment(tmp_path / "serve.db", slack.api_url, fake_claude.url)
        process = ShopMateProcess.serve(env, tmp_path).ready()
        try:
            ts = next_ts()
            assert (
                process.deliver(
                    mention_event(
                        team="T0001",
                        channel="C0001",
                        user="U0USER",
                        text="Where is ORD-1001?",
                        ts=ts,
                    )
                )
                == 200
            )
            assert slack.wait_for(
                lambda: any(not m.streaming and m.text for m in slack.messages("C0001", ts)),
                timeout=15,
            ), "answered through the real anthropic SDK"
            loaded = mapped_files(process.process.pid)
            assert not [f for f in loaded if "/aiohttp/" in f or "/multidict/" in f]
            assert [f for f in loaded if "/pydantic_core/" in f], (
                "the reading above sees C extensions"
            )
        finally:
            process.stop()


def test_the_sdk_takes_its_own_fallback_when_aiohttp_is_left_out():
    # In a fresh interpreter, as `serve` does it: the sync client works, the async aiohttp
    # transport (never used by ShopMate) says it is not installed.
    code = (
        "from bot.cli import lean\n"
        "assert lean.leave_out() == ['aiohttp']\n"
        "import anthropic, sys\n"
        "anthropic.Anthropic(api_key='x', base_url='http://127.0.0.1:9').messages\n"
        "try:\n"
        "    anthropic.DefaultAioHttpClient()\n"
        "except RuntimeError as e:\n"
        "    print('fallback', 'aiohttp' in str(e))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "fallback True"
