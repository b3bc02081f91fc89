"""Files in a Slack message: their metadata (event or files.info), and downloads with the bot token.

Slack's file objects carry `url_private` / `url_private_download`, which need the bot token
as `Authorization: Bearer` (scope `files:read`). The token is a key to the whole workspace's
files, so it is sent only to Slack's own file host (files.slack.com) and the Slack API host
this app is configured with, checked before every download, redirects are never followed
(Slack answers a request without a valid token with a redirect to its login page), and a URL
found in a message's text is never fetched. A file the event describes only by id
(`file_access: check_file_info`), or without a size, is looked up with `files.info` first, so
its size is known before any download.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient

from bot.attachments import Attachment, FetchError
from bot.slack.calls import SlackCalls

logger = logging.getLogger(__name__)

SLACK_FILE_HOST = "files.slack.com"
DOWNLOAD_TIMEOUT_S = 30.0
# The fields of a file object kept with a claimed message (so another process can answer it).
KEPT_FIELDS = (
    "id",
    "name",
    "title",
    "mimetype",
    "filetype",
    "size",
    "url_private",
    "url_private_download",
    "file_access",
    "mode",
)


def file_fields(files: Any) -> tuple[dict[str, Any], ...] | None:
    """The kept fields of an event's `files`; None if they are not what Slack sends."""
    if files is None:
        return ()
    if not isinstance(files, list | tuple) or not all(isinstance(f, Mapping) for f in files):
        return None
    kept = []
    for file in files:
        entry = {k: file[k] for k in KEPT_FIELDS if k in file}
        if not isinstance(entry.get("id"), str):
            return None
        if any(not isinstance(v, str) for k, v in entry.items() if k != "size"):
            return None
        if "size" in entry and not (isinstance(entry["size"], int) and entry["size"] >= 0):
            return None
        kept.append(entry)
    return tuple(kept)


@dataclass(frozen=True)
class FileHosts:
    """Where the bot token may go: https://files.slack.com and the configured Slack API's host."""

    allowed: frozenset[tuple[str, str]]

    @classmethod
    def for_api(cls, api_url: str) -> FileHosts:
        api = urlsplit(api_url)
        return cls(frozenset({("https", SLACK_FILE_HOST), (api.scheme, api.netloc)}))

    def permits(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) in self.allowed and not parts.username


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new place to send the token (Slack's login redirect)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def download(url: str, *, token: str, hosts: FileHosts, max_bytes: int) -> bytes:
    """The file's bytes; FetchError for a host not Slack's, a refusal or a login page."""
    if not hosts.permits(url):
        # Logged without the URL's path: it may carry a file name someone typed.
        logger.warning("Refused to send the bot token to %s", urlsplit(url).netloc or "?")
        raise FetchError("not a Slack file host")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with _opener.open(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            kind = response.headers.get("Content-Type", "")
            if kind.startswith("text/html"):
                raise FetchError("got a web page, not the file (is files:read granted?)")
            data = response.read(max_bytes + 1)
    except urllib.error.HTTPError as error:
        raise FetchError(f"HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise FetchError(type(error).__name__) from None
    return data  # more than max_bytes is caught by the caller's size check


class SlackFiles:
    """Turns a message's Slack file objects into attachments the lifecycle can check and fetch."""

    def __init__(self, client: WebClient, *, max_bytes: int) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.hosts = FileHosts.for_api(client.base_url)

    def attachments(self, files: tuple[dict[str, Any], ...]) -> tuple[Attachment, ...]:
        return tuple(self._attachment(file) for file in files)

    def _attachment(self, file: dict[str, Any]) -> Attachment:
        if "size" not in file or not (file.get("url_private_download") or file.get("url_private")):
            file = {**file, **self._info(file["id"])}
        name = str(file.get("name") or file.get("title") or "the file")
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        size = file.get("size") if isinstance(file.get("size"), int) else None

        def fetch() -> bytes:
            if not url:
                raise FetchError("no download URL")
            token = self.client.token
            if not token:
                raise FetchError("no bot token")
            return download(url, token=token, hosts=self.hosts, max_bytes=self.max_bytes)

        return Attachment(name=name, media_type=file.get("mimetype"), size=size, fetch=fetch)

    def _info(self, file_id: str) -> dict[str, Any]:
        """The file object from files.info ({} if Slack won't say: the checks then refuse it)."""
        outcome = SlackCalls().call(self.client, None, "files.info", file=file_id)
        if not outcome.ok:
            logger.warning("files.info for %s failed: %s", file_id, outcome.error)
            return {}
        found = file_fields([outcome.response.get("file") or {}])
        return dict(found[0]) if found else {}
