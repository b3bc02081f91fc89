"""The hand-off in Slack, with the real Bolt, slack_sdk and anthropic SDKs against the fakes.

Escalations are posted once in the escalation channel (group mention, asker, order, the
thread's permalink), or fall back to the email line; change requests carry Approve / Reject
buttons that only approvers can use, and a decision applies exactly once however often Slack
delivers the click and however many approvers click at once.

Clicks are built from the buttons the fake shows and go over HTTP to the same app as the
events, form-encoded and signed as Slack sends them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import anthropic
import pytest
from slack_bolt import App

from bot import prompts
from bot.handoff.service import FOLLOW_UP_HERE, REQUEST_SENT
from bot.settings import Settings
from bot.slack.app import build_app, build_web_client
from bot.slack.approvals import NOT_ALLOWED
from bot.slack.budget import CallBudget
from bot.slack.handoff import APPROVE_ACTION, REJECT_ACTION
from bot.slack.server import HttpServer, make_wsgi_app
from bot.slack.socket_mode import ShopMateSocketModeHandler
from bot.tools.registry import ToolContext
from bot.wiring import Services, build_services
from fakes.claude import FakeClaude, reply, tool_call
from fakes.slack import FakeSlack
from fakes.slack.clicks import click
from fakes.slack.events import EventSender
from fakes.slack.socket_mode import FakeSocketMode
from tests.conftest import SAMPLE_ORDERS, SECRET
from tests.slack.conftest import CHANNEL, TEAM, USER, Harness, ListenerPool

ESCALATIONS = "C0ESC"
LEADS = "S0LEADS"
BOSS = "U0BOSS"  # an approver by id
APPROVER_GROUP = "S0APPROVERS"
LEAD = "U0LEAD"  # an approver through the group
STRANGER = "U0RANDOM"


@dataclass
class HandoffHarness:
    harness: Harness
    app: App

    def __getattr__(self, name: str):
        return getattr(self.harness, name)

    def click(self, message, action_id: str, user: str) -> int:
        """`user` clicks a button `message` shows now; delivered over HTTP, signed like Slack."""
        payload = click(self.slack, message.channel, message.ts, user=user, action_id=action_id)
        status, _, _ = self.sender.post_interaction(payload)
        return status


def handoff_settings(settings: Settings, **changes) -> Settings:
    defaults = {
        "escalation_channel": ESCALATIONS,
        "escalation_group": LEADS,
        "approvers": (BOSS, APPROVER_GROUP),
    }
    return replace(settings, **{**defaults, **changes})


class RecordingBudget(CallBudget):
    """The replies' call budget, noting which calls asked it for a slot."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, str | None]] = []

    def acquire(self, team: str, method: str, *, channel: str | None = None, **kwargs) -> bool:
        self.asked.append((method, channel))
        return super().acquire(team, method, channel=channel, **kwargs)


def start(services: Services, slack: FakeSlack, claude: FakeClaude) -> HandoffHarness:
    web = build_web_client(replace(services.settings, slack_api_url=slack.api_url))
    pool = ListenerPool(services.settings.slack_workers)
    budget = RecordingBudget()
    app, responder = build_app(services, web_client=web, listener_executor=pool, budget=budget)
    server = HttpServer(make_wsgi_app(app)).start()
    sender = EventSender(f"{server.url}/slack/events", SECRET)
    return HandoffHarness(Harness(services, slack, claude, responder, server, sender, pool), app)


@pytest.fixture
def make_harness(
    settings: Settings,
    claude_client: anthropic.Anthropic,
    fake_slack: FakeSlack,
    fake_claude: FakeClaude,
) -> Iterator:
    started: list[HandoffHarness] = []
    fake_slack.set_usergroup(APPROVER_GROUP, [LEAD, "U0OTHER"])

    def make(**changes) -> HandoffHarness:
        services = build_services(handoff_settings(settings, **changes), client=claude_client)
        services.storage.orders.upsert_many(SAMPLE_ORDERS)
        started.append(start(services, fake_slack, fake_claude))
        return started[-1]

    yield make
    for h in started:
        h.server.stop()
        h.services.close()


@pytest.fixture
def h(make_harness) -> HandoffHarness:
    return make_harness()


def escalation_call(order_id: str = "ORD-1001"):
    return tool_call(
        "escalate_to_human",
        {"reason": "complaint", "summary": "Torn parcel, customer upset.", "order_id": order_id},
    )


def request_exchange(h: HandoffHarness):
    """The seed's story up to the request: the order looked up, then a larger size asked for."""
    first = h.mention("Hi, where is ORD-1001?")
    h.wait_answered(first)
    second = h.say_in_thread("Great, can I get a large instead?", first["event"]["ts"])
    h.wait_answered(second)
    [posted] = h.slack.messages(ESCALATIONS)
    return first, posted


def test_an_escalation_is_posted_once_with_the_group_the_asker_and_a_permalink(h):
    # Claude asks twice in one turn, and again in the next turn: one post.
    h.claude.enqueue(
        reply(text="Let me get a person.", tool_calls=[escalation_call(), escalation_call()]),
        reply(text=FOLLOW_UP_HERE),
        reply(tool_calls=[escalation_call()]),
        reply(text=FOLLOW_UP_HERE),
    )
    first = h.mention("My parcel arrived torn, I want to complain")
    h.wait_answered(first)
    root = first["event"]["ts"]
    again = h.say_in_thread("Hello??", root)
    h.wait_answered(again)

    [posted] = h.slack.messages(ESCALATIONS)
    link = f"https://{h.slack.team_domain}.slack.com/archives/{CHANNEL}/p{root.replace('.', '')}"
    assert f"<!subteam^{LEADS}>" in posted.text
    assert f"<@{USER}>" in posted.text
    assert "ORD-1001" in posted.text and "Torn parcel, customer upset." in posted.text
    assert f"<{link}|open the thread>" in posted.text
    assert FOLLOW_UP_HERE in h.reply_text(first)
    [escalation] = h.services.storage.handoff.escalations()
    assert (escalation["permalink"], escalation["message_ts"]) == (link, posted.ts)
    results = [
        json.loads(b["content"])
        for m in h.services.storage.conversations.history(f"slack:{TEAM}:{CHANNEL}:{root}")
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    assert [r["tell_the_customer"] for r in results] == [FOLLOW_UP_HERE] * 3
    # The first turn's two calls run at once: either may be the one that filed it.
    assert sorted(bool(r.get("already_escalated")) for r in results) == [False, True, True]


def test_without_a_channel_the_customer_gets_the_email_line_and_nothing_is_posted(
    make_harness,
):
    h = make_harness(escalation_channel=None)
    first = h.mention("This is unacceptable, my tee ORD-1001 is late!")
    h.wait_answered(first)
    h.settle()
    assert prompts.ESCALATION_LINE in h.reply_text(first)
    assert h.slack.messages(ESCALATIONS) == []
    [escalation] = h.services.storage.handoff.escalations(only_open=True)
    assert (escalation["reason"], escalation["message_ts"]) == ("angry_customer", None)


def clicks_at_once(h: HandoffHarness, clicks: list[tuple[object, str, str]]) -> list[int]:
    """Send every (message, action_id, user) click on its own thread, released together."""
    barrier = threading.Barrier(len(clicks))

    def one(click) -> int:
        barrier.wait()
        return h.click(*click)

    with ThreadPoolExecutor(max_workers=len(clicks)) as pool:
        return list(pool.map(one, clicks))


@pytest.mark.parametrize(
    ("action", "status", "order_status", "thread_words"),
    [
        (APPROVE_ACTION, "approved", "exchange approved", "has been approved"),
        (REJECT_ACTION, "rejected", "shipped", "was not approved"),
    ],
)
def test_a_decision_applies_once_under_duplicate_and_concurrent_clicks(
    h, action, status, order_status, thread_words
):
    first, posted = request_exchange(h)
    # The exchange policy, named from knowledge/, then the request (the seed's story).
    assert "Exchanging a size after it has shipped" in h.reply_text(first)
    assert REQUEST_SENT in h.reply_text(first)
    assert (
        "Approve" in json.dumps(posted.blocks)
        and "size exchange for ORD-1001 (to L)" in posted.text
    )
    thread_before = len(h.replies(first))

    # The boss's click delivered twice (Slack retries) while a group member clicks too.
    codes = clicks_at_once(
        h, [(posted, action, BOSS), (posted, action, BOSS), (posted, action, LEAD)]
    )
    assert codes == [200, 200, 200]
    h.settle()

    [request] = h.services.storage.handoff.requests()
    assert request["status"] == status and request["decided_by"] in (BOSS, LEAD)
    assert h.services.storage.orders.get("ORD-1001")["status"] == order_status
    updates = [c for c in h.slack.calls_to("chat.update") if c.args.get("channel") == ESCALATIONS]
    assert len(updates) == 1
    shown = h.slack.message(ESCALATIONS, posted.ts)
    assert shown.text.startswith(f"{status.capitalize()} by <@{request['decided_by']}>")
    assert not [b for b in shown.blocks if b["type"] == "actions"]
    told = h.replies(first)[thread_before:]
    assert len(told) == 1 and thread_words in told[0].text
    losers = [e for e in h.slack.ephemerals() if "already" in e.text]
    assert len(losers) == 2
    actions = [a["action"] for a in h.services.storage.handoff.audit("request", request["id"])]
    assert actions == ["requested", "posted", status, "ignored", "ignored"]
    # The request's post, its edit and the thread's news each waited their turn in the budget.
    asked = h.responder.budget.asked
    assert {("chat.postMessage", ESCALATIONS), ("chat.update", ESCALATIONS)} <= set(asked)
    assert asked.count(("chat.update", ESCALATIONS)) == 1


def test_a_non_approver_is_refused_privately_and_nothing_changes(h):
    first, posted = request_exchange(h)
    thread_before = len(h.replies(first))
    assert h.click(posted, APPROVE_ACTION, STRANGER) == 200
    h.settle()
    [refusal] = h.slack.ephemerals(STRANGER)
    assert refusal.text == NOT_ALLOWED and refusal.channel == ESCALATIONS
    [request] = h.services.storage.handoff.requests()
    assert request["status"] == "pending"
    assert h.services.storage.orders.get("ORD-1001")["status"] == "shipped"
    assert h.slack.message(ESCALATIONS, posted.ts).blocks == posted.blocks
    assert len(h.replies(first)) == thread_before
    assert h.slack.calls_to("chat.update") == [] or all(
        c.args.get("channel") != ESCALATIONS for c in h.slack.calls_to("chat.update")
    )
    audit = h.services.storage.handoff.audit("request", request["id"])
    assert [(a["action"], a["actor"]) for a in audit][-1] == ("refused", STRANGER)
    # The group was asked who its members are; the approver by id needed no lookup.
    assert [c.args.get("usergroup") for c in h.slack.calls_to("usergroups.users.list")] == [
        APPROVER_GROUP
    ]


def test_an_approval_over_socket_mode_is_applied_once_and_the_thread_told(
    settings: Settings,
    claude_client: anthropic.Anthropic,
    fake_slack: FakeSlack,
) -> None:
    """Socket Mode: the click is an `interactive` envelope; delivered twice, it decides once."""
    services = build_services(handoff_settings(settings), client=claude_client)
    services.storage.orders.upsert_many(SAMPLE_ORDERS)
    assert services.handoff is not None
    root = "1700000000.000100"
    with FakeSocketMode() as socket_mode:
        fake_slack.socket_mode = socket_mode
        web = build_web_client(replace(services.settings, slack_api_url=fake_slack.api_url))
        pool = ListenerPool(4)
        app, _ = build_app(services, web_client=web, socket_mode=True, listener_executor=pool)
        handler = ShopMateSocketModeHandler(app, "xapp-1-test")
        handler.connect()
        try:
            # Filed as the tool files it, for a Slack thread (no turn needed for this path).
            context = ToolContext(f"slack:{TEAM}:{CHANNEL}:{root}", user=USER, team=TEAM)
            filed = services.handoff.request_change(
                context, kind="refund", order_id="ORD-1003", details={}, reason="Faded."
            )
            [posted] = fake_slack.messages(ESCALATIONS)
            payload = click(fake_slack, ESCALATIONS, posted.ts, user=BOSS, action_id=APPROVE_ACTION)
            first = socket_mode.send_interaction(payload)
            again = socket_mode.send_interaction(payload)
            assert socket_mode.wait_for(
                lambda: socket_mode.acked(first) and socket_mode.acked(again)
            )
            assert pool.wait_idle(15.0)
        finally:
            handler.close()
            services.close()
    [told] = fake_slack.messages(CHANNEL, root)
    assert "refund for ORD-1003 has been approved" in told.text
    assert fake_slack.message(ESCALATIONS, posted.ts).text.startswith(f"Approved by <@{BOSS}>")
    assert filed["status"] == "pending"
