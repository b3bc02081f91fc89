"""What happened in each conversation, read from what is already stored: its turns (status and
time), its hand-offs (escalations and change requests filed for its thread) and its ratings.

No table of its own: an outcome is derived (bot/outcomes.py) from these facts and the time,
so it can never disagree with the rows it is made of, and a late 👎 changes it at once.
Plain Python types out.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from storage.conversations import question_text
from storage.database import SharedDatabase, as_utc_iso

logger = logging.getLogger(__name__)

# One row per conversation that has at least one turn (ShopMate was involved in it).
_FACTS = """
select c.thread_key, c.platform, coalesce(c.team, max(t.team)) as team,
  coalesce(c.channel, max(t.channel)) as channel, c.thread_ts, c.created_utc,
  c.updated_utc, count(t.id) as turns,
  sum(case when t.status = 'complete' then 1 else 0 end) as answered,
  max(t.created_utc) as last_turn_utc,
  (select t2.status from turns t2 where t2.conversation_id = c.id
     order by t2.id desc limit 1) as last_status,
  (select count(*) from feedback f join turns t3 on t3.id = f.turn_id
     where t3.conversation_id = c.id and f.rating = 'negative') as negatives,
  (select count(*) from escalations e where e.thread_key = c.thread_key)
    + (select count(*) from change_requests r where r.thread_key = c.thread_key) as handoffs,
  (select m.content_json from messages m where m.conversation_id = c.id and m.role = 'user'
     order by m.seq limit 1) as question_json
from conversations c join turns t on t.conversation_id = c.id
{where}
group by c.id
{having}
order by {order}
{limit}
"""


class OutcomeStore:
    """Reads the facts an outcome is derived from; writes nothing."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    def facts(
        self,
        *,
        since_utc: str | datetime | None = None,
        thread_key: str | None = None,
        user: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Per conversation ShopMate answered in: where it is, when it started, its turns
        (`turns`, `answered`, `last_turn_utc`, `last_status`), `negatives` (thumbs down on
        its answers), `handoffs` (escalations + change requests) and its first `question`.

        `since_utc`: conversations started since then, oldest first. `user`: those in which
        that person asked, most recently active first. `thread_key`: that one conversation.
        """
        wheres: list[str] = []
        having: list[str] = []
        params: list[Any] = []
        having_params: list[Any] = []
        if since_utc is not None:
            wheres.append("c.created_utc >= ?")
            params.append(as_utc_iso(since_utc))
        if thread_key is not None:
            wheres.append("c.thread_key = ?")
            params.append(thread_key)
        if user is not None:
            having.append("sum(case when t.user = ? then 1 else 0 end) > 0")
            having_params.append(user)
        order = "c.updated_utc desc, c.id desc" if user is not None else "c.created_utc, c.id"
        sql = _FACTS.format(
            where=("where " + " and ".join(wheres)) if wheres else "",
            having=("having " + " and ".join(having)) if having else "",
            order=order,
            limit="limit ?" if limit is not None else "",
        )
        args = [*params, *having_params, *([int(limit)] if limit is not None else [])]
        with self._shared.read() as db:
            rows = list(db.query(sql, args))
        for row in rows:
            row["question"] = question_text(row.pop("question_json"))
        return rows

    def answered(self, since_utc: str | datetime) -> int:
        """Questions answered since a moment: turns that completed (not failed, not stopped)."""
        sql = "select count(*) as n from turns where status = 'complete' and created_utc >= ?"
        params = [as_utc_iso(since_utc)]
        with self._shared.read() as db:
            [row] = list(db.query(sql, params))
        return int(row["n"])
