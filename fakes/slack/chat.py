"""The fake's chat.* and assistant.threads.setStatus methods: posts, edits, streams, status."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from fakes.slack.assistant import check_loading_messages
from fakes.slack.block_kit import parse_blocks
from fakes.slack.chunks import shown_chunks, stream_chunks
from fakes.slack.messages import (
    MARKDOWN_TEXT_MAX,
    POST_TEXT_MAX,
    UPDATE_TEXT_MAX,
    Message,
    StatusUpdate,
    Visible,
    set_visible,
    stream_text,
)
from fakes.slack.wire import SlackError, present, require

logger = logging.getLogger(__name__)


class ChatMethods:
    """chat.* methods; mixed into FakeSlack, whose state (messages, clock, lock) they use."""

    METHODS: ClassVar[dict[str, str]] = {
        "chat.postMessage": "_post_message",
        "chat.update": "_update",
        "chat.delete": "_delete",
        "chat.startStream": "_start_stream",
        "chat.appendStream": "_append_stream",
        "chat.stopStream": "_stop_stream",
        "assistant.threads.setStatus": "_set_status",
    }

    @staticmethod
    def _content(args: Mapping[str, Any], text_max: int) -> tuple[str | None, list | None]:
        """Validate text/blocks/markdown_text; returns (text, blocks) to apply (None = absent)."""
        has_md = present(args, "markdown_text")
        if has_md and (present(args, "text") or args.get("blocks")):
            raise SlackError("markdown_text_conflict")
        text = args.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        if text is not None and len(text) > text_max:
            raise SlackError("msg_too_long")
        blocks = parse_blocks(args["blocks"]) if args.get("blocks") is not None else None
        if has_md:
            markdown = str(args["markdown_text"])
            # chat.update refuses text near 4,000 characters, whichever field carries it.
            if len(markdown) > min(text_max, MARKDOWN_TEXT_MAX):
                raise SlackError("msg_too_long")
            # Slack turns markdown_text into a `markdown` block; the text fallback is the same.
            return markdown, [{"type": "markdown", "text": markdown}]
        return text, blocks

    def _add_bot_message(
        self, channel: str, thread_ts: str | None, now: float, fmt: str, **content: Any
    ) -> Message:
        """A new message from the app, shown and stored; the thread's status line clears."""
        msg = Message(
            channel=channel,
            ts=self._next_ts(),
            thread_ts=thread_ts,
            text="",
            format=fmt,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            created=now,
            **content,
        )
        set_visible(msg, now)
        self._messages[(channel, msg.ts)] = msg
        self._clear_status(channel, thread_ts)
        return msg

    # ----------------------------------------------------------------- methods

    def _post_message(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args)
        text, blocks = self._content(args, POST_TEXT_MAX)
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        thread_ts = str(args["thread_ts"]) if present(args, "thread_ts") else None
        msg = self._add_bot_message(
            channel, thread_ts, now, "mrkdwn", raw_text=text or "", blocks=blocks or []
        )
        return {"channel": channel, "ts": msg.ts, "message": self._message_dict(msg, team)}

    def _update(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        msg = self._find(args)
        if not msg.from_bot:
            raise SlackError("cant_update_message")
        self._expire(msg, now)
        if msg.streaming:
            # Reported from live use: an edit to a live stream is refused; stop it first.
            raise SlackError("streaming_state_conflict")
        text, blocks = self._content(args, UPDATE_TEXT_MAX)
        if text is None and blocks is None and not args.get("attachments"):
            raise SlackError("no_text")
        if text is not None:
            msg.raw_text = text
        if blocks is not None:
            # Omitting `blocks` keeps the old ones (documented); `[]` removes them.
            msg.blocks = blocks
        set_visible(msg, now)
        return {
            "channel": msg.channel,
            "ts": msg.ts,
            "text": msg.raw_text,
            "message": self._message_dict(msg, team),
        }

    def _delete(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        msg = self._find(args)
        if not msg.from_bot:
            raise SlackError("cant_delete_message")
        msg.deleted = True
        msg.streaming = False
        msg.history.append(Visible(now, ""))
        return {"channel": msg.channel, "ts": msg.ts}

    def _start_stream(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args)
        self._stream_channel(channel)
        require(args, "thread_ts")
        if not channel.startswith("D"):
            if not present(args, "recipient_team_id"):
                raise SlackError("missing_recipient_team_id")
            if not present(args, "recipient_user_id"):
                raise SlackError("missing_recipient_user_id")
        chunks = stream_chunks(args)
        text = stream_text(args, chunks)
        if args.get("task_display_mode") not in (None, "timeline", "plan"):
            raise SlackError("invalid_arguments")
        thread_ts = str(args["thread_ts"])
        msg = self._add_bot_message(
            channel,
            thread_ts,
            now,
            "markdown",
            raw_text=text,
            blocks=[{"type": "markdown", "text": text}],
            streaming=True,
            stream_started=now,
            stream_mode="chunks" if chunks else "text",
            chunks=shown_chunks(args, chunks),
        )
        return {"channel": channel, "ts": msg.ts}

    def _append_to_stream(self, msg: Message, args: Mapping[str, Any], *, required: bool) -> None:
        chunks = stream_chunks(args)
        if required and not chunks and not present(args, "markdown_text"):
            raise SlackError("invalid_arguments")
        if chunks and msg.stream_mode == "text":
            # Reported from live use: a stream opened with markdown_text takes no chunks.
            raise SlackError("streaming_mode_mismatch")
        text = stream_text(args, chunks)
        msg.chunks.extend(shown_chunks(args, chunks))
        if text:
            msg.blocks[0]["text"] += text
            msg.raw_text += text

    def _append_stream(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        msg = self._streaming(args, now)
        self._append_to_stream(msg, args, required=True)
        set_visible(msg, now)
        return {"channel": msg.channel, "ts": msg.ts}

    def _stop_stream(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        msg = self._streaming(args, now)
        blocks = parse_blocks(args["blocks"]) if args.get("blocks") else []
        self._append_to_stream(msg, args, required=False)
        msg.blocks.extend(blocks)
        msg.streaming = False
        set_visible(msg, now)
        return {"channel": msg.channel, "ts": msg.ts, "message": self._message_dict(msg, team)}

    def _set_status(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args, "channel_id")
        require(args, "thread_ts")
        if "status" not in args:
            require(args, "status")
        check_loading_messages(args)
        status = str(args.get("status") or "")
        thread_ts = str(args["thread_ts"])
        self._statuses.append(StatusUpdate(now, channel, thread_ts, status))
        if status:
            self._current_status[(channel, thread_ts)] = status
        else:
            self._current_status.pop((channel, thread_ts), None)
        return {}
