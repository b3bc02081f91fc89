"""A dead process loses no message: what it accepted is answered from the stored text, once.

These run the recovery in one process against claims a "dead run" left in the database; the
same paths across real OS processes (SIGKILL, two `serve` processes, a rolling restart) are in
tests/slack/test_processes.py.
"""

from __future__ import annotations

import logging

import pytest

from bot import prompts
from bot.slack.incoming import parse_event
from bot.slack.responder import MAX_ATTEMPTS
from bot.slack.server import start_up
from fakes.slack.events import mention_event, next_ts
from tests.slack.conftest import CHANNEL, TEAM, USER, wait_until
from tests.slack.processes import GatedModel
from tests.trust.conftest import slack_client, thread_key


def event_key(payload: dict) -> str:
    return f"slack:{TEAM}:{payload['event']['channel']}:{payload['event']['ts']}"


def leave_claimed(app, payload: dict, *, owner: str = "dead-run", lease: float = 0.0, **kw):
    """Claim `payload` as a process that then died would have: text stored, lease `lease` s."""
    incoming = parse_event(payload["event"], team=TEAM, bot_user_id="UBOT")
    assert incoming is not None
    return app.services.storage.claims.claim_message(
        event_key(payload),
        owner=owner,
        thread_key=thread_key(payload),
        message=kw.pop("message", incoming.to_stored()),
        lease_seconds=lease,
    )


def skipped(caplog: pytest.LogCaptureFixture, payload: dict) -> bool:
    """The listener ran for this delivery and decided not to answer it (the log says so)."""
    return f"Already answered or answering {event_key(payload)}; skipping" in caplog.text


def test_a_message_a_dead_process_accepted_is_answered_from_its_stored_text(make_app, caplog):
    app = make_app()
    lost = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="Where is ORD-1001?")
    leave_claimed(app, lost)  # its lease has already run out: nobody renews it
    done = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="old")
    leave_claimed(app, done)
    app.services.storage.claims.finish(event_key(done))
    responder = app.responder

    start_up(app.services, responder, slack_client(app.services, app.slack)).stop()
    try:
        app.wait_answered(lost)
        [answer] = app.replies(lost)
        assert answer.text.startswith(prompts.DELAYED_NOTE), "it says the answer was delayed"
        assert "RM493827651GB" in answer.text, "and answers what was asked, not 'ask again'"
        assert app.replies(done) == [], "finished work is left alone"
        assert app.services.storage.claims.get(event_key(lost)).message is None, (
            "the stored text is dropped once answered"
        )

        # Slack re-sending it now, or another sweep, adds nothing.
        asked = len(app.claude.requests)
        with caplog.at_level(logging.INFO, logger="bot.slack.responder"):
            assert app.deliver(lost, retry_num=1, retry_reason="http_timeout") == 200
            assert wait_until(lambda: skipped(caplog, lost)), "the re-delivery was never handled"
        assert responder.recover_unfinished(slack_client(app.services, app.slack)) == 0
        assert len(app.replies(lost)) == 1 and len(app.claude.requests) == asked

        follow_up = app.mention("And ORD-1002?", thread_ts=lost["event"]["ts"])
        app.wait_answered(follow_up)
        assert len(app.replies(follow_up)) == 2, "the thread carries on normally"
    finally:
        responder.stop()


@pytest.mark.parametrize("stream_left_open", [True, False], ids=["mid-stream", "complete"])
def test_a_shown_answer_is_marked_interrupted_and_the_full_answer_follows(
    make_app, stream_left_open
):
    # Mid-stream: the owner died while answering. Complete: it died after the last word went
    # out but before it marked the message done; re-answering is then the safe side.
    app = make_app()
    lost = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="Where is ORD-1001?")
    leave_claimed(app, lost)
    # The dead run had started a native stream and shown a few words, then died.
    client = slack_client(app.services, app.slack)
    stream = client.chat_startStream(
        channel=CHANNEL,
        thread_ts=lost["event"]["ts"],
        recipient_team_id=TEAM,
        recipient_user_id=USER,
        markdown_text="Your order ORD-1001 is",
    )
    app.services.storage.claims.record_reply(event_key(lost), stream["ts"])
    if not stream_left_open:
        client.chat_stopStream(channel=CHANNEL, ts=stream["ts"], markdown_text=" on its way.")

    app.responder.recover_unfinished(client)
    app.wait_answered(lost)

    first, second = app.replies(lost)
    assert (first.ts, first.text, first.streaming) == (
        stream["ts"],
        prompts.SUPERSEDED_NOTE,
        False,
    ), "the dead run's message is stopped and marked as interrupted"
    assert second.text.startswith(prompts.DELAYED_NOTE) and "RM493827651GB" in second.text


def test_a_process_that_lost_its_claim_while_stalled_stops_answering(make_app, caplog):
    app = make_app({"SHOPMATE_CLAIM_LEASE": "1", "SHOPMATE_LEASE_RENEW": "0.5"})
    gated = app.claude.model = GatedModel()  # Claude holds the answer until released
    events = app.services.storage.claims
    with caplog.at_level(logging.INFO):
        mention = app.mention("Where is ORD-1001?")
        key = event_key(mention)
        assert app.claude.wait_for_requests(1, timeout=15)
        # No heartbeat runs here (the app was not started): the lease runs out, as it would
        # for a stalled process, and another process takes the message over.
        assert wait_until(
            lambda: bool(events.take_over_expired(owner="other-process", lease_seconds=30))
        )
        assert app.responder.leases.renew() == [key], "the next renewal finds it lost"
        gated.release()
        assert wait_until(lambda: f"Stopped answering {key}" in caplog.text, timeout=15)
    # The found fact goes out before Claude is asked (facts first), recorded with the claim
    # so the process that took over retires it; not a word of the answer follows it.
    shown = app.replies(mention)
    assert [m.text for m in shown] == [""] * len(shown), "nothing of the answer reached the thread"
    claim = events.get(key)
    recorded = claim.replies if claim else ()
    assert {m.ts for m in shown} <= set(recorded), "what was shown is the successor's to retire"
    assert (claim.owner, claim.status) == ("other-process", "claimed"), "left to it"


def test_a_live_lease_is_left_to_its_owner(make_app):
    app = make_app()
    busy = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="Where is ORD-1001?")
    leave_claimed(app, busy, owner="other-live-process", lease=60)

    # take_over_expired decides synchronously: 0 means nothing was taken, nothing queued.
    assert app.responder.recover_unfinished(slack_client(app.services, app.slack)) == 0
    assert app.services.storage.claims.get(event_key(busy)).owner == "other-live-process"
    assert app.replies(busy) == [] and app.claude.requests == []


def test_a_claim_without_stored_text_gets_one_notice(make_app):
    app = make_app()
    # A claim written before leases existed (or by a run that could not store the text).
    old = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="Where is ORD-1001?")
    leave_claimed(app, old, message=None)

    assert app.responder.recover_unfinished(slack_client(app.services, app.slack)) == 1
    app.wait_answered(old)
    assert app.reply_text(old) == prompts.RESTARTED_NOTICE
    assert app.claude.requests == []


def test_a_message_that_keeps_killing_its_owner_is_given_up_with_a_notice(make_app):
    app = make_app()
    poison = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="Where is ORD-1001?")
    for n in range(MAX_ATTEMPTS):  # claimed, then cut short by each owner's death in turn
        leave_claimed(app, poison, owner=f"dead-run-{n}")

    assert app.responder.recover_unfinished(slack_client(app.services, app.slack)) == 1
    app.wait_answered(poison)
    assert app.reply_text(poison) == prompts.RESTARTED_NOTICE
    assert app.claude.requests == []


def test_a_re_delivered_message_that_keeps_killing_its_owner_is_given_up_too(make_app):
    app = make_app()
    poison = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="Where is ORD-1001?")
    for n in range(MAX_ATTEMPTS):
        leave_claimed(app, poison, owner=f"dead-run-{n}")

    assert app.deliver(poison, retry_num=1, retry_reason="http_timeout") == 200
    app.wait_answered(poison)
    assert app.reply_text(poison) == prompts.RESTARTED_NOTICE
    assert app.claude.requests == []


def test_a_re_delivery_after_the_owner_died_is_answered_once_with_the_delay_note(make_app):
    app = make_app()
    lost = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="Where is ORD-1001?")
    leave_claimed(app, lost)
    # The dead run never acknowledged it, so Slack re-sends it to the new process.
    assert app.deliver(lost, retry_num=1, retry_reason="http_timeout") == 200
    app.wait_answered(lost)
    [answer] = app.replies(lost)
    assert answer.text.startswith(prompts.DELAYED_NOTE) and "RM493827651GB" in answer.text
    assert app.responder.recover_unfinished(slack_client(app.services, app.slack)) == 0


def test_stopping_hands_unfinished_claims_on_without_waiting_for_their_lease(make_app):
    app = make_app()
    queued = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="Where is ORD-1001?")
    # This process accepted it (a 60 s lease) but stops before answering it.
    leave_claimed(app, queued, owner=app.responder.instance_id, lease=60)
    app.responder.leases.hold(event_key(queued))

    app.responder.stop(release=True)  # as a graceful shutdown does once nothing runs

    [claim] = app.services.storage.claims.take_over_expired(owner="next-process", lease_seconds=30)
    assert claim.key == event_key(queued) and claim.message is not None


def test_start_up_with_nothing_left_unfinished_posts_nothing(make_app):
    app = make_app()
    mention = app.mention("hello", thread_ts=next_ts())
    app.wait_answered(mention)
    before = len(app.slack.calls_to("chat.postMessage"))
    assert app.responder.recover_unfinished(slack_client(app.services, app.slack)) == 0
    assert len(app.slack.calls_to("chat.postMessage")) == before


def test_unfinished_lists_only_other_owners_open_claims(make_app):
    events = make_app().services.storage.claims
    events.claim("slack:T1:C1:1.1", owner="dead", thread_key="slack:T1:C1:1.1", lease_seconds=30)
    events.claim("slack:T1:C1:2.2", owner="dead", thread_key="slack:T1:C1:1.1", lease_seconds=30)
    events.finish("slack:T1:C1:2.2")
    events.claim("slack:T1:C1:3.3", owner="me", lease_seconds=30)
    assert [row["key"] for row in events.unfinished(exclude_owner="me")] == ["slack:T1:C1:1.1"]
    assert [row["key"] for row in events.unfinished(exclude_owner="dead")] == ["slack:T1:C1:3.3"]
