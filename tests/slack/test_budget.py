"""The shared call budget: calls fit in Slack's windows; finals are reserved; 429s hold callers."""

from __future__ import annotations

from bot.slack.budget import CallBudget, Limit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def budget(clock: Clock, **limits: Limit) -> CallBudget:
    return CallBudget(limits, safety=1.0, optional_share=0.5, clock=clock)


def test_calls_beyond_the_window_limit_are_refused_until_the_window_moves():
    clock = Clock()
    b = budget(clock, **{"chat.update": Limit(4, 60.0)})
    assert all(b.try_acquire("T1", "chat.update") for _ in range(4))
    assert not b.try_acquire("T1", "chat.update")
    clock.now += 59.9
    assert not b.try_acquire("T1", "chat.update")
    clock.now += 0.2
    assert b.try_acquire("T1", "chat.update")


def test_workspaces_have_separate_budgets():
    clock = Clock()
    b = budget(clock, **{"chat.update": Limit(1, 60.0)})
    assert b.try_acquire("T1", "chat.update")
    assert b.try_acquire("T2", "chat.update")
    assert not b.try_acquire("T1", "chat.update")


def test_optional_progress_calls_leave_room_for_final_deliveries():
    clock = Clock()
    b = budget(clock, **{"chat.appendStream": Limit(10, 60.0)})
    granted = sum(b.try_acquire("T1", "chat.appendStream", optional=True) for _ in range(10))
    assert granted == 5, "progress may use only its share"
    assert b.try_acquire("T1", "chat.appendStream"), "a final delivery still fits"


def test_a_reservation_holds_its_slot_until_spent_or_released():
    clock = Clock()
    b = budget(clock, **{"chat.startStream": Limit(1, 60.0), "chat.stopStream": Limit(1, 60.0)})
    reservation = b.reserve("T1", ["chat.startStream", "chat.stopStream"])
    assert reservation is not None
    assert b.reserve("T1", ["chat.startStream", "chat.stopStream"]) is None, "all or none"
    assert not b.try_acquire("T1", "chat.stopStream"), "the reserved stop is not given away"
    reservation.spend("chat.startStream")
    reservation.release()
    assert b.usage("T1", "chat.stopStream") == 0
    assert b.usage("T1", "chat.startStream") == 1


def test_chat_post_message_is_limited_per_channel():
    clock = Clock()
    b = budget(clock, **{"chat.postMessage": Limit(1, 1.0)})
    assert b.try_acquire("T1", "chat.postMessage", channel="C1")
    assert b.try_acquire("T1", "chat.postMessage", channel="C2")
    assert not b.try_acquire("T1", "chat.postMessage", channel="C1")


def test_a_429_holds_every_caller_until_retry_after_passes():
    clock = Clock()
    b = budget(clock, **{"chat.update": Limit(100, 60.0)})
    b.penalize("T1", "chat.update", retry_after=5)
    assert not b.try_acquire("T1", "chat.update")
    clock.now += 5.1
    assert b.try_acquire("T1", "chat.update")


def test_acquire_gives_up_after_its_timeout():
    b = CallBudget({"chat.update": Limit(1, 60.0)}, safety=1.0)
    assert b.acquire("T1", "chat.update", timeout=0.1)
    assert not b.acquire("T1", "chat.update", timeout=0.1)
