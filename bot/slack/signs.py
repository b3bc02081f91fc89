"""The first sign that ShopMate heard someone: a status line or a reaction, at Slack's full rate.

A status line ("is thinking…") used to be the only early sign, taken only when the shared
budget had a slot free at that instant: in a rush in one channel most people saw nothing until
their whole answer was posted. Here every asker's sign waits in one line of its own, first come
first served, for whichever of two calls Slack limits separately frees first:
`assistant.threads.setStatus` (Tier 3, assumed) or `reactions.add` with :eyes: on the asker's
message (Tier 3). The waiting happens on a few worker threads, never on the answering thread,
and a waiting sign holds its place ahead of progress status lines (budget finals go first);
posts and edits draw on other methods, so nothing queues behind them. A sign still waiting
when the answer shows is dropped: the answer is the sign.

When the answer lands the sign goes: Slack clears a status line itself when the app posts in
the thread (a status set after that post is cleared by a call), and the :eyes: reaction is
removed (`reactions.remove`, Tier 2) by a background lane that nobody waits for. Removing it,
rather than swapping it for a "done" mark, costs one call instead of two, leaves the channel
as it was, and the answer in the thread already says "done". With a free status slot (one
person at a time) the status line is taken first, so no reaction is added and none removed.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient

from bot.slack.budget import CallBudget
from bot.slack.calls import SlackCalls
from storage import StorageClosed

logger = logging.getLogger(__name__)

STATUS = "assistant.threads.setStatus"
REACT = "reactions.add"
UNREACT = "reactions.remove"
SIGN_EMOJI = "eyes"
SIGN_WAIT_S = 120.0  # a sign not out by then is pointless (the answer is near)
UNDO_WAIT_S = 300.0  # a stale :eyes: is harmless; the removal waits its turn this long
WORKERS = 4  # signs sent at once (each a short HTTP call; the budget paces them)
UNDO_WORKERS = 2
# A method refused for the whole workspace (setStatus without assistant:write or not an AI
# app; reactions.add without reactions:write, on an app installed before it was asked for):
# that kind of sign is not tried there again by this process.
_REFUSED = frozenset(
    {"missing_scope", "not_allowed", "unknown_method", "not_allowed_token_type", "no_permission"}
)


@dataclass(eq=False)
class Sign:
    """One asker's first sign: where it goes, and what became of it.

    `state`: queued → sending → status | reaction (shown), or dropped (not needed any more)
    or none (Slack took neither). `answered`: the reply has shown a message.
    """

    client: WebClient
    team: str
    channel: str
    thread_ts: str
    message_ts: str | None
    status: str
    loading_messages: tuple[str, ...] = ()
    state: str = "queued"
    answered: bool = False
    finished: bool = False
    tried: set[str] = field(default_factory=set)


class FirstSigns:
    """The line of first signs for one process; shared by every reply (thread-safe)."""

    def __init__(self, budget: CallBudget, *, workers: int = WORKERS) -> None:
        self.budget = budget
        self.calls = SlackCalls(budget)
        self._cond = threading.Condition()
        self._queue: deque[Sign] = deque()
        self._undo: deque[tuple[Sign, str]] = deque()
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._refused: set[tuple[str, str]] = set()  # (team, method) refused for the team
        self._acquiring = 0  # workers waiting in the budget's line for a slot

    # ----- what replies call ------------------------------------------------------------------

    def show(
        self,
        client: WebClient,
        *,
        team: str,
        channel: str,
        thread_ts: str,
        message_ts: str | None,
        status: str,
        loading_messages: Sequence[str] = (),
    ) -> Sign:
        """Queue the first sign for one asker; returns at once."""
        sign = Sign(client, team, channel, thread_ts, message_ts, status, tuple(loading_messages))
        with self._cond:
            if self._closed:
                sign.state = "dropped"
                return sign
            self._queue.append(sign)
            self._start_threads()
            self._cond.notify_all()
        return sign

    def answered(self, sign: Sign) -> None:
        """The reply showed a message (Slack cleared any status line): a waiting sign goes."""
        with self._cond:
            sign.answered = True
            if sign.state == "queued":
                sign.state = "dropped"
                self._cond.notify_all()

    def superseded(self, sign: Sign) -> None:
        """The reply set a status line of its own: that is the sign, if none went out yet."""
        with self._cond:
            if sign.state == "queued":
                sign.state = "dropped"

    def finish(self, sign: Sign) -> None:
        """The answer is done: take the sign down (in the background), or drop it."""
        with self._cond:
            sign.finished = True
            if sign.state == "queued":
                sign.state = "dropped"
            elif sign.state == "reaction":
                self._queue_undo(sign, UNREACT)
            elif sign.state == "status" and not sign.answered:
                self._queue_undo(sign, STATUS)  # nothing was posted to clear it
            # "sending": the worker takes it down once its call returns.

    def close(self) -> None:
        """Stop: signs and removals not sent yet are dropped (a stale :eyes: is harmless)."""
        with self._cond:
            self._closed = True
            for sign in self._queue:
                sign.state = "dropped"
            self._queue.clear()
            self._undo.clear()
            self._cond.notify_all()

    def _start_threads(self) -> None:
        if self._threads:
            return
        for i in range(self._workers):
            self._spawn(self._send_loop, f"first-sign-{i}")
        for i in range(UNDO_WORKERS):
            self._spawn(self._undo_loop, f"first-sign-undo-{i}")

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _send_loop(self) -> None:
        """Wait for a slot for the oldest waiting sign's workspace, then give it to the oldest
        sign that still needs one: a sign answered meanwhile never wastes a slot."""
        while True:
            with self._cond:
                # No more workers in the budget's line than signs waiting: a slot taken for
                # nobody would be a call's worth of budget lost.
                head = self._head()
                while not self._closed and (head is None or self._acquiring >= self._waiting()):
                    self._cond.wait()
                    head = self._head()
                if self._closed or head is None:
                    return
                team, methods = head.team, self._methods(head)
                self._acquiring += 1
            try:
                method = self.budget.acquire_any(team, methods, timeout=SIGN_WAIT_S)
            except StorageClosed:  # the shared budget's store: the process is stopping
                return
            finally:
                with self._cond:
                    self._acquiring -= 1
            with self._cond:
                self._cond.notify_all()
                sign = self._take(team, method)
                if sign is None:
                    continue  # every sign got its answer (or a slot) meanwhile
                if method is None:
                    sign.state = "none"
                    logger.info("No first sign in %s: no budget for %.0f s", team, SIGN_WAIT_S)
                    continue
                sign.state = "sending"
            try:
                self._send(sign, method)
            except Exception:  # a bug here must not end the worker
                logger.exception("Could not send a first sign in %s", sign.channel)
            with self._cond:
                self._cond.notify_all()

    def _head(self) -> Sign | None:
        """The oldest sign still waiting, once signs no longer needed are cleared off the front
        (under the lock); one with nothing left to try is given up."""
        while self._queue:
            sign = self._queue[0]
            if sign.state == "queued" and self._methods(sign):
                return sign
            if sign.state == "queued":
                sign.state = "none"
            self._queue.popleft()
        return None

    def _waiting(self) -> int:
        return sum(1 for sign in self._queue if sign.state == "queued")

    def _take(self, team: str, method: str | None) -> Sign | None:
        """Remove and return the oldest waiting sign of `team` that `method` can show."""
        for sign in self._queue:
            usable = method is None or method in self._methods(sign)
            if sign.team == team and sign.state == "queued" and usable:
                self._queue.remove(sign)
                return sign
        return None

    def _methods(self, sign: Sign) -> list[str]:
        methods = []
        if STATUS not in sign.tried and (sign.team, STATUS) not in self._refused:
            methods.append(STATUS)  # first choice: cleared by Slack itself when we post
        if REACT not in sign.tried and sign.message_ts and (sign.team, REACT) not in self._refused:
            methods.append(REACT)
        return methods

    def _send(self, sign: Sign, method: str) -> None:
        outcome = self.calls.call(
            sign.client, sign.team, method, **_arguments(sign, method, undo=False)
        )
        # Already so (a retried reaction): what we wanted is done.
        error = None if outcome.error == "already_reacted" else outcome.error
        with self._cond:
            if error is None:
                sign.state = "status" if method == STATUS else "reaction"
                if method == STATUS and (sign.answered or sign.finished):
                    # Set as (or after) the answer was posted, it would spin on: clear it.
                    self._queue_undo(sign, STATUS)
                elif method == REACT and sign.finished:
                    self._queue_undo(sign, UNREACT)
                return
            sign.state = "queued"
            if error != "ratelimited":
                sign.tried.add(method)
                if error in _REFUSED:
                    self._refused.add((sign.team, method))
            if sign.answered or sign.finished or not self._methods(sign):
                sign.state = "dropped" if sign.answered or sign.finished else "none"
                return
            self._queue.appendleft(sign)  # its turn again, with what is left to try
            self._cond.notify_all()

    def _queue_undo(self, sign: Sign, method: str) -> None:
        """Queue taking a shown sign down (under the lock); it is no longer shown after."""
        sign.state = "dropped"
        if not self._closed:
            self._undo.append((sign, method))
            self._cond.notify_all()

    def _undo_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or bool(self._undo))
                if self._closed:
                    return
                sign, method = self._undo.popleft()
            try:
                self.calls.waited(
                    sign.client,
                    sign.team,
                    method,
                    timeout=UNDO_WAIT_S,
                    **_arguments(sign, method, undo=True),
                )
            except StorageClosed:  # the shared budget's store: the process is stopping
                return
            except Exception:
                logger.exception("Could not take a first sign down in %s", sign.channel)
            with self._cond:
                self._cond.notify_all()


def _arguments(sign: Sign, method: str, *, undo: bool) -> dict[str, Any]:
    """A sign's call: its status line (or clearing it), or the :eyes: reaction (added or
    removed, by `method`)."""
    if method != STATUS:
        return {"channel": sign.channel, "timestamp": sign.message_ts, "name": SIGN_EMOJI}
    arguments: dict[str, Any] = {
        "channel_id": sign.channel,
        "thread_ts": sign.thread_ts,
        "status": "" if undo else sign.status,
    }
    if not undo and sign.loading_messages:
        arguments["loading_messages"] = list(sign.loading_messages)
    return arguments
