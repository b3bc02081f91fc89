"""ShopMate's schema, as append-only named migrations applied with sqlite-utils' `Migrations`.

Never edit a migration that has shipped: a later change is a new `m00N_...` function. Each
step runs in its own transaction and is recorded in `_sqlite_migrations`, so a database is
migrated exactly once per step, whatever version of ShopMate created it.

Conventions: JSON lives in TEXT columns named `*_json`; timestamps are fixed-width UTC ISO
strings in `*_utc` columns, so they sort and compare as text.
"""

from __future__ import annotations

import logging

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

logger = logging.getLogger(__name__)

migrations = Migrations("shopmate")


@migrations()
def m001_initial(db: Database) -> None:
    """Conversations and their messages and turns, orders, and processed Slack events."""
    db.table("conversations").create(
        {
            "id": int,
            "thread_key": str,
            "platform": str,
            "team": str,
            "channel": str,
            "thread_ts": str,
            "created_utc": str,
            "updated_utc": str,
        },
        pk="id",
        not_null={"thread_key", "platform", "created_utc", "updated_utc"},
    )
    db.table("conversations").create_index(["thread_key"], unique=True)
    # purge_older_than() and list() scan by last activity.
    db.table("conversations").create_index(["updated_utc"])

    db.table("messages").create(
        {
            "id": int,
            "conversation_id": int,
            "seq": int,
            "role": str,
            "user": str,
            "content_json": str,
            "created_utc": str,
        },
        pk="id",
        foreign_keys=[("conversation_id", "conversations", "id")],
        not_null={"conversation_id", "seq", "role", "content_json", "created_utc"},
    )
    # history() reads one conversation in seq order straight off this index; it also makes
    # "next seq" a single index probe, and forbids two messages taking the same place.
    db.table("messages").create_index(["conversation_id", "seq"], unique=True)

    db.table("turns").create(
        {
            "id": int,
            "conversation_id": int,
            "status": str,
            "error": str,
            "input_tokens": int,
            "output_tokens": int,
            "cache_read_input_tokens": int,
            "cache_creation_input_tokens": int,
            "model_calls": int,
            "user": str,
            "team": str,
            "channel": str,
            "model": str,
            "created_utc": str,
        },
        pk="id",
        foreign_keys=[("conversation_id", "conversations", "id")],
        not_null={
            "conversation_id",
            "status",
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "model_calls",
            "created_utc",
        },
        defaults={
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "model_calls": 0,
        },
    )
    db.table("turns").create_index(["conversation_id"])
    # usage_report() filters by time; turns_since() by user or team within a time window.
    db.table("turns").create_index(["created_utc"])
    db.table("turns").create_index(["user", "created_utc"])
    db.table("turns").create_index(["team", "created_utc"])

    db.table("orders").create(
        {
            "order_id": str,
            "status": str,
            "item": str,
            "eta": str,
            "tracking": str,
            "updated_utc": str,
        },
        pk="order_id",
        not_null={"status", "item", "updated_utc"},
    )

    db.table("processed_events").create(
        {
            "key": str,
            "owner": str,
            "status": str,
            "thread_key": str,
            "claimed_utc": str,
            "finished_utc": str,
        },
        pk="key",
        not_null={"owner", "status", "claimed_utc"},
    )
    # purge_older_than() removes the events of the conversations it deletes.
    db.table("processed_events").create_index(["thread_key"])


@migrations()
def m002_product_descriptions(db: Database) -> None:
    """Product descriptions keyed by product id + input hash, and the Message Batches sent.

    `descriptions` holds every paid-for answer, accepted (`ok`) or refused by the voice checks
    (`rejected`), so the same inputs are never sent twice. `description_batches` and their
    items are written before and right after a batch is submitted, so a crash between submit
    and collect loses nothing: the items carry the products themselves.
    """
    db.table("descriptions").create(
        {
            "product_id": str,
            "input_hash": str,
            "name": str,
            "status": str,
            "text": str,
            "problems_json": str,
            "model": str,
            "mode": str,
            "batch_id": str,
            "model_calls": int,
            "usage_json": str,
            "created_utc": str,
        },
        pk=("product_id", "input_hash"),
        not_null={"product_id", "input_hash", "status", "model_calls", "created_utc"},
        defaults={"model_calls": 0},
    )
    db.table("description_batches").create(
        {
            "id": int,
            "batch_id": str,
            "status": str,
            "model": str,
            "prompt_hash": str,
            "out_path": str,
            "request_count": int,
            "counts_json": str,
            "created_utc": str,
            "submitted_utc": str,
            "ended_utc": str,
            "collected_utc": str,
        },
        pk="id",
        not_null={"status", "request_count", "created_utc"},
    )
    db.table("description_batches").create_index(["batch_id"], unique=True)
    db.table("description_batch_items").create(
        {
            "batch": int,
            "product_id": str,
            "input_hash": str,
            "product_json": str,
            "result": str,
            "error": str,
        },
        pk=("batch", "product_id"),
        foreign_keys=[("batch", "description_batches", "id")],
        not_null={"batch", "product_id", "input_hash", "product_json", "result"},
    )
    # pending_keys() looks items up by result across batches.
    db.table("description_batch_items").create_index(["result"])


@migrations()
def m003_claim_leases_and_stored_messages(db: Database) -> None:
    """Claims become leases, and keep what is needed to answer their message after a crash.

    `lease_until_utc`: the owner renews it while it works; another process may take the
    message over only once it has passed (NULL, as in claims made before this step, counts
    as expired). `message_json`: the accepted message (text, sender, where to answer),
    cleared when the message is finished. `replies_json`: the ts of every Slack message
    posted for the answer so far, so a successor can retire a half-shown answer.
    `attempts`: how many owners have claimed it, so a message that keeps killing its
    owner is given up on instead of taking down every process in turn.
    """
    events = db.table("processed_events")
    events.add_column("lease_until_utc", str)
    events.add_column("message_json", str)
    events.add_column("replies_json", str)
    events.add_column("attempts", int, not_null_default=1)
    # The recovery sweep looks for claimed rows whose lease has passed, every few seconds.
    events.create_index(["status", "lease_until_utc"])


@migrations()
def m004_api_keys_and_idempotent_requests(db: Database) -> None:
    """API keys (only a hash of each) and the stored answers of idempotent API requests.

    `api_keys.key_hash` is the SHA-256 of the key: keys are 256 random bits, so a fast hash
    is as safe as a slow one and lets every request be checked with one indexed lookup.
    A name is never reused, even after revocation, because conversations are owned by name.
    `api_requests` holds one row per (key name, Idempotency-Key): the request's fingerprint,
    who is running it and until when (a lease), and, once finished, the response to replay.
    """
    db.table("api_keys").create(
        {
            "name": str,
            "key_hash": str,
            "created_utc": str,
            "revoked_utc": str,
        },
        pk="name",
        not_null={"key_hash", "created_utc"},
    )
    db.table("api_keys").create_index(["key_hash"], unique=True)
    db.table("api_requests").create(
        {
            "key_name": str,
            "idempotency_key": str,
            "fingerprint": str,
            "thread_key": str,
            "owner": str,
            "lease_until_utc": str,
            "response_json": str,
            "created_utc": str,
            "finished_utc": str,
        },
        pk=("key_name", "idempotency_key"),
        not_null={"fingerprint", "owner", "created_utc"},
    )
    # Retention deletes the stored answers of the conversations it purges.
    db.table("api_requests").create_index(["thread_key"])
    db.table("api_requests").create_index(["created_utc"])


@migrations()
def m006_feedback(db: Database) -> None:
    """Thumbs up/down on answers: one rating per person per turn, and each turn's question.

    `feedback` has one row per (turn, user): a second click changes it (an upsert), and
    `action_ts` (Slack's time of the click) tells a re-delivered click (equal) and a late
    one (older) from a new one. `channel`/`message_ts` are the rated Slack message, for a
    permalink; `team_domain` is the workspace's, as the click reported it.
    The table is created in SQL because sqlite-utils cannot declare ON DELETE CASCADE:
    with it, a purge that deletes a turn takes its ratings along, and the purge (which
    knows nothing of ratings) keeps working with foreign keys on.
    `turns.question_id` is the id of the user message a turn answers, so a rating can be
    shown next to the question it judges (NULL for turns stored before this step).
    """
    db.execute(
        """
        CREATE TABLE [feedback] (
            [turn_id] INTEGER NOT NULL REFERENCES [turns]([id]) ON DELETE CASCADE,
            [user] TEXT NOT NULL,
            [team] TEXT,
            [team_domain] TEXT,
            [rating] TEXT NOT NULL,
            [channel] TEXT,
            [message_ts] TEXT,
            [action_ts] TEXT NOT NULL,
            [created_utc] TEXT NOT NULL,
            [updated_utc] TEXT NOT NULL,
            PRIMARY KEY ([turn_id], [user])
        )
        """
    )
    # The review lists ratings newest first, within a period.
    db.table("feedback").create_index(["updated_utc"])
    db.table("turns").add_column("question_id", int)


@migrations()
def m008_escalations_and_requests(db: Database) -> None:
    """Hand-offs to people: escalations, change requests a person approves, and their audit.

    `escalations`: one row per (thread, reason), enforced by a unique index, so Claude asking
    twice (or two turns racing) files one escalation; the insert itself decides, never a read
    before it. `change_requests`: a size exchange or refund waiting for an approver; at most
    one *pending* request per (order, kind) (a partial unique index), and the decision is a
    conditional UPDATE ... WHERE status = 'pending', so a double click decides once.
    `handoff_audit`: every step (filed, posted, decided, refused, ignored), append-only.
    `orders.note`: what a person decided about the order, shown by get_order.
    """
    db.table("escalations").create(
        {
            "id": int,
            "thread_key": str,
            "reason": str,
            "summary": str,
            "order_id": str,
            "user": str,
            "team": str,
            "status": str,
            "channel": str,
            "message_ts": str,
            "permalink": str,
            "created_utc": str,
            "updated_utc": str,
        },
        pk="id",
        not_null={"thread_key", "reason", "summary", "status", "created_utc", "updated_utc"},
    )
    db.table("escalations").create_index(["thread_key", "reason"], unique=True)
    db.table("escalations").create_index(["status", "created_utc"])
    db.table("change_requests").create(
        {
            "id": int,
            "kind": str,
            "order_id": str,
            "details_json": str,
            "reason": str,
            "thread_key": str,
            "user": str,
            "team": str,
            "status": str,
            "channel": str,
            "message_ts": str,
            "decided_by": str,
            "decided_utc": str,
            "created_utc": str,
        },
        pk="id",
        not_null={"kind", "order_id", "details_json", "thread_key", "status", "created_utc"},
    )
    # sqlite-utils' create_index has no WHERE; a partial index needs plain SQL.
    db.execute(
        "CREATE UNIQUE INDEX idx_change_requests_one_pending "
        "ON change_requests (order_id, kind) WHERE status = 'pending'"
    )
    db.table("change_requests").create_index(["status", "created_utc"])
    db.table("handoff_audit").create(
        {
            "id": int,
            "at_utc": str,
            "actor": str,
            "action": str,
            "subject": str,
            "subject_id": int,
            "detail_json": str,
        },
        pk="id",
        not_null={"at_utc", "action", "subject", "subject_id"},
    )
    db.table("handoff_audit").create_index(["subject", "subject_id"])
    db.table("orders").add_column("note", str)


@migrations()
def m009_escalations_resolved(db: Database) -> None:
    """Escalations can be marked resolved (by whom, with a note), and one *open* escalation per
    (thread, reason) replaces one ever: once the team has resolved a case, the same thread can
    be escalated again for the same reason. Still decided by the insert, never a read first.
    """
    db.table("escalations").add_column("resolved_by", str)
    db.table("escalations").add_column("resolution", str)
    db.execute("DROP INDEX idx_escalations_thread_key_reason")
    # sqlite-utils' create_index has no WHERE; a partial index needs plain SQL.
    db.execute(
        "CREATE UNIQUE INDEX idx_escalations_one_open "
        "ON escalations (thread_key, reason) WHERE status = 'open'"
    )


@migrations()
def m010_order_cache(db: Database) -> None:
    """Orders read from a remote source (Shopify, a shop's endpoint), kept for a short while so
    a thread's follow-ups ask the source once and a source that is down can still be answered
    from the last copy; and each time the source failed, for `shopmate stats`.
    `order_json` is NULL for "the shop has no such order" (also worth remembering briefly).
    """
    db.table("order_cache").create(
        {"source": str, "order_id": str, "order_json": str, "fetched_utc": str},
        pk=("source", "order_id"),
        not_null={"source", "order_id", "fetched_utc"},
    )
    db.table("order_source_failures").create(
        {"id": int, "at_utc": str, "source": str, "kind": str, "served": str, "order_id": str},
        pk="id",
        not_null={"at_utc", "source", "kind", "served"},
    )
    db.table("order_source_failures").create_index(["at_utc"])


@migrations()
def m011_attached_files(db: Database) -> None:
    """Files people attach to questions: stored once by content hash, linked to conversations.

    `files` holds the bytes Claude is sent (images already downscaled and re-encoded), keyed
    by their SHA-256, so the same screenshot pasted in ten threads is stored once.
    `conversation_files` says which conversation (and which stored user message) a file came
    with and under what name; retention and `history purge` delete a conversation's links,
    then every file no kept conversation still links to.
    """
    db.table("files").create(
        {
            "sha256": str,
            "media_type": str,
            "size_bytes": int,
            "width": int,
            "height": int,
            "pages": int,
            "data": bytes,
            "created_utc": str,
        },
        pk="sha256",
        not_null={"media_type", "size_bytes", "data", "created_utc"},
    )
    db.table("conversation_files").create(
        {
            "id": int,
            "conversation_id": int,
            "message_id": int,
            "sha256": str,
            "name": str,
            "created_utc": str,
        },
        pk="id",
        foreign_keys=[("conversation_id", "conversations", "id"), ("sha256", "files", "sha256")],
        not_null={"conversation_id", "sha256", "name", "created_utc"},
    )
    db.table("conversation_files").create_index(["conversation_id"])
    db.table("conversation_files").create_index(["sha256"])


@migrations()
def m012_slack_call_budget(db: Database) -> None:
    """The Slack call budget, shared by every process on this database (storage/slack_budget.py).

    One row per (scope, method): scope is a workspace, or "workspace/channel" for a per-channel
    limit. Times are epoch seconds (REAL), written by every process's wall clock.

    The release before this one applied this very step as `m010_slack_call_budget` (m010 and
    m011 took its place since): a database it migrated has the table already, and upgrades.
    """
    if db.table("slack_budget").exists():
        return
    db.table("slack_budget").create(
        {
            "scope": str,
            "method": str,
            "tat": float,
            "blocked_until": float,
            "finals_until": float,
        },
        pk=("scope", "method"),
        not_null={"tat", "blocked_until", "finals_until"},
        defaults={"tat": 0.0, "blocked_until": 0.0, "finals_until": 0.0},
    )


def migrate(db: Database) -> None:
    """Apply every pending migration, logging the names it applies.

    The caller holds a write transaction, so two processes opening a fresh file at once cannot
    both apply the same step: the second waits, then finds nothing pending.
    """
    pending = [m.name for m in migrations.pending(db)]
    if pending:
        logger.info("applying migrations: %s", ", ".join(pending))
    migrations.apply(db)
