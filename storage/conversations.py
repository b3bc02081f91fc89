"""Conversations, their messages (exact content blocks) and turns (status and token usage).

A conversation is addressed by a platform-neutral `thread_key` such as
"slack:T1:C1:1700000000.000100" or "local:default"; the text before the first ':' is the
platform. Message content is stored as the block list the Anthropic API takes (tool_use and
tool_result blocks included), so history() can be sent back to the model unchanged.
"""

from __future__ import annotations

import builtins
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage.database import SharedDatabase, as_utc_iso

logger = logging.getLogger(__name__)

ROLES = frozenset({"user", "assistant"})
# "stopped": the user stopped the answer; its messages are what they saw of it.
TURN_STATUSES = frozenset({"complete", "failed", "stopped"})
TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
USAGE_COLUMNS = (*TOKEN_COLUMNS, "model_calls")

Content = str | list[dict[str, Any]]


def platform_of(thread_key: str) -> str:
    """The platform named by a thread key's prefix ("slack:T1:C1:ts" -> "slack")."""
    platform, sep, rest = thread_key.partition(":")
    if not sep or not platform or not rest:
        raise ValueError(
            f"thread_key {thread_key!r} must look like 'platform:...', e.g. 'local:default'"
        )
    return platform


def to_blocks(content: Content) -> list[dict[str, Any]]:
    """Content as a list of blocks: a plain string becomes one text block.

    Storing one shape means readers never branch on it.
    """
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list) and all(isinstance(block, dict) for block in content):
        return content
    raise ValueError(
        "message content must be a str or a list of block dicts "
        f"(use message.to_param()), got {type(content).__name__}"
    )


def encode_content(content: Content) -> str:
    """Serialise content for the `content_json` column, failing early on non-JSON values."""
    try:
        return json.dumps(to_blocks(content), ensure_ascii=False, separators=(",", ":"))
    except TypeError as exc:
        raise ValueError(f"message content is not JSON-serialisable: {exc}") from exc


@dataclass(frozen=True)
class Usage:
    """Turns and tokens used in a window (what the limits compare with their caps)."""

    turns: int
    tokens: int


class ConversationStore:
    """Reads and writes conversations; every multi-row write is one transaction."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    # -- writes -----------------------------------------------------------------------------

    def ensure(
        self,
        thread_key: str,
        *,
        platform: str,
        team: str | None = None,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> int:
        """Return the conversation's id, creating it if needed; idempotent.

        On an existing conversation, details it lacks (team, channel, thread_ts) are filled
        in, never overwritten: the first writer may have known less than a later one.
        """
        with self._shared.write() as db:
            conversation = self._ensure(
                db, thread_key, platform=platform, team=team, channel=channel, thread_ts=thread_ts
            )
            return int(conversation["id"])

    def add_user_message(
        self,
        thread_key: str,
        content: Content,
        *,
        user: str | None = None,
        team: str | None = None,
    ) -> int:
        """Store a user's message the moment it arrives; returns the message id.

        Stored before the model is asked, so a crash mid-answer still leaves the question on
        record. Creates the conversation if needed, its platform taken from the key prefix.
        """
        role_and_json = [("user", encode_content(content))]
        with self._shared.write() as db:
            conversation = self._ensure(db, thread_key, platform=platform_of(thread_key), team=team)
            conversation_id = conversation["id"]
            now = self._shared.now()
            [message_id] = self._append(db, conversation_id, role_and_json, user=user, now=now)
            self._touch(db, conversation_id, now)
            return message_id

    def add_turn(
        self,
        thread_key: str,
        messages: builtins.list[dict[str, Any]],
        *,
        usage: dict[str, int] | None = None,
        user: str | None = None,
        team: str | None = None,
        model: str | None = None,
        status: str = "complete",
        error: str | None = None,
        question_id: int | None = None,
    ) -> int:
        """Append a turn's messages and record the turn, in ONE transaction; returns the turn id.

        Either the whole turn (the assistant's answer, tool calls and tool results) is stored
        or none of it is, so the history never ends in a tool_use without its tool_result.
        A failed turn may have no messages; it is still recorded, because its tokens were spent.
        Usage keys other than the four token counts and `model_calls` are ignored.
        `question_id` is the stored user message the turn answers (`add_user_message`'s id),
        so a rating of the answer can be shown with its question.
        """
        if status not in TURN_STATUSES:
            raise ValueError(f"turn status must be one of {sorted(TURN_STATUSES)}, got {status!r}")
        encoded = []
        for index, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ROLES or "content" not in message:
                raise ValueError(
                    f"messages[{index}] must be a dict with role 'user' or 'assistant' and content"
                )
            encoded.append((role, encode_content(message["content"])))
        usage = usage or {}
        counts = {column: int(usage.get(column) or 0) for column in USAGE_COLUMNS}
        with self._shared.write() as db:
            conversation = self._ensure(db, thread_key, platform=platform_of(thread_key), team=team)
            conversation_id = conversation["id"]
            now = self._shared.now()
            self._append(db, conversation_id, encoded, user=None, now=now)
            turns = db.table("turns")
            turns.insert(
                {
                    "conversation_id": conversation_id,
                    "status": status,
                    "error": error,
                    **counts,
                    "user": user,
                    "team": team or conversation["team"],
                    "channel": conversation["channel"],
                    "model": model,
                    "created_utc": now,
                    "question_id": question_id,
                }
            )
            self._touch(db, conversation_id, now)
            return int(turns.last_pk)

    def purge_older_than(self, cutoff_utc: str | datetime) -> dict[str, int]:
        """Delete whole conversations last active before the cutoff, in ONE transaction.

        Their messages, turns and processed-event rows go with them, so nothing of a purged
        conversation survives (retention); so do processed-event rows older than the cutoff
        that belong to no conversation. Returns how many rows of each kind were deleted.
        """
        counts: dict[str, int] = {}
        with self._shared.write() as db:
            # Stored API answers hold conversation text: they go with their conversation
            # (not counted apart: they are copies of messages counted above).
            db.table("api_requests").delete_where(
                "thread_key in (select thread_key from conversations where updated_utc < ?)",
                [as_utc_iso(cutoff_utc)],
            )
            # Children before parents, so the foreign keys hold at every step.
            for label, table_name, where, params in self._purge_plan(as_utc_iso(cutoff_utc)):
                table = db.table(table_name)
                counts[label] = table.count_where(where, params)
                table.delete_where(where, params)
        if counts["conversations"]:
            logger.info("purged conversations last active before %s: %s", cutoff_utc, counts)
        return counts

    def count_older_than(self, cutoff_utc: str | datetime) -> dict[str, int]:
        """What `purge_older_than` would delete now, counted without deleting anything.

        Lets a command show what it is about to remove and ask before removing it.
        """
        with self._shared.read() as db:
            return {
                label: db.table(table_name).count_where(where, params)
                for label, table_name, where, params in self._purge_plan(as_utc_iso(cutoff_utc))
            }

    @staticmethod
    def _purge_plan(cutoff: str) -> builtins.list[tuple[str, str, str, builtins.list[str]]]:
        """(label, table, where, params) for each kind of row a purge removes, children first."""
        old = "select id from conversations where updated_utc < ?"
        old_keys = "select thread_key from conversations where updated_utc < ?"
        # Events of messages that never started a conversation (refused or over a limit)
        # belong to no thread ShopMate keeps; they go once they are older than the cutoff.
        orphan_events = (
            "claimed_utc < ? and (thread_key is null or thread_key not in "
            "(select thread_key from conversations))"
        )
        # A file goes once no kept conversation links to it (the same screenshot may be in
        # a newer thread); one stored before the cutoff and never linked (a crash between
        # storing a question and its files) goes too.
        kept_files = (
            "select sha256 from conversation_files where conversation_id in "
            "(select id from conversations where updated_utc >= ?)"
        )
        return [
            ("file links", "conversation_files", f"conversation_id in ({old})", [cutoff]),
            (
                "files",
                "files",
                f"created_utc < ? and sha256 not in ({kept_files})",
                [cutoff, cutoff],
            ),
            ("messages", "messages", f"conversation_id in ({old})", [cutoff]),
            ("turns", "turns", f"conversation_id in ({old})", [cutoff]),
            (
                "events",
                "processed_events",
                f"thread_key in ({old_keys}) or ({orphan_events})",
                [cutoff, cutoff],
            ),
            ("conversations", "conversations", "updated_utc < ?", [cutoff]),
        ]

    # -- reads ------------------------------------------------------------------------------

    def history(self, thread_key: str) -> builtins.list[dict[str, Any]]:
        """The conversation's messages in order, as `{"role", "content": [blocks]}` dicts.

        One indexed query, so loading a long thread stays cheap. [] for an unknown thread.
        """
        with self._shared.read() as db:
            rows = builtins.list(
                db.query(
                    "select m.role, m.content_json from messages m "
                    "join conversations c on c.id = m.conversation_id "
                    "where c.thread_key = ? order by m.seq",
                    [thread_key],
                )
            )
        # One json.loads over the whole thread: parsing 1,000 small strings one by one costs
        # several times more, in per-call overhead alone.
        contents = json.loads("[" + ",".join(row["content_json"] for row in rows) + "]")
        return [
            {"role": row["role"], "content": content}
            for row, content in zip(rows, contents, strict=True)
        ]

    def get(self, thread_key: str) -> dict[str, Any] | None:
        """The conversation row, or None if there is none."""
        with self._shared.read() as db:
            return self._row(db, thread_key)

    def exists(self, thread_key: str) -> bool:
        with self._shared.read() as db:
            return db.table("conversations").count_where("thread_key = ?", [thread_key]) > 0

    def message_count(self, thread_key: str) -> int:
        """How many messages the conversation holds (0 for an unknown one).

        The Slack front titles a thread after its first question: one that arrives while
        this is still 0.
        """
        with self._shared.read() as db:
            rows = builtins.list(
                db.query(
                    "select count(*) as n from messages m "
                    "join conversations c on c.id = m.conversation_id where c.thread_key = ?",
                    [thread_key],
                )
            )
        return int(rows[0]["n"])

    def list(self, limit: int = 100) -> builtins.list[dict[str, Any]]:
        """The most recently active conversations first."""
        with self._shared.read() as db:
            return builtins.list(
                db.table("conversations").rows_where(
                    order_by="updated_utc desc, id desc", limit=int(limit)
                )
            )

    def summaries(
        self,
        *,
        channel: str | None = None,
        since_utc: str | datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[dict[str, Any]]:
        """Conversations with their size, most recently active first, for people to browse.

        Each row: thread_key, platform, team, channel, created_utc, updated_utc, messages,
        turns and content_bytes (the stored message JSON). `channel` and `since_utc` filter.
        """
        wheres, params = [], []
        if channel is not None:
            wheres.append("c.channel = ?")
            params.append(channel)
        if since_utc is not None:
            wheres.append("c.updated_utc >= ?")
            params.append(as_utc_iso(since_utc))
        where = ("where " + " and ".join(wheres)) if wheres else ""
        sql = (
            "select c.thread_key, c.platform, c.team, c.channel, c.created_utc, c.updated_utc, "
            "(select count(*) from messages m where m.conversation_id = c.id) as messages, "
            "(select coalesce(sum(length(m.content_json)), 0) from messages m "
            "where m.conversation_id = c.id) as content_bytes, "
            "(select count(*) from turns t where t.conversation_id = c.id) as turns "
            f"from conversations c {where} order by c.updated_utc desc, c.id desc limit ?"
        )
        with self._shared.read() as db:
            return builtins.list(db.query(sql, [*params, int(limit)]))

    def keys_for_slack_thread(self, channel: str, thread_ts: str) -> builtins.list[str]:
        """Thread keys of the Slack thread `thread_ts` in `channel`, in any workspace."""
        with self._shared.read() as db:
            rows = db.query(
                # The key's tail, in terms both SQLite and PostgreSQL read the same way.
                "select thread_key from conversations where thread_key like 'slack:%' "
                "and substr(thread_key, length(thread_key) - length(?) + 1) = ? "
                "order by thread_key",
                [f":{channel}:{thread_ts}", f":{channel}:{thread_ts}"],
            )
            return [row["thread_key"] for row in rows]

    def export(self, thread_key: str) -> dict[str, Any] | None:
        """Everything stored about one conversation, as JSON-serialisable data; None if unknown."""
        with self._shared.read() as db:
            conversation = self._row(db, thread_key)
            if conversation is None:
                return None
            messages = [
                {
                    "role": row["role"],
                    "content": json.loads(row["content_json"]),
                    "user": row["user"],
                    "created_utc": row["created_utc"],
                }
                for row in db.table("messages").rows_where(
                    "conversation_id = ?", [conversation["id"]], order_by="seq"
                )
            ]
            turns = builtins.list(
                db.table("turns").rows_where(
                    "conversation_id = ?", [conversation["id"]], order_by="id"
                )
            )
            # Who rated which answer (thumbs up/down) is about this conversation too.
            feedback = builtins.list(
                db.query(
                    "select f.* from feedback f join turns t on t.id = f.turn_id "
                    "where t.conversation_id = ? order by f.turn_id, f.user",
                    [conversation["id"]],
                )
            )
            # Files people attached: what they were, not their bytes.
            files = builtins.list(
                db.query(
                    "select l.name, f.media_type, f.size_bytes, f.sha256, f.width, f.height, "
                    "f.pages, l.message_id, l.created_utc from conversation_files l "
                    "join files f on f.sha256 = l.sha256 where l.conversation_id = ? "
                    "order by l.id",
                    [conversation["id"]],
                )
            )
        return {
            "conversation": conversation,
            "messages": messages,
            "turns": turns,
            "feedback": feedback,
            "files": files,
        }

    def usage_report(
        self, since_utc: str | datetime | None = None, *, by_model: bool = False
    ) -> builtins.list[dict]:
        """Turns and tokens per (UTC day, team, channel), oldest day first.

        `by_model=True` splits each row by the `model` that answered, for pricing.
        """
        where, params = "", []
        if since_utc is not None:
            where, params = "where created_utc >= ?", [as_utc_iso(since_utc)]
        sums = ", ".join(f"sum({column}) as {column}" for column in USAGE_COLUMNS)
        groups = "team, channel, model" if by_model else "team, channel"
        sql = (
            f"select substr(created_utc, 1, 10) as day, {groups}, count(*) as turns, "
            f"sum(case when status = 'failed' then 1 else 0 end) as failed, {sums} "
            f"from turns {where} group by day, {groups} order by day, {groups}"
        )
        with self._shared.read() as db:
            return builtins.list(db.query(sql, params))

    def turns_since(
        self, since_utc: str | datetime, *, user: str | None = None, team: str | None = None
    ) -> Usage:
        """Turns (failed ones too: they cost tokens) and tokens used since a moment.

        Filtered by user and/or team; the rate limiter asks this before every turn.
        """
        wheres, params = ["created_utc >= ?"], [as_utc_iso(since_utc)]
        if user is not None:
            wheres.append("user = ?")
            params.append(user)
        if team is not None:
            wheres.append("team = ?")
            params.append(team)
        tokens = " + ".join(f"coalesce(sum({column}), 0)" for column in TOKEN_COLUMNS)
        where = " and ".join(wheres)
        sql = f"select count(*) as turns, {tokens} as tokens from turns where {where}"
        with self._shared.read() as db:
            [row] = builtins.list(db.query(sql, params))
        return Usage(turns=int(row["turns"]), tokens=int(row["tokens"]))

    # -- helpers (caller holds the database) ------------------------------------------------

    @staticmethod
    def _row(db: Database, thread_key: str) -> dict[str, Any] | None:
        rows = builtins.list(
            db.table("conversations").rows_where("thread_key = ?", [thread_key], limit=1)
        )
        return rows[0] if rows else None

    def _ensure(
        self,
        db: Database,
        thread_key: str,
        *,
        platform: str,
        team: str | None = None,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """The conversation row, created or completed as `ensure()` describes."""
        known = {"team": team, "channel": channel, "thread_ts": thread_ts}
        existing = self._row(db, thread_key)
        conversations = db.table("conversations")
        if existing is None:
            now = self._shared.now()
            row: dict[str, Any] = {
                "thread_key": thread_key,
                "platform": platform,
                **known,
                "created_utc": now,
                "updated_utc": now,
            }
            conversations.insert(row)
            return {"id": int(conversations.last_pk), **row}
        missing = {k: v for k, v in known.items() if v is not None and existing[k] is None}
        if missing:
            conversations.update(existing["id"], missing)
        return {**existing, **missing}

    @staticmethod
    def _append(
        db: Database,
        conversation_id: int,
        role_and_json: builtins.list[tuple[str, str]],
        *,
        user: str | None,
        now: str,
    ) -> builtins.list[int]:
        """Append messages after the conversation's last one; returns their ids."""
        if not role_and_json:
            return []
        [row] = db.query(
            "select coalesce(max(seq), 0) as last_seq from messages where conversation_id = ?",
            [conversation_id],
        )
        last_seq = row["last_seq"]
        messages = db.table("messages")
        ids = []
        for offset, (role, content_json) in enumerate(role_and_json, start=1):
            messages.insert(
                {
                    "conversation_id": conversation_id,
                    "seq": last_seq + offset,
                    "role": role,
                    "user": user,
                    "content_json": content_json,
                    "created_utc": now,
                }
            )
            ids.append(int(messages.last_pk))
        return ids

    @staticmethod
    def _touch(db: Database, conversation_id: int, now: str) -> None:
        db.table("conversations").update(conversation_id, {"updated_utc": now})


def question_text(content_json: str | None) -> str | None:
    """The text of a stored user message (its text blocks joined); None if it holds none.

    What people are shown of a question in lists (`shopmate feedback`, Home, outcomes)."""
    if not content_json:
        return None
    try:
        blocks = json.loads(content_json)
    except ValueError:
        return None
    texts = [b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
    return "\n".join(t for t in texts if t) or None
