"""RateBudget with a fake clock and fake sleep: when it sends, when it waits, and threads."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_intercom.ratelimit import (
    MAX_IN_FLIGHT,
    RESET_MARGIN_SECONDS,
    RateBudget,
    bulk_thread,
    in_flight_for,
)
from tests.tap.conftest import NOW, FakeClock, RateWindow, rate_headers


class Blocked(Exception):
    """The budget tried to wait."""


class StrictClock(FakeClock):
    """A fake clock whose sleep can be forbidden, or bounded to catch endless waiting."""

    def __init__(self, *, allow_sleep: bool = True, give_up_after: float = 600.0) -> None:
        super().__init__()
        self.allow_sleep = allow_sleep
        self.give_up_at = self.now + give_up_after

    def sleep(self, seconds: float) -> None:
        if not self.allow_sleep:
            raise Blocked
        super().sleep(seconds)
        if self.now > self.give_up_at:
            raise Blocked


def budget_with(clock: FakeClock, headroom: float, **first: Any) -> RateBudget:
    """A budget that has had its first answer."""
    budget = RateBudget(headroom, clock=clock.time, sleep=clock.sleep)
    budget.acquire()
    budget.release(rate_headers(**first))
    return budget


def sends_before_blocking(budget: RateBudget, clock: StrictClock, most: int = 1000) -> int:
    clock.allow_sleep = False
    sent = 0
    try:
        while sent < most:
            budget.acquire()
            sent += 1
    except Blocked:
        pass
    return sent


def test_sends_while_remaining_exceeds_reserve_plus_in_flight() -> None:
    clock = StrictClock()
    # limit 100, headroom 0.1: a reserve of 10; 13 remaining leaves room for 3 in flight.
    budget = budget_with(clock, 0.1, remaining=13, reset=NOW + 10)
    assert sends_before_blocking(budget, clock) == 3


def test_answers_free_the_in_flight_slots() -> None:
    clock = StrictClock()
    budget = budget_with(clock, 0.1, remaining=13, reset=NOW + 10)
    assert sends_before_blocking(budget, clock) == 3
    budget.release(rate_headers(remaining=12, reset=NOW + 10))
    # 12 remaining, 2 still in flight, reserve 10: nothing may go.
    assert sends_before_blocking(budget, clock) == 0
    budget.release(rate_headers(remaining=11, reset=NOW + 10))
    budget.release(rate_headers(remaining=10, reset=NOW + 10))
    assert sends_before_blocking(budget, clock) == 0


def test_waits_until_reset_when_the_window_is_spent() -> None:
    clock = StrictClock()
    budget = budget_with(clock, 0.05, remaining=5, reset=NOW + 7)
    budget.acquire()  # waits: 5 remaining is the reserve
    assert clock.now >= NOW + 7 + RESET_MARGIN_SECONDS
    assert clock.now < NOW + 7 + RESET_MARGIN_SECONDS + 0.1
    assert budget.waits >= 1
    assert budget.waited_seconds == pytest.approx(sum(clock.sleeps))


def test_a_new_window_is_assumed_full_until_an_answer_says_otherwise() -> None:
    clock = StrictClock()
    budget = budget_with(clock, 0.1, remaining=0, reset=NOW + 10)
    clock.now = NOW + 11
    # Fresh window: 100 - 10 reserve = 90 may go at once.
    assert sends_before_blocking(budget, clock) == 90


@pytest.mark.parametrize("remaining", [0, 500], ids=["spent", "calls_left"])
def test_429_counts_as_a_spent_window_and_waits_for_the_reset(remaining: int) -> None:
    """Intercom's documented rule: after a 429 wait until X-RateLimit-Reset, even when the
    answer reports calls left (a workspace-wide limit refused, not the app's window)."""
    clock = StrictClock()
    budget = budget_with(clock, 0.05, remaining=900, reset=NOW + 10, limit=1000)
    budget.acquire()
    budget.release(rate_headers(remaining=remaining, reset=NOW + 10, limit=1000), rate_limited=True)
    assert sends_before_blocking(budget, clock) == 0
    clock.allow_sleep = True
    budget.acquire()
    assert clock.now >= NOW + 10 + RESET_MARGIN_SECONDS


def test_429_without_headers_waits_ten_seconds() -> None:
    clock = StrictClock()
    budget = budget_with(clock, 0.05, remaining=900, reset=NOW + 2, limit=1000)
    budget.acquire()
    budget.release({}, rate_limited=True)
    assert sends_before_blocking(budget, clock) == 0
    clock.allow_sleep = True
    budget.acquire()
    assert clock.now >= NOW + 10


def test_out_of_order_answers_of_one_window_lowest_remaining_wins() -> None:
    clock = StrictClock()
    # reserve 45: 50 remaining lets 5 go at once, 80 would let 35.
    budget = budget_with(clock, 0.45, remaining=90, reset=NOW + 10)
    budget.acquire()
    budget.acquire()
    budget.release(rate_headers(remaining=50, reset=NOW + 10))
    budget.release(rate_headers(remaining=80, reset=NOW + 10))  # sent earlier, answered later
    assert sends_before_blocking(budget, clock) == 5


def test_a_newer_window_replaces_the_count_and_an_older_one_is_ignored() -> None:
    clock = StrictClock()
    budget = budget_with(clock, 0.45, remaining=46, reset=NOW + 10)
    budget.acquire()
    budget.acquire()
    budget.release(rate_headers(remaining=80, reset=NOW + 20))  # next window
    budget.release(rate_headers(remaining=46, reset=NOW + 10))  # late answer of the old one
    assert sends_before_blocking(budget, clock) == 35


def test_one_probe_at_a_time_before_the_first_answer() -> None:
    budget = RateBudget(0.05, clock=FakeClock().time, sleep=FakeClock().sleep)
    budget.acquire()
    order: list[str] = []

    def send_second() -> None:
        budget.acquire()
        order.append("second sent")

    second = threading.Thread(target=send_second)
    second.start()
    # The second request must wait for the first answer, however long the thread had.
    second.join(timeout=0.05)
    assert order == []
    order.append("first answered")
    budget.release(rate_headers(remaining=50, reset=NOW + 10))
    second.join(timeout=5)
    assert order == ["first answered", "second sent"]


def test_an_answer_without_headers_keeps_probing() -> None:
    budget = RateBudget(0.05, clock=FakeClock().time, sleep=FakeClock().sleep)
    budget.acquire()
    budget.release(None)
    budget.acquire()
    assert budget.limit is None


def test_a_stale_answer_after_the_window_rolled_over_does_not_stall_forever() -> None:
    """A request sent in window W1 is answered after W1 has passed (slow response), with a low
    count for W1; the request sent meanwhile in W2 fails without headers (timeout). Nothing is
    in flight, W1 is long over: the budget must send again, not wait forever."""
    clock = StrictClock(give_up_after=120)
    budget = budget_with(clock, 0.05, remaining=60, reset=NOW + 10)
    budget.acquire()  # A, in W1
    clock.now = NOW + 11  # W1 over
    budget.acquire()  # B, W2 assumed full
    budget.release(rate_headers(remaining=3, reset=NOW + 10))  # A's late answer about W1
    budget.release(None)  # B timed out: no headers
    budget.acquire()  # must not spin until give_up_after
    assert clock.now < NOW + 60


def test_an_answer_without_a_count_still_used_a_call_of_the_window() -> None:
    """A timeout (or a proxy's 5xx without headers) most likely reached Intercom and counted:
    a later answer that was sent before it does not make that call free again."""
    clock = StrictClock()
    # limit 100, headroom 0.1: reserve 10. The window has 13 calls left: 3 may go.
    budget = budget_with(clock, 0.1, remaining=13, reset=NOW + 10)
    assert sends_before_blocking(budget, clock) == 3  # A, B, C
    budget.release(None)  # C timed out
    budget.release(rate_headers(remaining=12, reset=NOW + 10))  # A: counted before B and C
    budget.release(rate_headers(remaining=11, reset=NOW + 10))  # B: counted before C
    # C took the window down to 10, the reserve: nothing more may go.
    assert sends_before_blocking(budget, clock) == 0


def test_a_new_window_forgets_the_uncounted_calls() -> None:
    clock = StrictClock()
    budget = budget_with(clock, 0.1, remaining=13, reset=NOW + 10)
    budget.acquire()
    budget.release(None)
    budget.acquire()
    budget.release(rate_headers(remaining=90, reset=NOW + 20))
    assert sends_before_blocking(budget, clock) == 80


# Threads ---------------------------------------------------------------------------------


def test_threads_never_exceed_the_budget() -> None:
    clock = FakeClock()
    clock_lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with clock_lock:
            clock.sleep(seconds)

    server = RateWindow(clock, limit=20)
    budget = RateBudget(0.1, clock=clock.time, sleep=sleep)  # reserve 2
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(15):
                budget.acquire()
                server.start()
                answer, limited = server.answer()
                budget.release(answer, rate_limited=limited)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert all(not t.is_alive() for t in threads)
    assert server.served == 120
    assert server.limited == 0
    # The budget never lets more go at once than the window has beyond its reserve.
    assert server.max_in_flight <= 20 - 2


# Property: with our clock and the server's in step, no sequence of sends, out-of-order
# answers, timeouts and clock moves makes the server answer 429, and the budget never stalls.

_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(min_value=1, max_value=12)),
        st.tuples(st.just("answer"), st.integers(min_value=0, max_value=50)),
        st.tuples(st.just("time_out"), st.integers(min_value=0, max_value=50)),
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=12000)),
    ),
    max_size=120,
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(ops=_OPS, limit=st.integers(min_value=2, max_value=8))
def test_no_sequence_of_events_overspends_a_window(ops: list[tuple[str, int]], limit: int) -> None:
    clock = StrictClock(allow_sleep=False)
    budget = RateBudget(0.1, clock=clock.time, sleep=clock.sleep)
    reset = NOW + 10
    remaining = limit
    pending: list[tuple[dict[str, str], bool]] = []
    limited = 0

    def arrive() -> None:
        nonlocal reset, remaining, limited
        while clock.now >= reset:
            reset += 10
            remaining = limit
        if remaining > 0:
            remaining -= 1
            pending.append((rate_headers(remaining, reset, limit), False))
        else:
            # Before any count the budget can only probe one call at a time; from then on it
            # must never reach a spent window.
            limited += budget.limit is not None
            pending.append((rate_headers(0, reset, limit), True))

    for kind, value in ops:
        if kind == "send":
            for _ in range(value):
                if budget.limit is None and pending:
                    break  # the probe is out: a second send would wait on another thread
                try:
                    budget.acquire()
                except Blocked:
                    break
                arrive()
        elif kind == "answer" and pending:
            answer, was_limited = pending.pop(value % len(pending))
            budget.release(answer, rate_limited=was_limited)
        elif kind == "time_out" and pending:
            # No answer at all (timeout): counted by the server, no headers for the budget.
            pending.pop(value % len(pending))
            budget.release(None)
        elif kind == "advance":
            clock.now += value / 1000
    assert limited == 0
    # Liveness: once everything is answered, the budget lets a request go in bounded time.
    while pending:
        answer, was_limited = pending.pop()
        budget.release(answer, rate_limited=was_limited)
    clock.allow_sleep = True
    clock.give_up_at = clock.now + 30
    budget.acquire()


@pytest.mark.parametrize(
    ("latency", "expected"),
    [(0.150, 26), (0.050, 10), (0.0001, 3), (0.100, 18), (10.0, MAX_IN_FLIGHT)],
)
def test_the_flow_is_rate_times_latency(latency: float, expected: int) -> None:
    # Intercom's private-app limit, 1,667 per 10 s, less the default 5 % headroom: 158 a second.
    assert in_flight_for(1667, 0.05, latency) == expected


def test_once_the_latency_is_known_at_most_the_flow_is_in_flight() -> None:
    clock = StrictClock()
    budget = RateBudget(0.05, clock=clock.time, sleep=clock.sleep)
    budget.acquire()
    budget.release(rate_headers(remaining=1600, reset=NOW + 10, limit=1667), elapsed=0.05)
    assert budget.in_flight_limit() == 10
    sent = []

    def send() -> None:
        budget.acquire()
        sent.append(1)

    threads = [threading.Thread(target=send, daemon=True) for _ in range(12)]
    for thread in threads:
        thread.start()
    deadline = clock.now
    while len(sent) < 10:
        threading.Event().wait(0.01)
    threading.Event().wait(0.1)
    assert len(sent) == 10  # the other two wait for an answer, not for the window
    assert clock.now == deadline
    for _ in range(2):
        budget.release(rate_headers(remaining=1500, reset=NOW + 10, limit=1667), elapsed=0.05)
    for thread in threads:
        thread.join(timeout=5)
    assert len(sent) == 12
    assert budget.most_in_flight == 10


@pytest.mark.parametrize(
    ("calls_left", "seconds_left", "expected"),
    [
        (1500, 10.0, 10),  # a whole window ahead: the steady flow
        (1500, 2.0, 40),  # 750 a second for the 2 s left: ceil(37.5) + 2
        (100, 2.0, 10),  # the rest of the window allows less than the steady flow: steady
        (0, 2.0, 10),  # nothing left: the count gates, the flow stays steady
        (1500, 0.0, MAX_IN_FLIGHT),  # at the reset: capped
    ],
)
def test_the_flow_widens_to_spend_the_rest_of_a_window(
    calls_left: int, seconds_left: float, expected: int
) -> None:
    assert (
        in_flight_for(1667, 0.05, 0.050, calls_left=calls_left, seconds_left=seconds_left)
        == expected
    )


def test_a_run_that_starts_late_in_a_window_spends_its_rest() -> None:
    # The first answer comes 2 s before the reset with 1,600 calls left: the reserve (83) and
    # the request in flight aside, 1,516 over 2 s is 758 a second, 38 at 50 ms, plus two.
    clock = StrictClock()
    budget = RateBudget(0.05, clock=clock.time, sleep=clock.sleep)
    budget.acquire()
    budget.release(rate_headers(remaining=1601, reset=NOW + 2, limit=1667), elapsed=0.05)
    assert budget.in_flight_limit() == 40
    # A window assumed fresh after the reset ends one window after it: about the steady flow
    # again (1,583 calls in the 9.75 s after the margin, 162 a second: ceil(8.1) + 2).
    clock.now = NOW + 2 + RESET_MARGIN_SECONDS
    budget.acquire()
    assert budget.in_flight_limit() == 11


def test_the_widened_flow_never_sends_beyond_the_window() -> None:
    clock = StrictClock()
    budget = RateBudget(0.05, clock=clock.time, sleep=clock.sleep)
    budget.acquire()
    budget.release(rate_headers(remaining=300, reset=NOW + 1, limit=1667), elapsed=0.05)
    clock.now = NOW + 0.9
    # 217 calls beyond the reserve (83) in the last 0.1 s: the flow is as wide as it goes...
    assert budget.in_flight_limit() == MAX_IN_FLIGHT
    # ...and the window's count still stops the sends at 217, answer after answer.
    clock.allow_sleep = False
    sent = 0

    def send_until_the_budget_waits() -> None:
        nonlocal sent
        while True:
            budget.acquire()
            sent += 1
            budget.release(
                rate_headers(remaining=300 - sent, reset=NOW + 1, limit=1667), elapsed=0.05
            )

    with pytest.raises(Blocked):
        send_until_the_budget_waits()
    assert sent == 300 - 83


def test_the_latency_is_the_median_of_the_latest_answers() -> None:
    clock = StrictClock()
    budget = RateBudget(0.05, clock=clock.time, sleep=clock.sleep)
    for elapsed in (2.0, 0.15, 0.15, 0.16, 0.14):
        budget.acquire()
        budget.release(rate_headers(remaining=1600, reset=NOW + 10, limit=1667), elapsed=elapsed)
    # One slow answer (a connection set up) does not open the flow to 64.
    assert budget.latency == pytest.approx(0.15)
    assert budget.in_flight_limit() == 26


def test_answers_without_a_count_or_a_429_leave_the_latency_alone() -> None:
    clock = StrictClock()
    budget = RateBudget(0.05, clock=clock.time, sleep=clock.sleep)
    budget.acquire()
    budget.release(None, elapsed=30.0)  # a timeout
    assert budget.latency is None
    budget.acquire()
    budget.release(rate_headers(remaining=1600, reset=NOW + 10, limit=1667), elapsed=0.05)
    budget.acquire()
    budget.release(
        rate_headers(remaining=0, reset=NOW + 10, limit=1667), rate_limited=True, elapsed=5.0
    )
    assert budget.latency == pytest.approx(0.05)


def test_a_streams_request_goes_before_the_bulk_threads() -> None:
    # A stream's next page waits for a place in the flow ahead of the hydration pool's backlog.
    clock = StrictClock()
    budget = RateBudget(0.05, clock=clock.time, sleep=clock.sleep)
    budget.acquire()
    budget.release(rate_headers(remaining=1600, reset=NOW + 10, limit=1667), elapsed=0.05)
    for _ in range(10):  # the flow is full
        budget.acquire()
    order: list[str] = []

    def send(name: str, *, bulk: bool) -> None:
        if bulk:
            bulk_thread()
        budget.acquire()
        order.append(name)

    waiting = [
        threading.Thread(target=send, args=(f"bulk{i}",), kwargs={"bulk": True}) for i in range(3)
    ]
    for thread in waiting:
        thread.start()
    threading.Event().wait(0.1)
    stream = threading.Thread(target=send, args=("stream",), kwargs={"bulk": False})
    stream.start()
    threading.Event().wait(0.1)
    assert order == []
    budget.release(rate_headers(remaining=1590, reset=NOW + 10, limit=1667), elapsed=0.05)
    stream.join(timeout=5)
    threading.Event().wait(0.1)
    assert order == ["stream"]  # the bulk threads, there first, still wait
    for _ in range(3):
        budget.release(rate_headers(remaining=1580, reset=NOW + 10, limit=1667), elapsed=0.05)
    for thread in waiting:
        thread.join(timeout=5)
    assert sorted(order) == ["bulk0", "bulk1", "bulk2", "stream"]
