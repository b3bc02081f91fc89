"""The `http` source: a shop's own endpoint, read through the documented mapping."""

from __future__ import annotations

import pytest

from bot.orders.http import HttpSource, parse_mapping, read_path
from bot.orders.source import SourceUnavailable
from fakes.orders_endpoint import MAPPING


def source_for(endpoint, **options) -> HttpSource:
    options.setdefault("token", endpoint.token)
    options.setdefault("mapping", parse_mapping(MAPPING))
    return HttpSource(url=endpoint.url_template, timeout=3.0, **options)


def test_the_mapping_reads_the_shops_own_field_names(endpoint):
    order = source_for(endpoint).lookup("ORD-2001")
    assert order == {
        "order_id": "ORD-2001",
        "status": "shipped",
        "item": "Organic Crew Tee (L, Navy)",
        "eta": "2026-12-09",
        "carrier": "Evri",
        "tracking": "H01HYA0099887766",
        # No link in the shop's answer: Evri's own page.
        "track_url": "https://www.evri.com/track/parcel/H01HYA0099887766",
        # Mapped, but only passed on if an operator allows them (bot/orders/cache.py drops them).
        "email": "priya.raman@example.com",
        "phone": "+447700900789",
    }


def test_404_means_no_such_order(endpoint):
    assert source_for(endpoint).lookup("ORD-9999") is None


def test_the_token_goes_as_a_bearer_token(endpoint):
    with pytest.raises(SourceUnavailable) as failure:
        source_for(endpoint, token="wrong").lookup("ORD-2001")
    assert failure.value.kind == "auth"


def test_a_failing_or_slow_endpoint_is_unavailable(endpoint):
    endpoint.fail_status = 502
    with pytest.raises(SourceUnavailable) as failure:
        source_for(endpoint).lookup("ORD-2001")
    assert failure.value.kind == "error"
    endpoint.fail_status = None
    endpoint.delay = 5.0
    slow = HttpSource(url=endpoint.url_template, token=endpoint.token, timeout=0.3)
    with pytest.raises(SourceUnavailable) as failure:
        slow.lookup("ORD-2001")
    assert failure.value.kind == "timeout"


def test_the_default_mapping_reads_shopmates_own_names():
    source = HttpSource(url="http://127.0.0.1:9/orders/{order_id}")
    document = {"status": "Processing", "item": "Tee", "eta": "2 Apr", "customer": {"x": 1}}
    assert source.order_from("ORD-1", document) == {
        "order_id": "ORD-1",
        "status": "processing",
        "item": "Tee",
        "eta": "2 Apr",
    }


def test_a_bad_mapping_is_refused_with_the_entry_named():
    with pytest.raises(ValueError, match="'colour' is not one of"):
        parse_mapping("colour=order.colour")
    with pytest.raises(ValueError, match="not field=path"):
        parse_mapping("status")
    assert read_path({"a": [{"b": 2}]}, "a.0.b") == 2
    assert read_path({"a": []}, "a.0.b") is None
