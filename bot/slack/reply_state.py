"""Where a reply goes, how it shows an answer, and the state its two paths share.

`SlackReply` (bot/slack/reply.py) is made of two paths over one `ReplyState`: the native
stream with its steps (bot/slack/native_stream.py) and the post-and-update fallback
(bot/slack/post_update.py). A message of the reply is on one path at a time (`_mode`), and
the text flows between them: what one message could not take, the next one shows.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.models.messages.chunk import TaskUpdateChunk

from bot.settings import Settings
from bot.slack.budget import CallBudget, Reservation
from bot.slack.calls import Outcome, SlackCalls
from bot.slack.formatting import DEFAULT_MESSAGE_CHARS
from bot.slack.stream_health import StreamingHealth

if TYPE_CHECKING:
    from bot.slack.signs import FirstSigns, Sign


@dataclass(frozen=True)
class ReplyTarget:
    """Where a reply goes and who it is for (native streams in channels need the recipient)."""

    team: str
    channel: str
    thread_ts: str
    user: str | None = None
    user_team: str | None = None
    message_ts: str | None = None  # the asker's message (the first sign's reaction goes on it)


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


class ReplyState:
    """One answer's state in Slack, shared by its paths. Used by one thread at a time."""

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
        self.calls = SlackCalls(budget, sleep=sleep)
        self.target = target
        self.options = options or ReplyOptions()
        self.health = health or StreamingHealth()
        self.clock = clock
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

    def _now(self, method: str, *, optional: bool = True, **kwargs: Any) -> Outcome | None:
        """A progress call of this reply: a free slot now, in turn with the other replies
        (`optional`), or not made (None)."""
        return self.calls.now(
            self.client, self.target.team, method, optional=optional, owner=self.owner, **kwargs
        )

    # ----- what SlackReply decides for both paths ----------------------------------------

    def _flush(self, *, final: bool) -> None:
        raise NotImplementedError

    def _set_status(self, status: str, *, optional: bool = True) -> Outcome | None:
        raise NotImplementedError

    def _final_call(
        self, method: str, *, reservation: Reservation | None = None, **kwargs: Any
    ) -> Outcome:
        raise NotImplementedError

    def _begin(self, mode: str, ts: str, reservation: Reservation | None, *, shown: str) -> None:
        raise NotImplementedError

    def _user_stopped(self) -> None:
        raise NotImplementedError

    def _answered(self) -> None:
        raise NotImplementedError
