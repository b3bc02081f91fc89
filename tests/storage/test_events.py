"""EventLog: each incoming message is processed once, by one owner, across restarts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from storage import Storage, open_storage


def test_a_new_key_is_claimed_once(storage: Storage) -> None:
    assert storage.events.claim("evt-1", owner="p1", thread_key="local:a") is True
    assert storage.events.status("evt-1") == "claimed"


def test_the_same_owner_claiming_again_is_told_no(storage: Storage) -> None:
    storage.events.claim("evt-1", owner="p1")

    # e.g. Slack's retry arriving while the first delivery is still being answered
    assert storage.events.claim("evt-1", owner="p1") is False


def test_a_finished_key_is_never_claimed_again_by_anyone(storage: Storage) -> None:
    storage.events.claim("evt-1", owner="p1")
    storage.events.finish("evt-1")

    assert storage.events.status("evt-1") == "done"
    assert storage.events.claim("evt-1", owner="p1") is False
    assert storage.events.claim("evt-1", owner="p2") is False


def test_an_unfinished_claim_of_another_owner_is_taken_over(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    storage.events.claim("evt-1", owner="dead-process")

    with caplog.at_level(logging.WARNING, logger="storage.events"):
        assert storage.events.claim("evt-1", owner="p2") is True
    assert "took over event evt-1 from dead-process" in caplog.text
    # Now p2 owns it: p2's own retry is refused, and the old owner cannot take it back
    # unless p2 dies too.
    assert storage.events.claim("evt-1", owner="p2") is False


def test_status_of_an_unknown_key_is_none(storage: Storage) -> None:
    assert storage.events.status("evt-unknown") is None


def test_finishing_an_unclaimed_key_records_it_as_done(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="storage.events"):
        storage.events.finish("evt-1")

    assert storage.events.status("evt-1") == "done"
    assert storage.events.claim("evt-1", owner="p1") is False
    assert "never claimed" in caplog.text


def test_after_a_restart_finished_events_stay_done_and_unfinished_ones_are_taken_over(
    db_path: Path,
) -> None:
    before = open_storage(db_path)
    before.events.claim("evt-done", owner="run-1")
    before.events.finish("evt-done")
    before.events.claim("evt-interrupted", owner="run-1")
    before.close()  # the process dies mid-answer

    after = open_storage(db_path)
    assert after.events.status("evt-done") == "done"
    assert after.events.claim("evt-done", owner="run-2") is False
    assert after.events.status("evt-interrupted") == "claimed"
    assert after.events.claim("evt-interrupted", owner="run-2") is True
    assert after.events.claim("evt-interrupted", owner="run-2") is False
    after.close()
