"""Several `shopmate serve` processes on one database: crashes, replicas, rolling restarts.

Every process here is a real OS process (`python -m bot serve`), killed with SIGKILL where a
crash is meant; the fake Slack and fake Claude run in the test process, so what a user would
see is checked in one place however many processes answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot import prompts
from fakes.claude import FakeClaude, Pace, ScriptedModel
from fakes.slack import FakeSlack, Message
from fakes.slack.events import mention_event
from storage import Storage, open_storage, to_utc_iso, utc_now
from tests.conftest import SAMPLE_ORDERS
from tests.slack.conftest import CHANNEL, TEAM, USER, wait_until
from tests.slack.processes import WAIT, GatedModel, ShopMateProcess, environment

# Leases short enough to expire within the test, long enough that a loaded machine never
# misses a renewal (renewed ten times per lease).
LEASES = {
    "SHOPMATE_CLAIM_LEASE": "3",
    "SHOPMATE_LEASE_RENEW": "0.3",
    "SHOPMATE_RECOVERY_INTERVAL": "0.3",
}
SKIPPED = r"Already answered or answering \S+; skipping"
SWEPT = r"Recovery sweep took over \d+ unfinished"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Storage]:
    """The shared database, opened by the test process too (to look, and to load orders)."""
    storage = open_storage(tmp_path / "shared.db")
    storage.orders.upsert_many(SAMPLE_ORDERS)
    yield storage
    storage.close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(team_id=TEAM) as fake:
        yield fake


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[ShopMateProcess]]:
    """Processes a test starts, stopped (or reaped) at the end whatever happened."""
    processes: list[ShopMateProcess] = []
    yield processes
    for process in processes:
        process.stop()


def start(started: list[ShopMateProcess], env: dict[str, str], cwd: Path, *names: str):
    """Start one process per name at once; return them once all listen."""
    processes = [ShopMateProcess.serve(env, cwd, name) for name in names]
    started.extend(processes)
    return [process.ready() for process in processes]


def key_of(payload: dict) -> str:
    return f"slack:{TEAM}:{payload['event']['channel']}:{payload['event']['ts']}"


def replies(slack: FakeSlack, payload: dict) -> list[Message]:
    event = payload["event"]
    return slack.messages(event["channel"], event.get("thread_ts") or event["ts"])


def scripted_answer(claude: FakeClaude, request_index: int) -> str:
    """What the scripted model said to one recorded request (it is deterministic)."""
    return ScriptedModel().respond(claude.requests[request_index].body).text


def wait_done(db: Storage, payload: dict, timeout: float = WAIT) -> None:
    key = key_of(payload)
    assert wait_until(lambda: db.claims.status(key) == "done", timeout), f"{key} never finished"


def lease_ran_out(db: Storage, key: str) -> bool:
    claim = db.claims.get(key)
    return claim is not None and claim.lease_until_utc < to_utc_iso(utc_now())


def test_a_process_killed_mid_answer_is_answered_by_the_next_from_the_stored_text(
    tmp_path, db, slack, started
):
    with FakeClaude(pace=Pace(tokens_per_s=4)) as claude:  # slow: the answer is mid-stream
        env = environment(Path(db.path), slack.api_url, claude.url, **LEASES)
        [first] = start(started, env, tmp_path, "first")
        payload = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="hello")
        key = key_of(payload)
        assert first.deliver(payload) == 200
        # Mid-answer: a few words are showing, and that message is recorded with the claim.
        assert slack.wait_for(
            lambda: any(m.streaming and m.text for m in replies(slack, payload)), timeout=WAIT
        )
        assert wait_until(lambda: db.claims.get(key).replies != ())
        first.kill()
        [half] = replies(slack, payload)
        assert half.streaming, "the dead process left its answer half-shown"

        claude.pace = Pace()
        # The next process starts once the dead one's lease has run out: start-up recovery.
        assert wait_until(lambda: lease_ran_out(db, key))
        [second] = start(started, env, tmp_path, "second")
        wait_done(db, payload)

        retired, answer = replies(slack, payload)
        assert (retired.ts, retired.text, retired.streaming) == (
            half.ts,
            prompts.SUPERSEDED_NOTE,
            False,
        ), "the half-shown answer is stopped and marked as interrupted"
        assert not answer.streaming
        assert answer.text == f"{prompts.DELAYED_NOTE}\n\n{scripted_answer(claude, 1)}"
        assert len(claude.requests) == 2, "the dead process's call, and the one that answered"
        assert second.count(rf"took over event {key} from") == 1
        assert db.claims.get(key).message is None, "the stored text is dropped once answered"


def test_a_live_process_takes_over_a_dead_ones_message_once_its_lease_ran_out(
    tmp_path, db, slack, started
):
    gated = GatedModel()
    with FakeClaude(model=gated) as claude:
        env = environment(Path(db.path), slack.api_url, claude.url, **LEASES)
        doomed, survivor = start(started, env, tmp_path, "doomed", "survivor")
        payload = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="Where is ORD-1001?")
        key = key_of(payload)
        assert doomed.deliver(payload) == 200
        assert claude.wait_for_requests(1, timeout=WAIT), "doomed never started answering"
        doomed_owner = db.claims.get(key).owner
        doomed.kill()
        gated.release()

        # The survivor's periodic sweep, not a start-up, finds it after the lease ran out.
        wait_done(db, payload)
        # The doomed process may have shown the found fact (facts come before Claude's first
        # word); the survivor stops that message and marks it, then answers in full.
        *retired, answer = replies(slack, payload)
        assert [(m.text, m.streaming) for m in retired] == [(prompts.SUPERSEDED_NOTE, False)] * len(
            retired
        )
        assert answer.text.startswith(prompts.DELAYED_NOTE) and "RM493827651GB" in answer.text
        assert survivor.count(rf"took over event {key} from {doomed_owner}") == 1


def test_two_processes_receiving_the_same_events_answer_each_message_once(
    tmp_path, db, slack, started
):
    with FakeClaude() as claude:
        env = environment(Path(db.path), slack.api_url, claude.url, **LEASES)
        pair = start(started, env, tmp_path, "a", "b")
        payloads = [
            mention_event(team=TEAM, channel=f"C{n:04d}", user=USER, text="hello") for n in range(8)
        ]
        # Each delivery goes to both processes, and Slack re-sends each once more, to both:
        # four deliveries of every message, raced against each other.
        deliveries = [
            (process, payload, retry)
            for payload in payloads
            for retry in (None, 1)
            for process in pair
        ]

        def send(delivery: tuple[ShopMateProcess, dict, int | None]) -> int:
            process, payload, retry = delivery
            return process.deliver(payload, retry_num=retry)

        with ThreadPoolExecutor(len(pair) * 2) as pool:
            assert set(pool.map(send, deliveries)) == {200}
        for payload in payloads:
            wait_done(db, payload)
        # Every delivery was handled: the one that won the claim asked Claude, the three
        # others logged that they skipped it. Only then is "nobody answered twice" meaningful.
        assert wait_until(
            lambda: sum(p.count(SKIPPED) for p in pair) + len(claude.requests) >= len(deliveries),
            timeout=WAIT,
        )
        assert len(claude.requests) == len(payloads), "one Claude call per message"
        assert sum(p.count(SKIPPED) for p in pair) == 3 * len(payloads)
        for payload in payloads:
            [answer] = replies(slack, payload)
            assert (
                not answer.streaming
                and answer.text
                == ScriptedModel()
                .respond({"messages": [{"role": "user", "content": "hello"}]})
                .text
            )


def test_a_rolling_restart_never_takes_over_a_live_processs_message(tmp_path, db, slack, started):
    gated = GatedModel()
    with FakeClaude(model=gated) as claude:
        env = environment(Path(db.path), slack.api_url, claude.url, **LEASES)
        [old] = start(started, env, tmp_path, "old")
        payload = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="hello")
        key = key_of(payload)
        assert old.deliver(payload) == 200
        assert claude.wait_for_requests(1, timeout=WAIT), "old never started answering"
        claim = db.claims.get(key)
        first_expiry = claim.lease_until_utc

        # The new process starts while the old one is still answering (a rolling deploy).
        [new] = start(started, {**env, "SHOPMATE_LOG_LEVEL": "DEBUG"}, tmp_path, "new")
        # Wait until the lease the old process took at first has run out, then until the new
        # one has swept three more times: without renewals, it would have taken over by now.
        assert wait_until(lambda: to_utc_iso(utc_now()) > first_expiry, timeout=WAIT)
        swept = new.count(SWEPT)
        assert new.wait_log(SWEPT, count=swept + 3), "the new process never swept"
        now = db.claims.get(key)
        assert now.owner == claim.owner and now.lease_until_utc > first_expiry, (
            "the old process kept renewing, and kept its message"
        )
        assert new.count("took over event") == 0

        gated.release()
        wait_done(db, payload)
        [answer] = replies(slack, payload)
        assert not answer.text.startswith(prompts.DELAYED_NOTE), "answered by its first owner"
        assert answer.text == scripted_answer(claude, 0)
        assert len(claude.requests) == 1
