"""Runs with a webhook queue: the sync plus a drain, or follow mode until SIGTERM.

With ``webhook_queue`` set and ``follow`` false, a run is the tap's normal sync followed by one
drain. With ``follow`` true the tap keeps running: it drains every ``drain_interval_seconds``
(a STATE after each batch) and runs the normal sync every ``sync_interval_seconds`` as the
safety net for lost webhooks, first at start-up. That sync is the tap's own run
(``SdkTap.sync_all``: every stream at once, then the run summary), called as a scheduled run
calls it: the same streams, windows, state and lookback, no second copy of the logic.

After each search sync (in both modes) the items notified during it, and in the
``drain.SEARCH_LAG_MARGIN`` before it, are fetched again: a search result can be a version
older than the one a drain emitted minutes before, and emitting it last would leave the
archive behind.

SIGTERM (or SIGINT) ends the tap after the step in progress, with exit code 0: a drain
finishes its batch and writes its state; during a search sync the run's own handler acts, as
in a scheduled run (``SdkTap._handle_termination``: the streams stop, the state, resumable at
the last record emitted, is written, and the process exits).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from tap_intercom.drain import Drainer

if TYPE_CHECKING:
    from tap_intercom.tap import TapIntercom


class Signals:
    """SIGTERM/SIGINT set ``stop``, except ``during_sync``, when the handlers that were there
    before (the run's own) act."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()

    def _install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def __enter__(self) -> Signals:
        self._previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        self._install()
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    @contextmanager
    def during_sync(self) -> Iterator[None]:
        self._restore()
        try:
            yield
        finally:
            self._install()


def run(tap: TapIntercom, sync: Callable[[], None]) -> None:
    """The run of a tap whose ``webhook_queue`` is set; ``sync`` is its normal sync."""
    settings = tap.settings
    assert settings.webhook_queue is not None
    drainer = Drainer(tap, settings.webhook_queue)
    try:
        drainer.prune_committed()
        if settings.follow:
            _follow(tap, drainer, sync)
        else:
            # The drain comes last: what it fetches by id is newer than any lagging search result.
            _safety_net(drainer, sync)
            drainer.drain()
    finally:
        drainer.close()


def _safety_net(drainer: Drainer, sync: Callable[[], None]) -> None:
    """The normal search sync, then the items it may have written stale fetched again."""
    started = time.time()
    sync()
    drainer.refetch_after_sync(started)


def _follow(tap: TapIntercom, drainer: Drainer, sync: Callable[[], None]) -> None:
    settings = tap.settings
    tap.logger.info(
        "webhooks: following %s (a drain every %gs, the search sync every %ds) until SIGTERM",
        settings.webhook_queue,
        settings.drain_interval_seconds,
        settings.sync_interval_seconds,
    )
    next_sync = time.monotonic()  # the safety net runs first: it catches up after a pause
    with Signals() as signals:
        while not signals.stop.is_set():
            if time.monotonic() >= next_sync:
                with signals.during_sync():
                    _safety_net(drainer, sync)
                next_sync = time.monotonic() + settings.sync_interval_seconds
            drainer.drain(stop=signals.stop.is_set)
            signals.stop.wait(settings.drain_interval_seconds)
        drainer.write_state()
    totals = drainer.totals
    tap.logger.info(
        "webhooks: stopped after %d drained notifications (%d items fetched, %d records, "
        "%d tombstones); queue position %d",
        totals.notifications,
        totals.items,
        totals.records,
        totals.tombstones,
        totals.position,
    )
