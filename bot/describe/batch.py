"""Batch mode: one Message Batch per run (half price, answers within 24 hours), collected later.

`submit` records the batch and its products in SQLite *before* calling the API (status
`submitting`) and the batch id right after, so from then on nothing depends on the submitting
process: `status` and `collect` work from the database alone, in any later process. custom_id
is the product id. If a process dies in the instant between the API accepting a batch and us
writing its id, the row stays `submitting` and `status` says so, rather than guessing.

`collect` reads the results (JSONL), runs every answer through the same checks as live mode
(one live retry for a voice violation), stores it, and lists errored and expired requests;
with `retry=True` those are described live. Collecting twice is harmless: items already
handled are skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anthropic

from bot.describe.catalogue import Product
from bot.describe.live import plan
from bot.describe.service import Copywriter, Outcome, Usage, _text_of, describe_error

logger = logging.getLogger(__name__)

MAX_BATCH_REQUESTS = 100_000  # the API's limit per batch
RETRYABLE_RESULTS = ("errored", "expired", "canceled", "missing")


@dataclass
class Submitted:
    """What `submit` did: the batch id (None if nothing needed sending) and what it skipped."""

    batch_ids: list[str]
    sent: int
    known: dict[str, Outcome]


@dataclass
class BatchStatus:
    batch_id: str | None
    status: str
    request_count: int
    counts: dict[str, int]
    created_utc: str
    ended_utc: str | None
    collected_utc: str | None


@dataclass
class Collected:
    """One batch's results: an outcome per product, plus the requests that got no answer."""

    batch_id: str
    out_path: str | None
    outcomes: list[Outcome] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (product, result, why)


def submit(
    copywriter: Copywriter,
    products: list[Product],
    *,
    force: bool = False,
    out_path: str | None = None,
) -> Submitted:
    """Send the products not already stored (or pending) as Message Batches; return at once."""
    todo, known = plan(copywriter, products, force=force)
    store, prompt = copywriter.store, copywriter.prompt
    batch_ids: list[str] = []
    for start in range(0, len(todo), MAX_BATCH_REQUESTS):
        chunk = todo[start : start + MAX_BATCH_REQUESTS]
        local_id = store.begin_batch(
            model=prompt.model,
            prompt_hash=prompt.fingerprint,
            out_path=out_path,
            items=[
                {"product_id": p.id, "input_hash": prompt.input_hash(p), "product": p.as_dict()}
                for p in chunk
            ],
        )
        try:
            batch = copywriter.client.messages.batches.create(
                requests=[{"custom_id": p.id, "params": prompt.params(p)} for p in chunk]  # type: ignore[misc]
            )
        except BaseException:
            store.drop_batch(local_id)
            raise
        store.confirm_batch(local_id, batch.id)
        logger.info("submitted batch %s with %d request(s)", batch.id, len(chunk))
        batch_ids.append(batch.id)
    return Submitted(batch_ids=batch_ids, sent=len(todo), known=known)


def refresh(copywriter: Copywriter) -> list[BatchStatus]:
    """Ask the API about every open batch, store what it says, and return all batches."""
    store = copywriter.store
    for row in store.batches(open_only=True):
        if row["batch_id"] is None or row["status"] == "ended":
            continue
        batch = copywriter.client.messages.batches.retrieve(row["batch_id"])
        counts = batch.request_counts.model_dump()
        store.update_batch(row["id"], counts=counts, status=batch.processing_status)
        if batch.processing_status == "ended":
            store.mark_ended(row["id"])
    return [
        BatchStatus(
            batch_id=row["batch_id"],
            status=row["status"],
            request_count=row["request_count"],
            counts=row["counts"] or {},
            created_utc=row["created_utc"],
            ended_utc=row["ended_utc"],
            collected_utc=row["collected_utc"],
        )
        for row in store.batches()
    ]


def collect(copywriter: Copywriter, *, retry: bool = False) -> list[Collected]:
    """Collect every batch that has ended (checking first); with `retry`, redo failures live.

    With `retry`, requests that errored or expired in batches collected earlier are retried
    too, so `--collect --retry` can be run after a plain `--collect`.
    """
    refresh(copywriter)
    store = copywriter.store
    collected: list[Collected] = []
    for row in store.batches():
        if row["status"] == "ended":
            collected.append(_collect_one(copywriter, row))
        elif row["status"] == "collected" and retry:
            items = store.batch_items(row["id"])
            if any(item["result"] in RETRYABLE_RESULTS for item in items):
                collected.append(_report(copywriter, row, items))
    if retry:
        for result in collected:
            _retry_live(copywriter, result)
    return collected


def _collect_one(copywriter: Copywriter, row: dict[str, Any]) -> Collected:
    store = copywriter.store
    local_id, batch_id = row["id"], row["batch_id"]
    items = {item["product_id"]: item for item in store.batch_items(local_id)}
    seen: set[str] = set()
    for line in copywriter.client.messages.batches.results(batch_id):
        item = items.get(line.custom_id)
        if item is None:
            logger.warning("batch %s: result for unknown custom_id %r", batch_id, line.custom_id)
            continue
        seen.add(line.custom_id)
        if item["result"] != "pending":
            continue  # handled by an earlier, interrupted collect
        product = Product.from_dict(item["product"])
        result = line.result
        if result.type == "succeeded":
            usage = Usage()
            usage.add("batch", result.message.usage)
            outcome = copywriter.finish(
                product,
                _text_of(result.message),
                result.message.stop_reason,
                usage,
                mode="batch",
                batch_id=batch_id,
            )
            if outcome.status == "error":
                store.set_item_result(local_id, product.id, "errored", outcome.error)
            else:
                store.set_item_result(local_id, product.id, outcome.status)
        elif result.type == "errored":
            error = result.error.error
            store.set_item_result(
                local_id, product.id, "errored", f"{error.type}: {error.message}"[:300]
            )
        else:  # expired or canceled: never processed, never billed
            store.set_item_result(local_id, product.id, result.type)
    for product_id, item in items.items():
        if product_id not in seen and item["result"] == "pending":
            store.set_item_result(local_id, product_id, "missing", "no result line for it")
    store.mark_collected(local_id)
    logger.info("collected batch %s", batch_id)
    return _report(copywriter, row, store.batch_items(local_id))


def _report(copywriter: Copywriter, row: dict[str, Any], items: list[dict[str, Any]]) -> Collected:
    """Outcomes for a batch's items, from the stored descriptions and the items' results."""
    found = copywriter.store.find((i["product_id"], i["input_hash"]) for i in items)
    result = Collected(batch_id=row["batch_id"], out_path=row["out_path"])
    for item in items:
        product = Product.from_dict(item["product"])
        stored = found.get((item["product_id"], item["input_hash"]))
        if stored is not None:
            outcome = copywriter._from_row(product, stored)
        else:
            outcome = Outcome(product, "error", error=f"{item['result']}: {item['error'] or ''}")
            if item["result"] in RETRYABLE_RESULTS:
                result.failed.append((product.id, item["result"], item["error"] or ""))
        result.outcomes.append(outcome)
    return result


def _retry_live(copywriter: Copywriter, result: Collected) -> None:
    """Describe the batch's failed requests live, one at a time, and update the report."""
    row = copywriter.store.batch(result.batch_id)
    assert row is not None
    by_id = {o.product.id: i for i, o in enumerate(result.outcomes)}
    still_failed = []
    for product_id, kind, why in result.failed:
        index = by_id[product_id]
        product = result.outcomes[index].product
        try:
            outcome = copywriter.describe(product)
        except anthropic.APIError as exc:  # pragma: no cover - describe() catches these
            outcome = Outcome(product, "error", error=describe_error(exc))
        result.outcomes[index] = outcome
        if outcome.status == "error":
            still_failed.append((product_id, kind, why))
            copywriter.store.set_item_result(row["id"], product_id, kind, outcome.error)
        else:
            copywriter.store.set_item_result(row["id"], product_id, f"retried_{outcome.status}")
    result.failed = still_failed
