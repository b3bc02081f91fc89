"""The hand-off to people, front-agnostic: file escalations and change requests, apply decisions.

Tools call this with the turn's `ToolContext` (whose thread, who asked). Posting is a port:
a front that can reach people (Slack) registers a `HandoffNotifier` for its platform; a
conversation whose front registered none (the HTTP API, the terminal), or a ShopMate with no
escalation channel, gets the email line instead. This module knows nothing of Slack or SQL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot import prompts
from bot.keys import Key
from bot.tools.registry import ToolContext
from storage.handoff import APPROVED, DECISIONS, RESOLVED, Decided, Filed, HandoffStore

logger = logging.getLogger(__name__)

# Claude names one of these; one escalation per thread and reason.
REASONS = ("change_after_shipping", "refund", "complaint", "angry_customer", "other")
SIZE_EXCHANGE, REFUND = "size_exchange", "refund"
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
_SIZE_WORDS = {
    "EXTRA SMALL": "XS",
    "SMALL": "S",
    "MEDIUM": "M",
    "LARGE": "L",
    "EXTRA LARGE": "XL",
    "X-LARGE": "XL",
    "XX-LARGE": "XXL",
    "2XL": "XXL",
}
KIND_WORDS = {SIZE_EXCHANGE: "size exchange", REFUND: "refund"}
# The order's status once a person approved; a rejection leaves the status as it was.
APPROVED_STATUS = {SIZE_EXCHANGE: "exchange approved", REFUND: "refund approved"}

FOLLOW_UP_HERE = "I've passed this to a person on our team; they'll follow up in this thread."
REQUEST_SENT = (
    "I've asked our team to approve this; a person will decide shortly, and I'll post the "
    "decision in this thread."
)
# Without a channel nobody can click Approve: the request waits for the email team.
REQUEST_BY_EMAIL = f"I've recorded the request for our team. {prompts.ESCALATION_LINE}"


# What a watcher is told changed (`HandoffService.watch`).
ESCALATED, REQUESTED, DECIDED = "escalated", "requested", "decided"
CHANGES = (ESCALATED, REQUESTED, DECIDED, RESOLVED)


class NotifyFailed(Exception):
    """The notice could not be posted where people would see it."""


@dataclass(frozen=True)
class Posted:
    """Where a notice went: its channel and message ts, and the asker's thread's permalink."""

    channel: str
    ts: str
    permalink: str | None = None


class HandoffNotifier(Protocol):
    """What a front provides to put a hand-off in front of people (Slack: a channel post)."""

    def post_escalation(self, escalation: dict[str, Any], conversation: Key) -> Posted:
        """Post the escalation (summary, order, asker, link to the thread); NotifyFailed if not."""
        ...

    def post_request(self, request: dict[str, Any], conversation: Key) -> Posted:
        """Post the request with a way to approve or reject it; NotifyFailed if not."""
        ...


@dataclass(frozen=True)
class _Announced:
    """What differs between posting an escalation and posting a change request."""

    name: str  # in the logs
    already: str  # the flag Claude is told when it was filed before
    change: str  # what watchers are told
    failure: str  # what Claude is told when nobody could be reached
    post: Callable[[HandoffNotifier, dict[str, Any], Key], Posted]
    withdraw: Callable[[HandoffStore, int, str], None]
    record: Callable[[HandoffStore, int, Posted], None]


_ESCALATION = _Announced(
    name="escalation",
    already="already_escalated",
    change=ESCALATED,
    failure="The hand-off could not be posted.",
    post=lambda notifier, row, key: notifier.post_escalation(row, key),
    withdraw=lambda store, item_id, why: store.withdraw_escalation(item_id, why),
    record=lambda store, item_id, posted: store.escalation_posted(
        item_id, channel=posted.channel, ts=posted.ts, permalink=posted.permalink
    ),
)
_REQUEST = _Announced(
    name="request",
    already="already_requested",
    change=REQUESTED,
    failure="The request could not be sent.",
    post=lambda notifier, row, key: notifier.post_request(row, key),
    withdraw=lambda store, item_id, why: store.withdraw_request(item_id, why),
    record=lambda store, item_id, posted: store.request_posted(
        item_id, channel=posted.channel, ts=posted.ts
    ),
)


def normalise_size(raw: str) -> str | None:
    """'large', ' l ', 'Large' -> 'L'; None if it is not one of ThreadCo's sizes."""
    text = re.sub(r"\s+", " ", raw.strip().upper())
    text = _SIZE_WORDS.get(text, text)
    return text if text in SIZES else None


def describe_request(request: dict[str, Any]) -> str:
    """'size exchange for ORD-1001 (to L)' / 'refund for ORD-1001', for people and Claude."""
    words = f"{KIND_WORDS.get(request['kind'], request['kind'])} for {request['order_id']}"
    size = request.get("details", {}).get("new_size")
    return f"{words} (to {size})" if size else words


def decision_for_thread(request: dict[str, Any]) -> str:
    """What the asker's thread is told once a person decided (plain words: any front shows them)."""
    what = describe_request(request)
    if request["status"] == APPROVED:
        return (
            f"Update from ThreadCo's team: the {what} has been approved. "
            "We'll email the next steps (including a free returns label where one is needed)."
        )
    return (
        f"Update from ThreadCo's team: the {what} was not approved. "
        "A person from our team will follow up here with the options."
    )


class HandoffService:
    """Files hand-offs for tools and applies people's decisions; one per process."""

    def __init__(self, store: HandoffStore, *, channel_configured: bool) -> None:
        self.store = store
        self.channel_configured = channel_configured
        self._notifiers: dict[str, HandoffNotifier] = {}
        self._watchers: list[Callable[[str], None]] = []

    def use(self, platform: str, notifier: HandoffNotifier) -> None:
        """A front registers how it reaches people for conversations of its platform."""
        self._notifiers[platform] = notifier

    def watch(self, watcher: Callable[[str], None]) -> None:
        """Be told (with CHANGES' word) when what people must look at changed: a request or
        escalation filed, a request decided, an escalation resolved. A watcher must return at
        once (it runs on the tool's or the click's thread); a failing one is logged."""
        self._watchers.append(watcher)

    def _changed(self, what: str) -> None:
        for watcher in self._watchers:
            try:
                watcher(what)
            except Exception:
                logger.exception("A hand-off watcher failed on %s", what)

    def _notifier_for(self, context: ToolContext) -> tuple[Key | None, HandoffNotifier | None]:
        key = Key.parse(context.conversation)
        if key is None or not self.channel_configured:
            return key, None
        return key, self._notifiers.get(key.platform)

    # ------------------------------------------------------------------ escalations

    def escalate(
        self, context: ToolContext, *, reason: str, summary: str, order_id: str | None
    ) -> dict[str, Any]:
        """File (once per thread and reason) and post an escalation; what Claude is told."""
        filed = self.store.file_escalation(
            thread_key=context.conversation,
            reason=reason,
            summary=summary,
            order_id=order_id,
            user=context.user,
            team=context.team,
        )
        key, notifier = self._notifier_for(context)
        tell = FOLLOW_UP_HERE if notifier is not None else prompts.ESCALATION_LINE
        result: dict[str, Any] = {"escalation_id": filed.row["id"], "tell_the_customer": tell}
        return self._announce(_ESCALATION, filed, result, key, notifier)

    # ------------------------------------------------------------------ change requests

    def request_change(
        self,
        context: ToolContext,
        *,
        kind: str,
        order_id: str,
        details: dict[str, Any],
        reason: str,
    ) -> dict[str, Any]:
        """File a pending request (one per order and kind) and post it for an approver."""
        filed = self.store.file_request(
            kind=kind,
            order_id=order_id,
            details=details,
            reason=reason,
            thread_key=context.conversation,
            user=context.user,
            team=context.team,
        )
        request = filed.row
        key, notifier = self._notifier_for(context)
        result: dict[str, Any] = {
            "request_id": request["id"],
            "status": request["status"],
            "request": describe_request(request),
            "tell_the_customer": REQUEST_SENT if notifier is not None else REQUEST_BY_EMAIL,
            "note": "Nothing has changed yet: a person must approve it first.",
        }
        return self._announce(_REQUEST, filed, result, key, notifier)

    def _announce(
        self,
        kind: _Announced,
        filed: Filed,
        result: dict[str, Any],
        key: Key | None,
        notifier: HandoffNotifier | None,
    ) -> dict[str, Any]:
        """Post what was just filed where people see it; `result` is what Claude is told."""
        item_id = filed.row["id"]
        if not filed.created:
            # Claude asked twice (or two turns raced): the first call posted, this one only says so.
            result[kind.already] = True
            return result
        self._changed(kind.change)
        if notifier is None or key is None:
            logger.info("%s %s filed for the email line", kind.name.capitalize(), item_id)
            return result
        try:
            posted = kind.post(notifier, filed.row, key)
        except NotifyFailed as failed:
            # Nobody saw it: forget it so a retry can file it again, and give the email line.
            kind.withdraw(self.store, item_id, str(failed))
            logger.error("Could not post %s %s: %s", kind.name, item_id, failed)
            return {"error": kind.failure, "tell_the_customer": prompts.ESCALATION_LINE}
        kind.record(self.store, item_id, posted)
        return result

    def decide(self, request_id: int, decision: str, *, by: str) -> Decided:
        """Apply an approver's decision once; a repeated or late click gets `won=False`."""
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        request = self.store.request(request_id)
        if request is None:
            return self.store.decide(request_id, decision, by=by, order_status=None, order_note="")
        verb = "approved" if decision == APPROVED else "declined"
        what = KIND_WORDS.get(request["kind"], request["kind"]).capitalize()
        size = request["details"].get("new_size")
        note = f"{what}{f' to {size}' if size else ''} {verb} by {by} (request {request_id})"
        status = APPROVED_STATUS.get(request["kind"]) if decision == APPROVED else None
        decided = self.store.decide(
            request_id, decision, by=by, order_status=status, order_note=note
        )
        if decided.won:
            logger.info("Request %s %s by %s", request_id, decision, by)
            self._changed(DECIDED)
        return decided

    def resolve(self, escalation_id: int, *, by: str, note: str = "") -> str:
        """Mark an open escalation resolved, once: "resolved", "unknown" or "resolved already"."""
        outcome = self.store.resolve_escalation(escalation_id, by=by, note=note)
        if outcome == RESOLVED:
            logger.info("Escalation %s resolved by %s", escalation_id, by)
            self._changed(RESOLVED)
        return outcome
