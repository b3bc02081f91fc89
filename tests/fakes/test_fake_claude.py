"""The fake Messages API, driven by the real anthropic SDK over real HTTP."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from bot import prompts
from fakes.claude import (
    FakeClaude,
    Pace,
    count_input_tokens,
    cut_stream,
    http_error,
    reply,
    stream_error,
    tool_call,
)
from fakes.claude.scripted_model import (
    ESCALATION_LINE,
    NOT_FOUND_TEXT,
    SCRIPTED_MODEL_NAME,
    ScriptedModel,
)

MODEL = "claude-sonnet-4-6"

GET_ORDER_TOOL: dict[str, Any] = {
    "name": "get_order",
    "description": "Look up a ThreadCo order by order ID. Returns status, item, ETA, and tracking.",
    "input_schema": {
        "type": "object",
        "properties": {"order_id": {"type": "string", "description": "e.g. ORD-1001"}},
        "required": ["order_id"],
    },
}

SYSTEM = (
    "You are ShopMate, the customer support assistant for ThreadCo — a sustainable UK T-shirt "
    "brand. Be concise, warm, and helpful. When a customer mentions an order number (format: "
    "ORD-XXXX), use the get_order tool to look it up before responding about its status."
)

# The seed's orders.py, so this test does not depend on the bot's own order tool.
SEED_ORDERS: dict[str, dict[str, Any]] = {
    "ORD-1001": {
        "status": "shipped",
        "item": "Sunset Gradient Tee (M, Orange)",
        "eta": "2 Apr",
        "tracking": "RM493827651GB",
    },
    "ORD-1002": {
        "status": "processing",
        "item": "Wave Print Crop Tee (S, Slate)",
        "eta": "4 Apr",
        "tracking": None,
    },
    "ORD-1003": {
        "status": "delivered",
        "item": "Midnight Pocket Tee (L, Black)",
        "eta": None,
        "tracking": "RM381726495GB",
    },
}


def seed_get_order(order_id: str) -> dict[str, Any]:
    order = SEED_ORDERS.get(order_id.upper())
    if not order:
        return {"error": f"Order {order_id} not found."}
    result: dict[str, Any] = {
        "order_id": order_id,
        "status": order["status"],
        "item": order["item"],
    }
    if order["eta"]:
        result["estimated_delivery"] = order["eta"]
    if order["tracking"]:
        result["tracking_number"] = order["tracking"]
        result["track_url"] = f"https://track.royalmail.com/tracking/{order['tracking']}"
    return result


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def fake() -> Iterator[FakeClaude]:
    server = FakeClaude(pace=Pace(first_token_s=0.0, tokens_per_s=None), model=ScriptedModel())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(fake: FakeClaude) -> Iterator[anthropic.Anthropic]:
    sdk = anthropic.Anthropic(api_key="test-key", base_url=fake.url, max_retries=0)
    try:
        yield sdk
    finally:
        sdk.close()


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def stream_turn(
    client: anthropic.Anthropic, messages: list[dict[str, Any]], **kwargs: Any
) -> tuple[list[str], anthropic.types.Message]:
    with client.messages.stream(model=MODEL, max_tokens=512, messages=messages, **kwargs) as stream:
        chunks = list(stream.text_stream)
        return chunks, stream.get_final_message()


# ------------------------------------------------------------------ streaming basics


def test_streamed_text_arrives_through_text_stream(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    text = "Hello there — your **Sunset Gradient Tee** is on its way."
    fake.enqueue(reply(text=text))

    chunks, final = stream_turn(client, user("hi"))

    assert len(chunks) > 3, "text should arrive in word-sized pieces"
    assert "".join(chunks) == text
    assert final.content[0].type == "text"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.model == SCRIPTED_MODEL_NAME
    assert final.id.startswith("msg_")
    assert final.usage.output_tokens == len(chunks)
    assert final.usage.input_tokens > 0


def test_sse_wire_format_event_order(fake: FakeClaude) -> None:
    fake.enqueue(
        reply(text="Let me check.", tool_calls=[tool_call("get_order", {"order_id": "1"})])
    )
    body = {
        "model": MODEL,
        "max_tokens": 100,
        "stream": True,
        "tools": [GET_ORDER_TOOL],
        "messages": user("x"),
    }
    with httpx2.Client() as http:
        response = http.post(f"{fake.url}/v1/messages", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        line.removeprefix("event: ")
        for line in response.text.split("\n")
        if line.startswith("event: ")
    ]
    datas = [
        json.loads(line.removeprefix("data: "))
        for line in response.text.split("\n")
        if line.startswith("data: ")
    ]
    assert len(events) == len(datas)
    assert all(d["type"] == e for e, d in zip(events, datas, strict=True))
    assert events[:3] == ["message_start", "ping", "content_block_start"]
    assert events[-2:] == ["message_delta", "message_stop"]
    start = datas[0]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["output_tokens"] == 1
    tool_start = next(d for d in datas if d.get("content_block", {}).get("type") == "tool_use")
    assert tool_start["content_block"]["input"] == {}
    fragments = [
        d["delta"]["partial_json"]
        for d in datas
        if d["type"] == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    ]
    assert 2 <= len(fragments) <= 3
    assert json.loads("".join(fragments)) == {"order_id": "1"}
    assert datas[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}


def test_parallel_tool_use_blocks_are_assembled(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    fake.enqueue(
        reply(
            text="Let me check.",
            tool_calls=[
                tool_call("get_order", {"order_id": "ORD-1001"}),
                tool_call("get_order", {"order_id": "ORD-1002"}),
            ],
        )
    )

    chunks, final = stream_turn(client, user("ORD-1001 and ORD-1002?"), tools=[GET_ORDER_TOOL])

    assert "".join(chunks) == "Let me check."
    assert final.stop_reason == "tool_use"
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [u.input for u in uses] == [{"order_id": "ORD-1001"}, {"order_id": "ORD-1002"}]
    assert all(u.name == "get_order" and u.id.startswith("toolu_") for u in uses)
    assert len({u.id for u in uses}) == 2


@pytest.mark.parametrize(
    "stop_reason", ["end_turn", "max_tokens", "refusal", "pause_turn", "stop_sequence"]
)
@pytest.mark.parametrize("streaming", [True, False])
def test_stop_reasons_pass_through(
    fake: FakeClaude, client: anthropic.Anthropic, stop_reason: str, streaming: bool
) -> None:
    fake.enqueue(reply(text="Some words here.", stop_reason=stop_reason))
    if streaming:
        _, final = stream_turn(client, user("x"), stop_sequences=["END"])
    else:
        final = client.messages.create(
            model=MODEL, max_tokens=512, messages=user("x"), stop_sequences=["END"]
        )
    assert final.stop_reason == stop_reason
    assert final.stop_sequence == ("END" if stop_reason == "stop_sequence" else None)


def test_long_reply_is_cut_at_max_tokens(fake: FakeClaude, client: anthropic.Anthropic) -> None:
    fake.enqueue(reply(text="one two three four five six seven eight"))
    with client.messages.stream(model=MODEL, max_tokens=3, messages=user("x")) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "one two three "
    assert final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 3


def test_non_streaming_create_returns_a_message(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    fake.enqueue(
        reply(text="Checking.", tool_calls=[tool_call("get_order", {"order_id": "ORD-1003"})])
    )
    message = client.messages.create(
        model=MODEL, max_tokens=512, tools=[GET_ORDER_TOOL], messages=user("ORD-1003?")
    )
    assert message.content[0].type == "text" and message.content[0].text == "Checking."
    assert message.content[1].type == "tool_use"
    assert message.content[1].input == {"order_id": "ORD-1003"}
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens > 1
    assert fake.requests[-1].body.get("stream") in (None, False)


# ------------------------------------------------------------------ errors


def test_529_then_success_is_retried_by_the_sdk(fake: FakeClaude) -> None:
    fake.enqueue(http_error(529, "overloaded_error", "Overloaded", retry_after=0))
    fake.enqueue(reply(text="Back again."))
    sdk = anthropic.Anthropic(api_key="test-key", base_url=fake.url, max_retries=1)
    try:
        message = sdk.messages.create(model=MODEL, max_tokens=100, messages=user("x"))
    finally:
        sdk.close()
    assert message.content[0].text == "Back again."
    assert len(fake.requests) == 2
    assert fake.requests[1].headers.get("x-stainless-retry-count") == "1"


@pytest.mark.parametrize(
    ("status", "error_type", "exc_type"),
    [
        (529, "overloaded_error", anthropic.OverloadedError),
        (429, "rate_limit_error", anthropic.RateLimitError),
        (500, "api_error", anthropic.InternalServerError),
    ],
)
def test_http_errors_map_to_sdk_exceptions(
    fake: FakeClaude,
    client: anthropic.Anthropic,
    status: int,
    error_type: str,
    exc_type: type[Exception],
) -> None:
    fake.enqueue(http_error(status, error_type, "try later", retry_after=7))
    with pytest.raises(exc_type) as caught:
        client.messages.create(model=MODEL, max_tokens=100, messages=user("x"))
    error = caught.value
    assert isinstance(error, anthropic.APIStatusError)
    assert error.status_code == status
    assert error.response.headers["retry-after"] == "7"
    assert error.response.headers["retry-after-ms"] == "7000"
    assert error.body["error"] == {"type": error_type, "message": "try later"}


def test_stream_error_raises_mid_iteration(fake: FakeClaude, client: anthropic.Anthropic) -> None:
    fake.enqueue(stream_error(after_text="Partial answer so far", error_type="overloaded_error"))
    received: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=MODEL, max_tokens=100, messages=user("x")) as stream,
    ):
        for text in stream.text_stream:
            received.append(text)
    assert "".join(received) == "Partial answer so far"
    # The HTTP status was already 200: the SDK raises the base class, never retries.
    assert type(caught.value) is anthropic.APIStatusError
    assert caught.value.status_code == 200
    assert caught.value.body["error"]["type"] == "overloaded_error"
    assert len(fake.requests) == 1


def test_stream_error_on_a_non_streaming_request_is_an_http_error(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    fake.enqueue(stream_error(after_text="x", error_type="overloaded_error"))
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(model=MODEL, max_tokens=100, messages=user("x"))


def test_cut_stream_ends_quietly_with_no_stop_reason(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    """A cleanly ended but unfinished stream: the SDK raises nothing, stop_reason stays None."""
    fake.enqueue(cut_stream(after_text="Part of an answer"))
    chunks, final = stream_turn(client, user("x"))
    assert "".join(chunks) == "Part of an answer"
    assert final.stop_reason is None
    assert final.content[0].text == "Part of an answer"


def test_aborted_stream_raises_a_connection_error(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    """A socket dropped mid-body: a connection error after the text so far.

    anthropic up to 2.16 lets httpx2.RemoteProtocolError out unwrapped; 2.17 wraps it in
    APIConnectionError. The engine decides by what happened, so both are accepted here.
    """
    fake.enqueue(cut_stream(after_text="Part of", abort=True))
    received: list[str] = []
    with (
        pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)),
        client.messages.stream(model=MODEL, max_tokens=100, messages=user("x")) as stream,
    ):
        for text in stream.text_stream:
            received.append(text)
    assert "".join(received) == "Part of"


def test_cut_non_streaming_response_is_a_connection_error(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    fake.enqueue(cut_stream(after_text="Part"))
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model=MODEL, max_tokens=100, messages=user("x"))


def test_client_keeps_working_after_errors(fake: FakeClaude, client: anthropic.Anthropic) -> None:
    fake.enqueue(stream_error("a"), cut_stream("b"), cut_stream("c", abort=True))
    for _ in range(3):
        with contextlib.suppress(
            anthropic.APIStatusError, anthropic.APIConnectionError, httpx2.RemoteProtocolError
        ):
            stream_turn(client, user("x"))
    _, final = stream_turn(client, user("hello"))
    assert final.stop_reason == "end_turn"


def test_invalid_history_is_rejected_like_the_real_api(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "ORD-1001?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_a", "name": "get_order", "input": {}},
                {"type": "tool_use", "id": "toolu_b", "name": "get_order", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": "{}"}],
        },
    ]
    fake.enqueue(reply(text="never sent"))
    with pytest.raises(anthropic.BadRequestError, match="must define tools"):
        client.messages.create(model=MODEL, max_tokens=100, messages=history)
    with pytest.raises(anthropic.BadRequestError, match="toolu_b"):
        client.messages.create(
            model=MODEL, max_tokens=100, messages=history, tools=[GET_ORDER_TOOL]
        )
    assert fake.queued == 1, "a rejected request does not consume the queue"


def test_api_key_is_checked_when_configured() -> None:
    with FakeClaude(api_key="right-key") as fake:
        wrong = anthropic.Anthropic(api_key="wrong-key", base_url=fake.url, max_retries=0)
        right = anthropic.Anthropic(api_key="right-key", base_url=fake.url, max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            wrong.messages.create(model=MODEL, max_tokens=50, messages=user("hi"))
        assert right.messages.create(model=MODEL, max_tokens=200, messages=user("hi")).content


def test_unknown_path_is_a_json_404(fake: FakeClaude) -> None:
    request = urllib.request.Request(f"{fake.url}/v1/nothing", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 404
    assert json.loads(caught.value.read())["error"]["type"] == "not_found_error"


# ------------------------------------------------------------------ recording, keep-alive, count


def test_requests_are_recorded_with_headers_and_body(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    before = time.monotonic()
    stream_turn(client, user("hello"), system=SYSTEM)
    assert fake.wait_for_requests(1, timeout=1.0)
    assert not fake.wait_for_requests(2, timeout=0.05)
    [recorded] = fake.requests
    assert recorded.method == "POST" and recorded.path == "/v1/messages"
    assert "test-key" in (
        recorded.headers.get("authorization", "") + recorded.headers.get("x-api-key", "")
    )
    assert recorded.body["system"] == SYSTEM
    assert recorded.body["stream"] is True
    assert recorded.time >= before
    fake.reset()
    assert fake.requests == [] and fake.queued == 0


def test_many_sequential_requests_reuse_one_connection(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    for i in range(30):
        if i % 3 == 0:
            message = client.messages.create(model=MODEL, max_tokens=200, messages=user("hi"))
        else:
            _, message = stream_turn(client, user("hi"))
        assert message.stop_reason == "end_turn"
    assert len(fake.requests) == 30
    assert len({r.client for r in fake.requests}) == 1, "HTTP/1.1 keep-alive should hold"


def test_count_tokens(fake: FakeClaude, client: anthropic.Anthropic) -> None:
    messages = user("Where is ORD-1001?")
    counted = client.messages.count_tokens(
        model=MODEL, system=SYSTEM, tools=[GET_ORDER_TOOL], messages=messages
    )
    body = {"system": SYSTEM, "tools": [GET_ORDER_TOOL], "messages": messages}
    assert counted.input_tokens == count_input_tokens(body)
    assert counted.input_tokens > len(SYSTEM) // 5
    assert fake.requests[-1].path == "/v1/messages/count_tokens"


# ------------------------------------------------------------------ prompt caching


def test_cache_emulation_reads_a_shared_prefix(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    system = [{"type": "text", "text": SYSTEM * 4, "cache_control": {"type": "ephemeral"}}]
    _, first = stream_turn(client, user("hello"), system=system, tools=[GET_ORDER_TOOL])
    assert first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation_input_tokens > 0

    _, second = stream_turn(client, user("thanks!"), system=system, tools=[GET_ORDER_TOOL])
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens > 0  # the new user message is not cached

    plain = client.messages.create(model=MODEL, max_tokens=200, messages=user("hello"))
    assert plain.usage.cache_read_input_tokens == 0
    assert plain.usage.cache_creation_input_tokens == 0


def test_cache_lookback_finds_the_previous_turn(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    """A moving breakpoint on the last message still reads what the previous turn wrote."""

    def turn(content: str) -> dict[str, Any]:
        block = {"type": "text", "text": content, "cache_control": {"type": "ephemeral"}}
        return {"role": "user", "content": [block]}

    history: list[dict[str, Any]] = [turn("hello there, I have a question")]
    first = client.messages.create(model=MODEL, max_tokens=200, system=SYSTEM, messages=history)
    history[0]["content"][0].pop("cache_control")
    history += [first.to_param(), turn("thanks, and what about returns?")]
    second = client.messages.create(model=MODEL, max_tokens=200, system=SYSTEM, messages=history)

    total_first = (
        first.usage.input_tokens
        + first.usage.cache_creation_input_tokens
        + first.usage.cache_read_input_tokens
    )
    assert second.usage.cache_read_input_tokens == total_first
    assert second.usage.cache_creation_input_tokens > 0


def test_cache_respects_min_cacheable_tokens() -> None:
    with FakeClaude(min_cacheable_tokens=100_000) as fake:
        sdk = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
        system = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
        for _ in range(2):
            message = sdk.messages.create(
                model=MODEL, max_tokens=200, system=system, messages=user("hi")
            )
            assert message.usage.cache_creation_input_tokens == 0
            assert message.usage.cache_read_input_tokens == 0


# ------------------------------------------------------------------ pace


def test_pace_delays_the_first_token() -> None:
    with FakeClaude(pace=Pace(first_token_s=0.2, tokens_per_s=None)) as fake:
        sdk = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
        fake.enqueue(reply(text="one two three"))
        started = time.monotonic()
        with sdk.messages.stream(model=MODEL, max_tokens=100, messages=user("x")) as stream:
            first_text_at = None
            for _ in stream.text_stream:
                first_text_at = first_text_at or time.monotonic()
        assert first_text_at is not None
        assert first_text_at - started >= 0.2
        assert first_text_at - fake.requests[0].time >= 0.2


def test_pace_spreads_tokens_at_the_rate() -> None:
    text = " ".join(["word"] * 11)  # 11 chunks: 10 gaps of 1/50 s
    with FakeClaude(pace=Pace(first_token_s=0.0, tokens_per_s=50)) as fake:
        sdk = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
        fake.enqueue(reply(text=text))
        with sdk.messages.stream(model=MODEL, max_tokens=100, messages=user("x")) as stream:
            arrivals = [time.monotonic() for _ in stream.text_stream]
        assert len(arrivals) == 11
        assert arrivals[-1] - fake.requests[0].time >= 0.2  # the last token is due at 10/50 s


def test_stop_during_a_slow_stream_is_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    fake = FakeClaude(pace=Pace(first_token_s=0.0, tokens_per_s=5)).start()
    sdk = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
    fake.enqueue(reply(text=" ".join(["slow"] * 50)))
    received: list[str] = []
    with (
        pytest.raises((httpx2.TransportError, anthropic.APIConnectionError)),
        sdk.messages.stream(model=MODEL, max_tokens=100, messages=user("x")) as stream,
    ):
        for text in stream.text_stream:
            received.append(text)
            if len(received) == 2:
                stopped_at = time.monotonic()
                fake.stop()
                assert time.monotonic() - stopped_at < 2.0
    assert 2 <= len(received) < 50
    assert "Traceback" not in capfd.readouterr().err


# ------------------------------------------------------------------ the scripted model


def run_turn(
    client: anthropic.Anthropic, history: list[dict[str, Any]], text: str
) -> tuple[str, list[str]]:
    """One user turn the way the bot should run it: stream every call, run tools in between."""
    history.append({"role": "user", "content": text})
    looked_up: list[str] = []
    for _ in range(4):
        _, message = stream_turn(client, history, system=SYSTEM, tools=[GET_ORDER_TOOL])
        history.append(message.to_param())
        uses = [b for b in message.content if b.type == "tool_use"]
        if message.stop_reason != "tool_use":
            return "".join(b.text for b in message.content if b.type == "text"), looked_up
        results = []
        for use in uses:
            looked_up.append(use.input["order_id"])
            outcome = seed_get_order(use.input["order_id"])
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": use.id,
                    "content": json.dumps(outcome),
                    **({"is_error": True} if "error" in outcome else {}),
                }
            )
        history.append({"role": "user", "content": results})
    raise AssertionError("tool loop did not finish")


def test_scripted_model_plays_the_seed_conversation(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    history: list[dict[str, Any]] = []

    answer, looked_up = run_turn(
        client,
        history,
        "Hi, I placed an order last week — ORD-1001 — and haven't had an update.",
    )
    assert looked_up == ["ORD-1001"]
    # to_param() keeps the SDK's block objects (not plain dicts) in the content list.
    assert history[1]["content"][0].text == "Let me look that up for you."
    assert answer.startswith(
        "Good news — your **Sunset Gradient Tee (M, Orange)** has been shipped and is "
        "estimated to arrive by 2 Apr. Your Royal Mail tracking number is RM493827651GB: you "
        "can follow it at https://track.royalmail.com/tracking/RM493827651GB."
    )

    answer, looked_up = run_turn(client, history, "Great, can I change the size to Large?")
    assert looked_up == []
    assert answer.startswith("Unfortunately once an order has shipped we can't make changes")
    assert ESCALATION_LINE in answer

    answer, looked_up = run_turn(client, history, "What about ORD-9999?")
    assert looked_up == ["ORD-9999"]
    assert answer.startswith(NOT_FOUND_TEXT)

    requests = [r for r in fake.requests if r.path == "/v1/messages"]
    assert len(requests) == 5  # tool turn + answer, refusal, tool turn + answer
    assert all(r.body.get("tools") for r in requests)


def test_scripted_model_looks_up_several_orders_in_parallel(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    history: list[dict[str, Any]] = []
    answer, looked_up = run_turn(client, history, "Where are ord-1002 and ORD1003, and ORD-1002?")
    assert looked_up == ["ORD-1002", "ORD-1003"]
    paragraphs = answer.split("\n\n")
    assert any(p.startswith("**ORD-1002**") and "hasn't shipped yet" in p for p in paragraphs)
    assert any(p.startswith("**ORD-1003**") and "delivered" in p for p in paragraphs)


@pytest.mark.parametrize(
    ("status", "expected"),
    [("processing", "hasn't shipped yet"), ("delivered", "delivered"), ("lost", "*lost*")],
)
def test_scripted_model_phrases_each_status(status: str, expected: str) -> None:
    request = {
        "tools": [GET_ORDER_TOOL],
        "messages": [
            {"role": "user", "content": "ORD-1234?"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "t1",
                        "name": "get_order",
                        "input": {"order_id": "ORD-1234"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [
                            {"type": "text", "text": json.dumps({"status": status, "item": "Tee"})}
                        ],
                    }
                ],
            },
        ],
    }
    answer = ScriptedModel().respond(request)
    assert expected in answer.text
    assert "**Tee**" in answer.text
    assert answer.tool_calls == ()
    request["system"] = prompts.SYSTEM_PROMPT  # asks for every field and nothing around them
    brief = ScriptedModel().respond(request)
    assert expected in brief.text
    assert brief.text.startswith("**ORD-1234** — Tee\n- **Status:** ")
    assert ("hello@threadco.com" in brief.text) == (status == "lost"), "escalate when it applies"
    assert len(brief.text.split()) < len(answer.text.split())


def test_scripted_answers_have_a_realistic_length(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    history: list[dict[str, Any]] = []
    run_turn(client, history, "Hi, where is ORD-1001?")
    final = fake.requests[-1]
    assert final.body["messages"][-1]["content"][0]["type"] == "tool_result"
    _, message = stream_turn(client, history[:-1], system=SYSTEM, tools=[GET_ORDER_TOOL])
    assert 40 <= message.usage.output_tokens <= 140


def test_asked_for_less_the_scripted_model_names_every_field_without_padding(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    history: list[dict[str, Any]] = []
    run_turn(client, history, "Hi, where is ORD-1001?")
    chatty = fake.requests[-1]
    chunks, message = stream_turn(
        client, history[:-1], system=prompts.SYSTEM_PROMPT, tools=[GET_ORDER_TOOL]
    )
    answer = "".join(chunks)
    for field_shown in ("ORD-1001", "Sunset Gradient Tee", "shipped", "2 Apr", "RM493827651GB"):
        assert field_shown in answer
    assert "https://track.royalmail.com/tracking/RM493827651GB" in answer
    assert "anything else" not in answer.lower() and "good news" not in answer.lower()
    assert 12 <= message.usage.output_tokens < (chatty.timing.output_tokens or 0) / 2


def test_results_already_in_the_request_are_answered_in_the_first_call() -> None:
    """ShopMate's prefetch: the question, a tool_use turn and its results, before any call."""
    request = {
        "tools": [GET_ORDER_TOOL],
        "messages": [
            {"role": "user", "content": "Where are ORD-1002 and ORD1003?"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_prefetch_1",
                        "name": "get_order",
                        "input": {"order_id": "ORD-1002"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_prefetch_1",
                        "content": json.dumps(seed_get_order("ORD-1002")),
                    }
                ],
            },
        ],
    }
    model = ScriptedModel()
    first = model.respond(request)
    # ORD1003 was not looked up (not in the id pattern's form): the model asks for it.
    assert [c.input for c in first.tool_calls] == [{"order_id": "ORD-1003"}]
    request["messages"] += [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "t2",
                    "name": "get_order",
                    "input": {"order_id": "ORD-1003"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t2",
                    "content": json.dumps(seed_get_order("ORD-1003")),
                }
            ],
        },
    ]
    second = model.respond(request)
    assert second.tool_calls == ()
    assert "**ORD-1002**" in second.text and "**ORD-1003**" in second.text, "both orders"


def test_tool_choice_none_never_emits_tool_use(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    _, message = stream_turn(
        client, user("Where is ORD-1001?"), tools=[GET_ORDER_TOOL], tool_choice={"type": "none"}
    )
    assert message.stop_reason == "end_turn"
    assert all(b.type == "text" for b in message.content)


def test_no_lookup_without_the_tool(fake: FakeClaude, client: anthropic.Anthropic) -> None:
    _, message = stream_turn(client, user("Where is my order ORD-1001?"))
    assert message.stop_reason == "end_turn"


def test_scripted_model_never_claims_to_be_claude(
    fake: FakeClaude, client: anthropic.Anthropic
) -> None:
    chunks, message = stream_turn(client, user("Who are you?"))
    assert message.model == SCRIPTED_MODEL_NAME
    assert "offline scripted stand-in for Claude" in "".join(chunks)
    assert "not the real Claude" in "".join(chunks)


@pytest.mark.parametrize(
    "text", ["hello", "what is the weather like", "thanks!", "is it organic cotton?"]
)
def test_scripted_model_always_answers_something(
    fake: FakeClaude, client: anthropic.Anthropic, text: str
) -> None:
    chunks, message = stream_turn(client, user(text))
    assert message.stop_reason == "end_turn"
    assert len(chunks) >= 20
    assert ESCALATION_LINE not in "".join(chunks)
