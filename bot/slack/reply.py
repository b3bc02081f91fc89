"""Shows one answer in a Slack thread as it is written: status, then streamed text, then done.

Prefers Slack's native streaming (chat.startStream / appendStream / stopStream) and falls back
to chat.postMessage + throttled chat.update when streaming is unavailable, rejected, or expires
(Slack ends a stream about five minutes after it starts). Every call draws from the shared
per-workspace CallBudget; progress calls are skipped when the budget is tight, the calls that
deliver the final text are reserved up front.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.events import EngineEvent, TextDelta, ToolStarted, TurnComplete, TurnFailed
from bot.slack.budget import CallBudget, Reservation
from bot.slack.formatting import DEFAULT_MESSAGE_CHARS, cut_point

logger = logging.getLogger(__name__)

THINKING_STATUS = "is thinking…"
PLACEHOLDER = "_ShopMate is looking into it…_"
STREAMING_RETRY_AFTER_S = 600.0
POST_WHOLE_ATTEMPTS = 3


@dataclass(frozen=True)
class ReplyTarget:
    """Where a reply goes and who it is for (native streams in channels need the recipient)."""

    team: str
    channel: str
    thread_ts: str
    user: str | None = None
    user_team: str | None = None


class StreamingHealth:
    """Remembers per workspace that native streaming failed, so later replies skip it a while."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._broken_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def usable(self, team: str) -> bool:
        with self._lock:
            return self._clock() >= self._broken_until.get(team, 0.0)

    def mark_broken(self, team: str) -> None:
        with self._lock:
            self._broken_until[team] = self._clock() + STREAMING_RETRY_AFTER_S


@dataclass
class ReplyOptions:
    flush_interval: float = 0.4
    native_streaming: bool = True
    message_chars: int = DEFAULT_MESSAGE_CHARS


class SlackReply:
    """Turns engine events into Slack calls for one answer. Used by one thread at a time."""

    def __init__(
        self,
        client: WebClient,
        budget: CallBudget,
        target: ReplyTarget,
        *,
        options: ReplyOptions | None = None,
        health: StreamingHealth | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.budget = budget
        self.target = target
        self.options = options or ReplyOptions()
        self.health = health or StreamingHealth()
        self.clock = clock
        self.posted: list[str] = []  # ts of every message this reply created
        self._pending = ""  # text written by Claude, not yet sent to Slack
        self._shown = ""  # text visible in the current message
        self._mode: str | None = None  # None (no message yet), "stream" or "update"
        self._ts: str | None = None
        self._reservation: Reservation | None = None
        self._last_flush = 0.0
        self._status: str = ""
        self._status_supported = True
        self._finished = False
        self._last_error: str | None = None  # error code of the latest failed Slack call

    # ----- engine events -------------------------------------------------------------------

    def start(self) -> None:
        """Show at once that ShopMate is working: a thread status, else an early message."""
        if not self._set_status(THINKING_STATUS, optional=False):
            self._status_supported = False
            self._open_message(placeholder=True)

    def handle(self, event: EngineEvent) -> None:
        if isinstance(event, TextDelta):
            self._pending += event.text
            # The first words go out at once; after that, one call per flush interval.
            due = self.clock() - self._last_flush >= self.options.flush_interval
            if not self._shown or due:
                self._flush(final=False)
        elif isinstance(event, ToolStarted):
            self._flush(final=False)
            wanted = " ".join(str(v) for v in event.input.values())[:60]
            self._set_status(f"is looking up {wanted}…" if wanted else "is checking…")
        elif isinstance(event, TurnFailed):
            self._pending += ("\n\n" if (self._shown or self._pending) else "") + event.message
            self.finish()
        elif isinstance(event, TurnComplete):
            self.finish()

    def finish(self) -> None:
        """Deliver everything left and end the message; safe to call more than once."""
        if self._finished:
            return
        self._finished = True
        try:
            self._flush(final=True)
        finally:
            if self._reservation is not None:
                self._reservation.release()
                self._reservation = None
            if self._status and self._status_supported:
                self._set_status("")

    # ----- delivery ------------------------------------------------------------------------

    def _flush(self, *, final: bool) -> None:
        self._last_flush = self.clock()
        limit = self.options.message_chars
        soft_limit = int(limit * 0.8)
        while len(self._shown) + len(self._pending) > soft_limit:
            # Near the limit, end the message at a paragraph break; text already shown can't
            # be taken back, so hold the rest until a break arrives or the limit forces a cut.
            combined = self._shown + self._pending
            cut = combined.rfind("\n\n", len(self._shown), limit)
            if cut <= 0:
                if len(combined) <= limit:
                    if not final:
                        return
                    break
                cut = cut_point(combined, limit, keep=len(self._shown))
            self._pending = combined[len(self._shown) : cut]
            rest = combined[cut:]
            self._deliver(final=True)
            self._close_message()
            self._pending = rest
        if self._pending or (final and self._mode is not None):
            self._deliver(final=final)
        if final:
            self._close_message()

    def _deliver(self, *, final: bool) -> None:
        """Send the pending text to the current message, opening one if needed."""
        if self._mode is None and not self._open_message():
            if not final:
                return  # no budget for a message yet: keep buffering, nothing is lost
            self._post_whole(self._pending)
            return
        if self._mode == "stream":
            self._stream_text(final=final)
        else:
            self._update_text(final=final)

    def _open_message(self, *, placeholder: bool = False) -> bool:
        """Start the reply message, natively streamed if we can; False if the budget says wait."""
        t = self.target
        text = self._pending if not placeholder else ""
        if self.options.native_streaming and self.health.usable(t.team):
            reservation = self.budget.reserve(t.team, ["chat.startStream", "chat.stopStream"])
            if reservation is not None:
                kwargs: dict[str, Any] = {"channel": t.channel, "thread_ts": t.thread_ts}
                if text:
                    kwargs["markdown_text"] = text
                if not t.channel.startswith("D"):
                    kwargs["recipient_team_id"] = t.user_team or t.team
                    kwargs["recipient_user_id"] = t.user
                reservation.spend("chat.startStream")
                response = self._call("chat.startStream", self.client.chat_startStream, **kwargs)
                if response is not None:
                    self._begin("stream", response["ts"], reservation, shown=text)
                    return True
                reservation.release()
                self.health.mark_broken(t.team)
        reservation = self.budget.reserve(
            t.team, ["chat.postMessage", "chat.update"], channel=t.channel
        )
        if reservation is None:
            return False
        reservation.spend("chat.postMessage")
        response = self._call(
            "chat.postMessage",
            self.client.chat_postMessage,
            channel=t.channel,
            thread_ts=t.thread_ts,
            markdown_text=text or PLACEHOLDER,
        )
        if response is None:
            reservation.release()
            return False
        self._begin("update", response["ts"], reservation, shown=text)
        return True

    def _begin(self, mode: str, ts: str, reservation: Reservation, *, shown: str) -> None:
        self._mode, self._ts, self._reservation = mode, ts, reservation
        self._shown = shown
        if shown:
            self._pending = self._pending[len(shown) :]
        self.posted.append(ts)

    def _stream_text(self, *, final: bool) -> None:
        t = self.target
        if final:
            assert self._reservation is not None
            self._reservation.spend("chat.stopStream")
            kwargs: dict[str, Any] = {"channel": t.channel, "ts": self._ts}
            if self._pending:
                kwargs["markdown_text"] = self._pending
            ok = self._call("chat.stopStream", self.client.chat_stopStream, **kwargs) is not None
        else:
            if not self._pending or not self.budget.try_acquire(
                t.team, "chat.appendStream", optional=True
            ):
                return
            ok = (
                self._call(
                    "chat.appendStream",
                    self.client.chat_appendStream,
                    channel=t.channel,
                    ts=self._ts,
                    markdown_text=self._pending,
                )
                is not None
            )
        if ok:
            self._shown += self._pending
            self._pending = ""
            return
        # The stream broke (expired, or the method failed): what was shown stays; the rest
        # continues in a normal message that we post and update.
        self.health.mark_broken(t.team)
        self._close_message()
        if self._pending and not self._open_message() and final:
            self._post_whole(self._pending)

    def _update_text(self, *, final: bool) -> None:
        t = self.target
        if not self._pending:
            return
        if final:
            if self._reservation is not None and self._reservation.holds("chat.update"):
                self._reservation.spend("chat.update")
            elif not self.budget.acquire(t.team, "chat.update"):
                logger.warning("No chat.update budget to finish a reply in %s", t.channel)
        elif not self.budget.try_acquire(t.team, "chat.update", optional=True):
            return
        text = self._shown + self._pending
        response = self._call(
            "chat.update",
            self.client.chat_update,
            channel=t.channel,
            ts=self._ts,
            markdown_text=text,
        )
        if response is not None:
            self._shown, self._pending = text, ""

    def _post_whole(self, text: str) -> None:
        """Last resort when no message could be opened: one plain post, waiting for budget.

        The answer must not be lost to rate limiting: a post still refused as `ratelimited`
        after the client's own Retry-After retries waits for budget and is tried again.
        """
        t = self.target
        if not text:
            return
        for _ in range(POST_WHOLE_ATTEMPTS):
            self.budget.acquire(t.team, "chat.postMessage", channel=t.channel)
            response = self._call(
                "chat.postMessage",
                self.client.chat_postMessage,
                channel=t.channel,
                thread_ts=t.thread_ts,
                markdown_text=text,
            )
            if response is not None:
                self.posted.append(response["ts"])
                self._pending = ""
                return
            if self._last_error != "ratelimited":
                return

    def _close_message(self) -> None:
        if self._reservation is not None:
            self._reservation.release()
        self._mode, self._ts, self._reservation, self._shown = None, None, None, ""

    # ----- Slack calls ---------------------------------------------------------------------

    def _set_status(self, status: str, *, optional: bool = True) -> bool:
        t = self.target
        if not self._status_supported:
            return False
        if not self.budget.try_acquire(t.team, "assistant.threads.setStatus", optional=optional):
            return False
        response = self._call(
            "assistant.threads.setStatus",
            self.client.assistant_threads_setStatus,
            channel_id=t.channel,
            thread_ts=t.thread_ts,
            status=status,
        )
        if response is None:
            return False
        self._status = status
        return True

    def _call(self, method: str, fn: Callable[..., Any], **kwargs: Any) -> Any | None:
        """Make one Web API call; log failures by method and error code, never raise."""
        self._last_error = None
        try:
            return fn(**kwargs)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            self._last_error = code
            logger.warning("Slack API error: method=%s error=%s", method, code)
        except Exception as error:  # connection failures after the client's retries
            logger.warning(
                "Slack API call failed: method=%s error=%s", method, type(error).__name__
            )
        return None
