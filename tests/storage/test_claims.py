"""Claims: each message is processed once, by one owner holding a lease, across restarts."""

from __future__ import annotations

import logging

import pytest

from storage import Storage, open_storage
from tests.storage.conftest import FakeClock


def test_a_new_key_is_claimed_once(storage: Storage) -> None:
    assert storage.claims.claim("evt-1", owner="p1", thread_key="local:a", lease_seconds=30) is True
    assert storage.claims.status("evt-1") == "claimed"


def test_the_same_owner_claiming_again_is_told_no(storage: Storage) -> None:
    storage.claims.claim("evt-1", owner="p1", lease_seconds=30)

    # e.g. Slack's retry arriving while the first delivery is still being answered
    assert storage.claims.claim("evt-1", owner="p1", lease_seconds=30) is False


def test_a_finished_key_is_never_claimed_again_by_anyone(storage: Storage) -> None:
    storage.claims.claim("evt-1", owner="p1", lease_seconds=30)
    storage.claims.finish("evt-1")

    assert storage.claims.status("evt-1") == "done"
    assert storage.claims.claim("evt-1", owner="p1", lease_seconds=30) is False
    assert storage.claims.claim("evt-1", owner="p2", lease_seconds=30) is False


def test_a_live_lease_of_another_owner_is_never_taken_over(
    storage: Storage, clock: FakeClock
) -> None:
    storage.claims.claim("evt-1", owner="p1", lease_seconds=30)

    clock.advance(seconds=29)
    assert storage.claims.claim("evt-1", owner="p2", lease_seconds=30) is False
    assert storage.claims.take_over_expired(owner="p2", lease_seconds=30) == []
    assert storage.claims.get("evt-1").owner == "p1"


def test_a_held_claim_without_text_keeps_a_redelivery_s_text_for_its_owner(
    storage: Storage,
) -> None:
    """A claim taken before leases stored the message (no text) stays its live owner's, but
    a re-delivery's text is kept with it, so a successor can answer if that owner dies."""
    storage.claims.claim("evt-1", owner="p1", lease_seconds=30)
    assert storage.claims.get("evt-1").message is None

    message = {"text": "Where is ORD-1001?", "user": "U1"}
    taken = storage.claims.claim_message("evt-1", owner="p2", message=message, lease_seconds=30)

    assert taken is None, "still p1's"
    claim = storage.claims.get("evt-1")
    assert claim.owner == "p1" and claim.message == message
    other = {"text": "a later copy", "user": "U1"}
    storage.claims.claim_message("evt-1", owner="p3", message=other, lease_seconds=30)
    assert storage.claims.get("evt-1").message == message, "text already kept is not replaced"


def test_a_renewed_lease_outlives_its_first_expiry(storage: Storage, clock: FakeClock) -> None:
    storage.claims.claim("evt-1", owner="p1", lease_seconds=30)
    for _ in range(5):  # p1 keeps working and renewing for two and a half minutes
        clock.advance(seconds=29)
        assert storage.claims.renew(["evt-1"], owner="p1", lease_seconds=30) == []
        assert storage.claims.claim("evt-1", owner="p2", lease_seconds=30) is False
    assert storage.claims.take_over_expired(owner="p2", lease_seconds=30) == []


def test_an_expired_lease_of_another_owner_is_taken_over(
    storage: Storage, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    message = {"text": "Where is ORD-1001?", "channel": "C1"}
    storage.claims.claim("evt-1", owner="dead-process", message=message, lease_seconds=30)
    storage.claims.record_reply("evt-1", "111.000001")
    clock.advance(seconds=31)

    with caplog.at_level(logging.WARNING, logger="storage.claims"):
        claim = storage.claims.claim_message("evt-1", owner="p2", lease_seconds=30)
    assert claim is not None
    assert claim.previous_owner == "dead-process"
    assert claim.message == message, "the stored text comes back to the successor"
    assert claim.replies == ("111.000001",), "and what the dead owner already posted"
    assert claim.attempts == 2
    assert "took over event evt-1 from dead-process" in caplog.text
    # Now p2 owns it: p2's own retry is refused, and so is the old owner, while p2's lease runs.
    assert storage.claims.claim("evt-1", owner="p2", lease_seconds=30) is False
    assert storage.claims.claim("evt-1", owner="dead-process", lease_seconds=30) is False
    # The dead owner, waking up, finds at its next renewal that it lost the claim.
    assert storage.claims.renew(["evt-1"], owner="dead-process", lease_seconds=30) == ["evt-1"]


def test_the_sweep_takes_over_only_expired_claims_of_others_oldest_first(
    storage: Storage, clock: FakeClock
) -> None:
    storage.claims.claim("evt-old", owner="dead", message={"text": "a"}, lease_seconds=10)
    clock.advance(seconds=1)
    storage.claims.claim("evt-new", owner="dead", message={"text": "b"}, lease_seconds=10)
    storage.claims.claim("evt-live", owner="alive", lease_seconds=60)
    storage.claims.claim("evt-mine", owner="me", lease_seconds=5)
    storage.claims.claim("evt-done", owner="dead", lease_seconds=5)
    storage.claims.finish("evt-done")
    clock.advance(seconds=20)

    taken = storage.claims.take_over_expired(owner="me", lease_seconds=30)

    assert [(c.key, c.message["text"]) for c in taken] == [("evt-old", "a"), ("evt-new", "b")]
    # Mine had expired too, but an owner never takes over itself; to anyone else it is fair game.
    later = storage.claims.take_over_expired(owner="someone-else", lease_seconds=30)
    assert [c.key for c in later] == ["evt-mine"], "the two I took are leased to me now"
    assert storage.claims.get("evt-live").owner == "alive"


def test_a_sweep_takes_over_only_its_own_fronts_claims(storage: Storage) -> None:
    # An API request's claim is its client's to retry: Slack's recovery never answers it.
    storage.claims.claim("slack:T1:C1:1.1", owner="dead", lease_seconds=0)
    storage.claims.claim("api-request:k:idem", owner="dead", lease_seconds=0)

    taken = storage.claims.take_over_expired(owner="me", lease_seconds=30, prefix="slack:")

    assert [c.key for c in taken] == ["slack:T1:C1:1.1"]
    assert storage.claims.get("api-request:k:idem").owner == "dead"


def test_releasing_a_lease_hands_the_message_on_at_once(storage: Storage) -> None:
    storage.claims.claim("evt-1", owner="stopping", message={"text": "hi"}, lease_seconds=30)
    assert storage.claims.release(["evt-1"], owner="stopping") == 1
    [claim] = storage.claims.take_over_expired(owner="next", lease_seconds=30)
    assert claim.key == "evt-1" and claim.message == {"text": "hi"}


def test_finishing_drops_the_stored_text(storage: Storage) -> None:
    storage.claims.claim(
        "evt-1", owner="p1", message={"text": "my address is ..."}, lease_seconds=30
    )
    storage.claims.finish("evt-1")
    assert storage.claims.get("evt-1").message is None
    assert storage.claims.renew(["evt-1"], owner="p1", lease_seconds=30) == ["evt-1"], (
        "a finished key is not held"
    )


def test_status_of_an_unknown_key_is_none(storage: Storage) -> None:
    assert storage.claims.status("evt-unknown") is None


def test_finishing_an_unclaimed_key_records_it_as_done(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="storage.claims"):
        storage.claims.finish("evt-1")

    assert storage.claims.status("evt-1") == "done"
    assert storage.claims.claim("evt-1", owner="p1", lease_seconds=30) is False
    assert "never claimed" in caplog.text


def test_after_a_restart_finished_events_stay_done_and_unfinished_ones_are_taken_over(
    db_target, clock: FakeClock
) -> None:
    before = open_storage(db_target, clock=clock)
    before.claims.claim("evt-done", owner="run-1", lease_seconds=30)
    before.claims.finish("evt-done")
    before.claims.claim("evt-interrupted", owner="run-1", lease_seconds=30)
    before.close()  # the process dies mid-answer

    after = open_storage(db_target, clock=clock)
    assert after.claims.status("evt-done") == "done"
    assert after.claims.claim("evt-done", owner="run-2", lease_seconds=30) is False
    assert after.claims.status("evt-interrupted") == "claimed"
    assert after.claims.claim("evt-interrupted", owner="run-2", lease_seconds=30) is False
    clock.advance(seconds=31)  # run-1 never renews its lease again
    assert after.claims.claim("evt-interrupted", owner="run-2", lease_seconds=30) is True
    assert after.claims.claim("evt-interrupted", owner="run-2", lease_seconds=30) is False
    after.close()
