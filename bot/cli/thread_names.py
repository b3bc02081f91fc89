"""The names people know a conversation by, turned into the thread key it is stored under.

People do not type `slack:T0001:C0001:1700000000.000100`. They have the name they gave
`shopmate chat --thread`, a Slack permalink copied from "Copy link", or a channel and a
timestamp. Each is accepted here, so `history export` takes what people actually have.
"""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

# https://team.slack.com/archives/C0123/p1700000000000100[?thread_ts=1700000000.000100&cid=C0123]
_PERMALINK = re.compile(r"^/archives/(?P<channel>[A-Z0-9]+)/p(?P<secs>\d{10})(?P<micros>\d{6})$")
_CHANNEL_TS = re.compile(r"^(?P<channel>[A-Z0-9]+)/(?P<ts>\d+\.\d+)$")
_TS = re.compile(r"^\d+\.\d+$")


class ThreadLookup(Protocol):
    def exists(self, thread_key: str) -> bool: ...

    def keys_for_slack_thread(self, channel: str, thread_ts: str) -> list[str]: ...


class UnknownThread(LookupError):
    """No stored conversation goes by that name, or more than one does."""


def slack_thread(name: str) -> tuple[str, str] | None:
    """(channel, thread_ts) from a Slack permalink or `channel/ts`; None if it is neither."""
    name = name.strip()
    match = _CHANNEL_TS.match(name)
    if match:
        return match["channel"], match["ts"]
    parts = urlsplit(name)
    if parts.scheme not in ("http", "https"):
        return None
    link = _PERMALINK.match(parts.path)
    if not link:
        return None
    # A reply's link carries the thread it belongs to; the thread is what ShopMate stores.
    thread_ts = parse_qs(parts.query).get("thread_ts", [None])[0]
    if thread_ts is None or not _TS.match(thread_ts):
        thread_ts = f"{link['secs']}.{link['micros']}"
    return link["channel"], thread_ts


def resolve(store: ThreadLookup, name: str) -> str:
    """The stored thread key `name` refers to; raises UnknownThread saying what was tried."""
    name = name.strip()
    if store.exists(name):
        return name
    slack = slack_thread(name)
    if slack is not None:
        channel, thread_ts = slack
        keys = store.keys_for_slack_thread(channel, thread_ts)
        if len(keys) == 1:
            return keys[0]
        if keys:
            raise UnknownThread(
                f"{name!r} matches {len(keys)} conversations ({', '.join(keys)}); give the full key"
            )
        raise UnknownThread(f"no conversation for the Slack thread {channel}/{thread_ts}")
    if ":" not in name and store.exists(f"local:{name}"):
        return f"local:{name}"
    tried = f"{name!r}" + (f" or 'local:{name}'" if ":" not in name else "")
    raise UnknownThread(f"no conversation {tried}")
