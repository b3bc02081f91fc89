"""The operator's first hour (issue 10): every mistake gets one clear line, nothing is lost.

Each test runs `shopmate` as a subprocess with one of the mistakes a newcomer makes and checks
what they would see: the exit status (2 for a configuration mistake, 1 for anything else), no
traceback, one line on stderr naming the setting or option and the fix, and that nothing was
created or deleted on the way.
"""

from __future__ import annotations

import os
import pty
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.claude import FakeClaude, HttpError
from fakes.slack import FakeSlack
from storage import open_storage

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "bot" / "data" / "sample_orders.csv"
GOOD_SLACK = {
    "SLACK_BOT_TOKEN": "xoxb-good-token",
    "SLACK_SIGNING_SECRET": "first-hour-secret",
    "ANTHROPIC_API_KEY": "test-key",
}


def shopmate(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    merge_stderr: bool = False,
) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NO_PROXY": "127.0.0.1,localhost",
        "HOME": str(cwd),
        "TMPDIR": str(cwd),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        stdin=subprocess.DEVNULL if stdin is None else None,
        input=stdin,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


def files(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and mtime: what 'nothing created or changed' means."""
    found = {}
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def one_line(result: subprocess.CompletedProcess[str], status: int, *words: str) -> str:
    """The failure is exactly one line on stderr, containing `words`, with exit `status`."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("shopmate"), line
    for word in words:
        assert word in line, (word, line)
    return line


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """An empty working directory, the way a new user starts."""
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


@pytest.fixture
def stored(work: Path) -> Path:
    """A database with the sample orders, a chat thread `t3` and a Slack thread in C0001."""
    db = work / "shop.db"
    result = shopmate("orders", "import", str(SAMPLE), cwd=work, env={"SHOPMATE_DB": str(db)})
    assert result.returncode == 0, result.stderr
    with open_storage(db) as storage:
        storage.conversations.add_user_message("local:t3", "Where is ORD-1001?")
        storage.conversations.add_user_message(
            "slack:T0001:C0001:1700000000.000100", "Hello from Slack", user="U1", team="T0001"
        )
        storage.conversations.ensure(
            "slack:T0001:C0001:1700000000.000100",
            platform="slack",
            team="T0001",
            channel="C0001",
            thread_ts="1700000000.000100",
        )
    return db


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port that is bound but not listening: connecting to it is refused at once."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


# -- row: SLACK_BOT_TOKEN=abc, or an xoxb- token in SLACK_APP_TOKEN ---------------------------


def test_a_bot_token_of_the_wrong_shape_is_refused_before_anything_starts(work: Path):
    env = {**GOOD_SLACK, "SHOPMATE_DB": str(work / "s.db")}
    before = files(work)
    result = shopmate("serve", cwd=work, env={**env, "SLACK_BOT_TOKEN": "abc"})
    line = one_line(result, 2, "SLACK_BOT_TOKEN", "xoxb-", "OAuth & Permissions")
    assert line == (
        "shopmate: SLACK_BOT_TOKEN does not look like a bot token (xoxb-...). Copy the Bot "
        "User OAuth Token (xoxb-...) from OAuth & Permissions in your Slack app."
    )
    app_token = shopmate("run", cwd=work, env={**env, "SLACK_APP_TOKEN": "xoxb-not-an-app-token"})
    one_line(app_token, 2, "SLACK_APP_TOKEN holds a bot token (xoxb-...)", "xapp-")
    assert files(work) == before


# -- row: a token Slack rejects (invalid_auth) -------------------------------------------------


def test_a_token_slack_rejects_is_one_line_naming_the_variable(work: Path):
    with FakeSlack(tokens={"xoxb-the-right-one": "T0001"}) as slack:
        env = {**GOOD_SLACK, "SLACK_API_URL": slack.api_url, "SHOPMATE_DB": str(work / "s.db")}
        before = files(work)
        result = shopmate("serve", "--port", "0", cwd=work, env=env)
        one_line(result, 2, "SLACK_BOT_TOKEN was rejected by Slack (invalid_auth)", "xoxb-")
        socket_mode = shopmate("run", cwd=work, env={**env, "SLACK_APP_TOKEN": "xapp-1-x"})
        one_line(socket_mode, 2, "SLACK_BOT_TOKEN was rejected by Slack (invalid_auth)")
        assert [call.method for call in slack.calls] == ["auth.test", "auth.test"]
        # --log-level debug shows the details behind the line.
        debug = shopmate("--log-level", "debug", "serve", cwd=work, env=env)
        assert debug.returncode == 2
        assert "SlackApiError" in debug.stderr and "invalid_auth" in debug.stderr
        assert "SlackApiError" not in result.stderr
    assert files(work) == before, "no database was created"


# -- row: Slack unreachable (wrong SLACK_API_URL, no network) -----------------------------------


def test_an_unreachable_slack_is_one_line_naming_slack_api_url(work: Path, closed_port: int):
    url = f"http://127.0.0.1:{closed_port}/api/"
    env = {**GOOD_SLACK, "SLACK_API_URL": url, "SHOPMATE_DB": str(work / "s.db")}
    result = shopmate("serve", cwd=work, env=env)
    one_line(result, 1, f"cannot reach Slack at {url}", "Check SLACK_API_URL")
    assert files(work) == {}


# -- row: serve --port 99999 --------------------------------------------------------------------


def test_a_port_out_of_range_is_refused_not_wrapped(work: Path):
    env = {**GOOD_SLACK, "SHOPMATE_DB": str(work / "s.db")}
    result = shopmate("serve", "--port", "99999", cwd=work, env=env)
    line = one_line(result, 2, "--port", "1 to 65535", "99999")
    assert "listening" not in result.stderr and "34463" not in line
    assert files(work) == {}


# -- row: port already in use; --host nosuchhost.invalid ----------------------------------------


def test_a_port_in_use_and_an_unknown_host_are_one_line_each(work: Path):
    env = {**GOOD_SLACK, "SHOPMATE_DB": str(work / "s.db")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = shopmate("serve", "--port", port, cwd=work, env=env)
    one_line(busy, 2, f"--port {port} is already in use", "give another --port")
    unknown = shopmate("serve", "--host", "nosuchhost.invalid", cwd=work, env=env)
    one_line(unknown, 2, "--host nosuchhost.invalid: no such host", "127.0.0.1")
    assert files(work) == {}


# -- row: SHOPMATE_DB=/dev/null/x.db, or a directory -------------------------------------------


@pytest.mark.parametrize("command", [("orders", "import", str(SAMPLE)), ("chat",)])
def test_a_database_path_under_a_file_or_a_directory_is_refused(work: Path, command):
    env = {"ANTHROPIC_API_KEY": "test-key"}
    under_file = shopmate(*command, cwd=work, env={**env, "SHOPMATE_DB": "/dev/null/x.db"})
    one_line(under_file, 2, "SHOPMATE_DB=/dev/null/x.db", "/dev/null is not a directory")
    (work / "data").mkdir()
    a_directory = shopmate(*command, cwd=work, env={**env, "SHOPMATE_DB": str(work / "data")})
    one_line(a_directory, 2, "is a directory", f"SHOPMATE_DB={work / 'data' / 'shopmate.db'}")
    assert files(work) == {"data": files(work)["data"]}


# -- row: SHOPMATE_DB=/nonexistent/dir/x.db ------------------------------------------------------


def test_missing_parent_directories_are_never_created(work: Path):
    db = work / "nonexistent" / "dir" / "x.db"
    result = shopmate("orders", "import", str(SAMPLE), cwd=work, env={"SHOPMATE_DB": str(db)})
    one_line(result, 2, f"the directory {db.parent} does not exist", "mkdir -p")
    assert not (work / "nonexistent").exists()


# -- row: orders show / history export / history purge with a wrong SHOPMATE_DB -----------------


@pytest.mark.parametrize(
    "command",
    [
        ("orders", "show", "ORD-1001"),
        ("history", "export", "t3"),
        ("history", "purge", "--older-than", "90d", "--yes"),
        ("history", "list"),
        ("stats",),
    ],
)
def test_read_only_commands_refuse_a_missing_database_and_create_none(work: Path, command):
    db = work / "typo.db"
    result = shopmate(*command, cwd=work, env={"SHOPMATE_DB": str(db)})
    one_line(result, 2, f"no ShopMate database at SHOPMATE_DB={db}", "nothing was created")
    assert files(work) == {}


# -- row: history purge --older-than 0d ----------------------------------------------------------


def test_purge_asks_first_and_never_wipes_everything_at_once(work: Path, stored: Path):
    env = {"SHOPMATE_DB": str(stored)}
    zero = shopmate("history", "purge", "--older-than", "0d", "--yes", cwd=work, env=env)
    one_line(zero, 2, "--older-than", "'0d' would mean every conversation", "at least 1d")
    _make_old(stored)
    before = files(work)
    no_terminal = shopmate("history", "purge", "--older-than", "30d", cwd=work, env=env)
    one_line(no_terminal, 1, "nothing removed", "--yes", "--dry-run")
    assert "Would remove 2 messages, 0 turns, 0 events, 2 conversations" in no_terminal.stdout
    dry = shopmate("history", "purge", "--older-than", "30d", "--dry-run", cwd=work, env=env)
    assert dry.returncode == 0 and "Dry run: nothing removed." in dry.stdout
    assert "2 conversations" in dry.stdout
    assert files(work) == before, "neither run changed the database"
    assert _count(stored) == 2


def test_purge_on_a_terminal_removes_only_after_the_typed_word(work: Path, stored: Path):
    _make_old(stored)
    env = {"SHOPMATE_DB": str(stored)}
    declined = _on_terminal(work, env, "no\n", "history", "purge", "--older-than", "30d")
    assert declined.returncode == 1 and "Type 'delete' to remove them" in declined.stdout
    assert "Nothing removed." in declined.stdout and _count(stored) == 2
    agreed = _on_terminal(work, env, "delete\n", "history", "purge", "--older-than", "30d")
    assert agreed.returncode == 0, agreed.stdout
    assert "Removed conversations idle for over 30 day(s)" in agreed.stdout
    assert _count(stored) == 0


def _on_terminal(work: Path, env: dict[str, str], typed: str, *args: str):
    """Run with stdin on a pseudo-terminal (a person at a keyboard) and `typed` as their input."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, typed.encode())
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            stdin=terminal,
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
            cwd=work,
            timeout=60,
        )
    finally:
        os.close(terminal)
        os.close(controller)


def _make_old(db: Path, thread_key: str | None = None) -> None:
    """Make conversations last active in 2025, as if they had sat there for a long time."""
    connection = sqlite3.connect(db)
    try:
        with connection:
            connection.execute(
                "update conversations set updated_utc = '2025-01-01T00:00:00.000000+00:00' "
                "where ? is null or thread_key = ?",
                [thread_key, thread_key],
            )
    finally:
        connection.close()


def _count(db: Path) -> int:
    with open_storage(db, create=False) as storage:
        return len(storage.conversations.list())


# -- row: numbers out of range, missing output directory, unwritable demo --data-dir ------------


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (("stats", "--days", "100000000"), ("--days", "1 to 36500")),
        (("history", "purge", "--older-than", "99999999d"), ("--older-than", "at most 36500d")),
        (("demo", "--pace", "0"), ("--pace", "from 1 to 10000")),
        (("history", "list", "--since", "0d"), ("--since", "at least 1d")),
        (("history", "export", "t3", "-o", "/missing/dir/x.json"), ("-o", "/missing/dir")),
    ],
)
def test_numbers_and_output_paths_are_checked_first(work: Path, stored: Path, command, words):
    before = files(work)
    result = shopmate(*command, cwd=work, env={"SHOPMATE_DB": str(stored)})
    one_line(result, 2, *words)
    assert files(work) == before


def test_an_unusable_demo_data_dir_is_one_line(work: Path):
    (work / "notes.txt").write_text("not a directory")
    before = files(work)
    under_file = shopmate("demo", "--data-dir", "notes.txt/demo", cwd=work)
    one_line(under_file, 2, "--data-dir notes.txt/demo", "notes.txt is not a directory")
    deep = shopmate("demo", "--data-dir", "a/b/c", cwd=work)
    one_line(deep, 2, "--data-dir a/b/c", "does not exist")
    assert files(work) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_demo_data_dir_is_one_line(work: Path):
    locked = work / "locked"
    locked.mkdir(mode=0o500)
    try:
        result = shopmate("demo", "--data-dir", str(locked), cwd=work)
        one_line(result, 2, "--data-dir", "permission denied")
    finally:
        locked.chmod(0o700)


# -- row: chat with a rejected ANTHROPIC_API_KEY; logs and the prompt ----------------------------


def test_chat_with_a_rejected_key_says_so_and_names_the_variable(work: Path):
    with FakeClaude(api_key="the-right-key") as fake:
        env = {
            "ANTHROPIC_API_KEY": "a-wrong-key",
            "ANTHROPIC_BASE_URL": fake.url,
            "SHOPMATE_DB": str(work / "s.db"),
        }
        result = shopmate("chat", cwd=work, env=env, stdin="Where is ORD-1001?\nAnd now?\n")
    assert result.returncode == 2
    assert (
        "ShopMate: Claude rejected the API key (401). Fix ANTHROPIC_API_KEY in .env or the "
        "environment, then start the chat again."
    ) in result.stdout
    assert "isn't responding" not in result.stdout
    assert result.stdout.count("You: ") == 1, "it stops instead of failing every question"
    assert "Traceback" not in result.stdout + result.stderr


def test_chat_log_lines_never_land_inside_the_prompt_or_an_answer(work: Path):
    with FakeClaude() as fake:
        fake.enqueue(HttpError(500, "api_error", "boom"))
        env = {
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": fake.url,
            "SHOPMATE_DB": str(work / "s.db"),
            "SHOPMATE_ANTHROPIC_RETRIES": "0",
        }
        result = shopmate(
            "chat", cwd=work, env=env, stdin="Hello?\nHello again?\n", merge_stderr=True
        )
    assert result.returncode == 0, result.stdout
    logged = [line for line in result.stdout.splitlines() if "bot.engine" in line]
    assert logged, "the failed call was logged"
    timestamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ERROR bot\.engine: ")
    for line in logged:
        assert timestamp.match(line), f"a log line shares a line with the chat: {line!r}"
    text = result.stdout
    failure, log, next_prompt = (
        text.index("isn't responding"),
        text.index("ERROR bot.engine"),
        text.rindex("You: "),
    )
    assert failure < log < next_prompt, "logs wait for the answer, then the prompt follows"


# -- row: chat --thread t3, then history export t3; no command lists conversations -------------


def test_export_takes_the_names_people_know_and_list_shows_what_is_stored(work: Path, stored: Path):
    env = {"SHOPMATE_DB": str(stored)}
    chat_name = shopmate("history", "export", "t3", "-o", "t3.json", cwd=work, env=env)
    assert chat_name.returncode == 0, chat_name.stderr
    assert "Wrote local:t3 to t3.json" in chat_name.stdout
    assert "Where is ORD-1001?" in (work / "t3.json").read_text()
    for name in (
        "https://shopmate-test.slack.com/archives/C0001/p1700000000000100",
        "https://shopmate-test.slack.com/archives/C0001/p1700000099000200"
        "?thread_ts=1700000000.000100&cid=C0001",
        "C0001/1700000000.000100",
        "slack:T0001:C0001:1700000000.000100",
    ):
        exported = shopmate("history", "export", name, cwd=work, env=env)
        assert exported.returncode == 0, (name, exported.stderr)
        assert "Hello from Slack" in exported.stdout
    unknown = shopmate("history", "export", "t4", cwd=work, env=env)
    one_line(unknown, 1, "no conversation 't4' or 'local:t4'", "shopmate history list")

    listed = shopmate("history", "list", cwd=work, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "2 conversation(s)" in listed.stdout
    rows = {line.split()[0]: line for line in listed.stdout.splitlines() if ":" in line[:12]}
    assert set(rows) == {"local:t3", "slack:T0001:C0001:1700000000.000100"}
    assert re.search(r"local:t3\s+1\s+\d+ B\s+\d{4}-\d\d-\d\d \d\d:\d\d", rows["local:t3"])
    in_channel = shopmate("history", "list", "--channel", "C0001", cwd=work, env=env)
    assert "slack:T0001:C0001" in in_channel.stdout and "local:t3" not in in_channel.stdout
    _make_old(stored, "local:t3")
    recent = shopmate("history", "list", "--since", "7d", cwd=work, env=env)
    assert "1 conversation(s)" in recent.stdout and "local:t3" not in recent.stdout


def test_a_chat_thread_can_be_exported_by_its_chat_name(work: Path):
    with FakeClaude() as fake:
        env = {
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": fake.url,
            "SHOPMATE_DB": str(work / "s.db"),
        }
        chat = shopmate("chat", "--thread", "t3", cwd=work, env=env, stdin="Hi there\n")
        assert chat.returncode == 0, chat.stderr
    exported = shopmate("history", "export", "t3", cwd=work, env=env)
    assert exported.returncode == 0, exported.stderr
    assert '"thread_key": "local:t3"' in exported.stdout


# -- row: orders / history without an action; help and version ----------------------------------


@pytest.mark.parametrize(
    ("group", "actions"), [("orders", ("import", "show")), ("history", ("list", "export", "purge"))]
)
def test_a_group_without_an_action_shows_that_groups_help(work: Path, group, actions):
    result = shopmate(group, cwd=work)
    assert result.returncode == 2
    assert result.stdout.startswith(f"usage: shopmate {group}")
    for action in actions:
        assert action in result.stdout
    assert "serve" not in result.stdout, "not the top-level help"


def test_every_command_and_option_has_a_help_line_with_its_default(work: Path):
    from bot.cli import build_parser

    def walk(parser, path):
        for action in parser._actions:
            if action.dest in ("help", "version"):
                continue
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
                continue
            assert action.help, f"{' '.join(path)} {action.dest} has no help line"
            if action.option_strings:
                assert "default" in action.help, f"{' '.join(path)} {action.option_strings}"

    walk(build_parser(), ["shopmate"])
    version = shopmate("--version", cwd=work)
    assert version.returncode == 0
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{version.stdout.split()[1]}"' in pyproject
    help_text = shopmate("history", "purge", "--help", cwd=work).stdout
    assert "--yes" in help_text and "--dry-run" in help_text and "(default:" in help_text


# -- row: orders show speaks to people -----------------------------------------------------------


def test_orders_show_speaks_to_people(work: Path, stored: Path):
    env = {"SHOPMATE_DB": str(stored)}
    shown = shopmate("orders", "show", "ord-1001", cwd=work, env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == "ORD-1001: shipped"
    assert "Tracking:  RM493827651GB  https://track.royalmail.com/" in shown.stdout
    assert "{" not in shown.stdout
    missing = shopmate("orders", "show", "ORD-9999", cwd=work, env=env)
    assert missing.returncode == 1 and missing.stdout.strip() == "Order ORD-9999 not found."


# -- row: every run/serve start logs Bolt's token warning ---------------------------------------


def test_serve_starts_cleanly_on_a_correct_configuration(work: Path, fake_claude: FakeClaude):
    with FakeSlack(team_id="T0001") as slack:
        env = {
            **GOOD_SLACK,
            "SLACK_API_URL": slack.api_url,
            "ANTHROPIC_BASE_URL": fake_claude.url,
            "SHOPMATE_DB": str(work / "s.db"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NO_PROXY": "127.0.0.1,localhost",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", "0"],
            env=env,
            cwd=work,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        lines: list[str] = []
        listening = threading.Event()

        def read() -> None:
            for line in process.stderr:
                lines.append(line)
                if "listening on" in line:
                    listening.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert listening.wait(timeout=30), "".join(lines)
            url = re.search(r"listening on (http://\S+?)/slack/events", "".join(lines)).group(1)
            # Up and answering: the main thread is now waiting, not writing a log line.
            with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
                assert response.status == 200
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            reader.join(timeout=10)
    log = "".join(lines)
    assert "token will be unused" not in log
    assert "WARNING" not in log, log


# -- row: after the README's first command, `shopmate` is not on PATH ---------------------------


def test_the_readme_says_how_to_run_shopmate_and_where_env_is_read_from():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```bash")
    after_first_command = readme[start : start + 1200]
    assert "source .venv/bin/activate" in after_first_command
    assert ".venv/bin/shopmate" in after_first_command
    assert ".env` in the current directory" in readme


# -- row: python -m bench rewrites the tracked RESULTS.md ---------------------------------------


def test_bench_writes_results_only_when_asked(tmp_path: Path, capsys):
    from bench import cli

    tracked = ROOT / "bench" / "RESULTS.md"
    before = (tracked.read_bytes(), tracked.stat().st_mtime_ns) if tracked.exists() else None
    assert cli.main(["--smoke"]) == 0
    after = (tracked.read_bytes(), tracked.stat().st_mtime_ns) if tracked.exists() else None
    assert after == before
    assert "Wrote" not in capsys.readouterr().out
    out = tmp_path / "r.md"
    assert cli.main(["--smoke", "--write", "--out", str(out)]) == 0
    assert out.read_text().startswith("# ShopMate benchmarks")


# -- row: the demo (bold printed literally, tool line after the answer, growing database) -------


def test_the_demo_renders_markdown_shows_lookups_in_place_and_starts_fresh(work: Path):
    kept = work / "kept"
    kept.mkdir()
    with open_storage(kept / "shopmate-demo.db") as storage:
        storage.conversations.add_user_message("local:earlier", "an earlier run")
    # Three runs at once (each one takes seconds to start): two fresh ones, one in --data-dir.
    # tests/test_demo.py plays the whole sample conversation; one question is enough here.
    one_question = "Where is ORD-1001?\n\n"
    runs = [
        _start("demo", "--interactive", "--pace", "2000", cwd=work, stdin=one_question),
        _start("demo", "--interactive", "--pace", "2000", cwd=work, stdin=one_question),
        _start("demo", "--interactive", "--data-dir", "kept", cwd=work, stdin=one_question),
    ]
    (full, _), (fresh, _), (reused, _) = [_finish(run, stdin) for run, stdin in runs]
    assert "**" not in full, "Markdown is rendered, not printed"
    assert "Sunset Gradient Tee" in full, "the bold item name is there, without the stars"
    lookup, answer = full.index("[get_order ORD-1001 -> shipped]"), full.index("RM493827651GB")
    assert lookup < answer, "the lookup sits before the answer it fed"
    if "Let me look that up" in full:  # words said before the lookup stay before it
        assert full.index("Let me look that up") < lookup
    paths = [re.search(r"stored in (\S+)", out).group(1) for out in (full, fresh, reused)]
    assert len(set(paths)) == 3, "every run without --data-dir gets a fresh database"
    for path, expected in zip(paths, (1, 1, 2), strict=True):
        with open_storage(path, create=False) as storage:
            assert len(storage.conversations.list()) == expected, path
    assert Path(paths[2]) == (kept / "shopmate-demo.db").resolve(), "--data-dir keeps it"
    assert {p.name for p in work.iterdir()} == {"kept"} | {Path(p).parent.name for p in paths[:2]}


def _start(*args: str, cwd: Path, stdin: str | None = None) -> tuple[subprocess.Popen, str | None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NO_PROXY": "127.0.0.1,localhost",
            "TMPDIR": str(cwd),
        },
    )
    return process, stdin


def _finish(process: subprocess.Popen, stdin: str | None) -> tuple[str, str]:
    out, err = process.communicate(stdin, timeout=90)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    return out, err
