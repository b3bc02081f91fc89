"""A reply without a native stream: chat.postMessage, then paced chat.update, then posts anew.

Used when streaming is unavailable, refused, or expired (Slack ends a stream about five
minutes after it starts), and for whatever a message can no longer take. A posted message
owes a final chat.update, booked in the budget when it is posted. The last resort of every
path is `_post_rest`: the rest of the answer in new messages, and a notice if Slack refuses
even that.

`PostAndUpdate` is one half of `SlackReply` (bot/slack/reply.py), which holds the state both
halves share and picks the path; the other half is bot/slack/native_stream.py.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.slack.calls import Outcome
from bot.slack.errors import HOPELESS
from bot.slack.formatting import split_message
from bot.slack.reply_state import ReplyState

logger = logging.getLogger(__name__)

PLACEHOLDER = "_ShopMate is looking into it…_"
UNDELIVERED_NOTICE = "_Slack would not take the rest of this answer; please ask again._"


class PostAndUpdate(ReplyState):
    """The post-and-update path of one reply (a part of `SlackReply`)."""

    def _post_first(self, text: str) -> bool:
        """Post the reply's first message; False if the budget says wait (or Slack refused).

        A posted message needs a final chat.update later: it is booked now, or nothing is
        posted yet.
        """
        t = self.target
        reservation = self.budget.reserve(t.team, ["chat.update"])
        if reservation is None:
            return False
        outcome = self.calls.now(
            self.client,
            t.team,
            "chat.postMessage",
            channel=t.channel,
            thread_ts=t.thread_ts,
            markdown_text=text or PLACEHOLDER,
        )
        if outcome is None or not outcome.ok:
            reservation.release()
            return False
        self._begin("update", outcome.response["ts"], reservation, shown=text)
        return True

    def _update(self, text: str) -> Outcome | None:
        """chat.update with the text so far, if the budget spares a progress call."""
        return self._now(
            "chat.update", channel=self.target.channel, ts=self._ts, markdown_text=text
        )

    def _final_update(self, blocks: list[dict[str, Any]]) -> None:
        """The posted message's last chat.update (on its reserved slot), retried (bounded)."""
        t = self.target
        text = self._shown + self._pending
        outcome = self._final_call(
            "chat.update",
            reservation=self._reservation,
            channel=t.channel,
            ts=self._ts,
            **_content(text, blocks),
        )
        if outcome.ok:
            self._shown, self._pending = text, ""

    def _post_rest(self) -> None:
        """Post the pending text as new message(s) in the thread, each waiting for budget.

        The last resort of every path: if Slack refuses even this, a short notice says so
        rather than the answer ending silently.
        """
        parts = [p for p in split_message(self._pending, self.options.message_chars) if p]
        for i, part in enumerate(parts):
            last = i + 1 == len(parts)
            outcome = self._post(
                **_content(part, self._closing_blocks if self._closing and last else [])
            )
            if not outcome.ok:
                logger.error(
                    "Lost %d characters of an answer in %s: chat.postMessage %s",
                    sum(len(p) for p in parts[i:]),
                    self.target.channel,
                    outcome.error,
                )
                self._pending = ""
                if outcome.error not in HOPELESS:
                    notice = self._post(markdown_text=UNDELIVERED_NOTICE)
                    if notice.ok:
                        self.posted.append(notice.response["ts"])
                return
            self.posted.append(outcome.response["ts"])
            self._answered()
            self._pending = "".join(parts[i + 1 :])
        self._pending = ""

    def _post(self, **content: Any) -> Outcome:
        """One final chat.postMessage in the reply's thread."""
        t = self.target
        return self._final_call(
            "chat.postMessage", channel=t.channel, thread_ts=t.thread_ts, **content
        )


def _content(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A message's content arguments: Markdown alone, or as a `markdown` block above `blocks`.

    Slack takes `markdown_text` or `blocks`, never both; `markdown_text` becomes one
    `markdown` block anyway, so the answer looks the same either way. `text` is the
    fallback for notifications (our messages stay under chat.update's ~4,000 characters).
    """
    if not blocks:
        return {"markdown_text": text}
    return {"text": text, "blocks": [{"type": "markdown", "text": text}, *blocks]}


def without_blocks(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The same call without blocks; a text sent beside a `markdown` block becomes Markdown."""
    kwargs = {k: v for k, v in kwargs.items() if k != "blocks"}
    if "text" in kwargs:
        kwargs["markdown_text"] = kwargs.pop("text")
    return kwargs
