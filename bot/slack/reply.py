"""Shows one answer in a Slack thread as it is written: status, then streamed text, then done.

Prefers Slack's native streaming (chat.startStream / appendStream / stopStream) and falls back
to chat.postMessage + paced chat.update when streaming is unavailable, rejected, or expires
(Slack ends a stream about five minutes after it starts). When neither has budget to spare,
the answer waits under the thread's status and arrives in one post. Every call draws from the
shared per-workspace CallBudget: progress calls are skipped when it is tight, the calls that
deliver the final text wait their turn and are retried (Retry-After, bounded). The promise:
every character Claude wrote becomes visible once, in order — in a new message in the thread
when the current one can no longer be edited, and with a notice if Slack refuses even that.
A finished answer's last message also carries the feedback buttons (bot/slack/feedback.py),
sent with the call that ends it: chat.stopStream, the final chat.update, or the last post.

In a native stream each tool call is a step above the text (a `task_update` chunk: "Looking
up ORD-1001", in progress, then complete or error, a finished step titled with what it found);
the chunks ride along with the text's own calls, so steps cost no extra calls per flush.
Lookups made before the first words open the stream with their findings at once (facts
first). The post-and-update path shows the thread's status line instead (with the findings,
"found ORD-1001 · shipped · …"). When the person presses Stop (`stopped_by_user`), the
reply shows nothing more and says so in `stopped_by_user`/`unshown`, for the front to stop
the engine.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import MarkdownTextChunk, TaskUpdateChunk

from bot.events import (
    EngineEvent,
    Notice,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnComplete,
    TurnFailed,
)
from bot.settings import Settings
from bot.slack.budget import CallBudget, Reservation
from bot.slack.feedback import feedback_blocks
from bot.slack.formatting import DEFAULT_MESSAGE_CHARS, cut_point, split_message
from bot.slack.retry_after import retry_after

if TYPE_CHECKING:
    from bot.slack.signs import FirstSigns, Sign

logger = logging.getLogger(__name__)

THINKING_STATUS = "is thinking…"
PLACEHOLDER = "_ShopMate is looking into it…_"
UNDELIVERED_NOTICE = "_Slack would not take the rest of this answer; please ask again._"
# Workspace-wide streaming trouble (a missing scope, an app not allowed) may be fixed by an
# admin: try again after a while. A channel type that has no streaming keeps not having it.
STREAMING_RETRY_AFTER_S = 600.0
CHANNEL_STREAMING_RETRY_AFTER_S = 6 * 3600.0
FINAL_ATTEMPTS = 4  # tries of a call that delivers the final text
TASK_TEXT_CHARS = 256  # a task step's title and output are one short line each
STATUS_CHARS = 150  # a status line carrying found facts is cut here
FINAL_WAIT_S = 120.0  # the longest a final call waits for budget
RETRY_BACKOFF_S = 0.5  # first pause after a transient failure, doubled each time

# Slack error codes by what they mean for this reply.
RATE_LIMITED = frozenset({"ratelimited"})
STOPPED_BY_USER = "stopped_by_user"  # the person pressed Stop: show nothing more
# The message exists but can take no more: what is left goes in a new message.
UNEDITABLE = frozenset(
    {
        "message_not_in_streaming_state",
        "cant_update_message",
        "msg_too_long",
        "message_not_found",
        "edit_window_closed",
        "streaming_state_conflict",
        "streaming_mode_mismatch",
        "stopped_by_user",
    }
)
# Slack refused the blocks themselves: the call is made again without them.
BAD_BLOCKS = frozenset({"invalid_blocks", "invalid_blocks_format"})
# About where the message is: this channel's type has no native streaming.
CHANNEL_NO_STREAMING = frozenset(
    {"method_not_supported_for_channel_type", "channel_type_not_supported"}
)
# About the whole workspace (or the app's installation in it).
TEAM_NO_STREAMING = frozenset(
    {
        "not_allowed",
        "missing_scope",
        "unknown_method",
        "not_allowed_token_type",
        "team_access_not_granted",
    }
)
# Retrying cannot help: the post itself is refused.
HOPELESS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "restricted_action",
        "no_permission",
        "invalid_arguments",
        "missing_scope",
        "not_allowed",
    }
)


@dataclass(frozen=True)
class ReplyTarget:
    """Where a reply goes and who it is for (native streams in channels need the recipient)."""

    team: str
    channel: str
    thread_ts: str
    user: str | None = None
    user_team: str | None = None
    message_ts: str | None = None  # the asker's message (the first sign's reaction goes on it)


class StreamingHealth:
    """Where native streaming failed, so later replies skip it there for a while.

    A channel whose type has no streaming turns it off for that channel only; a refusal
    about the workspace (scope, permission) turns it off for the workspace.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._off_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def usable(self, team: str, channel: str | None = None) -> bool:
        now = self._clock()
        with self._lock:
            if now < self._off_until.get(team, 0.0):
                return False
            return channel is None or now >= self._off_until.get(f"{team}/{channel}", 0.0)

    def channel_off(self, team: str, channel: str) -> None:
        with self._lock:
            self._off_until[f"{team}/{channel}"] = self._clock() + CHANNEL_STREAMING_RETRY_AFTER_S

    def team_off(self, team: str) -> None:
        with self._lock:
            self._off_until[team] = self._clock() + STREAMING_RETRY_AFTER_S


@dataclass
class ReplyOptions:
    flush_interval: float = Settings.flush_interval
    native_streaming: bool = Settings.slack_native_streaming
    message_chars: int = DEFAULT_MESSAGE_CHARS
    # Thumbs up/down under a finished answer (SHOPMATE_FEEDBACK).
    feedback: bool = Settings.slack_feedback
    # Rotated by Slack under THINKING_STATUS (assistant.threads.setStatus takes up to 10).
    loading_messages: tuple[str, ...] = ()
    # Tool calls as task_update chunks in native streams (SHOPMATE_TASK_STEPS).
    task_steps: bool = Settings.slack_task_steps
    # Found facts (ToolFinished.fact) shown at once: a finished step opening the stream, or
    # the status line; false shows them only with Claude's words (SHOPMATE_FACTS_FIRST).
    facts_first: bool = Settings.facts_first
    # "both": the first sign waits its turn for a status line or an :eyes: reaction, whichever
    # Slack allows first (bot/slack/signs.py); "status": a status line only if one is free at
    # once (SHOPMATE_FIRST_SIGN).
    first_sign: str = Settings.first_sign


@dataclass
class _Outcome:
    """What one Slack call ended with."""

    response: Any | None = None
    error: str | None = None  # Slack's error code, "connection" for a network failure
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None


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
        sleep: Callable[[float], None] = time.sleep,
        signs: FirstSigns | None = None,
    ) -> None:
        self.client = client
        # The first sign goes through the process's line of signs (bot/slack/signs.py) when
        # given one; else start() tries a status line now or shows nothing early.
        self.signs = signs
        self._sign: Sign | None = None
        self.budget = budget
        self.target = target
        self.options = options or ReplyOptions()
        self.health = health or StreamingHealth()
        self.clock = clock
        self.sleep = sleep
        self.owner = uuid.uuid4().hex  # this reply's name in the budget's fair share
        self.posted: list[str] = []  # ts of every message this reply created
        self._pending = ""  # text written by Claude, not yet visible in Slack
        self._shown = ""  # text visible in the current message
        self._mode: str | None = None  # None (no message yet), "stream" or "update"
        self._ts: str | None = None
        self._reservation: Reservation | None = None  # the final chat.update of a post
        self._last_flush = 0.0
        self._status: str = ""
        self._status_supported = True
        self._finished = False
        # Blocks for the call that ends the answer (feedback buttons), once it is complete;
        # `_closing` is set when that call is the next one made.
        self._closing_blocks: list[dict[str, Any]] = []
        self._closing = False
        # Task steps of the open stream: ids it shows, updates not sent yet (in order).
        self._chunked = False  # the open stream was started with chunks (it takes steps)
        self._tasks: dict[str, str] = {}  # id -> title
        self._task_chunks: list[TaskUpdateChunk] = []
        self._tasks_first = False  # the queued steps came before the pending text
        self._running: set[str] = set()  # tool calls started and not finished
        self._facts: list[str] = []  # found facts of the running batch, not shown yet
        # Set when the person pressed Stop; `unshown` characters of the text never got out.
        self.stopped_by_user = False
        self.unshown = 0

    # ----- engine events -------------------------------------------------------------------

    def start(self) -> None:
        """Show at once that ShopMate is working: a thread status, else an early message.

        With no budget for a status right now, nothing is shown early: the first words follow
        soon, and a placeholder would cost a chat.update later. With a line of first signs,
        the sign waits its turn there instead (a status line or a reaction), off this thread.
        """
        t = self.target
        if self.signs is not None:
            if self._sign is None:
                self._sign = self.signs.show(
                    self.client,
                    team=t.team,
                    channel=t.channel,
                    thread_ts=t.thread_ts,
                    message_ts=t.message_ts,
                    status=THINKING_STATUS,
                    loading_messages=self.options.loading_messages,
                )
            return
        outcome = self._set_status(THINKING_STATUS, optional=False)
        if outcome is not None and not outcome.ok and outcome.error not in RATE_LIMITED:
            self._status_supported = False
            self._open_message(placeholder=True)

    def handle(self, event: EngineEvent | Notice) -> None:
        if self.stopped_by_user:
            # Stopped: nothing more is shown (no rest, no error notice); only the ending.
            if isinstance(event, TurnComplete | TurnFailed) or (
                isinstance(event, Notice) and event.final
            ):
                self.finish()
            return
        if isinstance(event, Notice):
            # ShopMate's own sentences: a final one is the whole reply (said like a failed
            # answer's notice), any other one a paragraph before the answer.
            if event.final:
                event = TurnFailed(event.text, event.reason)
            else:
                event = TextDelta(event.text + "\n\n")
        if isinstance(event, TextDelta):
            self._pending += event.text
            # The first words go out at once; after that, one call per flush interval.
            due = self.clock() - self._last_flush >= self.options.flush_interval
            if not self._shown or due:
                self._flush(final=False)
        elif isinstance(event, ToolStarted):
            self._tool_started(event)
        elif isinstance(event, ToolFinished):
            self._tool_finished(event)
        elif isinstance(event, TurnFailed):
            self._pending += ("\n\n" if (self._shown or self._pending) else "") + event.message
            self.finish()
        elif isinstance(event, TurnComplete):
            if self.options.feedback and event.turn_id is not None:
                self._closing_blocks = feedback_blocks(event.turn_id)
            self.finish()

    def finish(self) -> None:
        """Deliver everything left and end the message; safe to call more than once."""
        if self._finished:
            return
        self._finished = True
        try:
            self._flush(final=True)
        finally:
            self.budget.forget(self.owner)
            self._close_message()
            if self._status and self._status_supported:
                self._clear_status()
            if self._sign is not None and self.signs is not None:
                self.signs.finish(self._sign)

    # ----- task steps ----------------------------------------------------------------------

    def _tool_started(self, event: ToolStarted) -> None:
        """A step in the stream if there is (or can be) one; else today's status line.

        Parallel calls arrive as one batch of events: their steps go out together with the
        last of them, in one call (with any text written before them). Before the first words
        (pasted ids looked up before Claude is asked, or a call Claude makes before writing)
        there is no message yet: the status line says it meanwhile and the steps open the
        stream with the first words, so no stream is started for a step in progress (Tier 2,
        the scarcest calls). With facts first, the finished steps open it as soon as the
        batch is back (`_tool_finished`); a process that dies then leaves that message, which
        its successor marks as interrupted like any half-shown answer.
        """
        self._running.add(event.tool_use_id)
        status = _status_line(event)
        if not self._steps_possible():
            self._flush(final=False)
            self._set_status(status)
            return
        title = event.title or f"Running {event.name.replace('_', ' ')}"
        self._tasks[event.tool_use_id] = title
        self._queue_task(event.tool_use_id, title, "in_progress")
        if event.batch and event.tool_use_id != event.batch[-1]:
            return
        if self._mode is not None or self._pending:
            self._flush(final=False)
        if self.stopped_by_user:
            return
        if self._mode is None:
            self._set_status(status)  # the steps wait for the stream's first call
        elif self._mode != "stream" or not self._chunked:
            # No stream to show steps in (no budget, refused, or posted instead).
            self._drop_tasks()
            self._set_status(status)

    def _tool_finished(self, event: ToolFinished) -> None:
        """A finished step; with facts first, what the lookups found is shown at once.

        Once the last call of a batch is back, its facts open the native stream as finished
        steps ("ORD-1001 · shipped · Royal Mail RM… · due 2 Apr") before Claude's first word,
        or, with no stream to show them in, go on the status line. Opening the stream here
        spends no extra Tier 2 call: it is the chat.startStream the first words would make a
        moment later; those words then follow in a chat.appendStream (Tier 4).
        """
        self._running.discard(event.tool_use_id)
        fact = event.fact if self.options.facts_first and not event.is_error else ""
        if fact:
            self._facts.append(fact)
        title = self._tasks.get(event.tool_use_id)
        if title is not None:
            status = "error" if event.is_error else "complete"
            if fact:
                self._queue_task(event.tool_use_id, fact, status)
            else:
                self._queue_task(event.tool_use_id, title, status, output=event.summary)
        if self._running or not self._facts:
            if title is not None and self.clock() - self._last_flush >= self.options.flush_interval:
                self._flush(final=False)
            return  # Else it rides along with the next text, a moment away.
        facts, self._facts = self._facts, []
        if self._mode is None and self._task_chunks and not self._pending and self._open_steps():
            return
        if self._mode == "stream" and self._chunked:
            self._flush(final=False)  # the steps carry the facts
            return
        self._set_status(_fact_status(facts), optional=False)

    def _open_steps(self) -> bool:
        """Start the native stream with the queued (finished) steps alone; False if not now."""
        t = self.target
        return (
            self.options.native_streaming
            and self.health.usable(t.team, t.channel)
            and self.budget.try_acquire(t.team, "chat.startStream")
            and self._start_stream("")
        )

    def _steps_possible(self) -> bool:
        if not self.options.task_steps:
            return False
        if self._mode == "stream":
            return self._chunked
        t = self.target
        return (
            self._mode is None
            and self.options.native_streaming
            and self.health.usable(t.team, t.channel)
        )

    def _queue_task(self, task_id: str, title: str, status: str, *, output: str = "") -> None:
        """Queue one step's update; a newer update of the same step replaces an unsent one."""
        if not self._task_chunks:
            self._tasks_first = not self._pending
        chunk = TaskUpdateChunk(
            id=task_id,
            title=title[:TASK_TEXT_CHARS],
            status=status,
            output=output[:TASK_TEXT_CHARS] or None,
        )
        self._task_chunks = [c for c in self._task_chunks if c.id != task_id] + [chunk]

    def _drop_tasks(self) -> None:
        self._tasks.clear()
        self._task_chunks = []

    def _stream_content(self, text: str) -> dict[str, Any]:
        """A stream call's content: markdown_text, or in a stream started with chunks, the
        text and the queued steps as chunks (in the order they happened).
        """
        if not self._chunked:
            return {"markdown_text": text} if text else {}
        markdown = [MarkdownTextChunk(text=text)] if text else []
        if self._tasks_first:
            chunks = [*self._task_chunks, *markdown]
        else:
            chunks = [*markdown, *self._task_chunks]
        return {"chunks": chunks} if chunks else {}

    def _user_stopped(self) -> None:
        """Slack said the person pressed Stop: what is pending stays unshown, for good."""
        logger.info("Stopped by the user in %s (message %s)", self.target.channel, self._ts)
        self.stopped_by_user = True
        self.unshown = len(self._pending)
        self._pending = ""
        self._close_message()

    # ----- delivery ------------------------------------------------------------------------

    def _flush(self, *, final: bool) -> None:
        self._last_flush = self.clock()
        limit = self.options.message_chars
        soft_limit = int(limit * 0.8)
        while self._mode is not None and len(self._shown) + len(self._pending) > soft_limit:
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
            rest = combined[cut:]
            self._pending = combined[len(self._shown) : cut]
            self._finish_message()
            if self.stopped_by_user:
                self.unshown += len(rest)
                return
            self._pending = rest + self._pending
        if self._mode is None:
            if final:
                self._closing = True
                self._post_rest()
            elif self._pending:
                self._open_message()
            return
        if final:
            self._closing = True
            self._finish_message()
        elif self._pending or (self._chunked and self._task_chunks):
            self._progress()

    def _progress(self) -> None:
        """Show the pending text in the open message if the budget spares a call."""
        t = self.target
        if self._mode == "stream":
            method, fn = "chat.appendStream", self.client.chat_appendStream
            kwargs: dict[str, Any] = self._stream_content(self._pending)
            text = self._pending
        else:
            method, fn = "chat.update", self.client.chat_update
            text = self._shown + self._pending
            if len(text) > self.options.message_chars:
                return  # the cut above will end this message; no edit it would refuse
            kwargs = {"markdown_text": text}
        if not self.budget.try_acquire(t.team, method, optional=True, owner=self.owner):
            return
        outcome = self._call(method, fn, channel=t.channel, ts=self._ts, **kwargs)
        if outcome.ok:
            self._shown = self._shown + self._pending if self._mode == "stream" else text
            self._pending = ""
            self._task_chunks = []
        elif outcome.error == STOPPED_BY_USER:
            self._user_stopped()
        elif outcome.error in UNEDITABLE:
            # Expired or stopped: what was shown stays; the rest goes in a new message.
            self._close_message()
        # Anything else (rate limit, a transient error): the text stays pending for the next
        # call, and the final one always comes.

    def _finish_message(self) -> None:
        """End the open message with the pending text; what it won't take is posted anew."""
        t = self.target
        blocks = self._closing_blocks if self._closing else []
        if self._mode == "stream":
            kwargs: dict[str, Any] = {"channel": t.channel, "ts": self._ts}
            kwargs.update(self._stream_content(self._pending))
            if blocks:
                kwargs["blocks"] = blocks  # rendered under the finished stream
            outcome = self._final_call("chat.stopStream", self.client.chat_stopStream, **kwargs)
            if outcome.ok:
                self._shown += self._pending
                self._pending = ""
            elif outcome.error == STOPPED_BY_USER:
                self._user_stopped()
            elif outcome.error not in UNEDITABLE:
                # Tried and tried: Slack ends the stream itself within minutes; the text
                # must not wait for that.
                logger.error("Could not stop the stream %s in %s", self._ts, t.channel)
        elif self._mode == "update" and (self._pending or blocks):
            text = self._shown + self._pending
            outcome = self._final_call(
                "chat.update",
                self.client.chat_update,
                reservation=self._reservation,
                channel=t.channel,
                ts=self._ts,
                **_content(text, blocks),
            )
            if outcome.ok:
                self._shown, self._pending = text, ""
        self._close_message()
        if self._pending:
            self._post_rest()

    def _open_message(self, *, placeholder: bool = False) -> bool:
        """Start the reply message, natively streamed if we can; False if the budget says wait."""
        t = self.target
        text = "" if placeholder else self._pending
        soft_limit = int(self.options.message_chars * 0.8)
        if len(text) > soft_limit:
            # A long first text: open with a first part; the cut in _flush ends the message.
            text = text[: cut_point(text, soft_limit)]
        if (
            self.options.native_streaming
            and self.health.usable(t.team, t.channel)
            and self.budget.try_acquire(t.team, "chat.startStream")
            and self._start_stream(text)
        ):
            return True
        # A posted message needs a final chat.update later: book it now, or don't post yet.
        reservation = self.budget.reserve(t.team, ["chat.update"])
        if reservation is None:
            return False
        if not self.budget.try_acquire(t.team, "chat.postMessage", channel=t.channel):
            reservation.release()
            return False
        outcome = self._call(
            "chat.postMessage",
            self.client.chat_postMessage,
            channel=t.channel,
            thread_ts=t.thread_ts,
            markdown_text=text or PLACEHOLDER,
        )
        if not outcome.ok:
            reservation.release()
            return False
        self._begin("update", outcome.response["ts"], reservation, shown=text)
        return True

    def _start_stream(self, text: str) -> bool:
        """chat.startStream with the first text; on refusal, note where streaming is off."""
        t = self.target
        kwargs: dict[str, Any] = {"channel": t.channel, "thread_ts": t.thread_ts}
        # A stream started with markdown_text takes no chunks later: with steps on, start
        # it with chunks (if there is anything to start with).
        self._chunked = self.options.task_steps
        content = self._stream_content(text)
        self._chunked = "chunks" in content
        kwargs.update(content)
        if not t.channel.startswith("D"):
            kwargs["recipient_team_id"] = t.user_team or t.team
            kwargs["recipient_user_id"] = t.user
        outcome = self._call("chat.startStream", self.client.chat_startStream, **kwargs)
        if outcome.ok:
            self._begin("stream", outcome.response["ts"], None, shown=text)
            self._task_chunks = []
            return True
        self._chunked = False
        if outcome.error in CHANNEL_NO_STREAMING:
            logger.info("No native streaming in channel %s; posting instead", t.channel)
            self.health.channel_off(t.team, t.channel)
        elif outcome.error in TEAM_NO_STREAMING:
            logger.warning("Native streaming refused in workspace %s for a while", t.team)
            self.health.team_off(t.team)
        return False

    def _begin(self, mode: str, ts: str, reservation: Reservation | None, *, shown: str) -> None:
        self._mode, self._ts, self._reservation = mode, ts, reservation
        self._shown = shown
        if shown:
            self._pending = self._pending[len(shown) :]
        self.posted.append(ts)
        self._answered()
        if mode != "stream" or not self._chunked:
            self._drop_tasks()  # steps waiting for a stream: this message takes none

    def _close_message(self) -> None:
        if self._reservation is not None:
            self._reservation.release()
        self._mode, self._ts, self._reservation, self._shown = None, None, None, ""
        self._chunked = False
        self._drop_tasks()  # a later message starts without the steps of this one

    def _post_rest(self) -> None:
        """Post the pending text as new message(s) in the thread, each waiting for budget.

        The last resort of every path: if Slack refuses even this, a short notice says so
        rather than the answer ending silently.
        """
        t = self.target
        parts = [p for p in split_message(self._pending, self.options.message_chars) if p]
        for i, part in enumerate(parts):
            last = i + 1 == len(parts)
            outcome = self._final_call(
                "chat.postMessage",
                self.client.chat_postMessage,
                channel=t.channel,
                thread_ts=t.thread_ts,
                **_content(part, self._closing_blocks if self._closing and last else []),
            )
            if not outcome.ok:
                logger.error(
                    "Lost %d characters of an answer in %s: chat.postMessage %s",
                    sum(len(p) for p in parts[i:]),
                    t.channel,
                    outcome.error,
                )
                self._pending = ""
                if outcome.error not in HOPELESS:
                    notice = self._final_call(
                        "chat.postMessage",
                        self.client.chat_postMessage,
                        channel=t.channel,
                        thread_ts=t.thread_ts,
                        markdown_text=UNDELIVERED_NOTICE,
                    )
                    if notice.ok:
                        self.posted.append(notice.response["ts"])
                return
            self.posted.append(outcome.response["ts"])
            self._answered()
            self._pending = "".join(parts[i + 1 :])
        self._pending = ""

    def _answered(self) -> None:
        """A message of this reply is in the thread: Slack cleared the status line."""
        self._status = ""
        if self._sign is not None and self.signs is not None:
            self.signs.answered(self._sign)

    # ----- Slack calls ---------------------------------------------------------------------

    def _set_status(self, status: str, *, optional: bool = True) -> _Outcome | None:
        """Set the thread's status line; None when the budget had no slot for it."""
        t = self.target
        if not self._status_supported:
            return None
        if not self.budget.try_acquire(
            t.team, "assistant.threads.setStatus", optional=optional, owner=self.owner
        ):
            return None
        extra: dict[str, Any] = {}
        if status == THINKING_STATUS and self.options.loading_messages:
            extra["loading_messages"] = list(self.options.loading_messages)
        outcome = self._call(
            "assistant.threads.setStatus",
            self.client.assistant_threads_setStatus,
            channel_id=t.channel,
            thread_ts=t.thread_ts,
            status=status,
            **extra,
        )
        if outcome.ok:
            self._status = status
            if self._sign is not None and self.signs is not None:
                self.signs.superseded(self._sign)  # this status line is the sign
        return outcome

    def _clear_status(self) -> None:
        """Take the status line down; Slack would leave it spinning for minutes."""
        t = self.target
        if not self.budget.acquire(t.team, "assistant.threads.setStatus", timeout=10.0):
            return
        self._call(
            "assistant.threads.setStatus",
            self.client.assistant_threads_setStatus,
            channel_id=t.channel,
            thread_ts=t.thread_ts,
            status="",
        )

    def _final_call(
        self,
        method: str,
        fn: Callable[..., Any],
        *,
        reservation: Reservation | None = None,
        **kwargs: Any,
    ) -> _Outcome:
        """A call that delivers final text: wait for budget, retry what may pass next time.

        A 429 holds every caller of the method for Retry-After (capped) and is tried again;
        a transient failure is tried again after a short pause; an answer about the message
        or the channel is returned at once, for the caller to post the rest elsewhere.
        """
        t = self.target
        channel = t.channel if method == "chat.postMessage" else None
        outcome = _Outcome(error="no_budget")
        for attempt in range(FINAL_ATTEMPTS):
            if not self.budget.acquire(
                t.team, method, channel=channel, timeout=FINAL_WAIT_S, reservation=reservation
            ):
                logger.warning("No %s budget within %.0f s in %s", method, FINAL_WAIT_S, t.channel)
                return outcome
            reservation = None
            outcome = self._call(method, fn, **kwargs)
            if outcome.error in BAD_BLOCKS and "blocks" in kwargs:
                # The answer matters more than its buttons: deliver it without them.
                logger.error("Slack refused the feedback blocks (%s); sent without", outcome.error)
                self._closing_blocks = []
                kwargs = _without_blocks(kwargs)
                continue
            if outcome.ok or outcome.error in UNEDITABLE | CHANNEL_NO_STREAMING | HOPELESS:
                return outcome
            if outcome.error not in RATE_LIMITED and attempt + 1 < FINAL_ATTEMPTS:
                self.sleep(RETRY_BACKOFF_S * 2**attempt)
        return outcome

    def _call(self, method: str, fn: Callable[..., Any], **kwargs: Any) -> _Outcome:
        """Make one Web API call; log failures by method and error code, never raise.

        A 429 puts the whole method on hold in the budget for its Retry-After (capped), so
        the other replies don't walk into the same wall.
        """
        try:
            return _Outcome(fn(**kwargs))
        except SlackApiError as error:
            response = error.response
            code = response.get("error") if response is not None else None
            outcome = _Outcome(error=code or "unknown_error")
            if response is not None and (code == "ratelimited" or response.status_code == 429):
                outcome.error = "ratelimited"
                outcome.retry_after = retry_after(response.headers)
                t = self.target
                channel = t.channel if method == "chat.postMessage" else None
                self.budget.penalize(t.team, method, outcome.retry_after, channel=channel)
            logger.warning("Slack API error: method=%s error=%s", method, outcome.error)
            return outcome
        except Exception as error:  # connection failures after the client's retries
            logger.warning(
                "Slack API call failed: method=%s error=%s", method, type(error).__name__
            )
            return _Outcome(error="connection")


def _content(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A message's content arguments: Markdown alone, or as a `markdown` block above `blocks`.

    Slack takes `markdown_text` or `blocks`, never both; `markdown_text` becomes one
    `markdown` block anyway, so the answer looks the same either way. `text` is the
    fallback for notifications (our messages stay under chat.update's ~4,000 characters).
    """
    if not blocks:
        return {"markdown_text": text}
    return {"text": text, "blocks": [{"type": "markdown", "text": text}, *blocks]}


def _without_blocks(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The same call without blocks; a text sent beside a `markdown` block becomes Markdown."""
    kwargs = {k: v for k, v in kwargs.items() if k != "blocks"}
    if "text" in kwargs:
        kwargs["markdown_text"] = kwargs.pop("text")
    return kwargs


def _fact_status(facts: list[str]) -> str:
    """The status line carrying found facts: "found ORD-1001 · shipped · … · due 2 Apr"."""
    line = "found " + "; ".join(facts)
    return line if len(line) <= STATUS_CHARS else line[: STATUS_CHARS - 1].rstrip() + "…"


def _status_line(event: ToolStarted) -> str:
    """The status line for a tool at work: its step title as a verb phrase ("is looking up
    ORD-1001…", "is searching the policies for returns…"), never the raw input of a tool
    that has no title of its own."""
    title = event.title.strip()
    if not title:
        return "is checking…"
    return f"is {title[0].lower()}{title[1:]}…"
