"""A deterministic, rule-based stand-in for Claude that answers ShopMate conversations offline."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from fakes.claude import handoff_rules, reading
from fakes.claude.media_rules import media_reply
from fakes.claude.policy_rules import (
    SEARCH_TOOL,
    PolicySection,
    best_section,
    is_policy_question,
    quote,
    search_results,
    sections_in_system,
)
from fakes.claude.replies import ESCALATION_LINE, SCRIPTED_MODEL_NAME, Reply, ToolCall, make_id

logger = logging.getLogger(__name__)

NOT_FOUND_TEXT = (
    "I can't find an order with that number. Could you double-check your confirmation email? "
    "Order IDs start with ORD- followed by four digits."
)

#: Phrases in a system prompt that make the stand-in answer order questions field by field,
#: with no opener and no closing offer (ShopMate's prompt has them; the seed's has not).
BREVITY_CUES = ("no greeting", "no closing offer")

_CHANGE_RE = re.compile(
    r"\b(chang|swap|siz|refund|cancel|return|exchang|amend|modif)\w*", re.IGNORECASE
)
_ALTER_RE = re.compile(r"\b(chang|swap|amend|modif|cancel)\w*", re.IGNORECASE)
_IDENTITY_RE = re.compile(
    r"\b(who|what) are you\b|\bare you (claude|an? (ai|bot|robot|human|person|real)|real|human)\b"
    r"|\byour name\b|\b(which|what) model\b|\bwho am i (talking|speaking) to\b",
    re.IGNORECASE,
)
_GREETING_RE = re.compile(
    r"^\W*(hi|hello|hey|hiya|morning|good (morning|afternoon|evening))\b", re.I
)
_THANKS_RE = re.compile(r"\b(thanks|thank you|cheers|ta)\b", re.IGNORECASE)
_ORDER_TALK_RE = re.compile(r"\b(order|parcel|package|delivery|deliver|track\w*|ship\w*)\b", re.I)
_MATERIAL_RE = re.compile(r"\b(material|cotton|fabric|organic|sustainab\w*|eco|gots)\b", re.I)
_UNAVAILABLE_RE = re.compile(
    r"unavailable|timed? ?out|try again|temporar|could not connect|connection|internal", re.I
)
_INVALID_RE = re.compile(r"invalid|format|malformed|not a valid", re.IGNORECASE)


def _wants_brevity(request: dict[str, Any]) -> bool:
    """Does the system prompt ask for answers without padding (see BREVITY_CUES)?

    A real model follows such an instruction; the stand-in does too, so that a prompt asking
    for less is measurable against one that does not (the seed's), on the same fake.
    """
    system = request.get("system")
    text = system if isinstance(system, str) else reading.text_of(system)
    return any(cue in text.lower() for cue in BREVITY_CUES)


@dataclass
class _ToolOutcome:
    """One parsed `tool_result`: the JSON payload (if any), the raw text and the error flag."""

    order_id: str | None
    data: dict[str, Any] | None
    text: str
    is_error: bool
    tool_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _tool_uses_before(messages: list[dict[str, Any]], index: int) -> dict[str, dict[str, Any]]:
    """The tool_use blocks of the assistant message before `index`, by id."""
    for message in reversed(messages[:index]):
        if message.get("role") == "assistant":
            return {
                str(b.get("id")): b
                for b in reading.content_blocks(message.get("content"))
                if b.get("type") == "tool_use"
            }
    return {}


def _parse_tool_result(block: dict[str, Any], tool_use: dict[str, Any] | None) -> _ToolOutcome:
    content = block.get("content")
    text = content if isinstance(content, str) else reading.text_of(content)
    data: dict[str, Any] | None = None
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        data = parsed
    is_error = bool(block.get("is_error")) or (data is not None and "error" in data)
    tool_input = (tool_use or {}).get("input") or {}
    order_id = (data or {}).get("order_id") or tool_input.get("order_id")
    return _ToolOutcome(
        order_id=str(order_id).upper() if order_id else None,
        data=data,
        text=text,
        is_error=is_error,
        tool_name=(tool_use or {}).get("name"),
    )


# --------------------------------------------------------------------------- answer writing


def _order_fields(outcome: _ToolOutcome) -> tuple[dict[str, Any], str, Any, Any, Any]:
    """(data, status, eta, tracking number, tracking URL) of a lookup, each under whichever of
    its names the result uses (the seed's tool and ShopMate's name some fields differently)."""
    data = outcome.data or {}
    status = str(data.get("status", "")).strip().lower()
    eta = data.get("estimated_delivery") or data.get("eta")
    tracking = data.get("tracking_number") or data.get("tracking")
    return data, status, eta, tracking, data.get("track_url")


def _carrier(data: dict[str, Any], url: str | None) -> str | None:
    """The carrier the lookup named; the seed's results name none, only a Royal Mail link."""
    if data.get("carrier"):
        return str(data["carrier"])
    return "Royal Mail" if url and "royalmail" in url else None


def _age_line(data: dict[str, Any]) -> str:
    """How old a copy is, when the lookup served one because the order system was down."""
    if not data.get("as_of"):
        return ""
    return (
        f"\n\n_(As of {data['as_of']}: our order system isn't answering right now, so this is "
        "the last status I have.)_"
    )


def _order_block(outcome: _ToolOutcome) -> str:
    """One order as a heading line and one bullet per field the lookup returned.

    Every field stays (status, item, estimated delivery, tracking number with its carrier's
    link); what goes is the padding around them (openers, reassurance, "anything else?").
    """
    data, status, eta, tracking, url = _order_fields(outcome)
    item = data.get("item") or "Your order"
    order_id = data.get("order_id") or outcome.order_id
    heading = f"**{order_id}** — {item}" if order_id else f"**{item}**"

    if status == "processing":
        shown = "processing (being packed, hasn't shipped yet)"
    elif status in ("shipped", "delivered"):
        shown = status
    else:
        shown = f"*{status or 'being looked into'}*"
    lines = [heading, f"- **Status:** {shown}"]
    if eta and status != "delivered":
        lines.append(f"- **Estimated delivery:** {eta}")
    if tracking:
        carrier = _carrier(data, url)
        shown_number = f"[{tracking}]({url})" if url else str(tracking)
        lines.append(f"- **Tracking:** {shown_number}" + (f" ({carrier})" if carrier else ""))
    elif status == "processing":
        lines.append("- **Tracking:** emailed once it ships")
    text = "\n".join(lines)
    if status == "delivered":
        text += "\n\nNot there? Check with neighbours or your safe place, then tell me."
    elif status not in ("shipped", "processing"):
        text += f"\n\nIf that doesn't look right, {ESCALATION_LINE}"
    return text + _age_line(data)


def _error_sentence(outcome: _ToolOutcome) -> str:
    """The answer for a failed lookup: not found (default), invalid id, or system trouble."""
    message = str((outcome.data or {}).get("error") or outcome.text or "")
    if _UNAVAILABLE_RE.search(message) and "not found" not in message.lower():
        return (
            "I couldn't reach our order system just now, so I can't see that order yet. "
            f"Please try again in a few minutes. If it keeps happening, {ESCALATION_LINE}"
        )
    if _INVALID_RE.search(message) and "not found" not in message.lower():
        return (
            "That doesn't look like a ThreadCo order number. Order IDs start with ORD- followed "
            "by four digits, and you'll find yours in your confirmation email."
        )
    return NOT_FOUND_TEXT


def _answer_tool_results(outcomes: list[_ToolOutcome], *, brief: bool) -> str:
    """Turn tool results into the final answer, in the style the system prompt asks for."""
    return _brief_answer(outcomes) if brief else _chatty_answer(outcomes)


def _brief_answer(outcomes: list[_ToolOutcome]) -> str:
    """One paragraph per result and nothing else: every field, no opener, no offer."""
    paragraphs = []
    for outcome in outcomes:
        if outcome.is_error:
            label = f"**{outcome.order_id}**: " if outcome.order_id and len(outcomes) > 1 else ""
            paragraphs.append(label + _error_sentence(outcome))
        elif outcome.data is None or outcome.tool_name not in (None, "get_order"):
            paragraphs.append(f"Here's what I found:\n\n{outcome.text}")
        else:
            paragraphs.append(_order_block(outcome))
    return "\n\n".join(paragraphs)


def _order_sentence(outcome: _ToolOutcome) -> tuple[str, str]:
    """(core, closer) for one order; `core` starts with lower-case "your" or an id-free sentence."""
    data, status, eta, tracking, url = _order_fields(outcome)
    item = data.get("item") or "order"
    carrier = _carrier(data, url)
    # "Your DPD tracking number is X: you can follow it at URL." (no link: just the number)
    your_number = f" Your {carrier + ' ' if carrier else ''}tracking number is {tracking}" + (
        f": you can follow it at {url}." if url else "."
    )

    if status == "shipped":
        core = f"your **{item}** has been shipped"
        core += f" and is estimated to arrive by {eta}." if eta else "."
        if tracking:
            core += your_number
        else:
            core += " You'll get an email with its tracking number shortly."
        closer = (
            "Tracking can take a few hours to update after dispatch, so don't worry if it looks "
            "quiet at first. Is there anything else I can help you with?"
        )
    elif status == "processing":
        core = f"your **{item}** is being packed at our workshop and hasn't shipped yet."
        if eta:
            core += f" It's estimated to arrive by {eta},"
            core += " and you'll get an email with your tracking number once it's on its way."
        else:
            core += " You'll get an email with your tracking number once it's on its way."
        closer = (
            "If anything about the order needs sorting before it ships, just let me know. "
            "Is there anything else I can help you with?"
        )
    elif status == "delivered":
        core = f"your **{item}** shows as delivered" + (f" by {carrier}" if carrier else "")
        if tracking:
            core += f" (tracking number {tracking}" + (f": {url})." if url else ").")
        else:
            core += "."
        core += " If it hasn't turned up, it's worth checking with neighbours or your safe place."
        closer = (
            "Still can't find it? Just reply here and we'll sort it out with "
            f"{carrier or 'the carrier'} for you. Anything else I can help with?"
        )
    else:
        shown = status or "being looked into"
        core = f"your **{item}** currently shows as *{shown}*."
        if eta:
            core += f" It's estimated to arrive by {eta}."
        if tracking:
            core += your_number
        closer = (
            "If that doesn't look right, let me know and I'll get it checked. "
            "Is there anything else I can help you with?"
        )
    return core + _age_line(data), closer


def _capitalise(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _chatty_answer(outcomes: list[_ToolOutcome]) -> str:
    """The answer a model writes when nothing asks it to be brief: openers, reassurance, offers."""
    if len(outcomes) == 1:
        outcome = outcomes[0]
        if outcome.is_error:
            return (
                _error_sentence(outcome)
                + " Once you have it, just send it over and I'll look it up straight away. If"
                " you can't find the email at all, let me know and I'll point you to our team."
            )
        if outcome.data is None or outcome.tool_name not in (None, "get_order"):
            return (
                f"Here's what I found:\n\n{outcome.text}\n\nIs there anything else I can help with?"
            )
        core, closer = _order_sentence(outcome)
        status = str(outcome.data.get("status", "")).lower()
        opener = "Good news — " + core if status in {"shipped", "delivered"} else _capitalise(core)
        return f"{opener}\n\n{closer}"

    paragraphs = ["Here's what I found for each of your orders:"]
    for outcome in outcomes:
        label = f"**{outcome.order_id}**" if outcome.order_id else "One lookup"
        if outcome.is_error:
            paragraphs.append(f"{label}: {_error_sentence(outcome)}")
        elif outcome.data is None:
            paragraphs.append(f"{label}: {outcome.text}")
        else:
            core, _ = _order_sentence(outcome)
            paragraphs.append(f"{label}: {core}")
    paragraphs.append("Is there anything else I can help you with?")
    return "\n\n".join(paragraphs)


def _conversation_has_shipped_order(messages: list[dict[str, Any]]) -> bool:
    for message in messages:
        for block in reading.content_blocks(message.get("content")):
            if block.get("type") == "tool_result":
                data = _parse_tool_result(block, None).data or {}
                if str(data.get("status", "")).lower() == "shipped":
                    return True
    return False


def _refusal(messages: list[dict[str, Any]], *, brief: bool = False) -> str:
    if _conversation_has_shipped_order(messages):
        first = "Unfortunately once an order has shipped we can't make changes to it."
    else:
        first = (
            "I'm sorry, I'm not able to change, cancel or refund orders myself from here, "
            "but our team can help."
        )
    return (
        f"{first} If the size doesn't work out, we offer **free returns within 30 days** — just "
        "send it back and order the size you need.\n\n"
        f"{ESCALATION_LINE}"
        + ("" if brief else " Is there anything else I can help with in the meantime?")
    )


IDENTITY_TEXT = (
    "I'm ShopMate, ThreadCo's support assistant — but right now you're talking to **ShopMate's "
    "offline scripted stand-in for Claude**, a small rule-based program used for demos and "
    "tests, not the real Claude. I can still look up sample orders (try **ORD-1001**), explain "
    "our returns policy and point you to our team at hello@threadco.com for anything trickier."
)

GREETING_TEXT = (
    "Hi! I'm ShopMate, ThreadCo's support assistant. I can check on an order if you share its "
    "number (it looks like **ORD-1234**), help with sizing and returns, or answer questions about "
    "our organic cotton tees. What can I help you with today?"
)

THANKS_TEXT = (
    "You're very welcome! If anything else comes up with your order, sizing or returns, just "
    "message me here with your order number and I'll be happy to help. Have a lovely day."
)

ORDER_NEEDS_ID_TEXT = (
    "I'd be happy to check on that for you. Could you share your order number? It starts with "
    "**ORD-** followed by four digits, and you'll find it in your confirmation email. Once I have "
    "it I can tell you the status, the estimated delivery date and the tracking link."
)

MATERIAL_TEXT = (
    "ThreadCo tees are made from **GOTS-certified organic cotton**, and our prints use "
    "water-based inks that last. Most styles come in a relaxed unisex cut. If you let me know "
    "which tee you're looking at, I can help with sizing, colours or care too."
)

GENERIC_TEXT = (
    "Thanks for getting in touch! I'm ShopMate, ThreadCo's support assistant. I can check an "
    "order's status and tracking if you share the order number (it looks like **ORD-1234**), and "
    "help with sizing, returns and our organic cotton range. Could you tell me a little more "
    "about what you need?"
)


def _no_tools_lookup_text(order_ids: list[str]) -> str:
    ids = ", ".join(f"**{oid}**" for oid in order_ids)
    return (
        f"I'm not able to look up {ids} right now, so I can't confirm its status yet. "
        f"Please try again in a little while. If it's urgent, {ESCALATION_LINE}"
    )


class ScriptedModel:
    """Reads a Messages API request body and writes a plausible ShopMate answer.

    Deterministic on purpose: the demo replays the seed's sample conversation the same way every
    time, and tests can assert on exact phrases. It does not generate text; it picks templates.
    """

    model_name: str = SCRIPTED_MODEL_NAME

    def respond(self, request: dict[str, Any]) -> Reply:
        """Answer one request with a `Reply` (text, optional tool calls, stop reason)."""
        messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
        if not messages:
            return self._say(GENERIC_TEXT)
        last_index = len(messages) - 1
        last = messages[last_index]

        if last.get("role") == "user":
            results = [
                b
                for b in reading.content_blocks(last.get("content"))
                if b.get("type") == "tool_result"
            ]
            if results:
                return self._answer_results(request, messages, results)

        about_files = media_reply(request, messages)
        if about_files is not None:
            return self._say(about_files)
        text = _last_user_text(messages)
        order_ids = reading.order_ids(text)
        if order_ids and "get_order" in reading.tool_names(request):
            if not reading.tools_allowed(request):
                return self._say(_no_tools_lookup_text(order_ids))
            preface = (
                "Let me look that up for you."
                if len(order_ids) == 1
                else "Let me look those up for you."
            )
            return Reply(
                text=preface, tool_calls=_lookups(order_ids, messages, text), model=self.model_name
            )
        if _IDENTITY_RE.search(text):
            return self._say(IDENTITY_TEXT)
        needs_more = self._handoff_policy_or_refusal(request, messages, text)
        if needs_more is not None:
            return needs_more
        if _THANKS_RE.search(text):
            return self._say(THANKS_TEXT)
        if _GREETING_RE.search(text) and len(text) < 40:
            return self._say(GREETING_TEXT)
        if _MATERIAL_RE.search(text):
            return self._say(MATERIAL_TEXT)
        if _ORDER_TALK_RE.search(text):
            return self._say(ORDER_NEEDS_ID_TEXT)
        return self._say(GENERIC_TEXT)

    def _say(self, text: str) -> Reply:
        return Reply(text=text, model=self.model_name)

    def _handoff_policy_or_refusal(
        self, request: dict[str, Any], messages: list[dict[str, Any]], question: str
    ) -> Reply | None:
        """A question beyond an order's status, in this order: a person's hand-off, a policy's
        answer, or the refusal to change an order; None when the question is none of these."""
        handoff = self._plan_handoff(request, messages, question)
        if handoff is not None:
            return handoff
        policy = self._policy_reply(request, messages, question)
        if policy is not None:
            return policy
        if _CHANGE_RE.search(question):
            return self._say(_refusal(messages, brief=_wants_brevity(request)))
        return None

    def _policy_reply(
        self, request: dict[str, Any], messages: list[dict[str, Any]], question: str
    ) -> Reply | None:
        """A question ShopMate's policies answer: quote the best section, naming it.

        From the sections in the system prompt when ShopMate put them there; else by calling
        `search_policies` when it is offered, then from what the search returned. None when
        the question is not about a policy or there is nothing to answer from (older rules
        apply then).
        """
        if not (_CHANGE_RE.search(question) or is_policy_question(question)):
            return None
        # Asked to alter an order, a person has to act: the answer ends with the escalation.
        change = bool(_ALTER_RE.search(question))
        shipped = _conversation_has_shipped_order(messages)
        # A model that knows the order shipped looks for what can be done after shipping.
        query = f"{question} (exchange after it has shipped)" if change and shipped else question
        searched = _searched_since_question(messages)
        if searched is not None:
            # Like a model reading every result, it quotes the one that fits the question best.
            chosen = best_section(query, searched) or (searched[0] if searched else None)
            return self._say(_policy_text(chosen, change=change))
        sections = sections_in_system(request)
        if sections:
            return self._say(_policy_text(best_section(query, sections), change=change))
        if SEARCH_TOOL in reading.tool_names(request) and reading.tools_allowed(request):
            call = ToolCall(
                name=SEARCH_TOOL,
                input={"query": query},
                id=make_id("toolu_", f"{len(messages)}|search|{question}"),
            )
            return Reply(
                text="Let me check our policies.", tool_calls=(call,), model=self.model_name
            )
        return None

    def _answer_results(
        self, request: dict[str, Any], messages: list[dict[str, Any]], results: list[dict[str, Any]]
    ) -> Reply:
        """The request ends in tool results: answer from them, in this very call.

        The results may come from a lookup the model asked for, or from one made before the
        model was asked (ShopMate's prefetch puts them in exactly the same shape). An id the
        question names that no lookup of this exchange covered is looked up first, as a model
        would; a question asking for a change gets the change answer, not the status.
        """
        outcomes = _outcomes_since_question(messages) or [
            _parse_tool_result(
                b, _tool_uses_before(messages, len(messages) - 1).get(str(b.get("tool_use_id")))
            )
            for b in results
        ]
        question = _last_user_text(messages)
        missing = [
            oid
            for oid in reading.order_ids(question)
            if oid not in _looked_up_since_question(messages)
        ]
        if (
            missing
            and "get_order" in reading.tool_names(request)
            and reading.tools_allowed(request)
        ):
            return Reply(tool_calls=_lookups(missing, messages, question), model=self.model_name)
        relayed = handoff_rules.relay(outcomes)
        if relayed is not None:
            return self._say(relayed)
        needs_more = self._handoff_policy_or_refusal(request, messages, question)
        if needs_more is not None:
            return needs_more
        return self._say(_answer_tool_results(outcomes, brief=_wants_brevity(request)))

    def _plan_handoff(
        self, request: dict[str, Any], messages: list[dict[str, Any]], text: str
    ) -> Reply | None:
        """A hand-off tool call when ShopMate offers them and the message needs a person
        (fakes/claude/handoff_rules.py); None otherwise, and always without those tools."""
        planned = handoff_rules.plan(request, messages, text)
        if planned is None:
            return None
        preface, call = planned
        return Reply(text=preface, tool_calls=(call,), model=self.model_name)


def _policy_text(section: PolicySection | None, *, change: bool) -> str:
    """The answer from one policy section; without one, no guessing: the team takes it."""
    if section is None:
        return f"I couldn't find that in ThreadCo's policies, so I won't guess. {ESCALATION_LINE}"
    if change:
        return f"{quote(section)}\n\n{ESCALATION_LINE}"
    return quote(section)


def _searched_since_question(messages: list[dict[str, Any]]) -> list[PolicySection] | None:
    """What `search_policies` found after the newest question; None if it wasn't called."""
    found: list[PolicySection] | None = None
    for outcome in _outcomes_since_question(messages):
        if outcome.tool_name == SEARCH_TOOL:
            found = (found or []) + search_results(outcome.text)
    return found


def _lookups(order_ids: list[str], messages: list[dict[str, Any]], text: str) -> tuple[ToolCall]:
    """One get_order call per id, with ids that stay the same for the same conversation."""
    return tuple(
        ToolCall(
            name="get_order",
            input={"order_id": oid},
            id=make_id("toolu_", f"{len(messages)}|{i}|{oid}|{text}"),
        )
        for i, oid in enumerate(order_ids)
    )


def _outcomes_since_question(messages: list[dict[str, Any]]) -> list[_ToolOutcome]:
    """Every tool result after the newest question, oldest first, with the call it answers."""
    start = 0
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "user" and reading.text_of(message.get("content")):
            start = index + 1
            break
    uses: dict[str, dict[str, Any]] = {}
    outcomes: list[_ToolOutcome] = []
    for message in messages[start:]:
        for block in reading.content_blocks(message.get("content")):
            if block.get("type") == "tool_use":
                uses[str(block.get("id"))] = block
            elif block.get("type") == "tool_result":
                outcomes.append(_parse_tool_result(block, uses.get(str(block.get("tool_use_id")))))
    return outcomes


def _looked_up_since_question(messages: list[dict[str, Any]]) -> set[str]:
    """Order ids (normalised) of every get_order call after the newest question."""
    seen: set[str] = set()
    for message in reversed(messages):
        if message.get("role") == "user" and reading.text_of(message.get("content")):
            break
        for block in reading.content_blocks(message.get("content")):
            if block.get("type") == "tool_use" and block.get("name") == "get_order":
                raw = str((block.get("input") or {}).get("order_id", ""))
                seen.update(reading.order_ids(raw) or [raw.strip().upper()])
    return seen


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the most recent user message that has any (tool-result turns have none)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            text = reading.text_of(message.get("content"))
            if text:
                return text
    return ""
