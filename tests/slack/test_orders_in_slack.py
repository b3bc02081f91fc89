"""Orders from the shop's own system, end to end: Slack event -> Bolt -> engine -> order
source (the fake Shopify or a shop's endpoint over loopback) -> fake Claude -> Slack reply.

Every test here also checks, on the way out, that no request the fake Claude received (and
nothing stored in the history) carries the shop's customer email, phone or address.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from bot.wiring import build_services
from fakes.claude import FakeClaude
from fakes.orders_endpoint import MAPPING, FakeOrdersEndpoint
from fakes.orders_endpoint import PERSONAL_VALUES as ENDPOINT_PERSONAL_VALUES
from fakes.shopify import PERSONAL_VALUES, FakeShopify
from tests.slack.conftest import Harness, start_harness

UNAVAILABLE = "I couldn't reach our order system just now"
NOT_FOUND = "I can't find an order with that number"


@pytest.fixture
def shop() -> Iterator[FakeShopify]:
    with FakeShopify() as fake:
        yield fake


@pytest.fixture
def endpoint() -> Iterator[FakeOrdersEndpoint]:
    with FakeOrdersEndpoint() as fake:
        yield fake


@pytest.fixture
def start(settings, claude_client, fake_slack, fake_claude) -> Iterator[Callable[..., Harness]]:
    """Starts ShopMate with the given settings changes; stops it and checks for personal data."""
    started: list[Harness] = []

    def _start(**changes) -> Harness:
        services = build_services(replace(settings, **changes), client=claude_client)
        harness = start_harness(services, fake_slack, fake_claude)
        started.append(harness)
        return harness

    yield _start
    for harness in started:
        harness.server.stop()
        harness.services.close()
    assert_no_personal_data(fake_claude, settings.db_path)


def assert_no_personal_data(claude: FakeClaude, db_path) -> None:
    personal = (*PERSONAL_VALUES, *ENDPOINT_PERSONAL_VALUES)
    assert claude.requests, "the fake Claude was never asked"
    for request in claude.requests:
        sent = json.dumps(request.body, ensure_ascii=False)
        leaked = [value for value in personal if value in sent]
        assert not leaked, f"personal data sent to Claude: {leaked}"
    with sqlite3.connect(db_path) as db:
        stored = " ".join(row[0] for row in db.execute("select content_json from messages"))
        cached = " ".join(row[0] or "" for row in db.execute("select order_json from order_cache"))
    for value in personal:
        assert value not in stored and value not in cached, f"{value!r} stored"


@pytest.fixture
def shopify(start, shop) -> Harness:
    return start(order_source="shopify", shopify_api_url=shop.url, shopify_admin_token=shop.token)


def ask(harness: Harness, text: str, thread_ts: str | None = None) -> str:
    payload = harness.say_in_thread(text, thread_ts) if thread_ts else harness.mention(text)
    harness.wait_answered(payload)
    return harness.reply_text(payload)


def test_a_pasted_id_is_answered_from_the_shop_with_the_carriers_link(shopify, shop):
    text = ask(shopify, "Where is ORD-1001?")
    assert "Wave Print Crop Tee (M, Sage)" in text
    assert "https://track.dpd.co.uk/parcels/15501234567890" in text and "DPD" in text
    assert "royalmail" not in text
    assert shop.order_queries == 1


def test_an_order_with_two_parcels_names_each_carrier(shopify):
    text = ask(shopify, "ORD-1002 please")
    # The latest parcel, with the link Shopify gave (Royal Mail is one carrier among several).
    assert "https://www.royalmail.com/track-your-item#/tracking-results/RM493827651GB" in text


def test_an_unknown_order_is_said_to_be_unknown(shopify, shop):
    assert NOT_FOUND in ask(shopify, "What about ORD-9999?")
    assert shop.order_queries == 1


def test_a_throttled_shop_is_answered_once_its_bucket_refills(shopify, shop):
    shop.set_bucket(maximum=1000, restore_rate=1000, available=0)  # ~0.3 s to refill
    text = ask(shopify, "Where is ORD-1001?")
    assert "https://track.dpd.co.uk/parcels/15501234567890" in text
    assert shop.throttled >= 1


def test_a_shop_that_is_down_is_answered_from_the_last_copy_with_its_age(start, shop):
    harness = start(
        order_source="shopify",
        shopify_api_url=shop.url,
        shopify_admin_token=shop.token,
        order_cache_seconds=0,  # every lookup asks the shop; the copy is only a fallback
    )
    first = harness.mention("Where is ORD-1001?")
    harness.wait_answered(first)
    assert "As of" not in harness.reply_text(first)
    with shop.down(500):
        text = ask(harness, "Any news on ORD-1001?", first["event"]["ts"])
    assert "https://track.dpd.co.uk/parcels/15501234567890" in text
    assert re.search(r"As of \d\d:\d\d UTC: our order system isn't answering", text)
    assert harness.services.storage.order_cache.failure_report("2000")[0]["served"] == "copy"


def test_a_shop_that_is_down_with_no_copy_gets_a_clear_answer(shopify, shop):
    with shop.down(500):
        text = ask(shopify, "Where is ORD-1001?")
    assert UNAVAILABLE in text
    assert "Traceback" not in text and "500" not in text


def test_a_slow_shop_is_bounded_by_the_timeout(start, shop):
    harness = start(
        order_source="shopify",
        shopify_api_url=shop.url,
        shopify_admin_token=shop.token,
        order_timeout_seconds=0.3,
    )
    shop.delay = 10.0
    assert UNAVAILABLE in ask(harness, "Where is ORD-1001?")
    [row] = harness.services.storage.order_cache.failure_report("2000")
    assert row["kind"] == "timeout"


def test_a_threads_repeated_lookups_ask_the_shop_once(shopify, shop):
    first = shopify.mention("Where is ORD-1001?")
    shopify.wait_answered(first)
    thread = first["event"]["ts"]
    ask(shopify, "Sorry, ORD-1001 again: when does it arrive?", thread)
    ask(shopify, "And is ORD-1001 with DPD?", thread)
    assert shop.order_queries == 1


def test_no_customer_details_reach_claude_for_any_kind_of_order(shopify, fake_claude):
    text = ask(shopify, "ORD-1001, ORD-1002, ORD-1003, ORD-1004, ORD-1005")
    assert "ORD-1004" in text
    # The teardown checks every request; this test makes sure they held real orders.
    sent = json.dumps([r.body for r in fake_claude.requests])
    assert "Cancelled before dispatch" in sent and "UPS" in sent


def test_the_http_source_reads_the_shops_endpoint_through_its_mapping(start, endpoint):
    harness = start(
        order_source="http",
        orders_url=endpoint.url_template,
        orders_token=endpoint.token,
        orders_mapping=MAPPING,
    )
    text = ask(harness, "Where is ORD-2001?")
    assert "Organic Crew Tee (L, Navy)" in text
    assert "https://www.evri.com/track/parcel/H01HYA0099887766" in text
    assert NOT_FOUND in ask(harness, "And ORD-2999?")
    assert endpoint.calls == 2
