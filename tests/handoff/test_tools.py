"""The hand-off tools through the real engine and SDK, front-agnostic: the email fallback,
nothing changed without a person, bad input refused, and no conversation, no hand-off."""

from __future__ import annotations

import json

from bot import prompts
from bot.events import ToolFinished, TurnComplete
from bot.handoff.service import REQUEST_BY_EMAIL, HandoffService, NotifyFailed
from bot.tools.registry import ToolContext
from fakes.claude import reply, tool_call

THREAD = "local:handoff"


def answer(services, text: str) -> list:
    return list(services.answers.answer(THREAD, text, user="U1", team="T1"))


def results(events: list) -> list[dict]:
    return [json.loads(e.result) for e in events if isinstance(e, ToolFinished)]


def test_without_a_channel_an_escalation_is_stored_and_the_email_line_given(services, fake_claude):
    call = tool_call(
        "escalate_to_human",
        {"reason": "complaint", "summary": "Parcel arrived torn.", "order_id": "ord-1001"},
    )
    fake_claude.enqueue(reply(text="Let me get a person.", tool_calls=[call]))
    fake_claude.enqueue(reply(text=prompts.ESCALATION_LINE))
    events = answer(services, "My parcel arrived torn, this is awful")
    assert isinstance(events[-1], TurnComplete)
    [result] = results(events)
    assert result["tell_the_customer"] == prompts.ESCALATION_LINE
    [escalation] = services.storage.handoff.escalations(only_open=True)
    assert escalation["thread_key"] == THREAD
    assert (escalation["user"], escalation["order_id"]) == ("U1", "ORD-1001")
    assert escalation["message_ts"] is None  # nothing posted anywhere


def test_a_request_without_a_channel_is_pending_and_changes_nothing(services, fake_claude):
    call = tool_call(
        "request_size_exchange",
        {"order_id": "ORD-1001", "new_size": "large", "reason": "Too small."},
    )
    fake_claude.enqueue(reply(tool_calls=[call]), reply(text="Requested."))
    [result] = results(answer(services, "Can I have a large instead?"))
    assert result["tell_the_customer"] == REQUEST_BY_EMAIL
    assert result["status"] == "pending"
    [request] = services.storage.handoff.requests(only_pending=True)
    assert (request["kind"], request["details"]) == ("size_exchange", {"new_size": "L"})
    assert services.storage.orders.get("ORD-1001")["status"] == "shipped"


def test_bad_input_is_an_error_result_and_files_nothing(services, fake_claude):
    calls = [
        tool_call(
            "request_size_exchange", {"order_id": "ORD-1001", "new_size": "huge", "reason": "x"}
        ),
        tool_call("request_refund", {"order_id": "ORD-9999", "reason": "x"}),
        tool_call("escalate_to_human", {"reason": "bored", "summary": "x"}),
    ]
    fake_claude.enqueue(reply(tool_calls=calls), reply(text="Sorry."))
    found = results(answer(services, "Do things"))
    assert [r["error"][:20] for r in found] == [
        "new_size must be one",
        "Order ORD-9999 not f",
        "reason must be one o",
    ]
    assert services.storage.handoff.requests() == []
    assert services.storage.handoff.escalations() == []


def test_a_hand_off_tool_needs_a_conversation(services):
    tools = services.engine.tools
    args = {"reason": "other", "summary": "x"}
    assert tools.run("escalate_to_human", args).is_error
    assert services.storage.handoff.escalations() == []
    ran = tools.run("escalate_to_human", args, ToolContext(conversation="local:x", user="U"))
    assert not ran.is_error


def test_each_hand_off_call_has_a_title_people_can_read(services):
    tools = services.engine.tools
    assert tools.step_title("escalate_to_human", {"reason": "other"}) == (
        "Passing this to a person on our team"
    )
    exchange = {"order_id": "ORD-1001", "new_size": "L", "reason": "x"}
    assert tools.step_title("request_size_exchange", exchange) == (
        "Asking our team to approve size L for ORD-1001"
    )
    assert tools.step_title("request_refund", {"order_id": "ORD-1003"}) == (
        "Asking our team to approve a refund for ORD-1003"
    )


class Unreachable:
    """A front whose people cannot be reached (Slack: the channel is gone)."""

    def post_escalation(self, escalation, conversation):
        raise NotifyFailed("channel_not_found")

    def post_request(self, request, conversation):
        raise NotifyFailed("channel_not_found")


def test_a_hand_off_nobody_could_see_is_withdrawn_and_the_email_line_given(services):
    handoff = HandoffService(services.storage.handoff, channel_configured=True)
    handoff.use("local", Unreachable())
    context = ToolContext(conversation=THREAD, user="U1", team="T1")
    escalated = handoff.escalate(context, reason="complaint", summary="Torn.", order_id=None)
    requested = handoff.request_change(
        context, kind="refund", order_id="ORD-1001", details={}, reason="Torn."
    )
    line = prompts.ESCALATION_LINE
    assert escalated == {"error": "The hand-off could not be posted.", "tell_the_customer": line}
    assert requested == {"error": "The request could not be sent.", "tell_the_customer": line}
    # Withdrawn, so a retry files them again.
    assert services.storage.handoff.escalations() == []
    assert services.storage.handoff.requests() == []
