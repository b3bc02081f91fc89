"""Fixtures for the order sources: a fake Shopify and a fake shop endpoint on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.orders_endpoint import FakeOrdersEndpoint
from fakes.shopify import FakeShopify
from storage import Storage, open_storage


@pytest.fixture
def shop() -> Iterator[FakeShopify]:
    with FakeShopify() as fake:
        yield fake


@pytest.fixture
def endpoint() -> Iterator[FakeOrdersEndpoint]:
    with FakeOrdersEndpoint() as fake:
        yield fake


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    opened = open_storage(tmp_path / "orders.db")
    yield opened
    opened.close()
