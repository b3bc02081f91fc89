"""`shopmate chat --file`, and `shopmate history export` listing the files."""

from __future__ import annotations

import json

from fakes.claude import FakeClaude
from tests.files_kit import minimal_pdf, painted_png
from tests.test_cli import shopmate


def test_chat_sends_a_file_with_the_first_question_and_history_export_lists_it(tmp_path):
    screenshot = tmp_path / "carrier page.png"
    screenshot.write_bytes(painted_png("Delivery failed: no safe place"))
    with FakeClaude() as fake:
        env = {
            "SHOPMATE_DB": str(tmp_path / "s.db"),
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": fake.url,
        }
        result = shopmate(
            "chat",
            "--thread",
            "files",
            "--file",
            str(screenshot),
            env=env,
            cwd=tmp_path,
            stdin="What does this carrier page say?\nThanks!\n",
        )
        assert result.returncode == 0, result.stderr
        assert "I see a 1238×928 PNG image." in result.stdout
        assert '"Delivery failed: no safe place"' in result.stdout
        first, second = [r.body for r in fake.requests if r.path == "/v1/messages"]
        assert first["messages"][0]["content"][0]["type"] == "image"
        assert second["messages"][0]["content"][0]["type"] == "image"  # from storage

    exported = shopmate("history", "export", "local:files", env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    [listed] = json.loads(exported.stdout)["files"]
    assert listed["name"] == "carrier page.png"
    assert listed["media_type"] == "image/png" and listed["size_bytes"] > 0
    assert len(listed["sha256"]) == 64


def test_chat_file_errors_are_plain(tmp_path):
    missing = shopmate("chat", "--file", str(tmp_path / "nope.png"), cwd=tmp_path)
    assert missing.returncode != 0 and "no such file" in missing.stderr
    pdf = tmp_path / "big.pdf"
    pdf.write_bytes(minimal_pdf(*["page"] * 101))
    with FakeClaude() as fake:
        env = {
            "SHOPMATE_DB": str(tmp_path / "s.db"),
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": fake.url,
        }
        result = shopmate("chat", "--file", str(pdf), env=env, cwd=tmp_path, stdin="Read this\n")
        assert "big.pdf has 101 pages; I can read PDFs of up to 100 pages" in result.stdout
        assert [r for r in fake.requests if r.path == "/v1/messages"] == []
