"""The `shopmate` command line, run as users run it: a subprocess with an environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fakes.claude import FakeClaude

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "bot" / "data" / "sample_orders.csv"


def shopmate(*args: str, env: dict | None = None, cwd: Path, stdin: str | None = None):
    base = {"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


def test_orders_import_reports_counts_and_show_returns_the_tool_result(tmp_path):
    env = {"SHOPMATE_DB": str(tmp_path / "s.db")}
    result = shopmate("orders", "import", str(SAMPLE), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 new" in result.stdout
    again = shopmate("orders", "import", str(SAMPLE), env=env, cwd=tmp_path)
    assert "0 new, 3 updated" in again.stdout
    shown = shopmate("orders", "show", " ord-1001 ", "--json", env=env, cwd=tmp_path)
    assert shown.returncode == 0
    order = json.loads(shown.stdout)
    assert order["track_url"] == "https://track.royalmail.com/tracking/RM493827651GB"
    missing = shopmate("orders", "show", "ORD-9999", env=env, cwd=tmp_path)
    assert missing.returncode == 1 and "not found" in missing.stdout


def test_orders_import_names_bad_rows_by_line_and_keeps_good_ones(tmp_path):
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text(
        "order_id,status,item,eta,tracking\n"
        "ORD-2001,shipped,Tee,1 May,RM1GB\n"
        "BAD-ID,shipped,Tee,,\n"
        "ORD-2002,,Tee,,\n"
    )
    env = {"SHOPMATE_DB": str(tmp_path / "s.db")}
    result = shopmate("orders", "import", str(csv_file), env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "line 3" in result.stderr and "line 4" in result.stderr
    assert "1 new" in result.stdout and "2 skipped" in result.stdout
    strict = shopmate(
        "orders",
        "import",
        "--strict",
        str(csv_file),
        env={"SHOPMATE_DB": str(tmp_path / "t.db")},
        cwd=tmp_path,
    )
    assert strict.returncode == 1 and "nothing imported" in strict.stderr


def test_a_fatal_import_error_commits_nothing(tmp_path):
    bad = tmp_path / "orders.json"
    bad.write_text("{not json")
    env = {"SHOPMATE_DB": str(tmp_path / "s.db")}
    result = shopmate("orders", "import", str(bad), env=env, cwd=tmp_path)
    assert result.returncode == 1 and "nothing imported" in result.stderr
    assert "Traceback" not in result.stderr
    shown = shopmate("orders", "show", "ORD-1001", env=env, cwd=tmp_path)
    assert shown.returncode == 2 and "no ShopMate database" in shown.stderr
    assert not (tmp_path / "s.db").exists(), "nothing was created"


def test_chat_streams_answers_shows_tool_calls_and_resumes_a_thread(tmp_path):
    with FakeClaude() as fake:
        env = {
            "SHOPMATE_DB": str(tmp_path / "s.db"),
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": fake.url,
        }
        shopmate("orders", "import", str(SAMPLE), env=env, cwd=tmp_path)
        first = shopmate(
            "chat",
            "--thread",
            "demo",
            env=env,
            cwd=tmp_path,
            stdin="Hi, where is ORD-1001?\nWhat about ORD-9999?\n",
        )
        assert first.returncode == 0, first.stderr
        assert "[get_order ORD-1001 -> shipped]" in first.stdout
        assert "[get_order ORD-9999 -> not found]" in first.stdout
        assert "RM493827651GB" in first.stdout
        assert "Bye." in first.stdout
        second = shopmate("chat", "--thread", "demo", env=env, cwd=tmp_path, stdin="Thanks!\n")
        assert "resuming thread 'local:demo'" in second.stdout
        sent = fake.requests[-1].body["messages"]
        assert "ORD-1001" in json.dumps(sent), "the earlier turns were sent back"


def test_no_command_prints_help(tmp_path):
    result = shopmate(cwd=tmp_path)
    assert result.returncode == 2 and "serve" in result.stdout


def test_commands_that_never_call_claude_start_without_loading_the_anthropic_sdk(tmp_path):
    """The SDK takes about a second to import; `orders`, `stats`, `history`, `api-keys` and
    `--help` are the commands people run by hand and in scripts, so they must not pay for it."""
    script = (
        "import contextlib, io, sys\n"
        "from bot.cli import main\n"
        "for argv in (['orders', 'show', 'ORD-1001'], ['stats'], ['history', 'list'],\n"
        "             ['api-keys', 'list'], ['knowledge', 'check'], ['--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
        "print(sorted(m for m in ('anthropic', 'slack_bolt', 'fastapi') if m in sys.modules))\n"
    )
    env = {"SHOPMATE_DB": str(tmp_path / "shopmate.db")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost", **env},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
