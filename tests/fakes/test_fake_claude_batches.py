"""The fake Claude's Message Batches endpoints, driven by the real anthropic SDK."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from fakes.claude import FakeClaude, http_error, reply

PARAMS = {
    "model": "claude-haiku-4-5",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture
def fake() -> Iterator[FakeClaude]:
    with FakeClaude() as server:
        yield server


@pytest.fixture
def client(fake: FakeClaude) -> Iterator[anthropic.Anthropic]:
    sdk = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
    yield sdk
    sdk.close()


def requests(*ids: str) -> list[dict]:
    return [{"custom_id": i, "params": PARAMS} for i in ids]


def test_create_retrieve_and_results_on_the_wire_format(fake, client) -> None:
    fake.batches.hold = True
    fake.enqueue(reply("Hello there."), http_error(529, "overloaded_error", "Overloaded"))
    created = client.messages.batches.create(requests=requests("a", "b", "c"))
    assert created.id.startswith("msgbatch_") and created.type == "message_batch"
    assert created.processing_status == "in_progress"
    assert created.request_counts.processing == 3 and created.results_url is None
    with pytest.raises(anthropic.AnthropicError, match="results_url"):
        list(client.messages.batches.results(created.id))

    fake.batches.finish(created.id, expire=("c",))
    ended = client.messages.batches.retrieve(created.id)
    assert ended.processing_status == "ended" and ended.ended_at is not None
    counts = ended.request_counts
    assert (counts.processing, counts.succeeded, counts.errored, counts.expired) == (0, 1, 1, 1)
    assert ended.results_url == f"{fake.url}/v1/messages/batches/{created.id}/results"
    lines = {line.custom_id: line.result for line in client.messages.batches.results(created.id)}
    assert lines["a"].type == "succeeded"
    assert lines["a"].message.content[0].text == "Hello there."
    assert lines["a"].message.usage.output_tokens >= 1
    assert lines["b"].type == "errored" and lines["b"].error.error.type == "overloaded_error"
    assert lines["c"].type == "expired"


def test_a_batch_ends_after_being_polled_unless_held(fake, client) -> None:
    fake.batches.polls_before_end = 2
    created = client.messages.batches.create(requests=requests("a"))
    states = [client.messages.batches.retrieve(created.id).processing_status for _ in range(3)]
    assert states == ["in_progress", "in_progress", "ended"]
    assert [b.id for b in client.messages.batches.list()] == [created.id]


def test_cancel_ends_with_every_request_canceled(fake, client) -> None:
    fake.batches.hold = True
    created = client.messages.batches.create(requests=requests("a", "b"))
    canceled = client.messages.batches.cancel(created.id)
    assert canceled.cancel_initiated_at is not None
    assert canceled.request_counts.canceled == 2
    assert {r.result.type for r in client.messages.batches.results(created.id)} == {"canceled"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (requests("has space"), "custom_id"),
        (requests("a", "a"), "Duplicate custom_id"),
        ([{"custom_id": "a", "params": {**PARAMS, "stream": True}}], "stream"),
        ([{"custom_id": "a", "params": {"model": "m", "messages": []}}], "max_tokens"),
    ],
)
def test_bad_batches_are_refused_like_the_api_does(client, body, message) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message):
        client.messages.batches.create(requests=body)


def test_unknown_batches_are_404(client) -> None:
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_nope")
