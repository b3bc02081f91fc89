"""`shopmate stats`: turns, failures, tokens and estimated cost per day and per channel."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.stats_report import print_stats
from bot.settings import Settings
from bot.stats import cost_of, price_of
from storage import open_storage
from tests.trust.conftest import shopmate

MILLION = 1_000_000


def usage(input=0, output=0, cache_read=0, cache_write=0) -> dict[str, int]:
    return {
        "input_tokens": input,
        "output_tokens": output,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
        "model_calls": 1,
    }


def as_row(tokens: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in tokens.items() if k != "model_calls"}


@pytest.mark.parametrize(
    ("model", "tokens", "dollars"),
    [
        ("claude-sonnet-4-6", usage(input=MILLION), 3.0),
        ("claude-sonnet-4-6", usage(output=MILLION), 15.0),
        ("claude-sonnet-4-6", usage(cache_read=MILLION), 0.3),
        ("claude-sonnet-4-6", usage(cache_write=MILLION), 3.75),
        ("claude-haiku-4-5", usage(input=MILLION, output=MILLION), 6.0),
        ("claude-haiku-4-5-20251001", usage(cache_read=MILLION, cache_write=MILLION), 1.35),
        ("claude-opus-4-6", usage(input=MILLION, output=MILLION), 30.0),
        # The current generation (bot/models.py, Anthropic's model pages, 2026-12-05).
        ("claude-sonnet-5-5", usage(input=MILLION, output=MILLION), 12.0),
        ("claude-sonnet-5-5", usage(cache_read=MILLION, cache_write=MILLION), 2.6),
        ("claude-haiku-5-5", usage(input=MILLION, output=MILLION), 0.6),
        ("claude-haiku-5-5", usage(cache_read=MILLION, cache_write=MILLION), 0.135),
    ],
)
def test_cost_follows_the_price_table(model, tokens, dollars):
    price = price_of(model)
    assert price is not None
    assert cost_of(as_row(tokens), price) == pytest.approx(dollars)


def test_an_unknown_model_has_no_price():
    assert price_of("gpt-5") is None and price_of(None) is None
    # Not a near match either: a newer model is not priced like an older one.
    assert price_of("claude-sonnet-5-6") is None and price_of("claude-haiku-5") is None


def record_usage(db_path: Path) -> tuple[str, str]:
    """Turns on two days, in two channels, with three models (one unknown); returns the days."""
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    old = today - timedelta(days=40)
    clock = {"now": old}
    with open_storage(db_path, clock=lambda: clock["now"]) as storage:
        conversations = storage.conversations
        for key, channel in (("slack:T1:C1:1.1", "C1"), ("slack:T1:C2:2.2", "C2")):
            conversations.ensure(key, platform="slack", team="T1", channel=channel, thread_ts="1")
        conversations.add_turn("slack:T1:C1:1.1", [], usage=usage(input=MILLION), model="x")
        clock["now"] = yesterday
        conversations.add_turn(
            "slack:T1:C1:1.1", [], usage=usage(input=MILLION), model="claude-sonnet-4-6"
        )
        conversations.add_turn(
            "slack:T1:C2:2.2",
            [],
            usage=usage(output=MILLION),
            model="claude-haiku-4-5",
            status="failed",
        )
        clock["now"] = today
        conversations.add_turn(
            "slack:T1:C2:2.2", [], usage=usage(cache_read=MILLION), model="mystery-model"
        )
        conversations.add_turn("local:default", [], usage=usage(input=1234), model=None)
    return f"{yesterday:%Y-%m-%d}", f"{today:%Y-%m-%d}"


def line_starting(text: str, *words: str) -> str:
    """The one line of the usage tables starting with `words` (outcomes are tabled after)."""
    text = text.split("\nOutcomes per conversation")[0]
    found = [line for line in text.splitlines() if line.split()[: len(words)] == list(words)]
    assert len(found) == 1, f"one line starting {words} in:\n{text}"
    return found[0]


def test_print_stats_reports_per_day_and_per_channel_with_costs(tmp_path):
    db_path = tmp_path / "s.db"
    yesterday, today = record_usage(db_path)
    out = io.StringIO()

    assert print_stats(Settings(db_path=db_path), days=30, out=out) == 0
    text = out.getvalue()

    day_one = line_starting(text, yesterday)
    assert day_one.split()[1:] == ["2", "1", "1,000,000", "1,000,000", "0", "0", "$8.0000"]
    day_two = line_starting(text, today)
    # Only unknown ids that day: no price was invented for them.
    assert day_two.split()[1:3] == ["2", "0"] and day_two.endswith("unknown")
    assert line_starting(text, "T1", "C1").split()[2:] == [
        "1",
        "0",
        "1,000,000",
        "0",
        "0",
        "0",
        "$3.0000",
    ]
    assert line_starting(text, "T1", "C2").endswith("unknown"), "haiku, and a mystery model"
    assert line_starting(text, "-", "(terminal)").split()[2] == "1"
    usage_tables = text.split("\nOutcomes per conversation")[0]
    totals = [line for line in usage_tables.splitlines() if line.startswith("total")]
    assert len(totals) == 2 and all(t.endswith("unknown") for t in totals)
    assert "mystery-model" in text and "(none recorded)" in text, "unpriced ids are named"
    assert "Note: cost unknown for model id(s) not in the price table" in text
    assert "claude-sonnet-4-6 $3/$15/$0.3/$3.75" in text, "the prices used are shown"
    assert " x" not in text.split("Note:")[1], "the 40-day-old turn is outside the window"


def test_days_limits_the_window_to_today(tmp_path):
    db_path = tmp_path / "s.db"
    yesterday, today = record_usage(db_path)
    out = io.StringIO()
    print_stats(Settings(db_path=db_path), days=1, out=out)
    # Day rows start with their date (the price table's "checked" date may be any day).
    days = {line.split()[0] for line in out.getvalue().splitlines() if line[:2] == "20"}
    assert today in days and yesterday not in days


def test_stats_command_runs_from_the_cli(tmp_path):
    db_path = tmp_path / "s.db"
    record_usage(db_path)
    env = {"SHOPMATE_DB": str(db_path)}
    result = shopmate("stats", "--days", "7", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Per day" in result.stdout and "Per channel" in result.stdout
    bad = shopmate("stats", "--days", "0", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "--days" in bad.stderr


def test_stats_without_a_database_says_so_and_creates_nothing(tmp_path):
    out = io.StringIO()
    db_path = tmp_path / "missing.db"
    assert print_stats(Settings(db_path=db_path), days=30, out=out) == 0
    assert "nothing to report" in out.getvalue()
    assert not db_path.exists()


def test_stats_of_a_real_conversation_name_its_channel(make_app):
    app = make_app()
    mention = app.mention("Where is ORD-1001?")
    app.wait_answered(mention)
    out = io.StringIO()
    print_stats(app.services.settings, days=1, out=out)
    line = line_starting(out.getvalue(), "T0001", "C0001")
    turns, failed, *tokens, cost = line.split()[2:]
    assert (turns, failed) == ("1", "0")
    assert any(count != "0" for count in tokens) and cost != "$0.0000"
