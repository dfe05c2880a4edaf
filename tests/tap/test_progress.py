"""Progress lines: at most one per interval, with counts, rate and time left."""

from __future__ import annotations

import logging

import pytest

from tap_intercom.progress import Progress


def test_progress_logs_at_most_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    progress = Progress("s", logging.getLogger("tests.progress"), clock=lambda: now[0])
    progress.total = 100
    with caplog.at_level(logging.INFO):
        progress.add(10, 1)
        now[0] = 5.0
        progress.add(10, 2)
        now[0] = 10.0
        progress.add(10, 3)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["s: 30 records, 3 requests, 3 records/s, about 23s left of 100"]
