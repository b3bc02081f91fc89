"""The agent view around ShopMate's answers: suggested prompts on opening, thread titles.

Slack's AI entry point and split view open a DM with the app. Apps on the agent view learn
of it from `app_home_opened` with `tab == "messages"`; apps still on the older assistant view
from `assistant_thread_started`. Either way ShopMate offers a few suggested prompts
(`assistant.threads.setSuggestedPrompts`), and the first question of a DM thread becomes its
title (`assistant.threads.setTitle`, a shortened question, no model call). The rotating
loading messages under "is thinking…" belong to the reply's status (bot/slack/reply.py).

Plain Bolt listeners call this instead of Bolt's `Assistant` middleware on purpose: that
middleware takes over every DM message in a thread for its own listeners (a second answering
path beside the responder's claim, lease and order), its default thread-context store makes
Web API calls of its own (conversations.replies, chat.update), and its `set_title` /
`set_suggested_prompts` helpers call Slack outside the shared CallBudget. Here every call
takes a paced slot of the workspace's budget, or is skipped when none is free, and none
of them can stop or delay an answer by failing: they are cosmetic, so they log and go on.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from slack_sdk import WebClient

from bot.access import AccessPolicy
from bot.settings import Settings
from bot.slack.budget import CallBudget
from bot.slack.calls import SlackCalls
from bot.slack.incoming import Incoming, _is_id, _is_ts

logger = logging.getLogger(__name__)

SET_PROMPTS = "assistant.threads.setSuggestedPrompts"
SET_TITLE = "assistant.threads.setTitle"
PROMPTS_HEADING = "Try asking"
TITLE_CHARS = 60

# Slack markup in a message's text: <@U…>, <#C…|name>, <!here>, <https://…|label>.
_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class MessageCounter(Protocol):
    """What titling reads: storage.conversations has this method."""

    def message_count(self, thread_key: str) -> int: ...


def thread_title(text: str, limit: int = TITLE_CHARS) -> str:
    """A short title for a thread from its first question; "" if the text gives none.

    The first sentence that asks something (else the first sentence) of the first line
    with words, Slack markup and Markdown emphasis removed, cut at a word to `limit`.
    """
    plain = _SLACK_LINK.sub(_link_text, text)
    plain = re.sub(r"[*_~`]+", "", plain)
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    if not lines:
        return ""
    sentences = [s.strip() for s in _SENTENCE_END.split(" ".join(lines[0].split())) if s.strip()]
    if not sentences:
        return ""
    title = next((s for s in sentences if s.endswith("?")), sentences[0])
    if len(title) > limit:
        cut = title[: limit - 1]
        if " " in cut[limit // 2 :]:
            cut = cut[: cut.rindex(" ")]
        title = cut.rstrip(" ,;:-") + "…"
    return title[:1].upper() + title[1:]


def _link_text(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "!")):
        return ""  # a mention or a broadcast says nothing about the question
    if target.startswith("#"):
        return f"#{label}" if label else ""
    return label or target


class AgentView:
    """Suggested prompts and thread titles for one process, sharing the replies' budget."""

    def __init__(
        self,
        settings: Settings,
        budget: CallBudget,
        access: AccessPolicy,
        messages: MessageCounter,
    ) -> None:
        self.settings = settings
        self.calls = SlackCalls(budget)
        self.access = access
        self.messages = messages
        # Titles are set beside the answer, never before it: a Slack round trip must not
        # stand between the question and Claude's first words.
        self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="agent-view")
        self._in_flight = 0
        self._idle = threading.Condition()

    def close(self) -> None:
        """Stop taking title calls; those under way finish on their own (never waited for)."""
        self._background.shutdown(wait=False, cancel_futures=True)

    def wait_idle(self, timeout: float) -> bool:
        """True once no background call is queued or running (False after `timeout`)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def _in_background(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        def run() -> None:
            try:
                fn(*args, **kwargs)
            finally:
                self._done()

        with self._idle:
            self._in_flight += 1
        try:
            self._background.submit(run)
        except RuntimeError:  # closed: the process is stopping, and these calls are cosmetic
            self._done()
            logger.debug("Skipped a background call: shutting down")

    def _done(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    # ----- opening the agent view -------------------------------------------------------------

    def on_home_opened(self, event: dict[str, Any], team: str, client: WebClient) -> None:
        """`app_home_opened`: on the Messages tab (the agent view), offer the prompts.

        No thread_ts: for an app on the agent view Slack sets them on the DM itself, and a
        call that names a thread fails silently there.
        """
        if event.get("tab") != "messages":
            return  # the Home or About tab
        self._offer_prompts(team, event.get("channel"), None, client)

    def on_thread_started(self, event: dict[str, Any], team: str, client: WebClient) -> None:
        """`assistant_thread_started` (apps on the older assistant view): offer the prompts."""
        thread = event.get("assistant_thread")
        if not isinstance(thread, dict):
            return
        thread_ts = thread.get("thread_ts")
        if not _is_ts(thread_ts):
            return
        self._offer_prompts(team, thread.get("channel_id"), thread_ts, client)

    def _offer_prompts(
        self, team: str, channel: Any, thread_ts: str | None, client: WebClient
    ) -> None:
        settings = self.settings
        if not (settings.suggested_prompts_enabled and settings.suggested_prompts):
            return
        if not (_is_id(team) and _is_id(channel)):
            return
        if self.access.check(team=team, sender_teams=(), channel=channel) is not None:
            return  # ShopMate would not answer here: suggesting questions would mislead
        prompts = [
            {"title": title, "message": message} for title, message in settings.suggested_prompts
        ]
        kwargs: dict[str, Any] = {
            "channel_id": channel,
            "prompts": prompts,
            "title": PROMPTS_HEADING,
        }
        if thread_ts is not None:
            kwargs["thread_ts"] = thread_ts
        self._call(client, team, SET_PROMPTS, **kwargs)

    # ----- titles -------------------------------------------------------------------------------

    def title_first_question(self, incoming: Incoming, client: WebClient) -> None:
        """Title a DM thread after its first question, once; called as its answer starts.

        Whether it is the first question is read now (before the question is stored); the
        call itself runs in the background, beside the answer.

        "First" means the thread holds no stored message yet (the question is stored right
        after this). Threads in channels are not assistant threads: no title there.
        """
        if not (self.settings.thread_titles and incoming.is_dm):
            return
        try:
            if self.messages.message_count(incoming.thread_key) > 0:
                return
        except Exception:
            logger.warning(
                "Could not tell whether %s is a new thread; no title", incoming.thread_key
            )
            return
        title = thread_title(incoming.text)
        if not title:
            return
        self._in_background(
            self._call,
            client,
            incoming.team,
            SET_TITLE,
            channel_id=incoming.channel,
            thread_ts=incoming.thread_ts,
            title=title,
        )

    # ----- Slack calls --------------------------------------------------------------------------

    def _call(self, client: WebClient, team: str, method: str, **kwargs: Any) -> bool:
        """One cosmetic call: a free budget slot or none at all; never raises."""
        try:
            outcome = self.calls.now(client, team, method, **kwargs)
        except Exception as error:  # the shared budget's store closed, and bugs
            logger.warning(
                "Slack API call failed: method=%s error=%s", method, type(error).__name__
            )
            return False
        if outcome is None:
            logger.info("Skipped %s in %s: no call budget to spare", method, team)
            return False
        return outcome.ok
