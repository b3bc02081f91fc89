"""The one place that builds and parses conversation and message keys ("platform:part:…").

Storage addresses a conversation by a plain string (`thread_key`) and the exactly-once log a
message by another (`key`); fronts build both. Their format used to be spelled out by hand
wherever one was needed; this type is now the only thing that joins or splits them:

    slack:TEAM:CHANNEL:TS      a Slack thread (TS = the thread's root) or message (TS = its own)
    api:KEY_NAME:ID            an API conversation, owned by the API key called KEY_NAME
    local:NAME                 a terminal conversation (`shopmate chat --thread NAME`)
    api-request:KEY_NAME:IDEM  an API request's Idempotency-Key (a message key: a claim)
"""

from __future__ import annotations

from dataclasses import dataclass

SLACK = "slack"
API = "api"
LOCAL = "local"
API_REQUEST = "api-request"


@dataclass(frozen=True)
class Key:
    """A platform and its parts; `str(key)` is the stored form and `Key.parse` reads it back."""

    platform: str
    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.platform or ":" in self.platform:
            raise ValueError(f"bad key platform {self.platform!r}")
        if not self.parts or any(not part for part in self.parts):
            raise ValueError(f"a {self.platform} key needs non-empty parts, got {self.parts!r}")
        # Only the last part may hold a ':' (a local name may); earlier ones must not, or
        # parsing could not tell the parts apart.
        if any(":" in part for part in self.parts[:-1]):
            raise ValueError(f"key parts before the last may not contain ':': {self.parts!r}")

    def __str__(self) -> str:
        return ":".join((self.platform, *self.parts))

    @classmethod
    def parse(cls, text: str) -> Key | None:
        """The key written as `text`, or None if it is not one of the shapes above."""
        platform, _, rest = (text or "").partition(":")
        sizes = {SLACK: 3, API: 2, LOCAL: 1, API_REQUEST: 2}
        if platform not in sizes or not rest:
            return None
        parts = tuple(rest.split(":", sizes[platform] - 1))
        if len(parts) != sizes[platform] or not all(parts):
            return None
        return cls(platform, parts)

    # -- builders -------------------------------------------------------------------------------

    @classmethod
    def slack(cls, team: str, channel: str, ts: str) -> Key:
        """A Slack thread (ts of its root) or message (its own ts) in a workspace's channel."""
        return cls(SLACK, (team, channel, ts))

    @classmethod
    def api(cls, key_name: str, conversation_id: str) -> Key:
        """An API conversation: the owner's key name is part of it, so ids never cross keys."""
        return cls(API, (key_name, conversation_id))

    @classmethod
    def api_request(cls, key_name: str, idempotency_key: str) -> Key:
        """An API request by its Idempotency-Key, which is any visible ASCII (so it goes last)."""
        return cls(API_REQUEST, (key_name, idempotency_key))

    @classmethod
    def local(cls, name: str) -> Key:
        return cls(LOCAL, (name,))

    # -- readers --------------------------------------------------------------------------------

    @property
    def last(self) -> str:
        """The last part: a Slack ts, an API conversation id, a local name."""
        return self.parts[-1]
