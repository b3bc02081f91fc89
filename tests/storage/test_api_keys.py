"""API keys and idempotent requests in storage: hashes only, revocation, leases, replays."""

from __future__ import annotations

import pytest

from storage import ApiKeyError, Storage
from storage.api_requests import StoredRequest
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


# An Idempotency-Key's lease is a claim like any other (the lifecycle takes it by this key).
CLAIM = "api-request:k:idem"


def record(storage: Storage, fingerprint: str = "f1", thread: str = "api:k:1") -> StoredRequest:
    return storage.api_requests.record(
        "k", "idem", fingerprint=fingerprint, thread_key=thread, owner="p1"
    )


def test_a_request_is_recorded_once_then_replayed(storage: Storage):
    assert record(storage) == StoredRequest("f1", "api:k:1")
    again = record(storage, fingerprint="other", thread="api:k:2")
    assert again == StoredRequest("f1", "api:k:1"), "the first attempt's request and conversation"
    storage.api_requests.finish("k", "idem", owner="p1", response={"reply": "hi"})
    replay = record(storage, thread="api:k:2")
    assert (replay.response, replay.thread_key) == ({"reply": "hi"}, "api:k:1")


def test_a_dead_owners_request_is_taken_over_in_the_same_conversation(
    storage: Storage, clock: FakeClock
):
    def claim(owner: str):
        return storage.claims.claim_message(
            CLAIM, owner=owner, thread_key="api:k:1", lease_seconds=30
        )

    assert claim("p1") is not None
    clock.advance(seconds=10)
    assert storage.claims.renew([CLAIM], owner="p1", lease_seconds=30) == []
    clock.advance(seconds=25)
    assert claim("p2") is None, "the renewed lease still runs"
    clock.advance(seconds=10)
    taken = claim("p2")
    assert taken is not None and (taken.previous_owner, taken.thread_key) == ("p1", "api:k:1")
    assert storage.claims.renew([CLAIM], owner="p1", lease_seconds=30) == [CLAIM]


def test_a_forgotten_request_runs_again(storage: Storage):
    record(storage)
    assert storage.claims.claim(CLAIM, owner="p1", lease_seconds=30)
    storage.api_requests.forget("k", "idem")
    assert storage.claims.forget(CLAIM, owner="p1") is True
    assert record(storage, fingerprint="f2").fingerprint == "f2", "recorded afresh"
    assert storage.claims.claim(CLAIM, owner="p2", lease_seconds=30)


def test_an_answered_request_is_never_forgotten(storage: Storage):
    record(storage)
    storage.api_requests.finish("k", "idem", owner="p1", response={"reply": "hi"})
    storage.api_requests.forget("k", "idem")
    assert record(storage).response == {"reply": "hi"}


def test_purging_a_conversation_removes_its_stored_api_answers(storage: Storage, clock):
    storage.conversations.add_user_message("api:k:1", "hi")
    record(storage)
    storage.api_requests.finish("k", "idem", owner="p1", response={"reply": "hi"})
    clock.advance(days=100)
    storage.conversations.purge_older_than(clock())
    assert rows(storage, "api_requests") == []
