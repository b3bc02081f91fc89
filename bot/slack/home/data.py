"""What one person's Home tab shows, gathered from storage into plain values (no Block Kit).

Who sees what is decided by the caller (approver, lead) and passed in; this module only reads
storage and turns rows into small dataclasses with their links already made, so the view
builder (view.py) is a pure function of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot import outcomes
from bot.handoff.service import describe_request
from bot.keys import SLACK, Key
from bot.settings import Settings
from bot.stats import Figures, headline
from storage import Storage

logger = logging.getLogger(__name__)

# How many of each list Home shows before "and N more" (the block count stays far below 100).
MAX_REQUESTS = 10
MAX_ESCALATIONS = 10
MAX_RATED_DOWN = 5
MAX_CONVERSATIONS = 5
# How many rows are read to count what is not shown.
COUNT_CAP = 1000


@dataclass(frozen=True)
class Links:
    """Links to Slack messages, built from the workspace's URL (auth.test's `url`)."""

    base: str | None

    def thread(self, channel: str | None, ts: str | None) -> str | None:
        if not (self.base and channel and ts):
            return None
        return f"{self.base.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"

    def message(self, channel: str | None, ts: str | None, thread_ts: str | None) -> str | None:
        link = self.thread(channel, ts)
        if link and thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return link

    def of_key(self, thread_key: str) -> str | None:
        key = Key.parse(thread_key)
        if key is None or key.platform != SLACK:
            return None
        _, channel, thread_ts = key.parts
        return self.thread(channel, thread_ts)


@dataclass(frozen=True)
class PendingRequest:
    id: int
    what: str
    reason: str | None
    asked_by: str | None
    created_utc: str
    link: str | None


@dataclass(frozen=True)
class OpenEscalation:
    id: int
    reason: str
    summary: str
    order_id: str | None
    asked_by: str | None
    created_utc: str
    link: str | None


@dataclass(frozen=True)
class RatedDown:
    turn_id: int
    question: str | None
    answered_utc: str
    link: str | None


@dataclass(frozen=True)
class OwnConversation:
    question: str | None
    outcome: str
    last_utc: str
    link: str | None


@dataclass
class HomeData:
    """Everything one person's Home shows; sections for roles they lack stay empty."""

    user: str
    is_approver: bool
    is_lead: bool
    prompts: tuple[tuple[str, str], ...]
    window_hours: float
    requests: list[PendingRequest] = field(default_factory=list)
    requests_total: int = 0
    escalations: list[OpenEscalation] = field(default_factory=list)
    escalations_total: int = 0
    figures: list[Figures] = field(default_factory=list)
    rated_down: list[RatedDown] = field(default_factory=list)
    rated_down_total: int = 0
    conversations: list[OwnConversation] = field(default_factory=list)
    conversations_total: int = 0
    notice: str | None = None


def gather(
    storage: Storage,
    settings: Settings,
    *,
    user: str,
    is_approver: bool,
    is_lead: bool,
    links: Links,
    now: datetime,
    notice: str | None = None,
    figures: list[Figures] | None = None,
) -> HomeData:
    """Read what `user` may see now; `figures`, when given, are the headline figures already
    computed (the same for every lead)."""
    window = timedelta(hours=settings.resolution_window_hours)
    data = HomeData(
        user=user,
        is_approver=is_approver,
        is_lead=is_lead,
        prompts=settings.suggested_prompts if settings.suggested_prompts_enabled else (),
        window_hours=settings.resolution_window_hours,
        notice=notice,
    )
    if is_approver:
        _approvals(storage, links, data)
    if is_lead:
        data.figures.extend(
            figures if figures is not None else headline(storage, now=now, window=window)
        )
        rated = storage.feedback.rated_answers(negative_only=True, limit=COUNT_CAP)
        data.rated_down_total = len(rated)
        data.rated_down.extend(
            RatedDown(
                row["turn_id"],
                row["question"],
                row["answered_utc"],
                links.message(row["channel"], row["message_ts"], row["thread_ts"]),
            )
            for row in rated[:MAX_RATED_DOWN]
        )
    mine = storage.outcomes.facts(user=user, limit=COUNT_CAP)
    data.conversations_total = len(mine)
    data.conversations.extend(
        OwnConversation(
            row["question"],
            outcomes.outcome_of(row, now=now, window=window),
            row["updated_utc"],
            links.thread(row["channel"], row["thread_ts"]) or links.of_key(row["thread_key"]),
        )
        for row in mine[:MAX_CONVERSATIONS]
    )
    return data


def _approvals(storage: Storage, links: Links, data: HomeData) -> None:
    requests = storage.handoff.requests(only_pending=True, limit=COUNT_CAP)
    escalations = storage.handoff.escalations(only_open=True, limit=COUNT_CAP)
    data.requests_total = len(requests)
    data.escalations_total = len(escalations)
    # Oldest first: the one waiting longest is the one to decide first.
    data.requests.extend(
        PendingRequest(
            row["id"],
            describe_request(row),
            row.get("reason"),
            row.get("user"),
            row["created_utc"],
            links.of_key(row["thread_key"]),
        )
        for row in list(reversed(requests))[:MAX_REQUESTS]
    )
    data.escalations.extend(
        OpenEscalation(
            row["id"],
            row["reason"],
            row["summary"],
            row.get("order_id"),
            row.get("user"),
            row["created_utc"],
            row.get("permalink") or links.of_key(row["thread_key"]),
        )
        for row in list(reversed(escalations))[:MAX_ESCALATIONS]
    )
