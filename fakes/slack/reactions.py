"""The fake's reactions.add and reactions.remove: emoji the app puts on (and takes off) messages.

Slack's own errors: `already_reacted` when the app's reaction is there already, `no_reaction`
when it is not, `invalid_name` for an empty name, `no_item_specified` without channel and
timestamp. A message the fake was not told about is taken to be a person's message it never
saw (tests deliver events without seeding every message), so a reaction on it is accepted.
Limits (fakes/slack/limits.py): reactions.add Tier 3, reactions.remove Tier 2.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from fakes.slack.wire import SlackError, present


class ReactionUpdate(NamedTuple):
    """One reaction the app added (`added`) or removed, at monotonic `time`."""

    time: float
    channel: str
    ts: str
    name: str
    added: bool


class ReactionMethods:
    """Mixed into FakeSlack, whose lock and state (`_reactions`, `_reaction_log`) these use."""

    METHODS: ClassVar[dict[str, str]] = {
        "reactions.add": "_reactions_add",
        "reactions.remove": "_reactions_remove",
    }

    def _reaction_target(self, args: dict[str, Any]) -> tuple[str, str, str]:
        if not (present(args, "channel") and present(args, "timestamp")):
            raise SlackError("no_item_specified")
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        channel = self._channel(args)  # type: ignore[attr-defined]
        msg = self._messages.get((channel, str(args["timestamp"])))  # type: ignore[attr-defined]
        if msg is not None and msg.deleted:
            raise SlackError("message_not_found")
        return channel, str(args["timestamp"]), name

    def _reactions_add(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel, ts, name = self._reaction_target(args)
        shown = self._reactions.setdefault((channel, ts), set())  # type: ignore[attr-defined]
        if name in shown:
            raise SlackError("already_reacted")
        shown.add(name)
        self._reaction_log.append(ReactionUpdate(now, channel, ts, name, True))  # type: ignore[attr-defined]
        return {}

    def _reactions_remove(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel, ts, name = self._reaction_target(args)
        shown = self._reactions.get((channel, ts), set())  # type: ignore[attr-defined]
        if name not in shown:
            raise SlackError("no_reaction")
        shown.discard(name)
        self._reaction_log.append(ReactionUpdate(now, channel, ts, name, False))  # type: ignore[attr-defined]
        return {}

    # ----------------------------------------------------------------- inspection

    def reactions_on(self, channel: str, ts: str) -> set[str]:
        """The app's reactions shown now on one message."""
        with self._cond:  # type: ignore[attr-defined]
            return set(self._reactions.get((channel, ts), set()))  # type: ignore[attr-defined]

    @property
    def reaction_log(self) -> list[ReactionUpdate]:
        with self._cond:  # type: ignore[attr-defined]
            return list(self._reaction_log)  # type: ignore[attr-defined]

    def first_sign_time(self, channel: str, thread_ts: str, message_ts: str) -> float | None:
        """Earliest time the asker saw any sign: a status, a reply, a reaction on their message."""
        with self._cond:  # type: ignore[attr-defined]
            times = [
                r.time
                for r in self._reaction_log  # type: ignore[attr-defined]
                if r.added and r.channel == channel and r.ts == message_ts
            ]
            shown = self.first_visible_time(channel, thread_ts)  # type: ignore[attr-defined]
            if shown is not None:
                times.append(shown)
            return min(times, default=None)
