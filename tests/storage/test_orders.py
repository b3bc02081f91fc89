"""OrderStore: imports land whole or not at all; lookups are exact."""

from __future__ import annotations

import pytest

from storage import INTEGRITY_ERRORS, Storage

ORD_1001 = {
    "order_id": "ORD-1001",
    "status": "shipped",
    "item": "Sunset Gradient Tee (M, Orange)",
    "eta": "2 Apr",
    "tracking": "RM493827651GB",
}
ORD_1002 = {
    "order_id": "ORD-1002",
    "status": "processing",
    "item": "Wave Print Crop Tee (S, Slate)",
    "eta": None,
    "tracking": None,
}


def test_upsert_many_inserts_new_orders_and_get_returns_them(storage: Storage) -> None:
    assert storage.orders.upsert_many([ORD_1001, ORD_1002]) == {"inserted": 2, "updated": 0}

    assert storage.orders.get("ORD-1001") == ORD_1001
    assert storage.orders.get("ORD-1002") == ORD_1002
    assert storage.orders.count() == 2


def test_upsert_many_overwrites_existing_orders_and_counts_them_as_updated(
    storage: Storage,
) -> None:
    storage.orders.upsert_many([ORD_1001])
    delivered = {**ORD_1001, "status": "delivered", "tracking": None}

    assert storage.orders.upsert_many([delivered, ORD_1002]) == {"inserted": 1, "updated": 1}
    assert storage.orders.get("ORD-1001") == delivered


def test_get_is_exact_and_returns_none_for_an_unknown_order(storage: Storage) -> None:
    storage.orders.upsert_many([ORD_1001])

    assert storage.orders.get("ORD-9999") is None
    assert storage.orders.get("ord-1001") is None  # ids arrive already normalised


def test_a_row_without_every_field_is_refused_and_nothing_is_stored(storage: Storage) -> None:
    incomplete = {k: v for k, v in ORD_1002.items() if k != "tracking"}

    with pytest.raises(ValueError, match=r"rows\[1\] lacks tracking"):
        storage.orders.upsert_many([ORD_1001, incomplete])
    assert storage.orders.count() == 0


def test_an_import_that_fails_midway_stores_nothing(storage: Storage) -> None:
    no_status = {**ORD_1002, "status": None}  # violates NOT NULL inside the transaction

    with pytest.raises(INTEGRITY_ERRORS, match=r"(?i)NOT NULL|not-null"):
        storage.orders.upsert_many([ORD_1001, no_status])
    assert storage.orders.count() == 0


def test_a_large_import_counts_inserted_and_updated_correctly(storage: Storage) -> None:
    first = [{**ORD_1002, "order_id": f"ORD-{n}"} for n in range(1000, 1700)]
    storage.orders.upsert_many(first)
    second = [{**ORD_1002, "order_id": f"ORD-{n}"} for n in range(1500, 2500)]

    assert storage.orders.upsert_many(second) == {"inserted": 800, "updated": 200}
    assert storage.orders.count() == 1500
