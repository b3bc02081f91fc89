"""`shopmate doctor` beyond SQLite: a remote order source and a PostgreSQL database, each
checked by its own area's function and reported one line each, with the fix."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.shopify import FakeShopify
from storage import open_storage
from tests.doctor.conftest import SECRETS, Doctor, line


@pytest.fixture
def shop() -> Iterator[FakeShopify]:
    with FakeShopify() as fake:
        yield fake


def on_shopify(doctor: Doctor, shop: FakeShopify, token: str | None = None) -> None:
    doctor.env |= {
        "SHOPMATE_ORDER_SOURCE": "shopify",
        "SHOPIFY_API_URL": shop.url,
        "SHOPIFY_ADMIN_TOKEN": token or shop.token,
    }


def test_a_shopify_source_that_answers_is_checked_with_a_timed_lookup(doctor, shop):
    on_shopify(doctor, shop)
    result = doctor.run()
    assert result.returncode == 0, result.stdout
    orders = [text for text in result.stdout.splitlines() if text.split()[1:2] == ["orders"]]
    assert orders and all(text.startswith("ok") for text in orders), result.stdout
    # The table's "no orders stored" warning does not apply to a remote source.
    assert "no orders stored" not in result.stdout


def test_a_shopify_token_that_is_refused_is_a_problem_with_its_fix(doctor, shop):
    on_shopify(doctor, shop, token="shpat_doctor_wrong_7e6d5c")
    result = doctor.run()
    assert result.returncode == 1
    problems = [t for t in result.stdout.splitlines() if t.split()[:2] == ["problem", "orders"]]
    assert problems and "SHOPIFY_ADMIN_TOKEN" in result.stdout, result.stdout
    assert "shpat_doctor_wrong_7e6d5c" not in result.stdout + result.stderr
    assert not any(secret in result.stdout + result.stderr for secret in SECRETS)


def test_a_current_postgresql_database_is_all_ok(doctor, postgres_url):
    open_storage(postgres_url).close()  # migrated, as a first start leaves it
    doctor.env["SHOPMATE_DATABASE_URL"] = postgres_url
    result = doctor.run()
    assert result.returncode == 0, result.stdout
    assert "postgresql" in line(result, "ok", "storage", "database").lower()
    line(result, "ok", "storage", "schema")
    line(result, "ok", "storage", "clock")


def test_a_postgresql_database_with_pending_migrations_says_how_to_migrate(doctor, postgres_url):
    doctor.env["SHOPMATE_DATABASE_URL"] = postgres_url  # empty: nothing applied yet
    result = doctor.run()
    assert result.returncode == 1
    assert "shopmate db migrate" in line(result, "problem", "storage", "schema")
