"""The order cache and attached files, on both backends (SQLite and PostgreSQL).

They joined the schema in the same round as PostgreSQL, so these pin their behaviour on each:
a copy per (source, order), "no such order" remembered, failures reported; a file stored once
by hash, linked per conversation, exported by name and gone with its conversation's purge.
"""

from __future__ import annotations

from storage import Storage
from storage.files import NewFile
from tests.storage.conftest import FakeClock

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_a_copy_is_kept_per_source_and_order_and_a_missing_order_is_remembered(
    storage: Storage, clock: FakeClock
):
    fetched = storage.order_cache.put("shopify", "ORD-1001", {"status": "shipped"})
    storage.order_cache.put("shopify", "ORD-9999", None)
    clock.advance(seconds=30)
    storage.order_cache.put("shopify", "ORD-1001", {"status": "delivered"})
    copy = storage.order_cache.get("shopify", "ORD-1001")
    assert copy is not None and copy.order == {"status": "delivered"}
    assert copy.fetched_utc > fetched
    missing = storage.order_cache.get("shopify", "ORD-9999")
    assert missing is not None and missing.order is None
    assert storage.order_cache.get("http", "ORD-1001") is None


def test_source_failures_are_reported_per_kind_and_old_copies_purged(
    storage: Storage, clock: FakeClock
):
    since = clock.current
    storage.order_cache.put("shopify", "ORD-1", {"status": "shipped"})
    for kind in ("timeout", "timeout", "throttled"):
        storage.order_cache.record_failure("shopify", kind, served="copy", order_id="ORD-1")
    report = storage.order_cache.failure_report(since)
    assert [(r["kind"], r["failures"]) for r in report] == [("throttled", 1), ("timeout", 2)]
    clock.advance(hours=2)
    assert storage.order_cache.purge_older_than(clock.current) == 1
    assert storage.order_cache.get("shopify", "ORD-1") is None


def test_a_file_is_stored_once_by_hash_and_listed_per_conversation(storage: Storage):
    digest = "ab" * 32
    for n, key in enumerate(("slack:T1:C1:1.0", "slack:T1:C1:2.0")):
        question = storage.conversations.add_user_message(key, f"see file {n}", user="U1")
        storage.files.attach(key, question, [NewFile(digest, "image/png", PNG, f"s{n}.png")])
    assert storage.files.count() == 1
    assert storage.files.load(digest) == ("image/png", PNG)
    [listed] = storage.files.listed("slack:T1:C1:2.0")
    assert (listed["name"], listed["media_type"], listed["size_bytes"], listed["sha256"]) == (
        "s1.png",
        "image/png",
        len(PNG),
        digest,
    )


def test_purging_every_conversation_that_links_a_file_removes_its_bytes(
    storage: Storage, clock: FakeClock
):
    digest = "cd" * 32
    question = storage.conversations.add_user_message("slack:T1:C1:3.0", "look", user="U1")
    storage.files.attach("slack:T1:C1:3.0", question, [NewFile(digest, "image/png", PNG, "x.png")])
    clock.advance(days=100)
    removed = storage.conversations.purge_older_than(clock.current)
    assert removed.get("files") == 1
    assert storage.files.get(digest) is None and storage.files.count() == 0
