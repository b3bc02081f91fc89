"""The order service: one source call per order per cache time, honest copies when the
source is down, a clear failure with no copy, and failures counted for `shopmate stats`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.orders.cache import OrderService, OrderUnavailable
from bot.orders.source import SourceUnavailable


class ScriptedSource:
    """A source told what to answer, counting its calls (`fail` makes it unavailable)."""

    name = "scripted"

    def __init__(self) -> None:
        self.calls = 0
        self.fail: str | None = None
        self.release = threading.Event()
        self.release.set()
        self.orders = {
            "ORD-1001": {
                "order_id": "ORD-1001",
                "status": "shipped",
                "item": "Wave Print Crop Tee",
                "email": "maya@example.net",
                "phone": "+447700900123",
            }
        }

    def lookup(self, order_id: str):
        self.calls += 1
        self.release.wait(10)
        if self.fail:
            raise SourceUnavailable(self.fail, "down")
        return self.orders.get(order_id)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)  # the storage stamps copies with the real time

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def source() -> ScriptedSource:
    return ScriptedSource()


def service(source, storage, *, ttl: float = 60.0, clock=None, allowed=()) -> OrderService:
    return OrderService(
        source,
        cache=storage.order_cache,
        cache_seconds=ttl,
        allowed_fields=allowed,
        clock=clock or (lambda: datetime.now(UTC)),
    )


def test_repeated_lookups_within_the_cache_time_ask_the_source_once(source, storage):
    orders = service(source, storage)
    assert orders.lookup("ORD-1001").order["status"] == "shipped"
    assert orders.lookup("ORD-1001").order["status"] == "shipped"
    assert orders.lookup("ORD-9999").order is None
    assert orders.lookup("ORD-9999").order is None
    assert source.calls == 2


def test_concurrent_lookups_of_one_order_share_one_source_call(source, storage):
    orders = service(source, storage)
    source.release.clear()
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(orders.lookup("ORD-1001"))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    source.release.set()
    for t in threads:
        t.join(timeout=10)
    assert len(results) == 6 and source.calls == 1


def test_after_the_cache_time_the_source_is_asked_again(source, storage):
    clock = Clock()
    orders = service(source, storage, ttl=60, clock=clock)
    orders.lookup("ORD-1001")
    clock.now += timedelta(seconds=61)
    source.orders["ORD-1001"]["status"] = "delivered"
    assert orders.lookup("ORD-1001").order["status"] == "delivered"
    assert source.calls == 2


def test_a_source_that_is_down_is_answered_from_the_last_copy_with_its_time(source, storage):
    orders = service(source, storage, ttl=0)
    first = orders.lookup("ORD-1001")
    assert first.as_of is None
    source.fail = "timeout"
    later = orders.lookup("ORD-1001")
    assert later.order["status"] == "shipped"
    assert later.as_of is not None
    assert abs((datetime.now(UTC) - later.as_of).total_seconds()) < 60
    [row] = storage.order_cache.failure_report(datetime.now(UTC) - timedelta(hours=1))
    assert (row["source"], row["kind"], row["served"], row["failures"]) == (
        "scripted",
        "timeout",
        "copy",
        1,
    )


def test_with_no_copy_the_order_system_is_unavailable(source, storage):
    orders = service(source, storage)
    source.fail = "throttled"
    with pytest.raises(OrderUnavailable):
        orders.lookup("ORD-1001")
    # A remembered "no such order" is not served late either: the order may exist by now.
    source.fail = None
    fresh = service(source, storage, ttl=0)
    assert fresh.lookup("ORD-5555").order is None
    source.fail = "error"
    with pytest.raises(OrderUnavailable):
        fresh.lookup("ORD-5555")
    served = {r["served"] for r in storage.order_cache.failure_report("2000")}
    assert served == {"none"}


def test_personal_fields_are_never_kept_unless_allowed(source, storage):
    orders = service(source, storage)
    order = orders.lookup("ORD-1001").order
    assert "email" not in order and "phone" not in order
    assert "email" not in storage.order_cache.get("scripted", "ORD-1001").order
    allowing = OrderService(
        source, cache=None, allowed_fields=("email",), clock=lambda: datetime.now(UTC)
    )
    order = allowing.lookup("ORD-1001").order
    assert order["email"] == "maya@example.net" and "phone" not in order


def test_an_unforeseen_error_in_a_source_is_a_failure_not_a_traceback(storage):
    class Broken:
        name = "broken"

        def lookup(self, order_id):
            raise KeyError("displayFulfillmentStatus")

    with pytest.raises(OrderUnavailable) as failure:
        service(Broken(), storage).lookup("ORD-1001")
    assert failure.value.kind == "error"
