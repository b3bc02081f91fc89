"""Claude's tool-use loop: streams every call, answers every tool_use, yields events as they happen.

It knows nothing of Slack or SQL. A front (Slack, terminal) consumes the events; the caller
stores the messages of `TurnComplete`. With a `Prefetcher`, the lookups a message plainly asks
for (pasted order ids) run before the first call and enter the conversation as Claude's own
`tool_use` turn and its results, so Claude can answer in that first call.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2

from bot import prompts
from bot.events import (
    EngineEvent,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnComplete,
    TurnFailed,
    Usage,
)
from bot.history import Message, repair, trim_to_budget, with_cache_breakpoint
from bot.models import request_settings
from bot.prefetch import Prefetcher, text_of
from bot.settings import Settings
from bot.stopping import StopSignal
from bot.tools.registry import ToolContext, ToolRegistry, ToolResult
from bot.turn_setup import TurnSetup

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineConfig:
    """How the loop talks to Claude; built from Settings by the caller."""

    # Defaults live in Settings only; these read them from there.
    model: str = Settings.model
    max_tokens: int = Settings.max_tokens
    max_rounds: int = Settings.max_tool_rounds
    history_token_budget: int = Settings.history_token_budget
    system_prompt: str = prompts.SYSTEM_PROMPT
    tool_workers: int = 4


class _StreamBroken(Exception):
    """The response stream ended with an error event or was cut before message_stop."""

    def __init__(self, reason: str, *, text_shown: bool) -> None:
        super().__init__(reason)
        self.text_shown = text_shown


class _Stopped(Exception):
    """The front asked to stop while Claude was writing; the stream is already closed."""

    def __init__(self, text: str, usage: Usage) -> None:
        super().__init__("stopped")
        self.text = text  # what this call had written so far (without its separator)
        self.usage = usage


class Engine:
    """Answers one user message at a time for a given history; safe to share across threads."""

    def __init__(
        self,
        client: anthropic.Anthropic,
        tools: ToolRegistry,
        config: EngineConfig | None = None,
        *,
        prefetcher: Prefetcher | None = None,
        turn_setup: Callable[[], TurnSetup] | None = None,
    ) -> None:
        self.client = client
        self.tools = tools
        self.config = config or EngineConfig()
        self.prefetcher = prefetcher
        self.turn_setup = turn_setup
        self._tool_pool = ThreadPoolExecutor(
            max_workers=self.config.tool_workers, thread_name_prefix="tool"
        )

    def run_turn(
        self,
        history: list[Message],
        user_content: str | list[dict[str, Any]],
        *,
        context: ToolContext | None = None,
        stop: StopSignal | None = None,
    ) -> Iterator[EngineEvent]:
        """Yield events for one answer; always ends with TurnComplete or TurnFailed.

        Prefetched calls go after the question, as an assistant `tool_use` turn and the user
        turn of its results (the order the API requires), through the same registry, events
        and storage as a call Claude makes; a failed turn stores none of them.
        `context` (the conversation and asker) is handed to tools that act on it.

        `stop` is checked between stream events and before every model call: once set, the
        stream is closed at once and the turn completes with `stop_reason="stopped"`, keeping
        only what the user saw (tool calls already made keep their results, so the stored
        history never holds a tool_use without its tool_result).
        """
        conversation = repair([*history, {"role": "user", "content": user_content}])
        setup = self._setup()
        new_messages: list[Message] = []
        usage = Usage()
        answer: list[str] = []
        prefetched = self._prefetch_uses(user_content)
        if prefetched:
            # Exactly what Claude would have sent and got back: its tool_use turn, then ours.
            new_messages.append({"role": "assistant", "content": prefetched})
            new_messages.append((yield from self._run_tools(prefetched, context)))
        for round_number in range(self.config.max_rounds):
            if stop is not None and stop.is_set():
                yield _stopped_turn(answer, "", new_messages, usage, stop)
                return
            last_round = round_number == self.config.max_rounds - 1
            request = with_cache_breakpoint(
                trim_to_budget(conversation + new_messages, self.config.history_token_budget)
            )
            try:
                message = yield from self._stream_with_one_retry(
                    request,
                    setup,
                    last_round=last_round,
                    separator="\n\n" if answer else "",
                    stop=stop,
                )
            except _Stopped as stopped:
                usage += stopped.usage
                yield _stopped_turn(answer, stopped.text, new_messages, usage, stop)
                return
            except _StreamBroken as broken:
                logger.warning("Claude's stream broke: %s", broken)
                yield TurnFailed(prompts.INTERRUPTED_NOTICE, str(broken), usage)
                return
            except (anthropic.APIError, httpx2.TransportError) as error:
                # No response began (refused, unreachable, overloaded): Claude said nothing.
                logger.error("Claude call failed: %s", _describe(error))
                yield TurnFailed(prompts.FAILURE_NOTICE, _describe(error), usage)
                return
            usage += _usage_of(message)
            assistant = {"role": "assistant", "content": [_block_param(b) for b in message.content]}
            text = "".join(b.text for b in message.content if b.type == "text")
            if text:
                answer.append(("\n\n" if answer else "") + text)
            tool_uses = [b for b in assistant["content"] if b["type"] == "tool_use"]
            if tool_uses:
                new_messages.append(assistant)
                new_messages.append((yield from self._run_tools(tool_uses, context)))
                if message.stop_reason == "tool_use":
                    continue
            elif assistant["content"]:
                new_messages.append(assistant)
            if message.stop_reason == "pause_turn":
                continue  # the API wants the paused turn sent back as is to carry on
            notice = _notice_for(message.stop_reason)
            if notice:
                yield TextDelta(("\n\n" if answer else "") + notice)
                answer.append(notice)
                if not assistant["content"]:
                    new_messages.append({"role": "assistant", "content": notice})
            yield TurnComplete("".join(answer), new_messages, usage, message.stop_reason, notice)
            return
        # Only reached if the last round still ended in tool use despite tool_choice "none".
        notice = prompts.ROUND_LIMIT_NOTICE
        yield TextDelta(notice)
        new_messages.append({"role": "assistant", "content": notice})
        yield TurnComplete("".join(answer) + notice, new_messages, usage, "max_rounds", notice)

    def _setup(self) -> TurnSetup:
        """This turn's additions; a failing source costs them, never the answer."""
        if self.turn_setup is None:
            return TurnSetup()
        try:
            return self.turn_setup()
        except Exception:
            logger.exception("The turn setup failed; answering without it")
            return TurnSetup()

    def _stream_with_one_retry(
        self,
        request: list[Message],
        setup: TurnSetup,
        *,
        last_round: bool,
        separator: str,
        stop: StopSignal | None = None,
    ) -> Iterator[EngineEvent]:
        """Stream one model call; if it breaks before any text was shown, try once more.

        The SDK retries failures that happen before the response starts. A failure after a
        200 (an `error` event, or a cut connection) is not retried by the SDK; retrying it
        ourselves is safe only while the user has seen nothing of this call.
        """
        try:
            return (yield from self._stream_once(request, setup, last_round, separator, stop))
        except _StreamBroken as error:
            if error.text_shown:
                raise
            logger.info("Claude's stream broke before any text; retrying once: %s", error)
            return (yield from self._stream_once(request, setup, last_round, separator, stop))

    def _stream_once(
        self,
        request: list[Message],
        setup: TurnSetup,
        last_round: bool,
        separator: str,
        stop: StopSignal | None = None,
    ) -> Iterator[EngineEvent]:
        """One streamed model call; `separator` goes before its first text (a new paragraph)."""
        system = setup.system(self.config.system_prompt)
        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": self.config.max_tokens,
            "system": system,
            "messages": request,
            # What this model needs said (Sonnet 5.5: no up-front thinking, so the first
            # words come as soon as they would on earlier models); thinking blocks it returns
            # are stored with the turn and sent back as they came, never shown.
            **request_settings(self.config.model),
        }
        # Two cache breakpoints, where they pay: the end of the system (which also covers the
        # tools before it, so a breakpoint on the tools would add nothing; with policies, right
        # after them) and the newest message.
        tools = self.tools.params(exclude=setup.withheld_tools)
        if tools:
            kwargs["tools"] = tools
            if last_round:
                # History holding tool blocks needs `tools`; "none" makes Claude answer now.
                kwargs["tool_choice"] = {"type": "none"}
        text_shown = False
        response_began = False
        written: list[str] = []
        try:
            with self.client.messages.stream(**kwargs) as stream:
                # Entering the block means Claude answered 200: from here a failure is a
                # broken stream, whichever exception class this SDK version reports it with.
                response_began = True
                for event in stream:
                    if event.type == "text" and event.text:
                        yield TextDelta(event.text if text_shown else separator + event.text)
                        text_shown = True
                        written.append(event.text)
                    if stop is not None and stop.is_set():
                        # Leaving the `with` closes the response: Claude stops writing (and
                        # billing) for this call now, not at the end of its answer.
                        logger.info("Stopped Claude's stream on request")
                        raise _Stopped("".join(written), _snapshot_usage(stream))
                message = stream.get_final_message()
        except (anthropic.APIError, httpx2.TransportError) as error:
            # Decided by what happened, not by the class: a connection cut mid-body is
            # httpx2's own error up to anthropic 2.16 and APIConnectionError from 2.17, and an
            # `error` event after the 200 is APIStatusError with status 200.
            if response_began or _is_mid_stream(error):
                raise _StreamBroken(_describe(error), text_shown=text_shown) from error
            raise
        if message.stop_reason is None:
            raise _StreamBroken("stream ended before message_stop", text_shown=text_shown)
        return message

    def _prefetch_uses(self, user_content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
        """tool_use blocks for the calls worth making before Claude is asked (may be none).

        Only tools the registry offers are planned, so a prefetch can never call what Claude
        could not. Ids are ours but shaped like the API's (`toolu_…`, letters, digits, `_`).
        """
        if self.prefetcher is None:
            return []
        planned = [
            call for call in self.prefetcher.plan(text_of(user_content)) if call.name in self.tools
        ]
        return [
            {
                "type": "tool_use",
                "id": f"toolu_prefetch_{uuid.uuid4().hex}",
                "name": call.name,
                "input": dict(call.input),
            }
            for call in planned
        ]

    def _run_tools(
        self, tool_uses: list[dict[str, Any]], context: ToolContext | None = None
    ) -> Iterator[EngineEvent]:
        """Run every tool_use of one turn at once; return the single user message of results."""
        # Started before they are announced, so the lookups run while a front shows them.
        futures = [
            self._tool_pool.submit(self.tools.run, block["name"], block["input"], context)
            for block in tool_uses
        ]
        batch = tuple(block["id"] for block in tool_uses)
        for block in tool_uses:
            title = self.tools.step_title(block["name"], block["input"])
            yield ToolStarted(block["id"], block["name"], _as_dict(block["input"]), batch, title)
        results: list[dict[str, Any]] = []
        for block, future in zip(tool_uses, futures, strict=True):
            result: ToolResult = future.result()
            yield ToolFinished(
                block["id"],
                block["name"],
                _as_dict(block["input"]),
                result.content_text(),
                result.is_error,
                result.summary,
                result.fact,
            )
            entry: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": block["id"],
                "content": result.content_text(),
            }
            if result.is_error:
                entry["is_error"] = True
            results.append(entry)
        return {"role": "user", "content": results}


def _stopped_turn(
    answer: list[str],
    partial: str,
    new_messages: list[Message],
    usage: Usage,
    stop: StopSignal | None,
) -> TurnComplete:
    """The turn as far as the user saw it: earlier rounds whole, the cut call's shown text.

    Characters the front says never reached the user come off the end of the cut call's
    text. Earlier rounds are stored whole: their text went out before their tool calls.
    """
    unshown = stop.unshown if stop is not None else 0
    kept = partial[: max(0, len(partial) - unshown)]
    messages = list(new_messages)
    text = "".join(answer)
    if kept.strip():
        messages.append({"role": "assistant", "content": [{"type": "text", "text": kept}]})
        text += ("\n\n" if text else "") + kept
    return TurnComplete(text, messages, usage, "stopped")


def _snapshot_usage(stream: Any) -> Usage:
    """What a call cut short is known to have cost: its input (from message_start) and the
    output counted so far; the API sends the final output count only at the end.
    """
    try:
        return _usage_of(stream.current_message_snapshot)
    except (AssertionError, AttributeError):  # stopped before message_start
        return Usage(model_calls=1)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"input": value}


def _block_param(block: Any) -> dict[str, Any]:
    """A response content block as plain request JSON, for storage and replay.

    `Message.to_param()` keeps the SDK's block objects; storage wants plain types, and
    response-only fields (parsed_output, citations=None) must not be sent back.
    """
    if block.type == "text":
        param: dict[str, Any] = {"type": "text", "text": block.text}
        if getattr(block, "citations", None):
            param["citations"] = [c.to_dict() for c in block.citations]
        return param
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    data = block.to_dict(exclude_none=True)
    data.pop("parsed_output", None)
    return data


def _is_mid_stream(error: Exception) -> bool:
    # The SDK reports an `error` event that follows a 200 as APIStatusError with status 200.
    return isinstance(error, anthropic.APIStatusError) and error.status_code == 200


def _usage_of(message: Any) -> Usage:
    u = message.usage
    return Usage(
        input_tokens=u.input_tokens or 0,
        output_tokens=u.output_tokens or 0,
        cache_read_input_tokens=getattr(u, "cache_read_input_tokens", 0) or 0,
        cache_creation_input_tokens=getattr(u, "cache_creation_input_tokens", 0) or 0,
        model_calls=1,
    )


def _notice_for(stop_reason: str | None) -> str | None:
    if stop_reason in ("max_tokens", "model_context_window_exceeded"):
        return prompts.CUT_SHORT_NOTICE
    if stop_reason == "refusal":
        return prompts.REFUSAL_NOTICE
    return None


def _describe(error: BaseException) -> str:
    """A log line for an SDK error: class, status and type, never the request or a key."""
    status = getattr(error, "status_code", None)
    body = getattr(error, "body", None)
    kind = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        kind = inner.get("type") if isinstance(inner, dict) else None
    parts = [type(error).__name__]
    if status is not None:
        parts.append(f"status={status}")
    if kind:
        parts.append(f"type={kind}")
    return " ".join(parts)
