"""Progress lines in the log: per stream, records and requests so far, rate, time left."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

INTERVAL_SECONDS = 10.0


class Progress:
    """Logs at most every INTERVAL_SECONDS; the final line comes from done()."""

    def __init__(
        self, stream: str, logger: logging.Logger, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream
        self.logger = logger
        self._clock = clock
        self.started = clock()
        self._last = self.started
        self.records = 0
        self.total: int | None = None

    def add(self, records: int, requests: int) -> None:
        self.records += records
        now = self._clock()
        if now - self._last >= INTERVAL_SECONDS:
            self._last = now
            self.logger.info("%s: %s", self.stream, self.describe(requests, now))

    def describe(self, requests: int, now: float | None = None) -> str:
        elapsed = max((now if now is not None else self._clock()) - self.started, 1e-6)
        rate = self.records / elapsed
        text = f"{self.records} records, {requests} requests, {rate:.0f} records/s"
        if self.total and rate > 0 and self.total > self.records:
            text += f", about {(self.total - self.records) / rate:.0f}s left of {self.total}"
        return text

    def done(self, requests: int) -> None:
        self.logger.info("%s: done, %s", self.stream, self.describe(requests))
