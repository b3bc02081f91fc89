"""The scopes the doctor expects, the scopes the fake Slack grants by default and the scopes
manifest.yml asks for are one list."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.doctor.slack import MANIFEST_SCOPES
from fakes.slack.access import DEFAULT_BOT_SCOPES

ROOT = Path(__file__).resolve().parents[2]


def test_the_doctor_expects_exactly_the_scopes_of_the_manifest():
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert sorted(MANIFEST_SCOPES) == sorted(manifest["oauth_config"]["scopes"]["bot"])


def test_the_fake_slack_grants_the_manifest_scopes_by_default():
    assert sorted(DEFAULT_BOT_SCOPES) == sorted(MANIFEST_SCOPES)
