"""Shows one answer in a Slack thread as it is written: status, then streamed text, then done.

Prefers Slack's native streaming with task steps (bot/slack/native_stream.py) and falls back
to chat.postMessage + paced chat.update (bot/slack/post_update.py) when streaming is
unavailable, rejected, or expires. When neither has budget to spare, the answer waits under
the thread's status and arrives in one post. Every call goes through `SlackCalls`
(bot/slack/calls.py) on the shared per-workspace CallBudget: progress calls are skipped when
it is tight, the calls that deliver the final text wait their turn and are retried
(Retry-After, bounded). The promise: every character Claude wrote becomes visible once, in
order — in a new message in the thread when the current one can no longer be edited, and
with a notice if Slack refuses even that. A finished answer's last message also carries the
feedback buttons (bot/slack/feedback.py), sent with the call that ends it: chat.stopStream,
the final chat.update, or the last post. When the person presses Stop (`stopped_by_user`),
the reply shows nothing more and says so in `stopped_by_user`/`unshown`, for the front to
stop the engine.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.events import (
    EngineEvent,
    Notice,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnComplete,
    TurnFailed,
)
from bot.slack.budget import Reservation
from bot.slack.calls import Outcome
from bot.slack.errors import BAD_BLOCKS, RATE_LIMITED, STOPPED_BY_USER, UNEDITABLE
from bot.slack.feedback import feedback_blocks
from bot.slack.formatting import cut_point
from bot.slack.native_stream import NativeStream
from bot.slack.post_update import PostAndUpdate, without_blocks
from bot.slack.reply_state import ReplyOptions, ReplyTarget
from bot.slack.stream_health import StreamingHealth

__all__ = ["THINKING_STATUS", "ReplyOptions", "ReplyTarget", "SlackReply", "StreamingHealth"]

logger = logging.getLogger(__name__)

THINKING_STATUS = "is thinking…"
CLEAR_STATUS_WAIT_S = 10.0  # taking the status line down waits this long for a slot


class SlackReply(NativeStream, PostAndUpdate):
    """Turns engine events into Slack calls for one answer. Used by one thread at a time.

    Built as `SlackReply(client, budget, target, options=..., health=..., signs=...)`; its
    state is `ReplyState`'s (bot/slack/reply_state.py). Here: what engine events do, and
    which path each message takes.
    """

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
        if self._mode == "stream":
            outcome = self._append()
            text = self._shown + self._pending
        else:
            text = self._shown + self._pending
            if len(text) > self.options.message_chars:
                return  # the cut above will end this message; no edit it would refuse
            outcome = self._update(text)
        if outcome is None:
            return
        if outcome.ok:
            self._shown = text
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
        blocks = self._closing_blocks if self._closing else []
        if self._mode == "stream":
            self._stop(blocks)
        elif self._mode == "update" and (self._pending or blocks):
            self._final_update(blocks)
        self._close_message()
        if self._pending:
            self._post_rest()

    def _open_message(self, *, placeholder: bool = False) -> bool:
        """Start the reply message, natively streamed if we can; False if the budget says wait."""
        text = "" if placeholder else self._pending
        soft_limit = int(self.options.message_chars * 0.8)
        if len(text) > soft_limit:
            # A long first text: open with a first part; the cut in _flush ends the message.
            text = text[: cut_point(text, soft_limit)]
        return self._try_stream(text) or self._post_first(text)

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

    def _answered(self) -> None:
        """A message of this reply is in the thread: Slack cleared the status line."""
        self._status = ""
        if self._sign is not None and self.signs is not None:
            self.signs.answered(self._sign)

    # ----- the thread's status line and final calls ----------------------------------------

    def _set_status(self, status: str, *, optional: bool = True) -> Outcome | None:
        """Set the thread's status line; None when the budget had no slot for it."""
        t = self.target
        if not self._status_supported:
            return None
        extra: dict[str, Any] = {}
        if status == THINKING_STATUS and self.options.loading_messages:
            extra["loading_messages"] = list(self.options.loading_messages)
        outcome = self._now(
            "assistant.threads.setStatus",
            optional=optional,
            channel_id=t.channel,
            thread_ts=t.thread_ts,
            status=status,
            **extra,
        )
        if outcome is not None and outcome.ok:
            self._status = status
            if self._sign is not None and self.signs is not None:
                self.signs.superseded(self._sign)  # this status line is the sign
        return outcome

    def _clear_status(self) -> None:
        """Take the status line down; Slack would leave it spinning for minutes."""
        t = self.target
        self.calls.waited(
            self.client,
            t.team,
            "assistant.threads.setStatus",
            timeout=CLEAR_STATUS_WAIT_S,
            channel_id=t.channel,
            thread_ts=t.thread_ts,
            status="",
        )

    def _final_call(
        self, method: str, *, reservation: Reservation | None = None, **kwargs: Any
    ) -> Outcome:
        """A call that delivers final text (`SlackCalls.final`); blocks Slack refuses are
        dropped and the call made again without them: the answer matters more than its
        buttons."""
        t = self.target
        outcome = self.calls.final(self.client, t.team, method, reservation=reservation, **kwargs)
        if outcome.error in BAD_BLOCKS and "blocks" in kwargs:
            logger.error("Slack refused the feedback blocks (%s); sent without", outcome.error)
            self._closing_blocks = []
            outcome = self.calls.final(self.client, t.team, method, **without_blocks(kwargs))
        return outcome
