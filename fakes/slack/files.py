"""The fake's files: `files.info`, private download URLs that need the bot token, file events.

Slack's file objects carry `url_private` and `url_private_download` on Slack's own host; a GET
of either with `Authorization: Bearer <token with files:read>` returns the bytes, and without a
valid token Slack answers with a redirect to its sign-in page (an HTML page, status 200), which
a careless client saves as the "file". This fake does the same under its own host, records
every download attempt (with or without a token), and builds the message events (subtype
`file_share`, or an app_mention carrying `files`) a person's upload produces.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from fakes.slack.events import mention_event, message_event, next_ts
from fakes.slack.wire import SlackError, require

logger = logging.getLogger(__name__)

_ids = itertools.count(1)
_LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Sign in | Slack</title></head>"
    b"<body><h1>Sign in to your workspace</h1></body></html>"
)


@dataclass(frozen=True)
class Download:
    """One GET of a private file URL (or of anything else under /files-pri/)."""

    path: str
    token_present: bool
    authorized: bool
    status: int


@dataclass
class _File:
    info: dict[str, Any]
    data: bytes


class FileMethods:
    """Mixed into FakeSlack: `add_file` uploads, `files.info` describes, GETs download."""

    METHODS: ClassVar[dict[str, str]] = {"files.info": "_files_info"}

    def add_file(
        self,
        data: bytes,
        *,
        name: str,
        mimetype: str,
        filetype: str | None = None,
        user: str = "U0USER",
        size: int | None = None,
    ) -> dict[str, Any]:
        """Store a file as a person's upload; returns its file object, as events carry it.

        `size` overrides the reported size (a file Slack says is large, to test that nothing
        is downloaded). The object is a copy: edit it to point an event elsewhere.
        """
        file_id = f"F{next(_ids):08d}"
        team = self.team_id  # type: ignore[attr-defined]
        base = f"{self.url}files-pri/{team}-{file_id}"  # type: ignore[attr-defined]
        info = {
            "id": file_id,
            "created": 1700000000,
            "timestamp": 1700000000,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype or name.rsplit(".", 1)[-1].lower(),
            "pretty_type": (filetype or name.rsplit(".", 1)[-1]).upper(),
            "user": user,
            "user_team": team,
            "editable": False,
            "size": len(data) if size is None else size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "url_private": f"{base}/{quote(name)}",
            "url_private_download": f"{base}/download/{quote(name)}",
            "permalink": f"https://{self.team_domain}.slack.com/files/{user}/{file_id}/{quote(name)}",  # type: ignore[attr-defined]
        }
        with self._files_lock():
            self._files_store()[file_id] = _File(info, data)
        return dict(info)

    @property
    def downloads(self) -> list[Download]:
        """Every GET under /files-pri/ so far, oldest first."""
        with self._files_lock():
            return list(self._download_log())

    # ----------------------------------------------------------------- Web API

    def _files_info(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        require(args, "file")
        found = self._files_store().get(str(args["file"]))
        if found is None:
            raise SlackError("file_not_found")
        return {"file": dict(found.info), "comments": [], "response_metadata": {"next_cursor": ""}}

    # ----------------------------------------------------------------- raw HTTP

    def _serve_raw(
        self, path: str, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes] | None:
        """A download or the sign-in page; None for the Web API (served as JSON)."""
        parts = urlsplit(path)
        if parts.path == "/":  # where the sign-in redirect goes
            return 200, {"Content-Type": "text/html; charset=utf-8"}, _LOGIN_PAGE
        if not parts.path.startswith("/files-pri/"):
            return None
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        authorized = self._token_may_read(token)
        found = self._file_at(parts.path)
        status = 404 if found is None and authorized else (200 if authorized else 302)
        with self._files_lock():
            self._download_log().append(Download(parts.path, token is not None, authorized, status))
        self._cond_notify()
        if not authorized:
            # What Slack does without a valid token: off to the sign-in page.
            location = f"{self.url}?redir={quote(parts.path)}"  # type: ignore[attr-defined]
            return 302, {"Location": location, "Content-Type": "text/html"}, b""
        if found is None:
            return 404, {"Content-Type": "text/plain"}, b"file not found"
        kind = found.info["mimetype"]
        disposition = "attachment" if "/download/" in parts.path else "inline"
        return 200, {"Content-Type": kind, "Content-Disposition": disposition}, found.data

    def _token_may_read(self, token: str | None) -> bool:
        if token is None:
            return False
        tokens = self.tokens  # type: ignore[attr-defined]
        if tokens is not None:
            return token in tokens
        return token.startswith("xoxb-")

    def _file_at(self, path: str) -> _File | None:
        # /files-pri/T0001-F00000001/[download/]name
        segment = path[len("/files-pri/") :].split("/", 1)[0]
        file_id = segment.rsplit("-", 1)[-1]
        return self._files_store().get(file_id)

    # ----------------------------------------------------------------- state

    def _files_lock(self) -> threading.RLock:
        return self._cond  # type: ignore[attr-defined,return-value]

    def _files_store(self) -> dict[str, _File]:
        if not hasattr(self, "_file_objects"):
            self._file_objects: dict[str, _File] = {}
        return self._file_objects

    def _download_log(self) -> list[Download]:
        if not hasattr(self, "_downloads"):
            self._downloads: list[Download] = []
        return self._downloads

    def _cond_notify(self) -> None:
        with self._cond:  # type: ignore[attr-defined]
            self._cond.notify_all()  # type: ignore[attr-defined]


def file_share_event(
    *,
    team: str,
    channel: str,
    user: str,
    text: str,
    files: list[dict[str, Any]],
    channel_type: str = "im",
    thread_ts: str | None = None,
    mention: bool = False,
    bot_user_id: str = "UBOT",
) -> dict[str, Any]:
    """A person's upload as Slack delivers it: a `message` with subtype `file_share` and
    `files` (as in a DM), or, with `mention`, the `app_mention` that carries the same files."""
    ts = next_ts()
    if mention:
        payload = mention_event(
            team=team, channel=channel, user=user, text=text, ts=ts, thread_ts=thread_ts
        )
        payload["event"]["files"] = files
        payload["event"]["upload"] = False
        return payload
    return message_event(
        team=team,
        channel=channel,
        user=user,
        text=text,
        channel_type=channel_type,
        ts=ts,
        thread_ts=thread_ts,
        subtype="file_share",
        bot_user_id=bot_user_id,
        files=files,
        upload=True,
        display_as_bot=False,
    )
