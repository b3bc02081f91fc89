"""Full-text search over policy sections (SQLite FTS5 through sqlite-utils), kept in memory.

The index is derived from the Markdown files and rebuilt whenever they change, so it lives in
an in-memory database owned by each process rather than in SHOPMATE_DB: nothing to migrate,
no stale copy when several processes share one database file, and no write there when a
document is edited. Rebuilding a few hundred sections takes milliseconds.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

logger = logging.getLogger(__name__)

TABLE = "policy_sections"
_COLUMNS = ("document", "title", "heading", "name", "text")
_WORD_RE = re.compile(r"\w+")
_MAX_QUERY_WORDS = 24
# Words that say nothing about which policy is meant; left out so they don't drown the rest.
# ("tee": every ThreadCo policy is about tees, and a question's "tee" should not pick one.)
_STOPWORDS = frozenset(
    _WORD_RE.findall(
        """a about am an and any are as at be been but by can could did do does for from get got
        had has have how i if in into is it its just me my no not of on or our please so than
        that the their them then there these they this to up us was we were what when where
        which who why will with would you your tee tees"""
    )
)


class PolicyIndex:
    """Sections in, best matches out, as plain dicts; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db = Database(sqlite3.connect(":memory:", check_same_thread=False))
        table = self._db.table(TABLE)
        table.create(
            {"id": int, "document": str, "title": str, "heading": str, "name": str, "text": str},
            pk="id",
        )
        # Porter stemming: "returns" finds "return", "washed" finds "wash".
        table.enable_fts(["name", "text"], tokenize="porter", create_triggers=True)

    def replace(self, sections: Iterable[dict[str, Any]]) -> int:
        """Swap the indexed sections for `sections` (dicts with the _COLUMNS keys), at once.

        One transaction: a search running meanwhile sees the old set or the new, never half.
        """
        rows = [{key: str(section[key]) for key in _COLUMNS} for section in sections]
        with self._lock, self._db.atomic():
            table = self._db.table(TABLE)
            table.delete_where()
            table.insert_all(rows)
        logger.debug("indexed %d policy sections", len(rows))
        return len(rows)

    def search(self, query: str, *, limit: int = 3) -> list[dict[str, str]]:
        """The sections that best match the words of `query`, best first (maybe none).

        Any of the words may match (a question rarely uses every word a policy does); FTS5's
        rank puts sections matching more, and rarer, words first. Each word is quoted, so FTS
        syntax in a question (`NEAR`, `*`, quotes) is just text.
        """
        words = [w for w in dict.fromkeys(_WORD_RE.findall(query.lower())) if w not in _STOPWORDS]
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', "") + '"' for w in words[:_MAX_QUERY_WORDS])
        with self._lock:
            rows = list(self._db.table(TABLE).search(match, columns=list(_COLUMNS), limit=limit))
        return [{key: row[key] for key in _COLUMNS} for row in rows]

    def count(self) -> int:
        with self._lock:
            return self._db.table(TABLE).count

    def close(self) -> None:
        with self._lock:
            self._db.close()
