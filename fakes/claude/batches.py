"""The Message Batches endpoints of the fake Claude, on the real wire format.

POST /v1/messages/batches (create), GET /v1/messages/batches (list), GET /v1/messages/batches/{id}
(retrieve), GET /v1/messages/batches/{id}/results (JSONL), POST /v1/messages/batches/{id}/cancel.
Each request in a batch is answered by the fake's own responder (queue first, then the scripted
model), with the same usage accounting as a live call; an `HttpError` answer becomes an
`errored` result.

Batches end on the fake's schedule, not a clock: by default after `polls_before_end` retrieves
saw them `in_progress` (so a CLI that polls sees progress); `hold = True` keeps them running
until a test calls `finish(batch_id, expire=...)`, which can also expire chosen requests the way
a batch that hit its 24 hours does.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from fakes.claude.replies import Reply
from fakes.claude.responses import CutStream, HttpError, Response, StreamError
from fakes.claude.tokens import PromptCache
from fakes.claude.validation import validate_request

logger = logging.getLogger(__name__)

PREFIX = "/v1/messages/batches"
CUSTOM_ID_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
MAX_REQUESTS = 100_000
# Batch params are Messages params without streaming.
_FORBIDDEN_PARAMS = ("stream",)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeBatch:
    id: str
    requests: list[tuple[str, dict[str, Any]]]
    created_at: datetime
    status: str = "in_progress"
    polls: int = 0
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None

    def counts(self) -> dict[str, int]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if self.status != "ended":
            counts["processing"] = len(self.requests)
            return counts
        for result in self.results.values():
            counts[result["type"]] += 1
        return counts


class BatchHost(Protocol):
    """What the batches need of the FakeClaude they belong to.

    `server.FakeClaude` satisfies it; naming it here lets server.py build on this module
    without this module importing server.py back.
    """

    validate: bool
    _cache: PromptCache

    @property
    def url(self) -> str: ...

    def _new_id(self, prefix: str) -> str: ...

    def _next_response(self, body: dict[str, Any]) -> Response | None: ...

    def _plan(self, body: dict[str, Any], spec: Reply) -> Any: ...

    def _send_json(
        self, handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]
    ) -> None: ...

    def _send_error(self, handler: BaseHTTPRequestHandler, error: HttpError) -> None: ...


class FakeBatches:
    """The batches half of a FakeClaude; reach it as `fake.batches`."""

    def __init__(self, fake: BatchHost, *, polls_before_end: int = 1) -> None:
        self._fake = fake
        self.polls_before_end = polls_before_end
        self.hold = False
        self._batches: dict[str, FakeBatch] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ test controls

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._batches)

    def get(self, batch_id: str) -> FakeBatch:
        with self._lock:
            return self._batches[batch_id]

    def finish(self, batch_id: str | None = None, *, expire: tuple[str, ...] = ()) -> None:
        """End a batch now (default: every running one); `expire` lists custom_ids not run."""
        with self._lock:
            targets = [batch_id] if batch_id else list(self._batches)
            for target in targets:
                batch = self._batches[target]
                if batch.status != "ended":
                    self._process(batch, expire=set(expire))

    # ------------------------------------------------------------------ serving

    def serve(
        self, handler: BaseHTTPRequestHandler, method: str, path: str, body: dict[str, Any] | None
    ) -> None:
        rest = path[len(PREFIX) :].strip("/")
        parts = rest.split("/") if rest else []
        fake = self._fake
        if method == "POST" and not parts:
            self._create(handler, body)
        elif method == "GET" and not parts:
            with self._lock:
                data = [self._view(b) for b in reversed(self._batches.values())]
            fake._send_json(
                handler,
                200,
                {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                },
            )
        elif len(parts) in (1, 2) and parts[0] in self._batches:
            batch = self._batches[parts[0]]
            action = parts[1] if len(parts) == 2 else None
            if method == "GET" and action is None:
                self._retrieve(handler, batch)
            elif method == "GET" and action == "results":
                self._results(handler, batch)
            elif method == "POST" and action == "cancel":
                self._cancel(handler, batch)
            else:
                self._error(handler, 404, "not_found_error", "Not found")
        else:
            self._error(handler, 404, "not_found_error", f"No batch at {path}")

    def _error(self, handler: BaseHTTPRequestHandler, status: int, kind: str, message: str) -> None:

        self._fake._send_error(handler, HttpError(status, kind, message))

    def _create(self, handler: BaseHTTPRequestHandler, body: dict[str, Any] | None) -> None:

        requests = (body or {}).get("requests")
        if not isinstance(requests, list) or not requests:
            self._error(handler, 400, "invalid_request_error", "requests: at least one required")
            return
        if len(requests) > MAX_REQUESTS:
            self._error(
                handler, 413, "request_too_large", f"at most {MAX_REQUESTS} requests per batch"
            )
            return
        seen: set[str] = set()
        accepted: list[tuple[str, dict[str, Any]]] = []
        for index, request in enumerate(requests):
            custom_id = request.get("custom_id") if isinstance(request, dict) else None
            params = request.get("params") if isinstance(request, dict) else None
            if not isinstance(custom_id, str) or not CUSTOM_ID_RE.fullmatch(custom_id):
                self._error(
                    handler,
                    400,
                    "invalid_request_error",
                    f"requests.{index}.custom_id: String should match pattern "
                    "'^[a-zA-Z0-9_-]{1,64}$'",
                )
                return
            if custom_id in seen:
                self._error(
                    handler,
                    400,
                    "invalid_request_error",
                    f"Duplicate custom_id {custom_id!r}: each must be unique within the batch",
                )
                return
            seen.add(custom_id)
            problem = validate_request(params) if self._fake.validate else None
            if problem is None and isinstance(params, dict):
                extra = [p for p in _FORBIDDEN_PARAMS if p in params]
                if extra:
                    problem = f"{extra[0]}: not supported in Message Batches"
            if problem is not None:
                self._error(handler, 400, "invalid_request_error", f"requests.{index}: {problem}")
                return
            accepted.append((custom_id, params))  # type: ignore[arg-type]
        batch = FakeBatch(
            id=self._fake._new_id("msgbatch_"), requests=accepted, created_at=datetime.now(UTC)
        )
        with self._lock:
            self._batches[batch.id] = batch
        logger.debug("fake claude: batch %s created with %d requests", batch.id, len(accepted))
        self._fake._send_json(handler, 200, self._view(batch))

    def _retrieve(self, handler: BaseHTTPRequestHandler, batch: FakeBatch) -> None:
        with self._lock:
            if batch.status == "in_progress" and not self.hold:
                if batch.polls >= self.polls_before_end:
                    self._process(batch, expire=set())
                batch.polls += 1
            view = self._view(batch)
        self._fake._send_json(handler, 200, view)

    def _cancel(self, handler: BaseHTTPRequestHandler, batch: FakeBatch) -> None:
        with self._lock:
            if batch.status == "in_progress":
                batch.cancel_initiated_at = datetime.now(UTC)
                # Nothing has run yet on the fake: every request is canceled, unbilled.
                batch.results = {cid: {"type": "canceled"} for cid, _ in batch.requests}
                batch.status = "ended"
                batch.ended_at = datetime.now(UTC)
            view = self._view(batch)
        self._fake._send_json(handler, 200, view)

    def _results(self, handler: BaseHTTPRequestHandler, batch: FakeBatch) -> None:
        with self._lock:
            if batch.status != "ended":
                ready = None
            else:
                ready = [
                    {"custom_id": cid, "result": batch.results[cid]} for cid, _ in batch.requests
                ]
        if ready is None:
            self._error(
                handler,
                400,
                "invalid_request_error",
                f"Message Batch {batch.id} has not finished processing yet",
            )
            return
        data = b"".join(
            json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n" for line in ready
        )
        handler.send_response(200)
        handler.send_header("content-type", "application/binary")
        handler.send_header("content-length", str(len(data)))
        handler.send_header("request-id", self._fake._new_id("req_"))
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()

    # ------------------------------------------------------------------ processing

    def _process(self, batch: FakeBatch, *, expire: set[str]) -> None:
        """Run every request through the fake's responder and end the batch."""

        fake = self._fake
        for custom_id, params in batch.requests:
            if custom_id in expire:
                batch.results[custom_id] = {"type": "expired"}
                continue
            spec = fake._next_response(params)
            if isinstance(spec, HttpError | StreamError | CutStream):
                kind = spec.error_type if not isinstance(spec, CutStream) else "api_error"
                message = spec.message if not isinstance(spec, CutStream) else "Internal error"
                batch.results[custom_id] = {
                    "type": "errored",
                    "error": {
                        "type": "error",
                        "error": {"type": kind, "message": message},
                        "request_id": fake._new_id("req_"),
                    },
                }
                continue
            assert isinstance(spec, Reply)
            usage = fake._cache.account(params)
            plan = fake._plan(params, spec)
            batch.results[custom_id] = {
                "type": "succeeded",
                "message": plan.message(
                    fake._new_id("msg_"),
                    {**usage.as_dict(plan.output_tokens), "service_tier": "batch"},
                ),
            }
        batch.status = "ended"
        batch.ended_at = datetime.now(UTC)

    def _view(self, batch: FakeBatch) -> dict[str, Any]:
        ended = batch.status == "ended"
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.status,
            "request_counts": batch.counts(),
            "created_at": _rfc3339(batch.created_at),
            "expires_at": _rfc3339(batch.created_at + timedelta(hours=24)),
            "ended_at": _rfc3339(batch.ended_at) if batch.ended_at else None,
            "cancel_initiated_at": (
                _rfc3339(batch.cancel_initiated_at) if batch.cancel_initiated_at else None
            ),
            "archived_at": None,
            "results_url": f"{self._fake.url}{PREFIX}/{batch.id}/results" if ended else None,
        }
