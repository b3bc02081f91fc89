"""`shopmate doctor` run as an operator runs it: a subprocess, pointed at the fakes by env."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fakes.claude import FakeClaude
from fakes.slack import FakeSlack
from storage import open_storage

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_ORDERS = ROOT / "bot" / "data" / "sample_orders.csv"
# Distinctive values, so a test can prove none of them ever reaches the output.
BOT_TOKEN = "xoxb-doctor-bot-0d1c3e5f7a9b"
APP_TOKEN = "xapp-doctor-app-4b6d8f0a2c4e"
SIGNING_SECRET = "doctor-signing-secret-9f8e7d6c"
API_KEY = "sk-ant-doctor-key-1a2b3c4d5e6f"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, API_KEY)
ESCALATION_CHANNEL = "C0ESCALATE"
APPROVER = "U0APPROVER"
APPROVER_GROUP = "S0APPROVERS"


@dataclass
class Doctor:
    """The fakes and the environment of one deployment; `run()` runs `shopmate doctor`."""

    slack: FakeSlack
    claude: FakeClaude
    work: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def db(self) -> Path:
        return Path(self.env["SHOPMATE_DB"])

    def run(self, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NO_PROXY": "127.0.0.1,localhost",
            "HOME": str(self.work),
        }
        return subprocess.run(
            [*prefix, sys.executable, "-m", "bot", "doctor", *args],
            capture_output=True,
            text=True,
            env={**base, **self.env},
            cwd=self.work,
            timeout=120,
        )

    def report(self, *args: str) -> tuple[int, dict[str, Any]]:
        """Exit status and the --json report."""
        result = self.run("--json", *args)
        return result.returncode, json.loads(result.stdout)


def line(result: subprocess.CompletedProcess[str], status: str, area: str, name: str) -> str:
    """The one report line of `area` / `name`; it must have `status`."""
    found = [
        text
        for text in result.stdout.splitlines()
        if text.split()[:2] == [status, area] and f" {name}: " in text
    ]
    assert len(found) == 1, f"no single {status} {area} {name} line in:\n{result.stdout}"
    return found[0]


@pytest.fixture
def doctor(tmp_path: Path) -> Iterator[Doctor]:
    """A deployment where everything is right: every check says ok."""
    db = tmp_path / "shopmate.db"
    with open_storage(db) as storage:
        from bot.orders_import import parse_orders

        storage.orders.upsert_many(parse_orders(SAMPLE_ORDERS).rows)
    with FakeSlack() as slack, FakeClaude(api_key=API_KEY) as claude:
        slack.set_usergroup(APPROVER_GROUP, ["U0ONE", "U0TWO"])
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "ANTHROPIC_API_KEY": API_KEY,
            "ANTHROPIC_BASE_URL": claude.url,
            "SHOPMATE_DB": str(db),
            "SHOPMATE_ESCALATION_CHANNEL": ESCALATION_CHANNEL,
            "SHOPMATE_APPROVERS": f"{APPROVER},{APPROVER_GROUP}",
        }
        yield Doctor(slack, claude, tmp_path, env)
