"""Build Slack Events API deliveries, sign them as Slack does, and post them to a running app."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_API_APP_ID = "A0SHOPMATE"
# The legacy verification token every envelope still carries; Bolt checks signatures instead.
DEFAULT_VERIFICATION_TOKEN = "fake-verification-token"

_ts_lock = threading.Lock()
_last_ts_us = 0
_event_ids = itertools.count(1)


def sign(signing_secret: str, body: bytes | str, timestamp: int | str) -> str:
    """X-Slack-Signature for `body`: "v0=" + hex HMAC-SHA256(secret, "v0:{ts}:{raw body}")."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode("ascii") + b":" + raw
    return "v0=" + hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def next_ts() -> str:
    """A unique, increasing, wall-clock message ts ("1700000123.000456"), like Slack's."""
    global _last_ts_us
    with _ts_lock:
        us = max(int(time.time() * 1_000_000), _last_ts_us + 1)
        _last_ts_us = us
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def next_event_id() -> str:
    """A unique event_id ("Ev..."), which is what a deduplicating app keys on."""
    return f"Ev{next(_event_ids):04d}{uuid.uuid4().hex[:8].upper()}"


def envelope(
    event: dict[str, Any],
    *,
    team: str,
    bot_user_id: str = "UBOT",
    api_app_id: str = DEFAULT_API_APP_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> dict[str, Any]:
    """Wrap `event` in an event_callback envelope with the single, truncated `authorizations`."""
    return {
        "token": DEFAULT_VERIFICATION_TOKEN,
        "team_id": team,
        "context_team_id": team,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or next_event_id(),
        "event_time": event_time if event_time is not None else int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def _rich_text(text: str) -> list[dict[str, Any]]:
    """The rich_text block a Slack client attaches to a typed message; mentions become users."""
    elements: list[dict[str, Any]] = []
    rest = text
    while "<@" in rest:
        before, _, after = rest.partition("<@")
        user, sep, rest_after = after.partition(">")
        if not sep:
            break
        if before:
            elements.append({"type": "text", "text": before})
        elements.append({"type": "user", "user_id": user.split("|")[0]})
        rest = rest_after
    if rest:
        elements.append({"type": "text", "text": rest})
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
    ]


def mention_event(
    *,
    team: str,
    channel: str,
    user: str,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    bot_user_id: str = "UBOT",
    user_team: str | None = None,
    api_app_id: str = DEFAULT_API_APP_ID,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An app_mention delivery; `text` gets the leading "<@UBOT> " unless it already mentions."""
    ts = ts or next_ts()
    if f"<@{bot_user_id}>" not in text:
        text = f"<@{bot_user_id}> {text}"
    event: dict[str, Any] = {
        "user": user,
        "type": "app_mention",
        "ts": ts,
        "client_msg_id": str(uuid.uuid4()),
        "text": text,
        "team": team,
        "blocks": _rich_text(text),
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    if user_team is not None:  # Slack Connect: the sender's home workspace differs
        event["user_team"] = user_team
        event["source_team"] = user_team
    return envelope(
        event, team=team, bot_user_id=bot_user_id, api_app_id=api_app_id, event_id=event_id
    )


def message_event(
    *,
    team: str,
    channel: str,
    user: str | None,
    text: str,
    channel_type: str = "im",
    ts: str | None = None,
    thread_ts: str | None = None,
    subtype: str | None = None,
    bot_id: str | None = None,
    bot_user_id: str = "UBOT",
    api_app_id: str = DEFAULT_API_APP_ID,
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `message` delivery (message.im / message.channels); `extra` is merged into the event.

    A human message carries client_msg_id and blocks; a bot's carries bot_id (and `user` only
    when the bot has a bot user). `channel_type` is "im", "channel", "group" or "mpim".
    """
    ts = ts or next_ts()
    event: dict[str, Any] = {"type": "message"}
    if subtype is not None:
        event["subtype"] = subtype
    if user is not None:
        event["user"] = user
    event.update({"text": text, "ts": ts})
    if bot_id is not None:
        event["bot_id"] = bot_id
    elif subtype is None:
        event["client_msg_id"] = str(uuid.uuid4())
        event["blocks"] = _rich_text(text)
    event["team"] = team
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    event.update({"channel": channel, "event_ts": ts, "channel_type": channel_type})
    event.update(extra)
    return envelope(
        event, team=team, bot_user_id=bot_user_id, api_app_id=api_app_id, event_id=event_id
    )


def channel_event(
    *, team: str, channel: str, user: str, text: str, ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """A person's message in a channel: an @mention that starts a thread, or (with
    `thread_ts`) a follow-up in that thread, which needs no mention once the app answered."""
    if thread_ts is None:
        return mention_event(team=team, channel=channel, user=user, text=text, ts=ts)
    return message_event(
        team=team,
        channel=channel,
        channel_type="channel",
        user=user,
        text=text,
        ts=ts,
        thread_ts=thread_ts,
    )


def message_changed_event(
    *,
    team: str,
    channel: str,
    ts: str,
    text: str,
    previous_text: str,
    user: str = "UBOT",
    bot_id: str | None = "BBOT",
    channel_type: str = "channel",
    thread_ts: str | None = None,
    bot_user_id: str = "UBOT",
    api_app_id: str = DEFAULT_API_APP_ID,
) -> dict[str, Any]:
    """The `message_changed` delivery every chat.update produces (bots must ignore their own)."""
    event_ts = next_ts()

    def inner(body: str) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "message", "user": user, "text": body, "ts": ts}
        if bot_id is not None:
            msg["bot_id"] = bot_id
        if thread_ts is not None:
            msg["thread_ts"] = thread_ts
        return msg

    current = inner(text)
    current["edited"] = {"user": user, "ts": event_ts}
    event = {
        "type": "message",
        "subtype": "message_changed",
        "message": current,
        "previous_message": inner(previous_text),
        "channel": channel,
        "hidden": True,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel_type,
    }
    return envelope(event, team=team, bot_user_id=bot_user_id, api_app_id=api_app_id)


def block_actions_payload(
    *,
    team: str,
    channel: str,
    user: str,
    message: dict[str, Any],
    action: dict[str, Any],
    team_domain: str = "shopmate-test",
    api_app_id: str = DEFAULT_API_APP_ID,
    response_url: str = "https://hooks.slack.com/actions/T0001/1/fake",
) -> dict[str, Any]:
    """A `block_actions` interaction: `user` clicked `action` on `message` (a message dict as
    conversations.replies returns it: ts, thread_ts, text, blocks).

    `action` is the element's part as Slack reports it, e.g. {"type": "button", "action_id":
    "...", "block_id": "...", "value": "..."}; `action_ts` is added. Slack form-encodes this as
    `payload=<json>` and signs that form body (`EventSender.post_interaction`).
    """
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": channel,
        "is_ephemeral": False,
    }
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
        "api_app_id": api_app_id,
        "token": DEFAULT_VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:32]}",
        "team": {"id": team, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel.lower()},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{**action, "action_ts": next_ts()}],
    }


def url_verification(challenge: str, *, token: str = DEFAULT_VERIFICATION_TOKEN) -> dict[str, Any]:
    """The handshake Slack sends when the Request URL is saved; the app echoes `challenge`."""
    return {"token": token, "challenge": challenge, "type": "url_verification"}


class EventSender:
    """Posts deliveries to a running app over real HTTP, signed as Slack signs them.

    Uses its own urllib opener with an empty ProxyHandler so HTTP(S)_PROXY never captures
    loopback traffic.
    """

    def __init__(self, url: str, signing_secret: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.signing_secret = signing_secret
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def post(
        self,
        payload: dict[str, Any] | bytes,
        *,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> tuple[int, bytes, float]:
        """Send one delivery; returns (HTTP status, response body, seconds taken).

        `retry_num` adds X-Slack-Retry-Num / X-Slack-Retry-Reason (default "http_timeout") as
        Slack's re-deliveries do; `timestamp` / `signature` override the signing so tests can
        send stale or forged requests. Non-2xx answers are returned, not raised.
        """
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        return self._send(body, "application/json", retry_num, retry_reason, timestamp, signature)

    def post_interaction(
        self,
        payload: dict[str, Any],
        *,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> tuple[int, bytes, float]:
        """Send an interaction (a button click) as Slack does: form-encoded `payload=<json>`,
        signed over that form body, to the same Request URL as events."""
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode("utf-8")
        return self._send(
            body, "application/x-www-form-urlencoded", None, None, timestamp, signature
        )

    def _send(
        self,
        body: bytes,
        content_type: str,
        retry_num: int | None,
        retry_reason: str | None,
        timestamp: int | None,
        signature: str | None,
    ) -> tuple[int, bytes, float]:
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature or sign(self.signing_secret, body, ts),
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        started = time.perf_counter()
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
        elapsed = time.perf_counter() - started
        logger.debug("event delivery to %s -> %s in %.3fs", self.url, status, elapsed)
        return status, data, elapsed


def app_home_opened_event(
    *,
    team: str,
    user: str,
    channel: str,
    tab: str = "messages",
    bot_user_id: str = "UBOT",
    api_app_id: str = DEFAULT_API_APP_ID,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An app_home_opened delivery: `tab` "messages" is someone opening the agent view (the
    DM `channel` with the app), "home" the Home tab (which carries the published view)."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": next_ts(),
    }
    if tab == "home":
        event["view"] = {"type": "home", "blocks": []}
    return envelope(
        event, team=team, bot_user_id=bot_user_id, api_app_id=api_app_id, event_id=event_id
    )


def assistant_thread_started_event(
    *,
    team: str,
    user: str,
    channel: str,
    thread_ts: str,
    context_channel: str | None = None,
    bot_user_id: str = "UBOT",
    api_app_id: str = DEFAULT_API_APP_ID,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An assistant_thread_started delivery (apps on the older assistant view): Slack opened
    thread `thread_ts` in the DM `channel`; `context_channel` is what the user was viewing."""
    context: dict[str, Any] = {"team_id": team, "enterprise_id": None}
    if context_channel is not None:
        context["channel_id"] = context_channel
    event = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": context,
            "channel_id": channel,
            "thread_ts": thread_ts,
        },
        "event_ts": next_ts(),
    }
    return envelope(
        event, team=team, bot_user_id=bot_user_id, api_app_id=api_app_id, event_id=event_id
    )


def view_block_actions_payload(
    *,
    team: str,
    user: str,
    view: dict[str, Any],
    action: dict[str, Any],
    team_domain: str = "shopmate-test",
    api_app_id: str = DEFAULT_API_APP_ID,
) -> dict[str, Any]:
    """A `block_actions` interaction on a view (the Home tab): no channel, no message; the
    container names the view, and the payload carries the view as Slack holds it."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
        "api_app_id": api_app_id,
        "token": DEFAULT_VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view.get("id")},
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:32]}",
        "team": {"id": team, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view,
        "actions": [{**action, "action_ts": next_ts()}],
    }
