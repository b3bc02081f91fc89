"""`shopmate doctor` (issue 20): one line per check, the fix on every line that is not ok,
exit status 0 only with no problem, and never a token, key or secret in what it prints.

Each fault an operator meets on a real install is planted in the fakes (or the environment)
and the test reads the one line that names it.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from bot.settings import DEFAULT_MODEL
from fakes.slack import FakeSlack
from fakes.slack.socket_mode import FakeSocketMode
from tests.doctor.conftest import (
    API_KEY,
    APP_TOKEN,
    BOT_TOKEN,
    ESCALATION_CHANNEL,
    SECRETS,
    Doctor,
    line,
)

STATUSES = {"ok", "warning", "problem"}


# -- a good setup ------------------------------------------------------------------------------


def test_a_good_setup_is_all_ok_and_exits_0(doctor: Doctor):
    result = doctor.run()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [text for text in result.stdout.splitlines() if text.strip()]
    assert lines[-1] == "All checks passed."
    assert all(text.startswith("ok ") for text in lines[:-1]), result.stdout
    for area, name in [
        ("slack", "bot token"),
        ("slack", "auth.test"),
        ("slack", "scopes"),
        ("slack", "mode"),
        ("slack", "escalation channel"),
        ("slack", "approvers"),
        ("claude", "api key"),
        ("claude", f"model {DEFAULT_MODEL}"),
        ("claude", "prompt cache"),
        ("storage", "database"),
        ("storage", "writable"),
        ("storage", "migrations"),
        ("storage", "orders"),
        ("policies", "documents"),
    ]:
        line(result, "ok", area, name)
    assert "workspace ShopMate Test (T0001), bot user @shopmate (UBOT)" in result.stdout


def test_the_json_report_has_one_entry_per_check(doctor: Doctor):
    status, report = doctor.report()
    assert status == 0
    assert set(report) == {"ok", "problems", "warnings", "checks"}
    assert report["ok"] is True and report["problems"] == 0 and report["warnings"] == 0
    for check in report["checks"]:
        assert set(check) == {"area", "name", "status", "summary", "fix"}
        assert check["status"] in STATUSES
    text_lines = [t for t in doctor.run().stdout.splitlines()[:-2] if t.strip()]
    assert len(report["checks"]) == len(text_lines), "the same checks in both forms"


def test_the_json_report_counts_problems_and_exits_1(doctor: Doctor):
    doctor.env["SLACK_BOT_TOKEN"] = APP_TOKEN
    status, report = doctor.report()
    assert status == 1
    assert report["ok"] is False and report["problems"] >= 1
    bad = [c for c in report["checks"] if c["status"] == "problem"]
    assert all(c["fix"] for c in bad), "every problem says what to do"


# -- Slack -------------------------------------------------------------------------------------


def test_a_token_of_the_wrong_kind_is_named(doctor: Doctor):
    doctor.env["SLACK_BOT_TOKEN"] = APP_TOKEN
    doctor.env["SLACK_APP_TOKEN"] = BOT_TOKEN
    result = doctor.run()
    assert result.returncode == 1
    text = line(result, "problem", "slack", "bot token")
    assert "SLACK_BOT_TOKEN holds an app-level token (xapp-...), not a bot token." in text
    assert "Fix: Copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions" in text
    text = line(result, "problem", "slack", "app token")
    assert "SLACK_APP_TOKEN holds a bot token (xoxb-...)" in text and "connections:write" in text


def test_a_token_slack_rejects_is_invalid_auth(tmp_path: Path, doctor: Doctor):
    with FakeSlack(tokens={"xoxb-the-installed-one": "T0001"}) as slack:
        doctor.env["SLACK_API_URL"] = slack.api_url
        result = doctor.run()
    assert result.returncode == 1
    text = line(result, "problem", "slack", "auth.test")
    assert "Slack rejected SLACK_BOT_TOKEN (invalid_auth)." in text
    assert "Fix: Copy the Bot User OAuth Token (xoxb-...) again" in text


def test_a_missing_scope_is_named(doctor: Doctor):
    from bot.doctor.slack import MANIFEST_SCOPES

    doctor.slack.grant_scopes([s for s in MANIFEST_SCOPES if s != "usergroups:read"])
    result = doctor.run()
    assert result.returncode == 1
    text = line(result, "problem", "slack", "scopes")
    assert "lacks 1 scope(s) manifest.yml asks for: usergroups:read." in text
    assert "reinstall the app" in text


def test_an_escalation_channel_slack_does_not_know_is_a_problem(doctor: Doctor):
    doctor.slack.remove_channel(ESCALATION_CHANNEL)
    result = doctor.run()
    assert result.returncode == 1
    text = line(result, "problem", "slack", "escalation channel")
    assert f"SHOPMATE_ESCALATION_CHANNEL={ESCALATION_CHANNEL}" in text
    assert "(channel_not_found)" in text and "Fix: Copy the id" in text


def test_an_escalation_channel_without_the_bot_is_a_problem(doctor: Doctor):
    doctor.slack.remove_bot_from(ESCALATION_CHANNEL)
    result = doctor.run()
    assert result.returncode == 1
    text = line(result, "problem", "slack", "escalation channel")
    assert "ShopMate is not a member of" in text and ESCALATION_CHANNEL in text
    assert "Fix: Invite it: type /invite @ShopMate" in text


def test_an_approver_group_that_does_not_exist_is_named(doctor: Doctor):
    doctor.env["SHOPMATE_APPROVERS"] = "U0APPROVER,S0GONE"
    result = doctor.run()
    text = line(result, "problem", "slack", "approvers")
    assert "S0GONE (no_such_subteam)" in text


def test_socket_mode_is_checked_with_the_app_token_without_connecting(doctor: Doctor):
    doctor.env["SLACK_APP_TOKEN"] = APP_TOKEN
    with FakeSocketMode() as socket_mode:
        doctor.slack.socket_mode = socket_mode
        result = doctor.run()
        assert socket_mode.connections == [], "the doctor asks for a URL, never connects"
    assert result.returncode == 0, result.stdout
    assert "apps.connections.open works" in line(result, "ok", "slack", "socket mode")
    assert len(doctor.slack.calls_to("apps.connections.open")) == 1


def test_socket_mode_turned_off_in_the_app_is_a_problem(doctor: Doctor):
    doctor.env["SLACK_APP_TOKEN"] = APP_TOKEN  # the fake has no Socket Mode: not_allowed
    result = doctor.run()
    text = line(result, "problem", "slack", "socket mode")
    assert "Socket Mode is off for this app (not_allowed)." in text


def test_no_way_to_receive_events_is_a_problem(doctor: Doctor):
    del doctor.env["SLACK_SIGNING_SECRET"]
    result = doctor.run()
    text = line(result, "problem", "slack", "mode")
    assert "neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set" in text


# -- Claude ------------------------------------------------------------------------------------


def test_a_key_claude_rejects_is_a_problem(doctor: Doctor):
    doctor.env["ANTHROPIC_API_KEY"] = "sk-ant-not-the-right-one"
    result = doctor.run()
    assert result.returncode == 1
    text = line(result, "problem", "claude", "api key")
    assert "Claude rejected ANTHROPIC_API_KEY (401 authentication_error)." in text
    assert "Fix: Create a key at console.anthropic.com" in text


def test_a_model_the_key_cannot_use_is_a_problem(doctor: Doctor):
    doctor.claude.remove_model(DEFAULT_MODEL)
    result = doctor.run()
    assert result.returncode == 1
    text = line(result, "problem", "claude", f"model {DEFAULT_MODEL}")
    assert f"SHOPMATE_MODEL={DEFAULT_MODEL} is not available to this key." in text
    assert "Fix: Set SHOPMATE_MODEL to a model the key can use" in text


def test_a_prefix_under_the_cache_minimum_is_a_warning(tmp_path: Path, doctor: Doctor):
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "returns.md").write_text("# Returns\n\nReturns are free within 30 days.\n")
    doctor.env["SHOPMATE_KNOWLEDGE_DIR"] = str(policies)
    doctor.env["SHOPMATE_MODEL"] = "claude-haiku-4-5"  # a 4,096-token minimum
    result = doctor.run()
    assert result.returncode == 0, "a warning is not a problem"
    text = line(result, "warning", "claude", "prompt cache")
    assert "under Claude Haiku 4.5's minimum of 4,096: nothing is cached" in text
    assert "Fix: " in text


# -- storage -----------------------------------------------------------------------------------


def test_pending_migrations_are_a_problem_and_stay_pending(doctor: Doctor):
    with sqlite3.connect(doctor.db) as conn:  # an older ShopMate made this database
        last = conn.execute("SELECT max(name) FROM _sqlite_migrations").fetchone()[0]
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", (last,))
    result = doctor.run()
    assert result.returncode == 1
    text = line(result, "problem", "storage", "migrations")
    assert f"1 migration(s) not applied: {last}." in text
    assert "start ShopMate once (`shopmate run` or `shopmate serve`)" in text
    with sqlite3.connect(doctor.db) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations")}
    assert last not in names, "the doctor only looks: it applied nothing"


def test_a_missing_database_is_a_problem_and_none_is_created(doctor: Doctor, tmp_path: Path):
    doctor.env["SHOPMATE_DB"] = str(tmp_path / "typo.db")
    result = doctor.run()
    assert "no database at SHOPMATE_DB=" in line(result, "problem", "storage", "database")
    assert not (tmp_path / "typo.db").exists()


def _read_only_mount_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            "mount --bind -o ro / / 2>/dev/null || mount -o remount,bind,ro /",
        ],
        capture_output=True,
    )
    return probe.returncode == 0


def test_a_database_on_a_read_only_filesystem_is_unwritable(doctor: Doctor):
    """Tests run as root, which file modes do not stop: the database's directory is mounted
    read-only for the doctor's process alone (a private mount namespace)."""
    if not _read_only_mount_available():
        pytest.skip("needs unshare and mount (root in a private mount namespace)")
    directory = str(doctor.db.parent)
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    result = doctor.run(prefix=("unshare", "-m", "sh", "-c", script, directory))
    assert result.returncode == 1, result.stdout + result.stderr
    text = line(result, "problem", "storage", "writable")
    assert "ShopMate cannot write its database: the file" in text and "not writable" in text
    assert "Fix: " in text
    line(result, "ok", "storage", "database")  # it still opens and is read


# -- --post-test -------------------------------------------------------------------------------


def test_post_test_streams_natively_and_leaves_nothing_behind(doctor: Doctor):
    result = doctor.run("--post-test", "C0TEST")
    assert result.returncode == 0, result.stdout + result.stderr
    text = line(result, "ok", "post-test", "streaming")
    assert "native streaming works in C0TEST" in text
    assert "deleted" in line(result, "ok", "post-test", "cleanup")
    methods = [c.method for c in doctor.slack.calls if c.args.get("channel") == "C0TEST"]
    for method in ("chat.startStream", "chat.appendStream", "chat.stopStream", "chat.delete"):
        assert method in methods
    assert doctor.slack.messages("C0TEST") == [], "every test message was deleted"
    assert doctor.slack.messages("C0TEST", include_deleted=True), "and there were some"


def test_post_test_reports_the_fallback_when_slack_refuses_streaming(doctor: Doctor):
    with FakeSlack(streaming_supported=False) as slack:
        doctor.env["SLACK_API_URL"] = slack.api_url
        slack.set_usergroup("S0APPROVERS", ["U0ONE"])
        result = doctor.run("--post-test", "C0TEST")
        assert slack.messages("C0TEST") == [], "the fallback's messages were deleted too"
        assert [c.method for c in slack.calls_to("chat.update")], "it posted, then edited"
    assert result.returncode == 0, "replies still arrive: a warning"
    text = line(result, "warning", "post-test", "streaming")
    assert "native streaming refused in C0TEST (unknown_method)" in text
    assert "chat.postMessage + chat.update, which worked" in text


def test_post_test_in_a_channel_without_the_bot_is_a_problem(doctor: Doctor):
    doctor.slack.remove_bot_from("C0TEST")
    result = doctor.run("--post-test", "C0TEST")
    assert result.returncode == 1
    text = line(result, "problem", "post-test", "C0TEST")
    assert "ShopMate cannot post in C0TEST (not_in_channel)." in text


def test_without_post_test_the_doctor_writes_nothing_to_slack(doctor: Doctor):
    doctor.run()
    writes = [c.method for c in doctor.slack.calls if c.method.startswith("chat.")]
    assert writes == []


# -- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True], ids=["default", "log-level-debug"])
def test_no_token_key_or_secret_is_ever_printed(doctor: Doctor, debug: bool):
    doctor.env["SLACK_APP_TOKEN"] = APP_TOKEN
    extra = ("--log-level", "debug") if debug else ()
    outputs = [doctor.run(*extra), doctor.run("--json", *extra)]
    outputs.append(doctor.run("--post-test", "C0TEST", *extra))
    doctor.claude.api_key = "sk-ant-another-key"  # now the key is rejected
    doctor.env["SLACK_BOT_TOKEN"] = BOT_TOKEN.replace("xoxb-", "xoxp-")  # a user token
    outputs += [doctor.run(*extra), doctor.run("--json", *extra)]
    for result in outputs:
        printed = result.stdout + result.stderr
        assert printed.strip()
        for secret in (*SECRETS, BOT_TOKEN.replace("xoxb-", "xoxp-")):
            assert secret not in printed, f"{secret[:8]}… leaked:\n{printed}"
    assert API_KEY  # (the key the fake accepted at first)
