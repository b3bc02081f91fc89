"""`shopmate knowledge check`: documents, sections, token counts and the mode; clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.cli import main
from fakes.slack import FakeSlack


def check(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, **env: str):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status = main(["knowledge", "check"])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_shipped_documents_fit_the_default_budget(monkeypatch, capsys):
    status, out, err = check(monkeypatch, capsys)
    assert status == 0, err
    assert "(shipped with ShopMate)" in out
    assert "returns.md (Returns): 6 sections" in out
    assert "Returns › Worn or washed tees" in out
    assert "In all: 5 documents" in out
    assert "Mode: prompt." in out and "SHOPMATE_KNOWLEDGE_TOKENS=8,000" in out


def test_a_folder_over_the_budget_is_searched(monkeypatch, capsys, knowledge: Path):
    status, out, _ = check(
        monkeypatch,
        capsys,
        SHOPMATE_KNOWLEDGE_DIR=str(knowledge),
        SHOPMATE_KNOWLEDGE_TOKENS="50",
    )
    assert status == 0
    assert f"Policy documents in {knowledge} (SHOPMATE_KNOWLEDGE_DIR):" in out
    lines = out.splitlines()
    assert lines[1].startswith("  care.md (Care): 1 section, ~")
    assert lines[2].strip().startswith("Care › Washing") and lines[2].endswith("tokens")
    assert "In all: 2 documents, 3 sections" in out
    assert "Mode: search." in out and "search_policies" in out


def test_a_missing_folder_or_one_without_documents_is_one_clear_line(
    monkeypatch, capsys, tmp_path: Path
):
    status, out, err = check(monkeypatch, capsys, SHOPMATE_KNOWLEDGE_DIR=str(tmp_path / "nope"))
    assert status == 2 and out == ""
    assert err.startswith("shopmate: SHOPMATE_KNOWLEDGE_DIR=") and "does not exist" in err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not markdown")
    status, _, err = check(monkeypatch, capsys, SHOPMATE_KNOWLEDGE_DIR=str(tmp_path / "empty"))
    assert status == 2 and "holds no Markdown documents" in err
    (tmp_path / "empty" / "blank.md").write_text("\n")
    status, out, err = check(monkeypatch, capsys, SHOPMATE_KNOWLEDGE_DIR=str(tmp_path / "empty"))
    assert status == 2 and "blank.md: empty, left out" in out and "is empty" in err


def test_an_unreadable_document_is_named_and_the_rest_still_listed(
    monkeypatch, capsys, knowledge: Path
):
    (knowledge / "sizing.md").write_bytes(b"# Sizing\n\n\x93smart quotes\x94 from Windows\n")
    status, out, err = check(monkeypatch, capsys, SHOPMATE_KNOWLEDGE_DIR=str(knowledge))
    assert status == 2
    assert "returns.md (Returns)" in out and "Mode: prompt." in out
    assert f"shopmate: {knowledge / 'sizing.md'} is not UTF-8 text" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_document_without_read_permission_is_named(monkeypatch, capsys, knowledge: Path):
    (knowledge / "care.md").chmod(0)
    try:
        status, _, err = check(monkeypatch, capsys, SHOPMATE_KNOWLEDGE_DIR=str(knowledge))
    finally:
        (knowledge / "care.md").chmod(0o644)
    assert status == 2 and "care.md can't be read (Permission denied)" in err


def test_serve_says_a_bad_knowledge_folder_before_it_asks_slack_anything(
    monkeypatch, capsys, tmp_path: Path
):
    with FakeSlack() as slack:
        for name, value in {
            "SLACK_BOT_TOKEN": "xoxb-knowledge-test",
            "SLACK_SIGNING_SECRET": "knowledge-test-secret",
            "SLACK_API_URL": slack.api_url,
            "ANTHROPIC_API_KEY": "test-key",
            "SHOPMATE_DB": str(tmp_path / "shopmate.db"),
            "SHOPMATE_KNOWLEDGE_DIR": str(tmp_path / "nope"),
        }.items():
            monkeypatch.setenv(name, value)
        status = main(["serve", "--port", "0"])
        _, err = capsys.readouterr()
        assert status == 2
        assert err.startswith("shopmate: SHOPMATE_KNOWLEDGE_DIR=") and "does not exist" in err
        assert slack.calls == [], "said before a single Slack call"
