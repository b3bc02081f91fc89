"""`shopmate api-keys …` and `shopmate chat --url` as users run them: subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import ApiServer


def shopmate(*args: str, env: dict[str, str], cwd: Path, stdin: str = ""):
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=cwd,
        timeout=90,
    )


def test_api_keys_create_prints_the_key_once_and_stores_only_its_hash(tmp_path: Path):
    env = {"SHOPMATE_DB": str(tmp_path / "keys.db")}
    created = shopmate("api-keys", "create", "help-centre", env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sm_") and len(key) > 40
    assert key.encode() not in (tmp_path / "keys.db").read_bytes()
    assert key not in created.stderr

    listed = shopmate("api-keys", "list", env=env, cwd=tmp_path)
    assert "help-centre" in listed.stdout and "active" in listed.stdout
    assert key not in listed.stdout + listed.stderr

    again = shopmate("api-keys", "create", "help-centre", env=env, cwd=tmp_path)
    assert again.returncode == 1 and "exists" in again.stderr
    bad = shopmate("api-keys", "create", "no spaces:please", env=env, cwd=tmp_path)
    assert bad.returncode == 1 and "key name" in bad.stderr

    revoked = shopmate("api-keys", "revoke", "help-centre", env=env, cwd=tmp_path)
    assert revoked.returncode == 0 and "Revoked" in revoked.stdout
    assert "revoked" in shopmate("api-keys", "list", env=env, cwd=tmp_path).stdout
    unknown = shopmate("api-keys", "revoke", "nobody", env=env, cwd=tmp_path)
    assert unknown.returncode == 1 and "no key named" in unknown.stderr


def test_chat_url_streams_a_conversation_from_the_api(api: ApiServer, fresh, tmp_path: Path):
    key = api.new_key("terminal")
    result = shopmate(
        "chat",
        "--url",
        api.url,
        env={"SHOPMATE_API_KEY": key},
        cwd=tmp_path,
        stdin="Where is ORD-1001?\nCan I change the size?\n",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "RM493827651GB" in out and "[get_order ORD-1001 -> ok]" in out
    assert out.count("ShopMate: ") >= 2
    conversation_id = out.split("Conversation ")[1].split()[0]
    with api.storage() as storage:
        history = storage.conversations.history(f"api:terminal:{conversation_id}")
    assert history[0]["role"] == "user" and len(history) >= 5, "one conversation"

    resumed = shopmate(
        "chat",
        "--url",
        api.url,
        "--api-key",
        key,
        "--conversation",
        conversation_id,
        env={},
        cwd=tmp_path,
        stdin="Thanks!\n",
    )
    assert resumed.returncode == 0 and "4 earlier messages" in resumed.stdout


def test_chat_url_with_a_wrong_key_or_none_says_so(api: ApiServer, tmp_path: Path):
    wrong = shopmate(
        "chat", "--url", api.url, "--api-key", "sm_wrong", env={}, cwd=tmp_path, stdin="hi\n"
    )
    assert wrong.returncode == 1 and "a valid API key is required" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    missing = shopmate("chat", "--url", api.url, env={}, cwd=tmp_path, stdin="hi\n")
    assert missing.returncode == 2 and "SHOPMATE_API_KEY" in missing.stderr
