"""`shopmate demo` runs offline with no keys and plays the seed's sample conversation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.handoff.service import REQUEST_SENT
from bot.prompts import ESCALATION_LINE


def test_the_demo_plays_the_sample_conversation_offline(tmp_path: Path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NO_PROXY": "127.0.0.1,localhost",
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--data-dir", "demo-data", "--pace", "400"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "SIMULATED" in out and "not from Claude" in out
    assert "[get_order ORD-1001 -> shipped]" in out
    assert "**" not in out, "Markdown is rendered for the terminal, not printed literally"
    assert out.index("[get_order ORD-1001 -> shipped]") < out.index("RM493827651GB"), (
        "the lookup is shown before the answer it fed"
    )
    assert "RM493827651GB" in out and "track.royalmail.com" in out
    # The seed's story, end to end: the size change becomes a request a person approves.
    assert "[request_size_exchange ORD-1001 -> pending]" in out
    policy = "(Exchanges and sizing › Exchanging a size after it has shipped)"
    assert out.index(policy) < out.index("[request_size_exchange"), "the policy comes first"
    assert REQUEST_SENT in out and ESCALATION_LINE not in out
    story = out[out.index("Meanwhile in #escalations") :]
    assert "@support-leads Approval needed: size exchange for ORD-1001 (to L)" in story
    assert "@sam (an approver) clicks Approve." in story
    assert "#escalations now shows: Approved by @sam" in story
    assert story.index("Back in your thread:") < story.index("has been approved")
    assert "[get_order ORD-9999 -> not found]" in out
    assert "can't find an order" in out
    assert "sqlite-utils tables" in out
    assert "Traceback" not in result.stderr
    leftovers = {p.name for p in tmp_path.iterdir()}
    assert leftovers == {"demo-data"}, "nothing written outside the data directory"
    assert (tmp_path / "demo-data" / "shopmate-demo.db").is_file()


def test_the_interactive_demo_answers_what_the_user_types(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--interactive", "--data-dir", "d", "--pace", "400"],
        capture_output=True,
        text=True,
        input="Where is ORD-1003?\n\n",
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_PROXY": "127.0.0.1"},
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "[get_order ORD-1003 -> delivered]" in result.stdout
