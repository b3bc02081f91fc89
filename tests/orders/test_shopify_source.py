"""The Shopify source against the fake Admin GraphQL API: fields, names, limits, failures."""

from __future__ import annotations

import threading

import pytest

from bot.orders.shopify import ShopifySource, order_query
from bot.orders.source import SourceUnavailable
from fakes.shopify import FakeShopify


def source_for(shop: FakeShopify, **options) -> ShopifySource:
    options.setdefault("timeout", 3.0)
    return ShopifySource(shop="", token=shop.token, api_url=shop.url, **options)


def test_an_order_is_found_by_its_name_with_items_parcels_and_the_carrier_link(shop):
    order = source_for(shop).lookup("ORD-1001")
    assert order is not None
    assert order["status"] == "shipped"
    assert order["item"] == "Wave Print Crop Tee (M, Sage)"
    assert order["items"] == [
        {"title": "Wave Print Crop Tee", "quantity": 1, "size": "M", "colour": "Sage"}
    ]
    assert order["carrier"] == "DPD" and order["tracking"] == "15501234567890"
    # Shopify gave no URL for this parcel: the link is DPD's, built from the carrier's name.
    assert order["track_url"] == "https://track.dpd.co.uk/parcels/15501234567890"
    assert order["eta"] == "2026-12-08"
    assert shop.requests[-1]["variables"] == {"query": 'name:"#1001"'}


def test_every_parcel_is_read_and_a_link_the_shop_gives_wins(shop):
    order = source_for(shop).lookup("ORD-1002")
    [evri, royal_mail] = order["shipments"]
    assert evri["carrier"] == "Evri" and evri["delivered"] == "2026-12-03"
    assert evri["track_url"] == "https://www.evri.com/track/parcel/H01HYA0012345678"
    assert royal_mail["track_url"].startswith("https://www.royalmail.com/track-your-item")
    assert order["status"] == "shipped"  # one parcel still on its way
    assert order["eta"] == "2026-12-09"
    assert order["item"] == "Organic Crew Tee (L, Navy) ×2; Wave Print Crop Tee (S, Sand)"


def test_cancellations_refunds_and_cancelled_labels(shop):
    source = source_for(shop)
    cancelled = source.lookup("ORD-1004")
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled"] == {"at": "2026-12-02", "reason": "customer"}
    assert cancelled["refunds"] == [
        {"at": "2026-12-02", "amount": "28.00 GBP", "note": "Cancelled before dispatch"}
    ]
    returned = source.lookup("ORD-1005")
    assert returned["status"] == "delivered" and returned["payment"] == "partially refunded"
    partly = source.lookup("ORD-1006")
    assert partly["status"] == "partly shipped"
    # The cancelled DHL label is not a parcel; Parcelforce's name is tidied.
    assert [s["carrier"] for s in partly["shipments"]] == ["Parcelforce"]


def test_an_unknown_order_is_none_and_the_name_format_is_a_setting(shop):
    assert source_for(shop).lookup("ORD-9999") is None
    shop.order("#1003")["name"] = "ORD-1003"  # a shop that names its orders like ShopMate
    assert source_for(shop).lookup("ORD-1003") is None
    by_id = source_for(shop, order_name_format="{id}")
    assert by_id.lookup("ORD-1003")["status"] == "processing"


def test_no_personal_field_is_asked_for_unless_allowed(shop):
    query = order_query()
    for field in ("email", "phone", "shippingAddress", "customer", "billingAddress"):
        assert field not in query
    order = source_for(shop).lookup("ORD-1001")
    assert not {"email", "phone", "shipping_address", "customer_name"} & set(order)
    allowed = source_for(shop, allowed_fields=("email", "shipping_address"))
    order = allowed.lookup("ORD-1001")
    assert order["email"] == "maya.okafor@example.net"
    assert order["shipping_address"] == "14 Elmwood Terrace, Flat 2, Leeds, LS6 2QJ, GB"
    assert "phone" not in order


def test_a_misspelt_field_fails_as_it_would_on_shopify(shop):
    source = source_for(shop)
    source._query = source._query.replace("displayFinancialStatus", "displayFinancialState")
    with pytest.raises(SourceUnavailable) as failure:
        source.lookup("ORD-1001")
    assert failure.value.kind == "error"
    assert "Field 'displayFinancialState' doesn't exist on type 'Order'" in failure.value.message


def test_a_throttled_query_waits_for_the_points_it_lacks_and_is_answered(shop):
    shop.set_bucket(maximum=1000, restore_rate=1000, available=0)
    order = source_for(shop).lookup("ORD-1001")
    assert order["status"] == "shipped"
    assert shop.throttled == 1  # refused once, then answered once the bucket had refilled


def test_throttled_past_the_bound_is_unavailable_without_waiting_it_out(shop):
    shop.set_bucket(maximum=1000, restore_rate=10, available=0)  # 28 s to refill: past 3 s
    with pytest.raises(SourceUnavailable) as failure:
        source_for(shop).lookup("ORD-1001")
    assert failure.value.kind == "throttled"
    assert shop.order_queries == 1  # no retry it could not afford


def test_a_busy_thread_waits_its_turn_instead_of_bursting(shop):
    # Room for two queries at once; refills one query's worth in about 0.3 s.
    shop.set_bucket(maximum=600, restore_rate=1000)
    source = source_for(shop, timeout=10.0)
    found: list[str] = []

    def ask(number: int) -> None:
        found.append(source.lookup(f"ORD-{number}")["status"])

    threads = [threading.Thread(target=ask, args=(1001 + i % 6,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(found) == 8
    assert shop.throttled == 0


@pytest.mark.parametrize("status", [500, 503])
def test_a_failing_shop_is_unavailable(shop, status):
    with shop.down(status), pytest.raises(SourceUnavailable) as failure:
        source_for(shop).lookup("ORD-1001")
    assert failure.value.kind == "error"


def test_a_slow_shop_times_out_within_the_bound(shop):
    shop.delay = 5.0
    with pytest.raises(SourceUnavailable) as failure:
        source_for(shop, timeout=0.3).lookup("ORD-1001")
    assert failure.value.kind == "timeout"


def test_a_wrong_token_is_an_auth_failure(shop):
    source = ShopifySource(shop="", token="shpat_wrong", api_url=shop.url, timeout=3.0)
    with pytest.raises(SourceUnavailable) as failure:
        source.lookup("ORD-1001")
    assert failure.value.kind == "auth"


def test_the_check_reads_the_granted_scopes(shop):
    assert source_for(shop).check() == {"shop": "ThreadCo", "scopes": ["read_orders"]}


def test_a_dev_dashboard_app_asks_for_its_token_and_a_new_one_when_refused(shop):
    source = ShopifySource(
        shop="",
        api_url=shop.url,
        client_id=shop.client_id,
        client_secret=shop.client_secret,
        timeout=3.0,
    )
    assert source.lookup("ORD-1001")["status"] == "shipped"
    assert source.lookup("ORD-1003")["status"] == "processing"
    assert shop.issued == ["shpat_issued_1"]  # asked once, reused
    shop.expire_tokens()
    assert source.lookup("ORD-1001")["status"] == "shipped"
    assert shop.issued == ["shpat_issued_2"]


def test_wrong_client_credentials_are_an_auth_failure(shop):
    source = ShopifySource(
        shop="", api_url=shop.url, client_id=shop.client_id, client_secret="wrong", timeout=3.0
    )
    with pytest.raises(SourceUnavailable) as failure:
        source.lookup("ORD-1001")
    assert failure.value.kind == "auth" and "SHOPIFY_CLIENT_ID" in failure.value.message
