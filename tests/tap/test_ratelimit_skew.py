"""RateBudget on a machine whose clock is not the server's (the Date header tells)."""

from __future__ import annotations

from email.utils import formatdate

from tap_intercom.ratelimit import RateBudget
from tests.tap.conftest import NOW, FakeClock


def _answer(remaining: int, reset: int, server_now: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
        "Date": formatdate(server_now, usegmt=True),
    }


def test_a_clock_running_ahead_does_not_send_into_a_spent_window() -> None:
    clock = FakeClock()  # our clock: NOW; the server's: NOW - 30 (we are 30 s ahead)
    budget = RateBudget(0.0, clock=clock.time, sleep=clock.sleep)
    budget.acquire()
    # The window is spent and resets in 5 s of the server's time.
    budget.release(_answer(0, NOW - 30 + 5, server_now=NOW - 30), rate_limited=True)
    budget.acquire()
    # Without the Date header our clock says the reset is 35 s past and we would send at once.
    assert sum(clock.sleeps) >= 5


def test_a_clock_running_behind_does_not_wait_for_a_reset_long_past() -> None:
    clock = FakeClock()  # the server is 40 s ahead of us
    budget = RateBudget(0.0, clock=clock.time, sleep=clock.sleep)
    budget.acquire()
    budget.release(_answer(0, NOW + 40 + 3, server_now=NOW + 40), rate_limited=True)
    budget.acquire()
    assert 3 <= sum(clock.sleeps) < 5


def test_a_small_difference_is_ignored() -> None:
    clock = FakeClock()
    budget = RateBudget(0.0, clock=clock.time, sleep=clock.sleep)
    budget.acquire()
    budget.release(_answer(0, NOW + 2, server_now=NOW + 0.9), rate_limited=True)
    budget.acquire()
    assert 2 <= sum(clock.sleeps) < 3
