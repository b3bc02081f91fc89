"""Approve / Reject clicks on hand-off requests: who may decide, and deciding exactly once.

Slack may deliver one click twice, and two approvers may click at the same moment; the
decision itself is a conditional update in storage (only a pending request changes), so
exactly one click wins. Only the winner edits the request message and tells the asker's
thread; the others get an ephemeral note. A click from someone not in SHOPMATE_APPROVERS
changes nothing and is told so, privately.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.handoff.service import decision_for_thread
from bot.keys import SLACK, Key
from bot.settings import Settings
from bot.slack.budget import CallBudget
from bot.slack.calls import NO_BUDGET, Outcome, SlackCalls
from bot.slack.ephemeral import tell_privately
from bot.slack.handoff import (
    BUDGET_WAIT_S,
    SlackHandoffNotifier,
    decided_blocks,
)
from bot.wiring import Services
from storage.handoff import Decided

logger = logging.getLogger(__name__)

NOT_ALLOWED = (
    "Sorry, you're not allowed to decide this request. Only the approvers set in "
    "SHOPMATE_APPROVERS can approve or reject changes."
)


class Approvers:
    """SHOPMATE_APPROVERS: user ids, and user groups resolved with usergroups.users.list.

    A group's members are remembered for `cache_seconds`, so a burst of clicks costs one
    lookup. A lookup that fails counts as "not a member": deciding needs a positive answer.
    """

    def __init__(
        self,
        ids: tuple[str, ...],
        *,
        cache_seconds: float = Settings.approvers_cache_seconds,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = frozenset(i for i in ids if not i.startswith("S"))
        self.groups = tuple(i for i in ids if i.startswith("S"))
        self.cache_seconds = cache_seconds
        self.clock = clock
        # One lookup at a time, the cache read under the same lock: a burst of checks
        # (clicks, Home tabs) costs one Tier 2 call.
        self._lookup = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def allows(self, user: str, client: WebClient) -> bool:
        if user in self.users:
            return True
        return any(user in self._group_members(group, client) for group in self.groups)

    def _group_members(self, group: str, client: WebClient) -> frozenset[str]:
        with self._lookup:
            now = self.clock()
            cached = self._members.get(group)
            if cached is not None and cached[0] > now:
                return cached[1]
            outcome = SlackCalls().call(client, None, "usergroups.users.list", usergroup=group)
            if not outcome.ok:
                logger.error("usergroups.users.list for %s failed: %s", group, outcome.error)
                return frozenset()
            members = frozenset(outcome.response.get("users") or ())
            self._members[group] = (now + self.cache_seconds, members)
            return members


def use_slack_for_handoff(
    app: App, services: Services, *, budget: CallBudget | None = None
) -> None:
    """Post hand-offs through this app's client when an escalation channel is set.

    `budget` is the replies' shared call budget: hand-off posts wait their turn in it like
    every other call of the workspace. The Approve / Reject clicks are registered with the
    other listeners (bot/slack/listeners/actions.py) and decided by `decide`.
    """
    settings = services.settings
    if services.handoff is not None and settings.escalation_channel:
        services.handoff.use(SLACK, SlackHandoffNotifier(app.client, settings, budget=budget))


@dataclass(frozen=True)
class Click:
    """Who clicked a button, where, and the number it carries (None: not a number)."""

    user: str
    team: str
    channel: str
    message_ts: str | None
    number: int | None


def read_click(body: dict[str, Any], where: str) -> Click:
    """The click in a block_actions payload; `where` names the button in a bad value's log."""
    actions = body.get("actions") or [{}]
    try:
        number: int | None = int(actions[0].get("value") or "")
    except ValueError:
        logger.warning("A %s button without a number: %r", where, actions[0].get("value"))
        number = None
    return Click(
        user=(body.get("user") or {}).get("id") or "",
        team=(body.get("team") or {}).get("id") or "unknown",
        channel=(body.get("channel") or {}).get("id") or "",
        message_ts=(body.get("message") or {}).get("ts"),
        number=number,
    )


def decide(
    services: Services,
    approvers: Approvers,
    body: dict[str, Any],
    client: WebClient,
    decision: str,
    *,
    budget: CallBudget | None = None,
) -> None:
    """One click in the channel: refuse, or decide once and show the decision where people look."""
    click = read_click(body, "hand-off")
    decide_click(
        services,
        approvers,
        click,
        client,
        decision,
        budget=budget,
        tell=lambda text: tell_privately(client, click.channel, click.user, text),
    )


def decide_click(
    services: Services,
    approvers: Approvers,
    click: Click,
    client: WebClient,
    decision: str,
    *,
    tell: Callable[[str], None],
    budget: CallBudget | None = None,
) -> None:
    """Any surface's Approve / Reject (the channel, Home): a non-approver is refused and told,
    an approver's decision is made once; the clicker is told when their click changed nothing."""
    handoff = services.handoff
    if click.number is None or handoff is None:
        return
    if not approvers.allows(click.user, client):
        handoff.store.refused(click.number, by=click.user, clicked=decision)
        logger.info(
            "Refused %s on request %s: %s is not an approver", decision, click.number, click.user
        )
        tell(NOT_ALLOWED)
        return
    decided = apply_decision(
        services,
        client,
        click.number,
        decision,
        user=click.user,
        team=click.team,
        budget=budget,
        message_ts=click.message_ts,
        fallback_channel=click.channel,
    )
    if decided.request is None:
        tell("That request no longer exists.")
    elif not decided.won:
        tell(already_decided(decided.request))


def already_decided(request: dict[str, Any]) -> str:
    return f"This request was already {request['status']} by <@{request['decided_by']}>."


def apply_decision(
    services: Services,
    client: WebClient,
    request_id: int,
    decision: str,
    *,
    user: str,
    team: str,
    budget: CallBudget | None = None,
    message_ts: str | None = None,
    fallback_channel: str = "",
) -> Decided:
    """An approver's decision, from any surface (the channel's buttons, the Home tab): decided
    once in storage; only the winning click edits the request message and tells the thread."""
    assert services.handoff is not None
    decided = services.handoff.decide(request_id, decision, by=user)
    request = decided.request
    if request is None or not decided.won:
        return decided

    calls = SlackCalls(budget)

    def final(method: str, **kwargs: Any) -> Outcome:
        # Waits its turn and is retried; past the bound it calls anyway, once.
        outcome = calls.final(client, team, method, timeout=BUDGET_WAIT_S, **kwargs)
        if outcome.error == NO_BUDGET:
            logger.warning("No %s slot for request %s; calling anyway", method, request_id)
            outcome = calls.call(client, team, method, **kwargs)
        return outcome

    text, blocks = decided_blocks(request)
    channel = request["channel"] or fallback_channel
    ts = request["message_ts"] or message_ts
    if channel and ts:
        edited = final("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)
        if not edited.ok:
            logger.error("Could not update request %s: %s", request_id, edited.error)
    thread = Key.parse(request["thread_key"])
    if thread is None or thread.platform != SLACK:
        logger.info("Request %s came from %s; nobody to tell in Slack", request_id, thread)
        return decided
    _, thread_channel, thread_ts = thread.parts
    told = final(
        "chat.postMessage",
        channel=thread_channel,
        thread_ts=thread_ts,
        text=decision_for_thread(request),
    )
    if not told.ok:
        logger.error("Could not tell the thread of request %s: %s", request_id, told.error)
    return decided
