"""One request budget shared by every stream and thread of the tap.

Intercom enforces its limit in 10-second windows and reports the window on every response:
``X-RateLimit-Limit`` (calls per window), ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
(Unix seconds when the window resets). The budget lets a request go while the window has calls
left beyond a reserve (the headroom) and the requests already in flight; otherwise the caller
waits for the next window. So a healthy run spends about (1 - headroom) of the allowed rate and
sees almost no 429.

It also spreads the window evenly: once it knows the limit and the latency of the answers, it
keeps about rate x latency requests in flight (Little's law: about 26 at 150 ms and 10 at 50 ms
for Intercom's 1,667 per 10 s), however many threads ask, so every stream and worker of the
tap shares one steady flow instead of spending a window in a burst and idling until its reset.
The windows are fixed, though, and what one leaves unused is lost: when the rest of a window
allows more than that steady rate (a run that starts in its middle, or fell behind), the flow
widens to spread the window's remaining calls over its remaining time.

A stream's own requests (its next page) go before the hydration pool's: a stream's pages are a
chain, one after the other, and a page queued behind the pool's backlog holds back every record
after it (a contacts search sharing the budget with conversations' hydration ran at a tenth of
its pace). The pool's threads are marked by `bulk_thread`, the pool's initializer.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

# Margin after the announced reset before a new window is assumed: the reset header has
# whole-second precision and the server's clock is not ours.
RESET_MARGIN_SECONDS = 0.25
# Intercom's rate-limit window.
WINDOW_SECONDS = 10.0
# The most requests in flight at once, whatever the latency (a slow proxy must not make the
# tap open hundreds of connections).
MAX_IN_FLIGHT = 64
# Answers the latency estimate is the median of: a few slow ones (a connection set up, a busy
# moment) do not open the flow wide.
LATENCY_SAMPLES = 32
# The shortest rest of a window the flow spreads its calls over (the flow is capped at
# MAX_IN_FLIGHT anyway; this only keeps the division finite at the reset).
MIN_SECONDS_LEFT = 0.1

_thread = threading.local()


def bulk_thread() -> None:
    """Mark the calling thread's requests as bulk (the hydration pool's initializer): they
    wait while a stream's own request waits for a place in the flow."""
    _thread.bulk = True


def in_flight_for(
    limit: int,
    headroom: float,
    latency: float,
    *,
    calls_left: int | None = None,
    seconds_left: float = WINDOW_SECONDS,
) -> int:
    """Requests to keep in flight to spend (1 - headroom) of `limit` per window at `latency`.

    rate x latency requests are in flight at a steady rate (Little's law); two more cover the
    time between an answer and the next request (the answer parsed, the next one built, under
    one GIL with every stream's records being written: with one more, the large workspace's
    windows held 82-92 % of the limit; with two, 87-97 % and the run 5 % shorter, 0 x 429).

    With `calls_left` (the window's calls beyond the reserve and those in flight) and
    `seconds_left` (until the window resets), the rate is the higher of that steady one and
    the rest of the window spread over the rest of its time. A run that starts in the middle
    of a window, or fell behind in it, spends what the window still allows instead of leaving
    it unused: the windows are fixed, so what one leaves is lost, and the count already gates
    each request.
    """
    rate = limit * (1 - headroom) / WINDOW_SECONDS
    if calls_left is not None and calls_left > 0:
        rate = max(rate, calls_left / max(seconds_left, MIN_SECONDS_LEFT))
    return min(max(math.ceil(rate * latency) + 2, 1), MAX_IN_FLIGHT)


class RateBudget:
    """Thread-safe gate in front of every request."""

    def __init__(
        self,
        headroom: float = 0.05,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._headroom = headroom
        self._clock = clock
        self._sleep = sleep
        lock = threading.RLock()
        self._cond = threading.Condition(lock)
        # The bulk threads wait on their own condition of the same lock, so that an answer
        # wakes a stream's waiting request first (see `release`).
        self._bulk_cond = threading.Condition(lock)
        self._streams_waiting = 0
        self._limit: int | None = None
        self._remaining: int | None = None
        self._reset_at: float = 0.0
        self._in_flight = 0
        # Calls of the current window answered without a count (timeouts, a proxy's 5xx): the
        # server most likely counted them, so they are held against the last count we have.
        self._uncounted = 0
        # True once the announced window has passed and a full new one is assumed.
        self._assumed_fresh = False
        # Server clock minus ours, from the Date header: X-RateLimit-Reset is the server's time,
        # and a machine whose clock runs ahead would otherwise send into a spent window.
        self._skew = 0.0
        # Seconds the latest answers took (none until the first answer with a count).
        self._latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._latency: float | None = None
        self.waited_seconds = 0.0
        self.waits = 0
        self.most_in_flight = 0

    @property
    def limit(self) -> int | None:
        return self._limit

    @property
    def latency(self) -> float | None:
        return self._latency

    def in_flight_limit(self) -> int | None:
        """How many requests may be in flight now (None: no cap beyond the window's count)."""
        if self._limit is None or self._latency is None:
            return None
        calls_left = None
        seconds_left = WINDOW_SECONDS
        if self._remaining is not None:
            calls_left = self._remaining - self._uncounted - self._in_flight - self._reserve()
            # The window's end in our clock (X-RateLimit-Reset is the server's); a window
            # assumed fresh ends one window after the announced reset.
            window_end = self._reset_at + (WINDOW_SECONDS if self._assumed_fresh else 0.0)
            seconds_left = window_end - self._skew - self._clock()
        return in_flight_for(
            self._limit,
            self._headroom,
            self._latency,
            calls_left=calls_left,
            seconds_left=seconds_left,
        )

    def _reserve(self) -> int:
        return int(self._limit * self._headroom) if self._limit else 0

    def _may_send(self, now: float) -> bool:
        now += self._skew
        if self._limit is None or self._remaining is None:
            # Before the first answer the budget is unknown: probe with one request at a time.
            return self._in_flight == 0
        if not self._assumed_fresh and now >= self._reset_at + RESET_MARGIN_SECONDS:
            # A new window has started: assume it is full until a response says otherwise.
            self._remaining = self._limit
            self._uncounted = 0
            self._assumed_fresh = True
        return self._remaining - self._uncounted - self._in_flight > self._reserve()

    def _flow_full(self) -> bool:
        cap = self.in_flight_limit()
        return cap is not None and self._in_flight >= cap

    def acquire(self) -> None:
        """Block until one more request fits in the budget, then count it as in flight."""
        bulk = getattr(_thread, "bulk", False)
        cond = self._bulk_cond if bulk else self._cond
        with self._cond:
            if not bulk:
                self._streams_waiting += 1
            try:
                self._wait_for_place(cond, bulk=bulk)
            finally:
                if not bulk:
                    self._streams_waiting -= 1
                    if not self._streams_waiting:
                        # The bulk threads held back for it may go again.
                        self._bulk_cond.notify_all()

    def _wait_for_place(self, cond: threading.Condition, *, bulk: bool) -> None:
        while True:
            now = self._clock()
            yielding = bulk and self._streams_waiting > 0
            if self._may_send(now) and not self._flow_full() and not yielding:
                self._in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self._in_flight)
                return
            if self._limit is None or self._remaining is None or self._flow_full() or yielding:
                # Waiting on an answer (the first one, or one that frees a place in the
                # flow), or on a stream's request to go first: release() wakes one waiter
                # per answer.
                cond.wait(timeout=1.0)
                continue
            pause = max(self._reset_at + RESET_MARGIN_SECONDS - now - self._skew, 0.01)
            if self._in_flight:
                # Answers in flight may bring news of the window sooner than the reset.
                pause = min(pause, 0.05)
            self.waits += 1
            self.waited_seconds += pause
            self._cond.release()
            try:
                self._sleep(pause)
            finally:
                self._cond.acquire()

    def release(
        self,
        headers: Mapping[str, str] | None,
        *,
        rate_limited: bool = False,
        elapsed: float | None = None,
    ) -> None:
        """Record the answer to a request taken with acquire(), `elapsed` seconds after it."""
        with self._cond:
            self._in_flight = max(self._in_flight - 1, 0)
            known = self._limit
            reset_at = self._reset_at
            self._update(headers if headers is not None else {}, rate_limited=rate_limited)
            if elapsed is not None and headers is not None and not rate_limited:
                self._note_latency(elapsed)
            if self._limit == known and self._reset_at == reset_at:
                # One answer frees one place in the flow: waking every waiting thread for it
                # would only make them queue for the GIL. A stream's request goes first.
                (self._cond if self._streams_waiting else self._bulk_cond).notify()
            else:
                self._cond.notify_all()
                self._bulk_cond.notify_all()

    def _note_latency(self, elapsed: float) -> None:
        self._latencies.append(max(elapsed, 0.0))
        self._latency = statistics.median(self._latencies)

    def _update(self, headers: Mapping[str, str], *, rate_limited: bool) -> None:
        self._note_server_time(headers.get("Date"))
        try:
            limit = int(headers["X-RateLimit-Limit"])
            remaining = int(headers["X-RateLimit-Remaining"])
            reset_at = float(headers["X-RateLimit-Reset"])
        except (KeyError, ValueError):
            if rate_limited and self._limit is not None:
                # A 429 without headers: treat the window as spent for the next 10 seconds.
                self._remaining = 0
                self._reset_at = self._clock() + 10
                self._assumed_fresh = False
            elif self._remaining is not None:
                self._uncounted += 1
            return
        if rate_limited:
            # Intercom's rule for a 429 is to wait until X-RateLimit-Reset, whatever count the
            # answer reports (a workspace-wide limit can refuse while the app's window has calls
            # left): the window is spent.
            remaining = 0
        self._limit = limit
        if self._remaining is None or reset_at > self._reset_at:
            # A newer window: its count replaces ours.
            self._reset_at = reset_at
            self._remaining = remaining
            self._uncounted = 0
            self._assumed_fresh = False
        elif reset_at == self._reset_at and not self._assumed_fresh:
            # Answers of one window can arrive out of order: the lowest count is the newest.
            self._remaining = min(self._remaining, remaining)
        # Otherwise the answer is about a window that is over (an older one, or the one a
        # fresh window was assumed to replace): its count says nothing about the current one,
        # and taking it would hold the budget shut with nothing in flight to reopen it.

    def _note_server_time(self, date: str | None) -> None:
        if not date:
            return
        try:
            server_now = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return
        # The header has whole seconds (the server's time is up to 1 s later than it says):
        # only a clear difference counts, and the estimate errs towards waiting longer.
        skew = server_now - self._clock()
        self._skew = skew if abs(skew) > 1.5 else 0.0
