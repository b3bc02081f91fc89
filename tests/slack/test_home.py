"""ShopMate's Home tab in Slack, with the real Bolt and SDKs against the fakes.

Approvers see the pending requests with Approve / Reject (the channel buttons' very decision:
once, whatever is clicked twice or at once), and open escalations with Resolve; leads see the
figures `shopmate stats` prints; everyone sees what ShopMate does and their conversations.
Clicks on Home are built from the view the fake shows that person, and sent signed over HTTP.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anthropic
import pytest

from bot.cli.stats_report import print_stats
from bot.handoff.service import REQUEST_SENT
from bot.settings import Settings
from bot.slack.approvals import NOT_ALLOWED
from bot.slack.home.view import (
    APPROVE_ACTION,
    CAN_DO,
    FIGURE_WORDS,
    REJECT_ACTION,
    RESOLVE_ACTION,
)
from bot.stats import FIGURE_NAMES
from bot.tools.registry import ToolContext
from bot.wiring import build_services
from fakes.claude import FakeClaude, reply, tool_call
from fakes.slack import FakeSlack
from fakes.slack.clicks import click_home
from fakes.slack.events import app_home_opened_event, next_ts
from tests.conftest import SAMPLE_ORDERS
from tests.slack.conftest import CHANNEL, TEAM, USER, start_harness
from tests.slack.test_feedback import feedback_click
from tests.slack.test_handoff import (
    APPROVER_GROUP,
    BOSS,
    ESCALATIONS,
    LEAD,
    STRANGER,
    HandoffHarness,
    handoff_settings,
    request_exchange,
)

WAIT = 20.0


@pytest.fixture
def make_harness(
    settings: Settings, claude_client: anthropic.Anthropic, fake_claude: FakeClaude
) -> Iterator:
    """Harnesses on their own fake Slack (`window_s` shortens its minute, and ShopMate's)."""
    started: list[tuple[HandoffHarness, FakeSlack]] = []

    def make(*, window_s: float = 60.0, **changes) -> HandoffHarness:
        slack = FakeSlack(team_id=TEAM, window_s=window_s).start()
        slack.set_usergroup(APPROVER_GROUP, [LEAD, "U0OTHER"])
        changes.setdefault("slack_minute_s", window_s)
        services = build_services(handoff_settings(settings, **changes), client=claude_client)
        services.storage.orders.upsert_many(SAMPLE_ORDERS)
        h = HandoffHarness(start_harness(services, slack, fake_claude), app=None)  # type: ignore[arg-type]
        started.append((h, slack))
        return h

    yield make
    for h, slack in started:
        h.server.stop()
        h.services.close()
        slack.stop()


@pytest.fixture
def h(make_harness) -> HandoffHarness:
    return make_harness()


def open_home(h: HandoffHarness, user: str) -> None:
    payload = app_home_opened_event(team=TEAM, user=user, channel=f"D{user[1:]}", tab="home")
    assert h.deliver(payload) == 200


def home_shown(h: HandoffHarness, user: str, predicate=lambda view: True) -> dict:
    """Wait until `user`'s Home shows a view for which `predicate` holds; return it."""
    found: dict = {}

    def ready() -> bool:
        view = h.slack.home_view(user)
        if view is not None and predicate(view):
            found["view"] = view
            return True
        return False

    assert h.slack.wait_for(ready, WAIT), (
        f"{user}'s Home never showed that: {h.slack.home_view(user)}"
    )
    return found["view"]


def text_of(view: dict) -> str:
    """Every text the view shows, one string (mrkdwn as sent)."""
    parts: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(view["blocks"])
    return "\n".join(parts)


def buttons(view: dict) -> list[tuple[str, str, str]]:
    """(block_id, action_id, value) of every button the view shows."""
    found = []
    for block in view["blocks"]:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("type") == "button":
                found.append((block.get("block_id", ""), element["action_id"], element["value"]))
    return found


def shows_request(request_id: int):
    return lambda view: any(b == f"home_request_{request_id}" for b, _, _ in buttons(view))


def second_request(h: HandoffHarness) -> dict:
    """A refund request filed as the tool files it, for another thread."""
    assert h.services.handoff is not None
    context = ToolContext(f"slack:{TEAM}:{CHANNEL}:{next_ts()}", user=USER, team=TEAM)
    filed = h.services.handoff.request_change(
        context, kind="refund", order_id="ORD-1003", details={}, reason="Faded after one wash."
    )
    return filed


def home_click(h: HandoffHarness, user: str, action_id: str, block_id: str, payload=None) -> int:
    payload = payload or click_home(h.slack, user, action_id=action_id, block_id=block_id)
    status, _, _ = h.sender.post_interaction(payload)
    return status


def test_an_approvers_home_shows_each_pending_request_with_approve_and_reject(h):
    request_exchange(h)
    second = second_request(h)
    [exchange, refund] = sorted(r["id"] for r in h.services.storage.handoff.requests())
    assert second["request_id"] == refund

    open_home(h, BOSS)
    view = home_shown(h, BOSS, shows_request(refund))

    assert {(b, a, v) for b, a, v in buttons(view) if b.startswith("home_request_")} == {
        (f"home_request_{exchange}", APPROVE_ACTION, str(exchange)),
        (f"home_request_{exchange}", REJECT_ACTION, str(exchange)),
        (f"home_request_{refund}", APPROVE_ACTION, str(refund)),
        (f"home_request_{refund}", REJECT_ACTION, str(refund)),
    }
    shown = text_of(view)
    assert "Waiting for your approval (2)" in shown
    assert "size exchange for ORD-1001 (to L)" in shown and "refund for ORD-1003" in shown
    assert "Faded after one wash." in shown
    assert f"https://{h.slack.team_domain}.slack.com/archives/{CHANNEL}/p" in shown
    # An approver is a lead too: the figures, with what ShopMate is for.
    assert "How ShopMate is doing" in shown and CAN_DO in shown


def clicks_at_once(h: HandoffHarness, payloads: list[dict]) -> list[int]:
    barrier = threading.Barrier(len(payloads))

    def one(payload: dict) -> int:
        barrier.wait()
        status, _, _ = h.sender.post_interaction(payload)
        return status

    with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        return list(pool.map(one, payloads))


@pytest.mark.parametrize("race", [False, True], ids=["one click", "twice and a second approver"])
def test_approving_from_home_decides_once_and_refreshes_both_approvers_homes(h, race):
    first, posted = request_exchange(h)
    [request] = h.services.storage.handoff.requests()
    block = f"home_request_{request['id']}"
    thread_before = len(h.replies(first))
    for user in (BOSS, LEAD):  # LEAD approves through the user group
        open_home(h, user)
        home_shown(h, user, shows_request(request["id"]))
    published = {user: h.slack.publish_count(user) for user in (BOSS, LEAD)}

    boss_click = click_home(h.slack, BOSS, action_id=APPROVE_ACTION, block_id=block)
    if race:  # Slack delivers the boss's click twice while the lead clicks too
        lead_click = click_home(h.slack, LEAD, action_id=APPROVE_ACTION, block_id=block)
        assert clicks_at_once(h, [boss_click, boss_click, lead_click]) == [200, 200, 200]
    else:
        assert home_click(h, BOSS, APPROVE_ACTION, block, boss_click) == 200
    h.settle()

    [decided] = h.services.storage.handoff.requests()
    assert decided["status"] == "approved" and decided["decided_by"] in (BOSS, LEAD)
    assert h.services.storage.orders.get("ORD-1001")["status"] == "exchange approved"
    # The channel's request message, edited once, by the channel buttons' own path.
    updates = [c for c in h.slack.calls_to("chat.update") if c.args.get("channel") == ESCALATIONS]
    assert len(updates) == 1
    shown = h.slack.message(ESCALATIONS, posted.ts)
    assert shown.text.startswith(f"Approved by <@{decided['decided_by']}>")
    assert not [b for b in shown.blocks if b["type"] == "actions"]
    told = h.replies(first)[thread_before:]
    assert len(told) == 1 and "has been approved" in told[0].text
    audit = [a["action"] for a in h.services.storage.handoff.audit("request", request["id"])]
    assert audit == ["requested", "posted", "approved", *(["ignored"] * (2 if race else 0))]
    # Both approvers' Homes were published again, without the request.
    for user in (BOSS, LEAD):
        view = home_shown(
            h,
            user,
            lambda v, u=user: (
                h.slack.publish_count(u) > published[u] and not shows_request(request["id"])(v)
            ),
        )
        assert "Waiting for your approval (0)" in text_of(view)
    if race:  # whoever lost is told so on their Home, not in the channel
        loser = LEAD if decided["decided_by"] == BOSS else BOSS
        home_shown(h, loser, lambda v: "already approved" in text_of(v))
        assert not [e for e in h.slack.ephemerals() if "already" in e.text]


def test_rejecting_from_home_tells_the_thread_it_was_not_approved(h):
    first, _ = request_exchange(h)
    [request] = h.services.storage.handoff.requests()
    open_home(h, BOSS)
    home_shown(h, BOSS, shows_request(request["id"]))
    assert home_click(h, BOSS, REJECT_ACTION, f"home_request_{request['id']}") == 200
    h.settle()
    assert h.services.storage.handoff.requests()[0]["status"] == "rejected"
    assert "was not approved" in h.replies(first)[-1].text


def test_someone_who_is_not_an_approver_sees_no_buttons_but_their_own_conversations(h):
    request_exchange(h)  # USER asked; USER is no approver
    open_home(h, USER)
    view = home_shown(h, USER, lambda v: "Your recent conversations" in text_of(v))
    assert buttons(view) == []
    shown = text_of(view)
    assert "Waiting for your approval" not in shown and "How ShopMate is doing" not in shown
    assert "where is ORD-1001?" in shown and CAN_DO in shown, shown
    for _, message in h.services.settings.suggested_prompts:
        assert message in shown


def test_a_forged_approve_from_someone_not_an_approver_changes_nothing(h):
    _, posted = request_exchange(h)
    [request] = h.services.storage.handoff.requests()
    open_home(h, BOSS)
    home_shown(h, BOSS, shows_request(request["id"]))
    # The stranger replays the boss's button as their own.
    payload = click_home(
        h.slack, BOSS, action_id=APPROVE_ACTION, block_id=f"home_request_{request['id']}"
    )
    payload["user"] = {**payload["user"], "id": STRANGER}
    assert home_click(h, STRANGER, APPROVE_ACTION, "", payload) == 200
    h.settle()
    assert h.services.storage.handoff.requests()[0]["status"] == "pending"
    assert h.slack.message(ESCALATIONS, posted.ts).blocks == posted.blocks
    home_shown(h, STRANGER, lambda v: NOT_ALLOWED in text_of(v))


def test_an_open_escalation_is_resolved_from_home_once(h):
    h.claude.enqueue(
        reply(
            tool_calls=[
                tool_call(
                    "escalate_to_human",
                    {"reason": "complaint", "summary": "Torn parcel.", "order_id": "ORD-1001"},
                )
            ]
        ),
        reply(text="A person will follow up here."),
    )
    asked = h.mention("My parcel arrived torn, I want to complain")
    h.wait_answered(asked)
    [escalation] = h.services.storage.handoff.escalations(only_open=True)
    block = f"home_escalation_{escalation['id']}"
    open_home(h, LEAD)
    view = home_shown(h, LEAD, lambda v: any(b == block for b, _, _ in buttons(v)))
    assert escalation["permalink"] in text_of(view)
    payload = click_home(h.slack, LEAD, action_id=RESOLVE_ACTION, block_id=block)
    assert clicks_at_once(h, [payload, payload]) == [200, 200]
    h.settle()
    [resolved] = h.services.storage.handoff.escalations()
    assert (resolved["status"], resolved["resolved_by"]) == ("resolved", LEAD)
    audit = [a["action"] for a in h.services.storage.handoff.audit("escalation", escalation["id"])]
    assert audit.count("resolved") == 1
    home_shown(h, LEAD, lambda v: "Open escalations (0)" in text_of(v))


def test_sixty_people_opening_home_at_once_provoke_no_429(make_harness):
    # A minute of 6 s on both sides (the fake's token buckets, ShopMate's pacing).
    h = make_harness(window_s=6.0)
    people = [f"U0P{i:03d}" for i in range(60)] + [BOSS, LEAD]
    barrier = threading.Barrier(len(people))

    def one(user: str) -> None:
        barrier.wait()
        open_home(h, user)

    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        list(pool.map(one, people))
    assert h.slack.wait_for(lambda: all(h.slack.home_view(u) for u in people), 60.0)
    assert h.slack.count_429 == 0
    assert h.slack.publish_count() == len(people)  # one publish each
    assert [c for c in h.slack.calls_to("views.publish") if not c.ok] == []
    # One look-up of the approver group for all of them.
    assert len(h.slack.calls_to("usergroups.users.list")) == 1


def figures_from_stats(settings: Settings) -> dict[str, list[str]]:
    """The overview rows `shopmate stats` prints: period -> its cells."""
    out = io.StringIO()
    assert print_stats(settings, days=7, out=out) == 0
    text = out.getvalue().split("Overview (as on ShopMate's Home tab in Slack)\n")[1]
    rows: dict[str, list[str]] = {}
    for line in text.splitlines()[1:3]:
        period, *cells = re.split(r"\s{2,}", line.strip())
        rows[period] = cells
    return rows


def test_the_figures_on_home_are_those_of_shopmate_stats(make_harness):
    # Resolved at once: every answer without hand-off or 👎 counts.
    h = make_harness(resolution_window_hours=0.0)
    request_exchange(h)  # two answers, one conversation handed to a person
    for question in ("What is your returns policy?", "Do you ship to Canada?"):
        h.wait_answered(h.mention(question))
    down = h.mention("Where is ORD-1002?")
    h.wait_answered(down)
    *_, answer = h.replies(down)
    assert (
        h.sender.post_interaction(feedback_click(h.slack, answer, "negative", user=USER))[0] == 200
    )
    h.settle()

    open_home(h, BOSS)
    view = home_shown(h, BOSS, lambda v: "Where is ORD-1002?" in text_of(v))
    stats = figures_from_stats(h.services.settings)

    assert set(stats) == {"today", "last 7 days"}
    # Four conversations: two resolved, one handed to a person, one rated 👎.
    assert stats["today"][1] == "50% (2 of 4)"
    fields = [
        f["text"] for b in view["blocks"] if b["type"] == "section" for f in b.get("fields", [])
    ]
    for period, field in zip(("today", "last 7 days"), fields, strict=True):
        expected = [f"*{period.capitalize()}*"] + [
            f"{FIGURE_WORDS[name]}: {cell}"
            for name, cell in zip(FIGURE_NAMES, stats[period], strict=True)
        ]
        assert field.splitlines() == expected


def test_a_new_request_reaches_an_open_home_without_delaying_the_answer(h):
    open_home(h, BOSS)
    home_shown(h, BOSS, lambda v: "Waiting for your approval (0)" in text_of(v))
    slow = h.slack.hold("views.publish")  # Slack answers views.publish only when released
    try:
        first, _ = request_exchange(h)  # the answers finish while the Home publish hangs
        [request] = h.services.storage.handoff.requests()
        assert REQUEST_SENT in h.reply_text(first)
    finally:
        slow.set()
    home_shown(h, BOSS, shows_request(request["id"]))


def test_a_thumbs_down_reaches_a_leads_open_home(make_harness):
    h = make_harness(leads=("U0CHIEF",))
    open_home(h, "U0CHIEF")  # a lead, not an approver: figures, no buttons
    view = home_shown(h, "U0CHIEF", lambda v: "No answer rated 👎." in text_of(v))
    assert buttons(view) == []
    asked = h.mention("Where is ORD-1002?")
    h.wait_answered(asked)
    *_, answer = h.replies(asked)
    assert (
        h.sender.post_interaction(feedback_click(h.slack, answer, "negative", user=USER))[0] == 200
    )
    view = home_shown(h, "U0CHIEF", lambda v: "Where is ORD-1002?" in text_of(v))
    assert "Latest 👎 answers" in text_of(view) and buttons(view) == []
