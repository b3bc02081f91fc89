"""A reply's native Slack stream (chat.startStream / appendStream / stopStream) and its steps.

In a native stream each tool call is a step above the text (a `task_update` chunk: "Looking
up ORD-1001", in progress, then complete or error, a finished step titled with what it found);
the chunks ride along with the text's own calls, so steps cost no extra calls per flush.
Lookups made before the first words open the stream with their findings at once (facts
first). Where there is no stream to show steps in, the thread's status line says the same
("is looking up ORD-1001…", "found ORD-1001 · shipped · …").

`NativeStream` is one half of `SlackReply` (bot/slack/reply.py), which holds the state both
halves share and picks the path; the other half is bot/slack/post_update.py.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.models.messages.chunk import MarkdownTextChunk, TaskUpdateChunk

from bot.events import ToolFinished, ToolStarted
from bot.slack.calls import Outcome
from bot.slack.errors import STOPPED_BY_USER, UNEDITABLE
from bot.slack.reply_state import ReplyState

logger = logging.getLogger(__name__)

TASK_TEXT_CHARS = 256  # a task step's title and output are one short line each
STATUS_CHARS = 150  # a status line carrying found facts is cut here


class NativeStream(ReplyState):
    """The native stream and task steps of one reply (a part of `SlackReply`)."""

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
        if self._mode is None and self._task_chunks and not self._pending and self._try_stream(""):
            return  # the queued (finished) steps opened the stream alone
        if self._mode == "stream" and self._chunked:
            self._flush(final=False)  # the steps carry the facts
            return
        self._set_status(_fact_status(facts), optional=False)

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

    # ----- the stream's calls --------------------------------------------------------------

    def _try_stream(self, text: str) -> bool:
        """Open a native stream with `text` where streaming works and budget allows."""
        t = self.target
        return (
            self.options.native_streaming
            and self.health.usable(t.team, t.channel)
            and self._start_stream(text)
        )

    def _start_stream(self, text: str) -> bool:
        """chat.startStream with the first text, if a slot is free now; on refusal, note
        where streaming is off."""
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
        outcome = self.calls.now(self.client, t.team, "chat.startStream", **kwargs)
        if outcome is not None and outcome.ok:
            self._begin("stream", outcome.response["ts"], None, shown=text)
            self._task_chunks = []
            return True
        self._chunked = False
        if outcome is not None:
            self.health.refused(t.team, t.channel, outcome.error)
        return False

    def _append(self) -> Outcome | None:
        """chat.appendStream with the pending text and steps, if the budget spares a call."""
        return self._now(
            "chat.appendStream",
            channel=self.target.channel,
            ts=self._ts,
            **self._stream_content(self._pending),
        )

    def _stop(self, blocks: list[dict[str, Any]]) -> None:
        """End the stream with the pending text (and `blocks` under it), retried (bounded)."""
        t = self.target
        kwargs: dict[str, Any] = {"channel": t.channel, "ts": self._ts}
        kwargs.update(self._stream_content(self._pending))
        if blocks:
            kwargs["blocks"] = blocks  # rendered under the finished stream
        outcome = self._final_call("chat.stopStream", **kwargs)
        if outcome.ok:
            self._shown += self._pending
            self._pending = ""
        elif outcome.error == STOPPED_BY_USER:
            self._user_stopped()
        elif outcome.error not in UNEDITABLE:
            # Tried and tried: Slack ends the stream itself within minutes; the text
            # must not wait for that.
            logger.error("Could not stop the stream %s in %s", self._ts, t.channel)


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
