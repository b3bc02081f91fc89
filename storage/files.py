"""Attached files: bytes stored once by content hash, and which conversation each came with."""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from typing import Any

from storage.database import SharedDatabase

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewFile:
    """A file to keep: its bytes as sent to Claude, and what it is."""

    sha256: str
    media_type: str
    data: bytes
    name: str
    width: int | None = None
    height: int | None = None
    pages: int | None = None


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    media_type: str
    data: bytes


class FileStore:
    """Reads and writes attached files; their purge is the conversations' (retention)."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    def attach(
        self, thread_key: str, message_id: int | None, files: builtins.list[NewFile]
    ) -> None:
        """Keep the files (once per hash) and link them to the conversation, in ONE transaction.

        The conversation must exist (the user message the files came with created it).
        """
        if not files:
            return
        with self._shared.write() as db:
            rows = builtins.list(
                db.table("conversations").rows_where("thread_key = ?", [thread_key], limit=1)
            )
            if not rows:
                raise ValueError(f"no conversation {thread_key!r} to attach files to")
            now = self._shared.now()
            for file in files:
                db.table("files").insert(
                    {
                        "sha256": file.sha256,
                        "media_type": file.media_type,
                        "size_bytes": len(file.data),
                        "width": file.width,
                        "height": file.height,
                        "pages": file.pages,
                        "data": file.data,
                        "created_utc": now,
                    },
                    pk="sha256",
                    ignore=True,  # stored once: the same bytes are the same file
                )
                db.table("conversation_files").insert(
                    {
                        "conversation_id": rows[0]["id"],
                        "message_id": message_id,
                        "sha256": file.sha256,
                        "name": file.name,
                        "created_utc": now,
                    }
                )

    def get(self, sha256: str) -> StoredFile | None:
        """The stored bytes for a hash, or None (never stored, or purged)."""
        with self._shared.read() as db:
            rows = builtins.list(
                db.query("select sha256, media_type, data from files where sha256 = ?", [sha256])
            )
        if not rows:
            return None
        row = rows[0]
        return StoredFile(row["sha256"], row["media_type"], bytes(row["data"]))

    def load(self, sha256: str) -> tuple[str, bytes] | None:
        """(media_type, bytes) for a hash: the loader `bot.attachments.expand` takes."""
        found = self.get(sha256)
        return None if found is None else (found.media_type, found.data)

    def count(self) -> int:
        with self._shared.read() as db:
            return db.table("files").count

    def listed(self, thread_key: str) -> builtins.list[dict[str, Any]]:
        """A conversation's files for an export: name, type, size and hash (not the bytes)."""
        with self._shared.read() as db:
            return builtins.list(
                db.query(
                    "select l.name, f.media_type, f.size_bytes, f.sha256, f.width, f.height, "
                    "f.pages, l.message_id, l.created_utc from conversation_files l "
                    "join files f on f.sha256 = l.sha256 "
                    "join conversations c on c.id = l.conversation_id "
                    "where c.thread_key = ? order by l.id",
                    [thread_key],
                )
            )
