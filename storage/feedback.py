"""Ratings of answers (thumbs up/down): one per person per turn, and the reports built on them.

A rating belongs to a stored turn (`turns.id`); a second click by the same person replaces
their first. Clicks can be delivered twice (Socket Mode re-sends an unacknowledged envelope)
or out of order, so each carries Slack's `action_ts`: a click no newer than the stored one
changes nothing. Plain Python types in and out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.conversations import question_text
from storage.database import SharedDatabase, as_utc_iso

logger = logging.getLogger(__name__)

RATINGS = frozenset({"positive", "negative"})

# What `record` did with a click.
NEW = "new"  # the person's first rating of this answer
CHANGED = "changed"  # they had rated it the other way
SAME = "same"  # a new click repeating their rating
DUPLICATE = "duplicate"  # this click (or a later one) is already stored: nothing to do
UNKNOWN = "unknown"  # no such answer in that thread (purged, or a forged value)

# Counts of each rating, in SQL that SQLite and PostgreSQL read alike (PostgreSQL cannot sum
# a comparison, as SQLite does).
_POSITIVE = "sum(case when f.rating = 'positive' then 1 else 0 end)"
_NEGATIVE = "sum(case when f.rating = 'negative' then 1 else 0 end)"


@dataclass(frozen=True)
class Click:
    """One click on a feedback button, as the front read it."""

    turn_id: int
    user: str
    rating: str
    action_ts: str
    team: str | None = None
    team_domain: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None


def _ts_key(ts: str) -> tuple[int, int]:
    """Slack timestamps ("1700000000.000100") in time order, exactly (no float rounding)."""
    seconds, _, fraction = (ts or "").partition(".")
    try:
        return int(seconds or 0), int((fraction or "0").ljust(6, "0")[:6])
    except ValueError:
        return 0, 0


class FeedbackStore:
    """Writes ratings (each click one transaction) and reads them back for people."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    def record(self, click: Click) -> str:
        """Store a click; returns NEW, CHANGED, SAME, DUPLICATE or UNKNOWN (see above).

        The answer must exist and, when the click names them, sit in that channel and
        thread: a button value pointing elsewhere (forged, or copied from another message)
        is UNKNOWN and stores nothing. Checked and written in one transaction, so two
        deliveries of one click, in one process or two, store it once.
        """
        if click.rating not in RATINGS:
            raise ValueError(f"rating must be one of {sorted(RATINGS)}, got {click.rating!r}")
        with self._shared.write() as db:
            rows = list(
                db.query(
                    "select c.team, c.channel, c.thread_ts from turns t "
                    "join conversations c on c.id = t.conversation_id where t.id = ?",
                    [int(click.turn_id)],
                )
            )
            if not rows:
                return UNKNOWN
            where = rows[0]
            # Not the team: in a Slack Connect channel the clicker's workspace is another.
            for field, wanted in (("channel", click.channel), ("thread_ts", click.thread_ts)):
                if wanted is not None and where[field] is not None and where[field] != wanted:
                    return UNKNOWN
            table = db.table("feedback")
            existing = list(
                table.rows_where("turn_id = ? and user = ?", [int(click.turn_id), click.user])
            )
            now = self._shared.now()
            row = {
                "turn_id": int(click.turn_id),
                "user": click.user,
                "team": click.team,
                "team_domain": click.team_domain,
                "rating": click.rating,
                "channel": click.channel,
                "message_ts": click.message_ts,
                "action_ts": click.action_ts,
                "updated_utc": now,
            }
            if not existing:
                table.insert({**row, "created_utc": now})
                return NEW
            before = existing[0]
            if _ts_key(click.action_ts) <= _ts_key(before["action_ts"]):
                return DUPLICATE
            table.upsert({**row, "created_utc": before["created_utc"]}, pk=("turn_id", "user"))
            return SAME if before["rating"] == click.rating else CHANGED

    def get(self, turn_id: int, user: str) -> dict[str, Any] | None:
        """One person's rating of one answer, or None."""
        with self._shared.read() as db:
            rows = list(
                db.table("feedback").rows_where("turn_id = ? and user = ?", [int(turn_id), user])
            )
        return rows[0] if rows else None

    def share_report(self, since_utc: str | datetime | None = None) -> list[dict[str, Any]]:
        """Ratings per (UTC day of the answer, team, channel): positive and negative counts.

        Days are the answers' days, like the other rows of `shopmate stats`, so a day's
        share judges that day's answers whenever they were rated.
        """
        where, params = "", []
        if since_utc is not None:
            where, params = "where t.created_utc >= ?", [as_utc_iso(since_utc)]
        sql = (
            "select substr(t.created_utc, 1, 10) as day, t.team, t.channel, "
            f"{_POSITIVE} as positive, {_NEGATIVE} as negative "
            f"from feedback f join turns t on t.id = f.turn_id {where} "
            "group by day, t.team, t.channel order by day, t.team, t.channel"
        )
        with self._shared.read() as db:
            return list(db.query(sql, params))

    def rated_answers(
        self,
        *,
        since_utc: str | datetime | None = None,
        negative_only: bool = False,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Rated answers, most recently rated first, with their question, for people to review.

        Each row: turn_id, team, team_domain, channel, thread_ts, message_ts, answered_utc,
        last_rated_utc, positive, negative, question (text, or None if not stored).
        `since_utc` keeps answers rated since then; `negative_only` those with a thumbs down.
        """
        having, params = [], []
        if since_utc is not None:
            having.append("max(f.updated_utc) >= ?")
            params.append(as_utc_iso(since_utc))
        if negative_only:
            having.append(f"{_NEGATIVE} > 0")
        having_sql = ("having " + " and ".join(having)) if having else ""
        sql = (
            "select t.id as turn_id, coalesce(t.team, c.team) as team, "
            "max(f.team_domain) as team_domain, coalesce(t.channel, c.channel) as channel, "
            "c.thread_ts, max(f.message_ts) as message_ts, t.created_utc as answered_utc, "
            "max(f.updated_utc) as last_rated_utc, "
            f"{_POSITIVE} as positive, {_NEGATIVE} as negative, "
            "m.content_json as question_json "
            "from feedback f join turns t on t.id = f.turn_id "
            "join conversations c on c.id = t.conversation_id "
            "left join messages m on m.id = t.question_id "
            f"group by t.id, c.id, m.id {having_sql} "
            "order by last_rated_utc desc, t.id desc limit ?"
        )
        with self._shared.read() as db:
            rows = list(db.query(sql, [*params, int(limit)]))
        for row in rows:
            row["question"] = question_text(row.pop("question_json"))
        return rows
