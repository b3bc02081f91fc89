"""The Home tab as Block Kit: a pure function of one person's HomeData (data.py).

Everyone sees what ShopMate can do, the suggested prompts and their own recent conversations;
approvers also see the pending requests (Approve / Reject) and the open escalations
(Resolve); leads the headline figures (the ones `shopmate stats` prints) and the latest 👎
answers. Lists are cut ("and N more") with the command that shows them all, and every text is
cut to Slack's limits, so the view never exceeds what views.publish accepts (100 blocks,
3,000 characters a section, 150 a header, 2,000 a field).
"""

from __future__ import annotations

import logging
from typing import Any

from bot import outcomes
from bot.slack.home.data import (
    MAX_CONVERSATIONS,
    MAX_ESCALATIONS,
    MAX_RATED_DOWN,
    MAX_REQUESTS,
    HomeData,
    OpenEscalation,
    PendingRequest,
)
from bot.stats import FIGURE_NAMES

logger = logging.getLogger(__name__)

APPROVE_ACTION = "home.approve"
REJECT_ACTION = "home.reject"
RESOLVE_ACTION = "home.resolve"
MAX_BLOCKS = 100
SECTION_MAX = 3000
HEADER_MAX = 150
FIELD_MAX = 2000
QUESTION_CHARS = 150
CUT = "(cut: too much to show here)"

CAN_DO = (
    "I answer questions about ThreadCo orders and policies: where an order is (paste an id "
    "like ORD-1001), returns, refunds and size exchanges. When a question needs a person, I "
    "hand it to the team, and approvers decide changes like a size exchange. Mention me in a "
    "channel, or write to me in the Messages tab."
)
FIGURE_WORDS = {
    "questions answered": "Questions answered",
    "resolution rate": "Resolved by ShopMate",
    "hand-offs": "Handed to a person",
    "up share": "Share of 👍",
    "cost (USD)": "Estimated cost",
}


def build_home(data: HomeData) -> dict[str, Any]:
    """The `home` view to publish for `data.user`."""
    blocks: list[dict[str, Any]] = [_header("ShopMate")]
    if data.notice:
        blocks.append(_context(data.notice))
    blocks.append(_section(CAN_DO))
    if data.is_approver:
        blocks += _requests(data)
        blocks += _escalations(data)
    if data.is_lead:
        blocks += _figures(data)
        blocks += _rated_down(data)
    blocks += _prompts(data)
    blocks += _conversations(data)
    if len(blocks) > MAX_BLOCKS:  # never reached with the caps in data.py; a last guard
        logger.error("Home for %s has %s blocks; cut to %s", data.user, len(blocks), MAX_BLOCKS)
        blocks = [*blocks[: MAX_BLOCKS - 1], _context(CUT)]
    return {"type": "home", "blocks": blocks}


# ----- approvers ------------------------------------------------------------------------------


def _requests(data: HomeData) -> list[dict[str, Any]]:
    blocks = [_header(f"Waiting for your approval ({data.requests_total})")]
    if not data.requests:
        return [*blocks, _context("Nothing waiting. Requests appear here as customers ask.")]
    shown = data.requests[:MAX_REQUESTS]
    for request in shown:
        blocks += _request(request)
    return blocks + _more(data.requests_total, len(shown), "shopmate escalations --open")


def _request(request: PendingRequest) -> list[dict[str, Any]]:
    lines = [f"*{escape(request.what)}*"]
    if request.reason:
        lines.append(f"Reason: {escape(request.reason)}")
    lines.append(" · ".join(_who_where(request.asked_by, request.link, request.created_utc)))
    return [
        _section("\n".join(lines)),
        {
            "type": "actions",
            "block_id": f"home_request_{request.id}",
            "elements": [
                _button("Approve", APPROVE_ACTION, str(request.id), style="primary"),
                _button("Reject", REJECT_ACTION, str(request.id), style="danger"),
            ],
        },
    ]


def _escalations(data: HomeData) -> list[dict[str, Any]]:
    blocks = [_header(f"Open escalations ({data.escalations_total})")]
    if not data.escalations:
        return [*blocks, _context("No open escalations.")]
    shown = data.escalations[:MAX_ESCALATIONS]
    blocks += [_escalation(e) for e in shown]
    return blocks + _more(data.escalations_total, len(shown), "shopmate escalations --open")


def _escalation(escalation: OpenEscalation) -> dict[str, Any]:
    title = f"*#{escalation.id} {escalation.reason.replace('_', ' ')}*"
    if escalation.order_id:
        title += f" · order {escape(escalation.order_id)}"
    lines = [
        title,
        escape(escalation.summary),
        " · ".join(_who_where(escalation.asked_by, escalation.link, escalation.created_utc)),
    ]
    block = _section("\n".join(lines))
    block["block_id"] = f"home_escalation_{escalation.id}"
    block["accessory"] = _button("Resolve", RESOLVE_ACTION, str(escalation.id))
    return block


# ----- leads ----------------------------------------------------------------------------------


def _figures(data: HomeData) -> list[dict[str, Any]]:
    fields = []
    for figures in data.figures:
        lines = [f"*{figures.label.capitalize()}*"]
        lines += [
            f"{FIGURE_WORDS[name]}: {cell}"
            for name, cell in zip(FIGURE_NAMES, figures.cells(), strict=True)
        ]
        fields.append({"type": "mrkdwn", "text": _cut("\n".join(lines), FIELD_MAX)})
    blocks: list[dict[str, Any]] = [_header("How ShopMate is doing")]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append(
        _context(
            f"Resolved by ShopMate: answered, with no hand-off and no 👎 "
            f"{data.window_hours:g} h after its last answer, out of the conversations decided "
            "so far. The same figures, per day and channel: `shopmate stats`."
        )
    )
    return blocks


def _rated_down(data: HomeData) -> list[dict[str, Any]]:
    blocks = [_header("Latest 👎 answers")]
    if not data.rated_down:
        return [*blocks, _context("No answer rated 👎.")]
    shown = data.rated_down[:MAX_RATED_DOWN]
    for answer in shown:
        question = _quote(answer.question)
        link = f"<{answer.link}|open the answer>" if answer.link else "(no link)"
        blocks.append(_section(f"{question}\n{link} · answered {_when(answer.answered_utc)}"))
    return blocks + _more(data.rated_down_total, len(shown), "shopmate feedback --negative")


# ----- everyone -------------------------------------------------------------------------------


def _prompts(data: HomeData) -> list[dict[str, Any]]:
    if not data.prompts:
        return []
    lines = ["*Try asking*"] + [f"• {escape(message)}" for _, message in data.prompts]
    return [_section("\n".join(lines))]


def _conversations(data: HomeData) -> list[dict[str, Any]]:
    blocks = [_header("Your recent conversations")]
    if not data.conversations:
        return [*blocks, _context("None yet: ask me something in Messages or mention me.")]
    lines = []
    shown = data.conversations[:MAX_CONVERSATIONS]
    for conversation in shown:
        question = _quote(conversation.question)
        if conversation.link:
            question += f" · <{conversation.link}|open>"
        lines.append(
            f"{question}\n{outcomes.WORDS[conversation.outcome]} · {_when(conversation.last_utc)}"
        )
    blocks.append(_section("\n\n".join(lines)))
    return blocks + _more(data.conversations_total, len(shown), "shopmate history list")


# ----- pieces ---------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text people typed, shown as mrkdwn without being read as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quote(question: str | None) -> str:
    if not question:
        return "_(question not stored)_"
    return "> " + escape(_cut(" ".join(question.split()), QUESTION_CHARS))


def _when(utc: str) -> str:
    return utc[:16].replace("T", " ") + " UTC"


def _who_where(user: str | None, link: str | None, created_utc: str) -> list[str]:
    return [
        f"asked by <@{user}>" if user else "asker unknown",
        f"<{link}|open the thread>" if link else "(no link)",
        _when(created_utc),
    ]


def _more(total: int, shown: int, command: str) -> list[dict[str, Any]]:
    if total <= shown:
        return []
    return [_context(f"…and {total - shown} more: `{command}` lists them all.")]


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, HEADER_MAX)}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_MAX)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, SECTION_MAX)}]}


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button
