"""Stored descriptions and batches: the schema, the (product id, input hash) key, batch steps."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from storage import Storage, open_storage


def save(storage: Storage, product_id: str, input_hash: str, text: str) -> None:
    storage.descriptions.save(
        product_id=product_id,
        input_hash=input_hash,
        name="Tee",
        status="ok",
        text=text,
        problems=[],
        model="claude-haiku-4-5",
        mode="live",
        model_calls=1,
        usage={"live": {"calls": 1, "input_tokens": 10}},
    )


def test_the_migration_creates_the_three_tables_with_their_keys(db_path: Path) -> None:
    open_storage(db_path).close()
    db = Database(db_path)
    assert db.table("descriptions").pks == ["product_id", "input_hash"]
    assert db.table("description_batch_items").pks == ["batch", "product_id"]
    [fk] = db.table("description_batch_items").foreign_keys
    assert (fk.other_table, fk.other_column) == ("description_batches", "id")
    assert {tuple(i.columns): i.unique for i in db.table("description_batches").indexes}[
        ("batch_id",)
    ]
    db.close()


def test_a_description_is_found_only_under_its_own_inputs(storage: Storage) -> None:
    save(storage, "P1", "h1", "first")
    save(storage, "P1", "h2", "after a price change")
    assert storage.descriptions.get("P1", "h1")["text"] == "first"
    assert storage.descriptions.get("P1", "h2")["usage"] == {
        "live": {"calls": 1, "input_tokens": 10}
    }
    assert storage.descriptions.get("P1", "h3") is None
    assert storage.descriptions.get("P2", "h1") is None
    found = storage.descriptions.find([("P1", "h1"), ("P9", "h1")])
    assert list(found) == [("P1", "h1")]


def test_a_batch_is_recorded_before_and_after_submission(storage: Storage) -> None:
    store = storage.descriptions
    local = store.begin_batch(
        model="m",
        prompt_hash="p",
        out_path="out.csv",
        items=[{"product_id": "P1", "input_hash": "h1", "product": {"id": "P1", "name": "Tee"}}],
    )
    assert store.batches()[0]["status"] == "submitting"
    assert store.pending_keys() == {}, "unconfirmed: not counted as sent"
    store.confirm_batch(local, "msgbatch_1")
    assert store.pending_keys() == {("P1", "h1"): "msgbatch_1"}
    [item] = store.batch_items(local)
    assert item["product"] == {"id": "P1", "name": "Tee"} and item["result"] == "pending"
    store.set_item_result(local, "P1", "succeeded")
    assert store.pending_keys() == {}
    other = store.begin_batch(model="m", prompt_hash="p", out_path=None, items=[])
    store.drop_batch(other)
    assert [b["batch_id"] for b in store.batches()] == ["msgbatch_1"]
