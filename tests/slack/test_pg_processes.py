"""Three `shopmate serve` processes on one PostgreSQL database, as replicas on several hosts.

Real OS processes (`python -m bot serve`) with SHOPMATE_DATABASE_URL pointing at the test
session's PostgreSQL server; the strict fake Slack (its minute shortened, and the bots told
the same) and the fake Claude run in the test process, so what people would see is checked in
one place. Every event goes to every process, as a load balancer and Slack's re-sends deliver
it; each message must be answered exactly once, and the three together must stay under
Slack's limits because they share one call budget in the database. The thirty-people run
also runs on one SQLite file (processes on one host), whose budget is shared the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot import prompts
from fakes.claude import FakeClaude, Pace
from fakes.slack import FakeSlack, Message
from fakes.slack.events import mention_event, next_ts
from storage import Storage, open_storage, to_utc_iso, utc_now
from tests.conftest import SAMPLE_ORDERS
from tests.slack.conftest import CHANNEL, TEAM, USER, wait_until
from tests.slack.processes import WAIT, ShopMateProcess, environment
from tests.slack.test_processes import LEASES, SKIPPED, key_of, replies, start, wait_done

MINUTE_S = 12.0  # one Slack minute, compressed fivefold for the fake and the bots alike
PEOPLE = 30


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """The shared database's URL: PostgreSQL, unless a test is parametrized with "sqlite"."""
    if getattr(request, "param", "postgresql") == "sqlite":
        return "sqlite"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db(database: str, tmp_path: Path) -> Iterator[Storage]:
    """The shared database, opened by the test too (to look, and to load orders)."""
    storage = open_storage(tmp_path / "shared.db" if database == "sqlite" else database)
    storage.orders.upsert_many(SAMPLE_ORDERS)
    yield storage
    storage.close()


@pytest.fixture
def started() -> Iterator[list[ShopMateProcess]]:
    processes: list[ShopMateProcess] = []
    yield processes
    for process in processes:
        process.stop()


def pg_environment(db: Storage, url: str, tmp_path: Path, slack: FakeSlack, claude: FakeClaude):
    extra = {"SHOPMATE_SLACK_MINUTE_S": str(MINUTE_S), **LEASES}
    if url == "sqlite":  # one SQLite file on this host, for comparison
        return environment(Path(db.path), slack.api_url, claude.url, **extra)
    return environment(
        tmp_path / "no-sqlite-here.db",
        slack.api_url,
        claude.url,
        SHOPMATE_DATABASE_URL=url,
        **extra,
    )


def said(db: Storage, payload: dict) -> str:
    """What Claude wrote for the turn, as stored: the text the person must see."""
    return "\n\n".join(
        block["text"]
        for message in db.conversations.history(key_of(payload))
        if message["role"] == "assistant"
        for block in message["content"]
        if block.get("type") == "text"
    )


def assert_whole_and_once(db: Storage, shown: list[Message], payload: dict) -> None:
    expected = said(db, payload)
    assert expected, "Claude wrote something"
    assert "".join(m.text for m in shown) == expected, payload["event"]["text"]
    for message in shown:
        assert not message.streaming, f"{message.ts} left streaming"
        states = [v.text for v in message.history]
        assert all(b.startswith(a) for a, b in itertools.pairwise(states)), states


@pytest.mark.parametrize("database", ["postgresql", "sqlite"], indirect=True)
def test_three_processes_answer_thirty_people_once_each_without_a_429(
    tmp_path, database, db, started
):
    with (
        FakeSlack(team_id=TEAM, window_s=MINUTE_S) as slack,
        FakeClaude() as claude,
    ):
        env = pg_environment(db, database, tmp_path, slack, claude)
        three = start(started, env, tmp_path, "host-a", "host-b", "host-c")
        payloads = [
            mention_event(
                team=TEAM,
                channel=f"C{2000 + i % 6}",
                user=f"U{1000 + i}",
                text=f"Where is ORD-100{1 + i % 3}? (person {i})",
                ts=next_ts(),
            )
            for i in range(PEOPLE)
        ]
        deliveries = [(process, payload) for payload in payloads for process in three]
        with ThreadPoolExecutor(len(three) * 6) as pool:
            statuses = set(pool.map(lambda d: d[0].deliver(d[1]), deliveries))
        assert statuses == {200}

        for payload in payloads:
            wait_done(db, payload, timeout=120)
        # Every delivery was handled (won and answered, or skipped) before counting answers.
        assert wait_until(
            lambda: sum(p.count(SKIPPED) for p in three) >= len(deliveries) - PEOPLE,
            timeout=WAIT,
        )
        assert len(claude.requests) == PEOPLE, "one Claude call per message"
        for payload in payloads:
            assert_whole_and_once(db, replies(slack, payload), payload)
        assert slack.count_429 == 0, "three processes, one budget: no 429 provoked"
        assert sum(p.count(r"took over event") for p in three) == 0
    assert not (tmp_path / "no-sqlite-here.db").exists(), "PostgreSQL only, when it is set"


def test_a_process_killed_mid_answer_is_finished_by_another_host(tmp_path, database, db, started):
    with (
        FakeSlack(team_id=TEAM, window_s=MINUTE_S) as slack,
        FakeClaude(pace=Pace(tokens_per_s=4)) as claude,  # slow: the answer is mid-stream
    ):
        env = pg_environment(db, database, tmp_path, slack, claude)
        doomed, *others = start(started, env, tmp_path, "doomed", "host-b", "host-c")
        payload = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="hello")
        key = key_of(payload)
        assert doomed.deliver(payload) == 200
        assert slack.wait_for(
            lambda: any(m.streaming and m.text for m in replies(slack, payload)), timeout=WAIT
        )
        assert wait_until(lambda: db.claims.get(key).replies != ())
        doomed_owner = db.claims.get(key).owner
        doomed.kill()
        claude.pace = Pace()

        # A live host's recovery sweep finds it once the dead one's lease has run out.
        assert wait_until(lambda: db.claims.get(key).lease_until_utc < to_utc_iso(utc_now()))
        wait_done(db, payload)
        retired, answer = replies(slack, payload)
        assert (retired.text, retired.streaming) == (prompts.SUPERSEDED_NOTE, False)
        assert answer.text.startswith(prompts.DELAYED_NOTE) and not answer.streaming
        takers = [p for p in others if p.count(rf"took over event {key} from {doomed_owner}")]
        assert len(takers) == 1, "exactly one live host finished it"
        assert len(claude.requests) == 2
