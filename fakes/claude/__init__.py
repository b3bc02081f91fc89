"""A fake Anthropic Messages API (and Message Batches API) that the real `anthropic` SDK talks to.

`server` serves it over HTTP/SSE; `responses` is what it can be told to answer; `tokens` counts
and caches like the API; `validation` refuses what the API refuses; `scripted_model` answers
when nothing is enqueued; `batches` and `copywriter` serve the product-description work.
Below them all: `replies` (what an answer is made of: Reply, ToolCall, API-shaped ids) and
`reading` (how a request body is read), so the rule modules never import the model they serve.
"""

from fakes.claude.replies import Reply, ToolCall, reply, tool_call
from fakes.claude.responses import (
    CutStream,
    HttpError,
    Pace,
    RecordedRequest,
    Responder,
    Response,
    ResponseTiming,
    StreamError,
    cut_stream,
    http_error,
    stream_error,
)
from fakes.claude.scripted_model import ScriptedModel
from fakes.claude.server import FakeClaude
from fakes.claude.tokens import count_input_tokens

__all__ = [
    "CutStream",
    "FakeClaude",
    "HttpError",
    "Pace",
    "RecordedRequest",
    "Reply",
    "Responder",
    "Response",
    "ResponseTiming",
    "ScriptedModel",
    "StreamError",
    "ToolCall",
    "count_input_tokens",
    "cut_stream",
    "http_error",
    "reply",
    "stream_error",
    "tool_call",
]
