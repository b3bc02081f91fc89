"""A fake Shopify Admin GraphQL API (orders, query cost and throttling) for tests and bench."""

from fakes.shopify.data import PERSONAL_VALUES, sample_orders
from fakes.shopify.server import FakeShopify

__all__ = ["PERSONAL_VALUES", "FakeShopify", "sample_orders"]
