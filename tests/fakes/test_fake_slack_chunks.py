"""Streaming chunks in the fake Slack: checked like Slack, recorded in order for tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import MarkdownTextChunk, TaskUpdateChunk

from fakes.slack import FakeSlack

THREAD = "1700000000.000001"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.api_url, timeout=10)


def start(client: WebClient, **kwargs) -> str:
    return client.chat_startStream(channel="D1", thread_ts=THREAD, **kwargs)["ts"]


def test_task_steps_and_text_are_recorded_in_order_with_each_steps_last_state(slack, client):
    ts = start(client, chunks=[TaskUpdateChunk(id="t1", title="Looking up", status="in_progress")])
    client.chat_appendStream(
        channel="D1",
        ts=ts,
        chunks=[
            TaskUpdateChunk(id="t1", title="Looking up", status="complete", output="shipped"),
            MarkdownTextChunk(text="It shipped."),
        ],
    )
    client.chat_stopStream(channel="D1", ts=ts, markdown_text=" Bye.")
    msg = slack.message("D1", ts)
    assert msg.text == "It shipped. Bye."
    assert [c["type"] for c in msg.chunks] == [
        "task_update",
        "task_update",
        "markdown_text",
        "markdown_text",
    ]
    assert msg.tasks == [
        {
            "type": "task_update",
            "id": "t1",
            "title": "Looking up",
            "status": "complete",
            "output": "shipped",
        }
    ]


@pytest.mark.parametrize(
    "chunk",
    [
        {"type": "task_update", "id": "t1", "title": "Looking up", "status": "done"},
        {"type": "task_update", "id": "t1", "status": "complete"},
        {"type": "task_update", "id": "", "title": "x", "status": "complete"},
        {"type": "task_update", "id": "t1", "title": "x", "status": "error", "output": "x" * 257},
        {"type": "progress", "text": "hi"},
        {"type": "markdown_text"},
        {"type": "plan_update"},
    ],
)
def test_a_malformed_chunk_fails_the_call(slack, client, chunk):
    ts = start(client, chunks=[MarkdownTextChunk(text="Hi")])
    with pytest.raises(SlackApiError) as exc:
        client.chat_appendStream(channel="D1", ts=ts, chunks=[chunk])
    assert exc.value.response["error"] == "invalid_arguments"
    assert slack.message("D1", ts).chunks == [{"type": "markdown_text", "text": "Hi"}]


def test_a_stream_started_with_markdown_text_takes_no_chunks(client):
    ts = start(client, markdown_text="Hi")
    with pytest.raises(SlackApiError) as exc:
        client.chat_appendStream(
            channel="D1", ts=ts, chunks=[TaskUpdateChunk(id="t", title="x", status="pending")]
        )
    assert exc.value.response["error"] == "streaming_mode_mismatch"
