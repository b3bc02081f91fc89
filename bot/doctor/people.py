"""The doctor's check of the people ShopMate hands off to: SHOPMATE_APPROVERS (users and user
groups) and SHOPMATE_ESCALATION_GROUP resolve in the workspace."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.doctor.result import Check, ok, problem, warning
from bot.doctor.slack_calls import AREA, REINSTALL_FIX, SlackCallFailed, call
from bot.settings import Settings

NAME = "approvers"


def people_check(client: WebClient, settings: Settings) -> Check | None:
    """One line for every configured approver and group; None when none is configured."""
    ids = list(settings.approvers)
    if settings.escalation_group and settings.escalation_group not in ids:
        ids.append(settings.escalation_group)
    if not ids:
        return None
    found, bad, empty = [], [], []
    needed: str | None = None
    for item in ids:
        try:
            if item.startswith("S"):
                members = call(client.usergroups_users_list, usergroup=item).get("users") or []
                (found if members else empty).append(f"{item} ({len(members)} member(s))")
            else:
                user = call(client.users_info, user=item)["user"]
                if user.get("deleted"):
                    bad.append(f"{item} (deactivated)")
                else:
                    found.append(f"{item} (@{user.get('name')})")
        except SlackCallFailed as failed:
            if failed.code == "missing_scope":
                needed = failed.needed or "?"
            bad.append(f"{item} ({failed.code})")
    if needed is not None:
        return warning(
            AREA,
            NAME,
            f"not all checked: Slack needs the {needed} scope to look them up.",
            REINSTALL_FIX,
        )
    if bad:
        return problem(
            AREA,
            NAME,
            f"{len(bad)} of SHOPMATE_APPROVERS / SHOPMATE_ESCALATION_GROUP do not resolve: "
            f"{', '.join(bad)}.",
            "Copy ids from Slack (a profile's More → Copy member ID; a group's details) and "
            "remove people who left.",
        )
    if empty:
        return warning(
            AREA,
            NAME,
            f"user group(s) with no members: {', '.join(empty)}; nobody there can approve.",
            "Add people to the group in Slack, or name approvers by user id.",
        )
    return ok(AREA, NAME, f"all resolve: {', '.join(found)}.")
