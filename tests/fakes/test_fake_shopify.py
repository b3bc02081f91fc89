"""The fake Shopify answers as Shopify does: schema errors, query cost, throttling, auth."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from fakes.shopify import FakeShopify

ORDER = """query One($query: String!) {
  orders(first: 1, query: $query) {
    edges { node { name lineItems(first: 5) { nodes { title } } } }
  }
}"""


@pytest.fixture
def shop() -> Iterator[FakeShopify]:
    with FakeShopify(maximum_available=100, restore_rate=10) as fake:
        yield fake


def post(shop: FakeShopify, query: str, variables=None, *, token=None, version="2026-10"):
    response = httpx2.post(
        f"{shop.url}/admin/api/{version}/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token or shop.token},
        timeout=5,
    )
    return response.status_code, response.json()


def test_a_query_is_answered_with_its_cost_and_the_buckets_state(shop):
    status, body = post(shop, ORDER, {"query": "name:#1002"})
    assert status == 200
    [edge] = body["data"]["orders"]["edges"]
    assert edge["node"]["name"] == "#1002"
    assert [n["title"] for n in edge["node"]["lineItems"]["nodes"]] == [
        "Organic Crew Tee",
        "Wave Print Crop Tee",
    ]
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 1 * (1 + 2 + 5 * 1)
    assert cost["actualQueryCost"] < cost["requestedQueryCost"]
    assert cost["throttleStatus"]["maximumAvailable"] == 100.0
    assert cost["throttleStatus"]["restoreRate"] == 10.0


def test_a_field_outside_the_schema_is_refused_like_shopify(shop):
    status, body = post(shop, "{ orders(first: 1) { nodes { nmae customer { emial } } } }")
    assert status == 200 and "data" not in body
    messages = [e["message"] for e in body["errors"]]
    assert messages == [
        "Field 'nmae' doesn't exist on type 'Order'",
        "Field 'emial' doesn't exist on type 'Customer'",
    ]
    assert body["errors"][0]["path"] == ["query", "orders", "nodes", "nmae"]


def test_objects_need_selections_and_connections_need_first(shop):
    _, body = post(shop, "{ orders(first: 1) { nodes { customer } } }")
    assert "Field must have selections" in body["errors"][0]["message"]
    _, body = post(shop, "{ orders { nodes { name } } }")
    assert body["errors"][0]["message"] == "you must provide one of first or last"
    _, body = post(shop, "{ orders(first: 1) { nodes { name { x } } } }")
    assert "Selections can't be made on scalars" in body["errors"][0]["message"]


def test_a_query_the_bucket_cannot_afford_is_throttled_with_its_cost(shop):
    shop.set_bucket(available=5)
    _, body = post(shop, ORDER, {"query": "name:#1001"})
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    cost = body["extensions"]["cost"]
    assert cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["currentlyAvailable"] < cost["requestedQueryCost"]
    assert shop.throttled == 1


def test_the_token_and_the_path_are_checked(shop):
    status, body = post(shop, ORDER, {"query": "name:#1001"}, token="shpat_wrong")
    assert status == 401 and "Invalid API key or access token" in body["errors"]
    status, _ = post(shop, ORDER, {"query": "name:#1001"}, version="latest")
    assert status == 404


def test_a_syntax_error_and_a_missing_variable_are_errors(shop):
    _, body = post(shop, "{ orders(first: 1) { nodes { name }")
    assert body["errors"][0]["message"].startswith("Parse error")
    _, body = post(shop, ORDER)
    assert "was provided invalid value" in body["errors"][0]["message"]


def test_the_shop_can_be_made_to_fail(shop):
    with shop.down(503):
        status, _ = post(shop, ORDER, {"query": "name:#1001"})
    assert status == 503
