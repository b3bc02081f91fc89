"""`shopmate feedback`: the answers people rated in Slack, with their question and a link,
for the team to review. (The share of thumbs up in `shopmate stats` is bot/cli/stats_report.py.)

Links come from Slack's chat.getPermalink when SLACK_BOT_TOKEN is set and Slack answers; else
they are built from the workspace's domain as the click reported it, in the form
chat.getPermalink returns (`https://DOMAIN.slack.com/archives/CHANNEL/pTS?thread_ts=…`),
and said to be built. Without a domain either, the answer is named as CHANNEL/TS, which
`shopmate history export` accepts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.cli import preflight
from bot.cli.base import Add
from bot.settings import Settings

logger = logging.getLogger(__name__)

QUESTION_CHARS = 160
PERMALINK_TIMEOUT_S = 5


def register(sub: Any, add: Add) -> None:
    """Add `feedback` to the `shopmate` subparsers."""
    p = add(
        sub,
        "feedback",
        cmd_feedback,
        "List answers people rated in Slack, with their question and a link to review.",
    )
    p.add_argument(
        "--negative", action="store_true", help="only answers rated thumbs down (default: all)"
    )
    preflight.add_list_options(
        p, since_what="answers rated", limit=50, limit_help=", most recently rated first"
    )


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    since = None
    if args.since is not None:
        since = datetime.now(UTC) - timedelta(days=args.since)
    with preflight.open_existing(settings) as storage:
        rows = storage.feedback.rated_answers(
            since_utc=since, negative_only=args.negative, limit=args.limit
        )
    client = _slack_client(settings)
    return print_rated_answers(rows, args=args, db=str(settings.db_path), client=client)


def print_rated_answers(
    rows: list[dict[str, Any]],
    *,
    args: argparse.Namespace,
    db: str,
    client: WebClient | None,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    filters = []
    if args.negative:
        filters.append("rated thumbs down")
    if args.since:
        filters.append(f"rated in the last {args.since} day(s)")
    where = f" ({', '.join(filters)})" if filters else ""
    if not rows:
        out.write(f"No rated answers in {db}{where}.\n")
        return 0
    out.write(f"{len(rows)} rated answer(s) in {db}{where}, most recently rated first:\n")
    links = Permalinks(client)
    for row in rows:
        question = " ".join((row["question"] or "(question not stored)").split())
        if len(question) > QUESTION_CHARS:
            question = question[: QUESTION_CHARS - 1] + "…"
        out.write(
            f"\n  up {row['positive']}  down {row['negative']}  "
            f"answered {row['answered_utc'][:16].replace('T', ' ')} UTC  "
            f"in {row['channel'] or '-'}  (turn {row['turn_id']})\n"
        )
        out.write(f"    Q: {question}\n")
        out.write(f"    {links.link(row)}\n")
    if len(rows) == args.limit:
        out.write(f"\n(the {args.limit} most recently rated; --limit shows more)\n")
    if links.built:
        reason = f" (chat.getPermalink: {links.failure})" if links.failure else ""
        out.write(
            f"\nLinks marked (built) are made from the workspace domain{reason}; "
            "set SLACK_BOT_TOKEN to ask Slack for them.\n"
        )
    return 0


class Permalinks:
    """A link to each rated answer: Slack's own when it gives one, else built (and marked)."""

    def __init__(self, client: WebClient | None) -> None:
        self.client = client
        self.built = 0
        self.failure: str | None = None

    def link(self, row: dict[str, Any]) -> str:
        channel, ts = row["channel"], row["message_ts"]
        if not channel or not ts:
            return "(no link: the rated message is unknown)"
        if self.client is not None and self.failure is None:
            try:
                return str(
                    self.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
                )
            except SlackApiError as error:  # build the rest, and say why once
                self.failure = str(error.response.get("error") or "unknown_error")
                logger.debug("chat.getPermalink failed", exc_info=True)
            except Exception as error:  # Slack unreachable: the same
                self.failure = type(error).__name__
                logger.debug("chat.getPermalink failed", exc_info=True)
        self.built += 1
        return built_permalink(row["team_domain"], channel, ts, row["thread_ts"])


def built_permalink(domain: str | None, channel: str, ts: str, thread_ts: str | None) -> str:
    """The link chat.getPermalink would give, made by hand; CHANNEL/TS without a domain."""
    if not domain:
        return f"{channel}/{ts} (no workspace domain recorded)"
    link = f"https://{domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return f"{link} (built)"


def _slack_client(settings: Settings) -> WebClient | None:
    if not settings.slack_bot_token:
        return None
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=PERMALINK_TIMEOUT_S,
    )
