"""The shared call budget: paced not burst, finals first, fair shares, reservations, 429 holds."""

from __future__ import annotations

import threading

from bot.slack.budget import CallBudget, Limit
from tests.slack.conftest import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def budget(clock: Clock, **limits: Limit) -> CallBudget:
    return CallBudget(limits, safety=1.0, clock=clock)


def test_calls_are_paced_a_small_burst_then_one_per_interval():
    clock = Clock()
    b = budget(clock, **{"chat.update": Limit(60, 60.0, burst=3)})
    assert [b.try_acquire("T1", "chat.update") for _ in range(4)] == [True, True, True, False]
    clock.now += 0.9
    assert not b.try_acquire("T1", "chat.update"), "a minute's calls never go out at once"
    clock.now += 0.1
    assert b.try_acquire("T1", "chat.update")
    assert not b.try_acquire("T1", "chat.update")
    # Calls at the pace keep going for ever; a minute later the burst is back, no more.
    clock.now += 60
    assert sum(b.try_acquire("T1", "chat.update") for _ in range(10)) == 3


def test_the_safety_margin_paces_below_slacks_rate():
    clock = Clock()
    b = CallBudget({"chat.update": Limit(50, 60.0)}, safety=0.8, clock=clock)
    assert b.interval("T1", "chat.update") == 60 / 40


def test_a_shortened_minute_scales_the_pace():
    b = CallBudget({"chat.update": Limit(50, 60.0)}, safety=1.0, minute_s=6.0)
    assert abs(b.interval("T1", "chat.update") - 6.0 / 50) < 1e-9


def test_workspaces_have_separate_budgets():
    clock = Clock()
    b = budget(clock, **{"chat.update": Limit(1, 60.0)})
    assert b.try_acquire("T1", "chat.update")
    assert b.try_acquire("T2", "chat.update")
    assert not b.try_acquire("T1", "chat.update")


def test_progress_calls_leave_half_the_burst_to_final_deliveries():
    clock = Clock()
    b = budget(clock, **{"chat.appendStream": Limit(60, 60.0, burst=6)})
    granted = sum(b.try_acquire("T1", "chat.appendStream", optional=True) for _ in range(10))
    assert granted == 3, "progress may use only half the burst"
    assert b.try_acquire("T1", "chat.appendStream"), "a final delivery still fits"


def test_a_waiting_final_goes_before_any_progress_call():
    clock = Clock()
    b = budget(clock, **{"chat.update": Limit(60, 60.0, burst=2)})  # one a second
    assert b.try_acquire("T1", "chat.update")
    assert b.try_acquire("T1", "chat.update")
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(b.acquire("T1", "chat.update")))
    waiter.start()
    try:
        assert wait_until(lambda: b.finals_waiting("T1", "chat.update") == 1)
        clock.now += 5  # slots are free again, but a final is waiting for one
        assert not b.try_acquire("T1", "chat.update", optional=True)
        assert not b.try_acquire("T1", "chat.update"), "nor may a message open before it"
    finally:
        waiter.join(timeout=10)
    assert got == [True]
    clock.now += 1
    assert b.try_acquire("T1", "chat.update", optional=True), "progress after the final"


def test_progress_is_shared_in_turn_between_replies():
    clock = Clock()
    b = budget(clock, **{"chat.update": Limit(60, 60.0, burst=2)})  # progress: 1 a second
    assert b.try_acquire("T1", "chat.update", optional=True, owner="chatty")
    clock.now += 0.5
    assert not b.try_acquire("T1", "chat.update", optional=True, owner="quiet"), "no slot yet"
    clock.now += 0.5
    # Both are asking: the one served longest ago goes first, the chatty one waits its turn.
    assert not b.try_acquire("T1", "chat.update", optional=True, owner="chatty")
    assert b.try_acquire("T1", "chat.update", optional=True, owner="quiet")
    clock.now += 1
    assert b.try_acquire("T1", "chat.update", optional=True, owner="newcomer"), "new: first"
    clock.now += 1
    assert b.try_acquire("T1", "chat.update", optional=True, owner="chatty")
    b.forget("quiet")
    b.forget("newcomer")
    clock.now += 1
    assert b.try_acquire("T1", "chat.update", optional=True, owner="chatty"), "alone again"


def test_only_a_few_final_calls_are_owed_at_a_time():
    clock = Clock()
    b = budget(clock, **{"chat.update": Limit(60, 60.0, burst=2)})
    owed = [b.reserve("T1", ["chat.update"]) for _ in range(5)]
    assert [r is not None for r in owed] == [True] * 4 + [False], "twice the burst"
    assert b.acquire("T1", "chat.update", reservation=owed[0], timeout=0)
    clock.now += 1
    assert b.reserve("T1", ["chat.update"]) is not None, "a spent promise frees its place"
    owed[1].release()
    assert b.reserve("T1", ["chat.update"]) is not None, "so does a released one"
    assert b.reserve("T1", ["chat.update"]) is None


def test_progress_leaves_no_room_to_make_promises_it_cannot_keep():
    clock = Clock()
    b = budget(clock, **{"chat.update": Limit(60, 60.0, burst=4)})
    assert b.try_acquire("T1", "chat.update")
    assert b.try_acquire("T1", "chat.update")
    assert b.reserve("T1", ["chat.update"]) is None, "no headroom now: post the answer whole"
    clock.now += 2
    assert b.reserve("T1", ["chat.update"]) is not None


def test_chat_post_message_is_paced_per_channel_and_per_workspace():
    clock = Clock()
    b = CallBudget(
        {"chat.postMessage": Limit(120, 60.0, burst=2)},
        channel_limits={"chat.postMessage": Limit(1, 1.0)},
        safety=1.0,
        clock=clock,
    )
    assert b.try_acquire("T1", "chat.postMessage", channel="C1")
    assert not b.try_acquire("T1", "chat.postMessage", channel="C1"), "one a second per channel"
    assert b.try_acquire("T1", "chat.postMessage", channel="C2")
    assert not b.try_acquire("T1", "chat.postMessage", channel="C3"), "workspace burst spent"
    clock.now += 0.5
    assert b.try_acquire("T1", "chat.postMessage", channel="C3")


def test_a_429_holds_every_caller_until_retry_after_passes():
    clock = Clock()
    b = budget(clock, **{"chat.update": Limit(100, 60.0, burst=5)})
    b.penalize("T1", "chat.update", retry_after=5)
    assert not b.try_acquire("T1", "chat.update")
    assert b.reserve("T1", ["chat.update"]) is None
    clock.now += 5.1
    assert b.try_acquire("T1", "chat.update")


def test_acquire_gives_up_after_its_timeout():
    b = CallBudget({"chat.update": Limit(1, 60.0)}, safety=1.0)
    assert b.acquire("T1", "chat.update", timeout=0.1)
    assert not b.acquire("T1", "chat.update", timeout=0.1)
