"""The fake's agent-view methods: assistant.threads.setSuggestedPrompts and setTitle.

Kept as strict as Slack's documentation: prompts are 1 to 4 objects, each with a non-empty
`title` and `message`, plus an optional `title` for the list; `thread_ts` is optional (an app on
the agent view must leave it out, an app on the older assistant view names its thread); a
title is a non-empty string for one thread. setStatus's `loading_messages` (checked by
`check_loading_messages`, called from fakes/slack/chat.py) is a list of at most 10 non-empty
strings. A call that breaks a rule is refused with `invalid_arguments`. Both methods are
Tier 4 (fakes/slack/limits.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from fakes.slack.wire import SlackError, present, require

logger = logging.getLogger(__name__)

MAX_PROMPTS = 4
MAX_LOADING_MESSAGES = 10


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def check_loading_messages(args: Mapping[str, Any]) -> None:
    """assistant.threads.setStatus's optional `loading_messages`: up to 10 non-empty strings."""
    if "loading_messages" not in args:
        return
    messages = args["loading_messages"]
    if (
        not isinstance(messages, list)
        or len(messages) > MAX_LOADING_MESSAGES
        or not all(_text(m) for m in messages)
    ):
        raise SlackError("invalid_arguments")


class AssistantMethods:
    """Mixed into FakeSlack, whose lock and state (`_prompts`, `_titles`) these use."""

    METHODS: ClassVar[dict[str, str]] = {
        "assistant.threads.setSuggestedPrompts": "_set_suggested_prompts",
        "assistant.threads.setTitle": "_set_title",
    }

    def _set_suggested_prompts(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args, "channel_id")  # type: ignore[attr-defined]
        require(args, "prompts")
        prompts = args["prompts"]
        if not isinstance(prompts, list) or not 1 <= len(prompts) <= MAX_PROMPTS:
            raise SlackError("invalid_arguments")
        for prompt in prompts:
            if not (
                isinstance(prompt, dict)
                and _text(prompt.get("title"))
                and _text(prompt.get("message"))
            ):
                raise SlackError("invalid_arguments")
        heading = args.get("title")
        if heading is not None and not isinstance(heading, str):
            raise SlackError("invalid_arguments")
        thread_ts = str(args["thread_ts"]) if present(args, "thread_ts") else None
        shown = [{"title": p["title"], "message": p["message"]} for p in prompts]
        self._prompts[(channel, thread_ts)] = (heading, shown)  # type: ignore[attr-defined]
        return {}

    def _set_title(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args, "channel_id")  # type: ignore[attr-defined]
        require(args, "thread_ts", "title")
        if not _text(args["title"]):
            raise SlackError("invalid_arguments")
        self._titles[(channel, str(args["thread_ts"]))] = args["title"]  # type: ignore[attr-defined]
        return {}

    # ----------------------------------------------------------------- inspection

    def suggested_prompts(
        self, channel: str, thread_ts: str | None = None
    ) -> list[dict[str, str]] | None:
        """The prompts last set on a DM (`thread_ts` None: the agent view) or on a thread."""
        with self._cond:  # type: ignore[attr-defined]
            entry = self._prompts.get((channel, thread_ts))  # type: ignore[attr-defined]
            return [dict(p) for p in entry[1]] if entry is not None else None

    def suggested_prompts_heading(self, channel: str, thread_ts: str | None = None) -> str | None:
        """The `title` sent with those prompts (shown above them), if any."""
        with self._cond:  # type: ignore[attr-defined]
            entry = self._prompts.get((channel, thread_ts))  # type: ignore[attr-defined]
            return entry[0] if entry is not None else None

    def thread_title(self, channel: str, thread_ts: str) -> str | None:
        """The title a thread shows in the app's history, if the app set one."""
        with self._cond:  # type: ignore[attr-defined]
            return self._titles.get((channel, thread_ts))  # type: ignore[attr-defined]
