"""Settings are read once, validated, and every mistake names its variable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SPECS, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_need_nothing_set():
    settings = Settings.from_mapping({})
    assert settings.model == "claude-sonnet-5-5"
    assert settings.describe_model == "claude-haiku-5-5"
    assert settings.db_path == Path("shopmate.db")
    assert settings.slack_api_url == "https://slack.com/api/"


def test_values_are_parsed_from_the_environment():
    settings = Settings.from_mapping(
        {
            "SHOPMATE_MODEL": "claude-haiku-4-5",
            "SHOPMATE_MAX_TOOL_ROUNDS": "3",
            "SLACK_API_URL": "https://slack.example.gov/api",
            "SHOPMATE_ALLOWED_TEAMS": "T1, T2",
        }
    )
    assert settings.model == "claude-haiku-4-5"
    assert settings.max_tool_rounds == 3
    assert settings.slack_api_url == "https://slack.example.gov/api/", "trailing slash added"
    assert settings.allowed_teams == ("T1", "T2")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHOPMATE_MAX_TOOL_ROUNDS", "many"),
        ("SHOPMATE_MAX_TOOL_ROUNDS", "0"),
        ("SHOPMATE_FLUSH_INTERVAL", "soon"),
        ("SLACK_API_URL", "slack.com/api"),
        ("SHOPMATE_ORDER_ID_PATTERN", "ORD-("),
        ("SHOPMATE_NATIVE_STREAMING", "perhaps"),
    ],
)
def test_a_malformed_setting_names_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_mapping({name: value})


def test_dotenv_is_read_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("SHOPMATE_MODEL=from-dotenv\nSHOPMATE_MAX_TOKENS=77\n")
    settings = Settings.load({"SHOPMATE_MODEL": "from-env"}, env_file=env_file)
    assert settings.model == "from-env"
    assert settings.max_tokens == 77


def test_secrets_are_masked_when_settings_are_logged():
    settings = Settings.from_mapping({"ANTHROPIC_API_KEY": "sk-ant-secret", "SLACK_BOT_TOKEN": "x"})
    shown = str(settings.redacted())
    assert "sk-ant-secret" not in shown and "***" in shown


def test_env_example_documents_every_setting():
    example = (ROOT / ".env.example").read_text()
    for spec in SPECS:
        assert spec.env in example, f"{spec.env} missing from .env.example"


def test_every_value_env_example_shows_is_the_default():
    """A default is declared once, in bot/settings.py; .env.example may show it, not change it."""
    by_env = {spec.env: spec for spec in SPECS}
    shown = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=(.+)$", (ROOT / ".env.example").read_text(), re.M)
    assert len(shown) > 30
    for env, raw in shown:
        spec = by_env[env]
        read = getattr(Settings.from_mapping({env: raw}), spec.attr)
        assert read == getattr(Settings(), spec.attr), f".env.example: {env}={raw}"


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None):
    base = {"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


def test_a_bad_setting_is_one_line_and_exit_status_2(tmp_path):
    result = run_cli(
        "orders", "show", "ORD-1001", env={"SHOPMATE_MAX_TOKENS": "lots"}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "SHOPMATE_MAX_TOKENS" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_chat_without_a_key_says_how_to_fix_it(tmp_path):
    result = run_cli("chat", env={"SHOPMATE_DB": str(tmp_path / "x.db")}, cwd=tmp_path)
    assert result.returncode == 2
    assert "ANTHROPIC_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_a_lease_renewed_less_often_than_twice_per_lease_is_refused():
    with pytest.raises(SettingsError, match="SHOPMATE_LEASE_RENEW"):
        Settings.from_mapping({"SHOPMATE_CLAIM_LEASE": "10", "SHOPMATE_LEASE_RENEW": "6"})
    settings = Settings.from_mapping({"SHOPMATE_CLAIM_LEASE": "10", "SHOPMATE_LEASE_RENEW": "5"})
    assert (settings.claim_lease_seconds, settings.lease_renew_seconds) == (10, 5)
    assert Settings().claim_lease_seconds == 30 and Settings().lease_renew_seconds == 10


def test_suggested_prompts_and_loading_messages_are_read_and_capped_at_slacks_limits():
    settings = Settings.from_mapping(
        {
            "SHOPMATE_SUGGESTED_PROMPTS": "Order status :: Where is ORD-1001? | Returns, refunds?",
            "SHOPMATE_LOADING_MESSAGES": "One moment…|Nearly there, honestly…",
        }
    )
    assert settings.suggested_prompts == (
        ("Order status", "Where is ORD-1001?"),
        ("Returns, refunds?", "Returns, refunds?"),
    )
    assert settings.loading_messages == ("One moment…", "Nearly there, honestly…")
    with pytest.raises(SettingsError, match=r"SHOPMATE_SUGGESTED_PROMPTS.*at most 4"):
        Settings.from_mapping({"SHOPMATE_SUGGESTED_PROMPTS": "a|b|c|d|e"})
    with pytest.raises(SettingsError, match=r"SHOPMATE_LOADING_MESSAGES.*at most 10"):
        Settings.from_mapping({"SHOPMATE_LOADING_MESSAGES": "|".join("x" * 11)})
    with pytest.raises(SettingsError, match="SHOPMATE_SUGGESTED_PROMPTS"):
        Settings.from_mapping({"SHOPMATE_SUGGESTED_PROMPTS": " :: a message without a title"})
    defaults = Settings()
    assert len(defaults.suggested_prompts) == 3 and defaults.loading_messages
    assert defaults.suggested_prompts_enabled and defaults.thread_titles
    assert defaults.loading_messages_enabled


def test_every_default_passes_its_own_check():
    """A setting's default, check and help are declared together; the default must pass it."""
    for spec in SPECS:
        default = getattr(Settings(), spec.attr)
        if spec.minimum is not None and default is not None:
            assert default >= spec.minimum, spec.env
        if spec.choices:
            assert default in spec.choices, spec.env
        if spec.max_items is not None:
            assert len(default) <= spec.max_items, spec.env


def test_storage_types_no_lease_of_its_own():
    """storage/ imports nothing of bot/, so it takes the lease from its caller (the lifecycle
    passes SHOPMATE_CLAIM_LEASE): a default of its own would be a second one to keep equal."""
    import inspect

    from storage.claims import Claims
    from storage.pg_claims import PgClaims

    for store in (Claims, PgClaims):
        for method in (store.claim, store.claim_message, store.take_over_expired, store.renew):
            lease = inspect.signature(method).parameters["lease_seconds"]
            assert lease.default is inspect.Parameter.empty, method.__qualname__
