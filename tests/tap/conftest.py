"""Shared helpers for the tap's offline unit tests: configs, catalogs, an in-process run.

No test here touches the network: requests go to requests-mock (``API``) and every sleep is
replaced by a fake clock, so the whole set runs in seconds and the same way every time.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests_mock as requests_mock_module

from tap_intercom import client as client_module
from tap_intercom.ratelimit import RateBudget
from tap_intercom.streams import incremental
from tap_intercom.tap import TapIntercom
from tests.catalog import select_streams

API = "https://intercom.test"
TOKEN = "tok-UNIT-7f3a9c1e5b"
# The frozen "now" of every run: 2027-01-15T08:00:00Z.
NOW = 1_800_000_000
NOW_ISO = "2027-01-15T08:00:00Z"

RATE_HEADERS = {
    "X-RateLimit-Limit": "1000",
    "X-RateLimit-Remaining": "990",
    "X-RateLimit-Reset": str(NOW + 10),
}


def make_config(**overrides: Any) -> dict[str, Any]:
    # One pass per window: these tests list exact requests; split windows have their own
    # (tests/tap/test_search_ranges.py), and the emulator runs use the default.
    config: dict[str, Any] = {
        "access_token": TOKEN,
        "api_url": API,
        "max_retries": 3,
        "search_ranges": 1,
    }
    for key, value in overrides.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


def bookmarked(stream: str, key: str, value: str, **more: Any) -> dict[str, Any]:
    """A tap state whose only bookmark is `stream`'s `key` at `value` (plus `more` keys)."""
    return {"bookmarks": {stream: {"replication_key": key, "replication_key_value": value, **more}}}


_BASE_CATALOG: dict[str, Any] = {}


def catalog_for(*streams: str) -> dict[str, Any]:
    """The tap's own catalog with exactly `streams` selected."""
    if not _BASE_CATALOG:
        _BASE_CATALOG.update(TapIntercom(config=make_config()).catalog_dict)
    return select_streams(_BASE_CATALOG, streams)


@dataclass
class Run:
    """What one in-process run wrote to stdout, parsed."""

    stdout: str
    tap: TapIntercom
    messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.messages = [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def of(self, kind: str, stream: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if m["type"] == kind and (stream is None or m.get("stream") == stream)
        ]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.of("RECORD", stream)]

    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.of("STATE")]

    def bookmark(self, stream: str, state: dict[str, Any] | None = None) -> dict[str, Any]:
        value = state if state is not None else self.states()[-1]
        return dict(value["bookmarks"][stream])


def run_tap(
    streams: tuple[str, ...] | list[str],
    *,
    config: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> Run:
    """Run the tap in-process with `streams` selected and parse its Singer output."""
    tap = TapIntercom(
        config=config or make_config(), state=state or {}, catalog=catalog_for(*streams)
    )
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tap.sync_all()
    return Run(stdout=buffer.getvalue(), tap=tap)


def run_tap_failing(
    streams: tuple[str, ...] | list[str],
    *,
    config: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> tuple[BaseException, str]:
    """Run the tap in-process expecting an exception; return it and the stdout so far."""
    tap = TapIntercom(
        config=config or make_config(), state=state or {}, catalog=catalog_for(*streams)
    )
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(Exception) as caught:  # noqa: PT011
        tap.sync_all()
    return caught.value, buffer.getvalue()


class FakeClock:
    """A clock that only moves when something sleeps on it."""

    def __init__(self, start: float = float(NOW)) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Freeze time for a whole run: budget clock and sleep, backoff sleep, the search 'now'."""
    fake = FakeClock()

    def budget_factory(headroom: float = 0.05) -> RateBudget:
        return RateBudget(headroom, clock=fake.time, sleep=fake.sleep)

    monkeypatch.setattr(client_module, "RateBudget", budget_factory)
    # backoff and the companies stream sleep through the time module itself.
    monkeypatch.setattr(time, "sleep", fake.sleep)

    class _FrozenTime:
        @staticmethod
        def time() -> float:
            return float(NOW)

        @staticmethod
        def monotonic() -> float:
            return time.monotonic()

    monkeypatch.setattr(incremental, "time", _FrozenTime)
    return fake


def rate_headers(remaining: int, reset: float, limit: int = 100) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(reset)),
    }


class RateWindow:
    """Intercom's fixed 10-second rate window on a fake clock: counts calls, 429 once spent.

    A request `start()`s when it arrives and gets its `answer()`: the rate headers and whether
    it is a 429. `serve(context)` does both for a requests-mock callback.
    """

    def __init__(self, clock: FakeClock, limit: int) -> None:
        self.clock = clock
        self.limit = limit
        self.lock = threading.Lock()
        self.reset = NOW + 10
        self.remaining = limit
        self.windows = 1
        self.in_flight = 0
        self.max_in_flight = 0
        self.limited = 0
        self.served = 0

    def start(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def answer(self) -> tuple[dict[str, str], bool]:
        with self.lock:
            while self.clock.now >= self.reset:
                self.reset += 10
                self.remaining = self.limit
                self.windows += 1
            self.in_flight -= 1
            if self.remaining <= 0:
                self.limited += 1
                return rate_headers(0, self.reset, self.limit), True
            self.remaining -= 1
            self.served += 1
            return rate_headers(self.remaining, self.reset, self.limit), False

    def serve(self, context: Any) -> bool:
        """Answer a requests-mock request: its rate headers set, True unless it is a 429."""
        self.start()
        headers, limited = self.answer()
        context.headers.update(headers)
        return not limited


@pytest.fixture
def rate_window(clock: FakeClock) -> Callable[[int], RateWindow]:
    """Make a RateWindow of a given limit on the run's frozen clock."""
    return lambda limit: RateWindow(clock, limit)


@pytest.fixture
def api(clock: FakeClock) -> Iterator[requests_mock_module.Mocker]:
    """requests-mock with no real network and a frozen clock; unmatched requests fail."""
    with requests_mock_module.Mocker() as mocker:
        yield mocker


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every log record at DEBUG level, the most talkative the tap can be."""
    caplog.set_level(logging.DEBUG)
    return caplog


def paths(mocker: requests_mock_module.Mocker) -> list[str]:
    return [f"{r.method} {r.path}" for r in mocker.request_history]


def json_bodies(mocker: requests_mock_module.Mocker, path: str) -> list[dict[str, Any]]:
    return [r.json() for r in mocker.request_history if r.path == path and r.method == "POST"]
