"""Intercom's faults end to end (tap | target against the emulator): every run ends with an
archive equal to the truth and no duplicate keys."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator import Emulator, Faults
from tests.emulator import server as emulator_server
from tests.reliability.pipeline import (
    TOKEN,
    assert_archive_is_truth,
    run_pipeline,
    small_spec,
    tap_config,
    target_config,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(small_spec(seed=31), token=TOKEN, scroll_expiry=2.0) as emu:
        yield emu


FAULTS: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    # name: (Faults fields, extra tap settings, the emulator's fault counter that must move)
    "429 storm": ({"rate_limit_rate": 0.25}, {"max_retries": 12}, "rate_limit"),
    "10% 5xx": ({"error_rate": 0.1}, {"max_retries": 10}, "error"),
    "empty and truncated 200 bodies": (
        {"empty_rate": 0.06, "truncated_rate": 0.06, "short_read_rate": 0.04},
        {"max_retries": 10},
        "truncated",
    ),
    "latency spikes beyond the request timeout": (
        {"spike_rate": 0.1, "spike_ms": 1500},
        {"request_timeout": 1, "max_retries": 10},
        "",  # not counted by the emulator: the tap's timed-out retries are
    ),
}


def one_second_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rate windows of 1 s instead of Intercom's 10 s, with the same headers and rules.

    The tap waits for X-RateLimit-Reset after every 429, as Intercom asks, so each 429 of a
    storm costs up to one window: a faster clock keeps a real storm (dozens of 429s) within
    seconds, and exercises the same code paths."""
    monkeypatch.setattr(emulator_server, "WINDOW_SECONDS", 1)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n == "429 storm" else n for n in FAULTS],
)
def test_a_fault_storm_ends_with_the_archive_equal_to_the_truth(
    emulator: Emulator, tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults, settings, counter = FAULTS[name]
    if counter == "rate_limit":
        one_second_windows(monkeypatch)
    database = tmp_path / "archive.sqlite"
    tap_cfg = tap_config(emulator, page_size=25, **settings)
    target_cfg = target_config(database, batch_size_rows=50)
    emulator.set_faults(Faults(seed=zlib.crc32(name.encode()) % 1000, **faults))
    started = time.monotonic()
    first = run_pipeline(tmp_path, tap_cfg, target_cfg)
    assert first.ok, first.describe()
    stats = emulator.stats()
    if counter:
        # Counted over all the broken-body kinds: each alone is too rare to bound safely.
        kinds = ("empty", "truncated", "short_read") if counter == "truncated" else (counter,)
        seen = sum(stats["faults"].get(kind, 0) for kind in kinds)
        assert seen >= (10 if counter in ("rate_limit", "truncated") else 3), stats
    else:
        assert first.tap_stderr.count("timed out") >= 2, first.tap_stderr[-3000:]
    assert "Retrying" in first.tap_stderr
    assert_archive_is_truth(database, emulator)

    # The workspace changes and the storm goes on: the incremental run is as exact.
    emulator.workspace.update("contacts", count=6)
    emulator.workspace.update("conversations", count=4)
    emulator.workspace.add_parts(count=3, n=2)
    emulator.workspace.create("conversations", count=2)
    emulator.workspace.update("tickets", count=2)
    emulator.workspace.update("companies", count=2)
    second = run_pipeline(tmp_path, tap_cfg, target_cfg, state=first.state)
    assert second.ok, second.describe()
    assert_archive_is_truth(database, emulator)
    print(
        f"\n{name}: {stats['total']} requests, faults {stats['faults']}, "
        f"{time.monotonic() - started:.1f}s for two runs"
    )


def test_changes_made_while_the_sync_runs_are_all_in_the_archive_after_the_next_run(
    tmp_path: Path,
) -> None:
    # Latency makes the run long enough for the changes to land in the middle of it.
    with Emulator(small_spec(seed=32), token=TOKEN, scroll_expiry=2.0, latency_ms=15) as emu:
        database = tmp_path / "archive.sqlite"
        tap_cfg = tap_config(emu, page_size=20, hydration_workers=2)
        target_cfg = target_config(database, batch_size_rows=30)
        stop = threading.Event()
        touched: dict[str, set[str]] = {"contacts": set(), "conversations": set()}

        def mutate() -> None:
            ws = emu.workspace
            while not stop.wait(0.15):
                touched["contacts"].update(ws.update("contacts", count=2))
                touched["conversations"].update(ws.update("conversations", count=1))
                touched["conversations"].update(ws.create("conversations", count=1))
                touched["conversations"].update(ws.add_parts(count=1, n=1))
                ws.update("tickets", count=1)
                ws.create("contacts", count=1)
                ws.update("companies", count=1)

        mutator = threading.Thread(target=mutate, daemon=True)
        mutator.start()
        try:
            during = run_pipeline(tmp_path, tap_cfg, target_cfg)
        finally:
            stop.set()
            mutator.join()
        assert during.ok, during.describe()
        assert len(touched["conversations"]) >= 10, "the changes did not overlap the run"

        after = run_pipeline(tmp_path, tap_cfg, target_cfg, state=during.state)
        assert after.ok, after.describe()
        assert_archive_is_truth(database, emu)


def test_changes_hidden_by_search_index_lag_reach_the_archive_once_the_index_catches_up(
    emulator: Emulator, tmp_path: Path
) -> None:
    database = tmp_path / "archive.sqlite"
    tap_cfg = tap_config(emulator, page_size=25)
    target_cfg = target_config(database, batch_size_rows=40)
    first = run_pipeline(tmp_path, tap_cfg, target_cfg)
    assert first.ok, first.describe()
    assert_archive_is_truth(database, emulator)

    lag = 8.0  # longer than the lagged run takes, even on a loaded machine
    emulator.configure(search_lag=lag)
    emulator.workspace.update("contacts", count=5)
    emulator.workspace.update("conversations", count=4)
    emulator.workspace.create("conversations", count=2)
    emulator.workspace.update("tickets", count=2)
    changed_at = time.monotonic()
    lagged = run_pipeline(tmp_path, tap_cfg, target_cfg, state=first.state)
    assert time.monotonic() - changed_at < lag, "the lagged run outlasted the lag"
    assert lagged.ok, lagged.describe()
    # The search did not show the changes yet: this run could not have archived them.
    assert any("conversations" in p or "contacts" in p for p in _differences(database, emulator))

    # The index catches up; the lookback window re-reads the lagged changes.
    time.sleep(max(0.0, changed_at + lag + 0.3 - time.monotonic()))
    caught_up = run_pipeline(tmp_path, tap_cfg, target_cfg, state=lagged.state)
    assert caught_up.ok, caught_up.describe()
    assert_archive_is_truth(database, emulator)


def _differences(database: Path, emu: Emulator) -> list[str]:
    from tests.reliability.pipeline import archive_differences

    return archive_differences(database, emu)
