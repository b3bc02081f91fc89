"""The fake's views.publish refuses a view Slack would refuse, with Slack's error shape, and keeps
the view each person sees; ShopMate's Home stays within the limits however much there is."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.home.data import (
    HomeData,
    Links,
    OpenEscalation,
    OwnConversation,
    PendingRequest,
    RatedDown,
)
from bot.slack.home.view import CUT, build_home
from bot.stats import Figures
from fakes.slack import FakeSlack

USER = "U0LEAD"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(action_id: str, text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        **extra,
    }


GOOD: dict[str, Any] = {
    "type": "home",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "ShopMate"}},
        section("Hello"),
        {"type": "actions", "block_id": "a1", "elements": [button("yes"), button("no")]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "small print"}]},
        {"type": "divider"},
    ],
}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.api_url)


def refusal(client: WebClient, view: dict[str, Any]) -> tuple[str, list[str]]:
    with pytest.raises(SlackApiError) as caught:
        client.views_publish(user_id=USER, view=view)
    response = caught.value.response
    return response["error"], response.get("response_metadata", {}).get("messages", [])


def test_a_valid_view_is_published_and_kept_as_the_persons_home(slack, client):
    response = client.views_publish(user_id=USER, view=GOOD)
    assert response["ok"] and response["view"]["id"].startswith("V")
    assert slack.home_view(USER)["blocks"] == GOOD["blocks"]
    assert slack.publish_count(USER) == 1 and slack.home_view("U0OTHER") is None


def broken(change) -> dict[str, Any]:
    view = copy.deepcopy(GOOD)
    change(view["blocks"])
    return view


@pytest.mark.parametrize(
    ("change", "pointer", "problem"),
    [
        (lambda b: b.extend([{"type": "divider"}] * 96), "/view/blocks", "less than 101 items"),
        (lambda b: b.__setitem__(1, section("x" * 3001)), "/view/blocks/1/text/text", "3001"),
        (
            lambda b: b[0]["text"].__setitem__("text", "x" * 151),
            "/view/blocks/0/text/text",
            "151",
        ),
        (
            lambda b: b[2]["elements"].__setitem__(0, button("yes", "x" * 76)),
            "/view/blocks/2/elements/0/text/text",
            "76",
        ),
        (
            lambda b: b[2]["elements"].__setitem__(0, button("y" * 256)),
            "/view/blocks/2/elements/0/action_id",
            "256",
        ),
        (
            lambda b: b[2]["elements"].append(button("yes")),
            "/view/blocks/2/elements/2/action_id",
            "duplicate action_id",
        ),
        (
            lambda b: b.append({"type": "actions", "block_id": "a1", "elements": [button("z")]}),
            "/view/blocks/5/block_id",
            "duplicate block_id",
        ),
        (
            lambda b: b[2]["elements"].append({"type": "image", "image_url": "https://x"}),
            "/view/blocks/2/elements/2",
            "allowed schemas",
        ),
        (lambda b: b.append({"type": "carousel"}), "/view/blocks/5", "allowed schemas"),
        (
            lambda b: b[3]["elements"].extend([{"type": "mrkdwn", "text": "x"}] * 10),
            "/view/blocks/3/elements",
            "1 to 10",
        ),
        (
            lambda b: b[2]["elements"].extend(button(f"b{i}") for i in range(24)),
            "/view/blocks/2/elements",
            "1 to 25",
        ),
        (
            lambda b: b[0].__setitem__("text", {"type": "mrkdwn", "text": "*bold*"}),
            "/view/blocks/0/text",
            "plain_text",
        ),
    ],
    ids=[
        "101 blocks",
        "section text",
        "header text",
        "button text",
        "action_id",
        "duplicate action_id",
        "duplicate block_id",
        "element actions cannot hold",
        "unknown block",
        "11 context elements",
        "26 actions elements",
        "mrkdwn header",
    ],
)
def test_a_view_slack_would_refuse_is_refused_with_invalid_arguments(
    slack, client, change, pointer, problem
):
    error, messages = refusal(client, broken(change))
    assert error == "invalid_arguments"
    assert any(problem in m and m.endswith(f"[json-pointer:{pointer}]") for m in messages), messages
    assert slack.home_view(USER) is None


def test_the_same_action_id_in_two_blocks_is_allowed(client):
    view = broken(lambda b: b.append({"type": "actions", "elements": [button("yes")]}))
    assert client.views_publish(user_id=USER, view=view)["ok"]


def test_views_publish_is_tier_4(slack):
    assert slack.limits["views.publish"] == 100


def huge_home() -> HomeData:
    """Far more of everything than Home can show, each text far longer than a block takes."""
    long = "word " * 2000
    now = "2026-12-05T10:00:00.000000Z"
    figures = Figures("today", datetime(2026, 12, 5, tzinfo=UTC), 10**9, {}, 10**6, 1, 1e6)
    return HomeData(
        user=USER,
        is_approver=True,
        is_lead=True,
        prompts=(("Orders", long), ("Returns", long)),
        window_hours=24,
        requests=[PendingRequest(i, long, long, "U1", now, "https://x") for i in range(300)],
        requests_total=300,
        escalations=[
            OpenEscalation(i, "complaint", long, long, "U1", now, "https://x") for i in range(300)
        ],
        escalations_total=300,
        figures=[figures, figures],
        rated_down=[RatedDown(i, long, now, "https://x") for i in range(300)],
        rated_down_total=300,
        conversations=[OwnConversation(long, "open", now, "https://x") for _ in range(300)],
        conversations_total=300,
        notice=long,
    )


def test_home_stays_within_slacks_limits_however_much_there_is(slack, client):
    view = build_home(huge_home())
    assert client.views_publish(user_id=USER, view=view)["ok"]
    assert len(view["blocks"]) <= 100
    assert CUT not in str(view)  # the lists were cut with "and N more", not the view


def test_long_lists_are_cut_with_and_n_more_and_the_command_that_shows_all():
    texts = [
        e["text"]
        for b in build_home(huge_home())["blocks"]
        if b["type"] == "context"
        for e in b["elements"]
    ]
    assert texts.count("…and 290 more: `shopmate escalations --open` lists them all.") == 2
    assert "…and 295 more: `shopmate feedback --negative` lists them all." in texts
    assert "…and 295 more: `shopmate history list` lists them all." in texts


def test_links_point_at_the_thread_in_the_workspace():
    links = Links("https://acme.slack.com/")
    assert links.of_key("slack:T1:C1:1700000000.000100") == (
        "https://acme.slack.com/archives/C1/p1700000000000100"
    )
    assert links.message("C1", "1700000001.000200", "1700000000.000100") == (
        "https://acme.slack.com/archives/C1/p1700000001000200?thread_ts=1700000000.000100&cid=C1"
    )
    assert Links(None).of_key("slack:T1:C1:1.1") is None and links.of_key("local:x") is None
