"""API keys and idempotent requests in storage: hashes only, revocation, leases, replays."""

from __future__ import annotations

import pytest

from storage import ApiKeyError, Storage
from tests.storage.conftest import FakeClock, rows


def test_a_key_is_stored_only_as_its_hash_and_verifies_until_revoked(storage: Storage):
    key = storage.api_keys.create("widget")
    assert storage.api_keys.verify(key) == "widget"
    assert storage.api_keys.verify(key + "x") is None
    assert storage.api_keys.verify("widget") is None
    [row] = rows(storage, "api_keys")
    assert key not in str(row) and row["key_hash"] != key
    assert storage.api_keys.list() == [
        {"name": "widget", "created_utc": row["created_utc"], "revoked_utc": None}
    ]
    assert storage.api_keys.revoke("widget") is True
    assert storage.api_keys.verify(key) is None
    assert storage.api_keys.revoke("widget") is False


def test_names_are_checked_and_never_reused(storage: Storage):
    storage.api_keys.create("widget")
    storage.api_keys.revoke("widget")
    with pytest.raises(ApiKeyError, match="exists or existed"):
        storage.api_keys.create("widget")
    for bad in ("", "a:b", "with space", "-leading", "x" * 65):
        with pytest.raises(ApiKeyError, match="key name"):
            storage.api_keys.create(bad)
    with pytest.raises(ApiKeyError, match="no key named"):
        storage.api_keys.revoke("nobody")


def begin(storage: Storage, owner: str = "p1", fingerprint: str = "f1", thread: str = "api:k:1"):
    return storage.api_requests.begin(
        "k", "idem", fingerprint=fingerprint, thread_key=thread, owner=owner, lease_seconds=30
    )


def test_a_request_is_run_once_then_replayed(storage: Storage):
    assert begin(storage).state == "new"
    assert begin(storage, owner="p2").state == "running"
    storage.api_requests.finish("k", "idem", owner="p1", response={"reply": "hi"})
    replay = begin(storage, owner="p2", thread="api:k:2")
    assert (replay.state, replay.response, replay.thread_key) == (
        "replay",
        {"reply": "hi"},
        "api:k:1",
    )
    assert begin(storage, fingerprint="other").state == "mismatch"


def test_a_dead_owners_request_is_taken_over_in_the_same_conversation(
    storage: Storage, clock: FakeClock
):
    assert begin(storage).state == "new"
    clock.advance(seconds=10)
    assert storage.api_requests.renew("k", "idem", owner="p1", lease_seconds=30) is True
    clock.advance(seconds=25)
    assert begin(storage, owner="p2").state == "running", "the renewed lease still runs"
    clock.advance(seconds=10)
    taken = begin(storage, owner="p2", thread="api:k:other")
    assert (taken.state, taken.thread_key) == ("new", "api:k:1")
    assert storage.api_requests.renew("k", "idem", owner="p1", lease_seconds=30) is False


def test_a_released_request_runs_again(storage: Storage):
    assert begin(storage).state == "new"
    storage.api_requests.release("k", "idem", owner="p1")
    assert begin(storage, owner="p2").state == "new"


def test_purging_a_conversation_removes_its_stored_api_answers(storage: Storage, clock):
    storage.conversations.add_user_message("api:k:1", "hi")
    begin(storage)
    storage.api_requests.finish("k", "idem", owner="p1", response={"reply": "hi"})
    clock.advance(days=100)
    storage.conversations.purge_older_than(clock())
    assert rows(storage, "api_requests") == []
