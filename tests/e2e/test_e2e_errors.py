"""End-to-end failure handling: scopes, a bad token, fault storms, a tight rate budget."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import TOKEN, small_spec, tap_config
from tests.e2e.harness import TapRun, run_tap
from tests.emulator import Emulator, Faults, WorkspaceSpec

pytestmark = pytest.mark.e2e

DEBUG = {"TAP_INTERCOM_LOGLEVEL": "DEBUG"}
COMPLETE_STREAMS = ("companies", "contacts", "conversations", "tickets", "segments")


def _assert_complete(
    emu: Emulator, run: TapRun, streams: tuple[str, ...] = COMPLETE_STREAMS
) -> None:
    truth = emu.truth()
    for stream in streams:
        assert set(run.ids(stream)) == set(map(str, truth[stream])), stream


def _assert_token_absent(run: TapRun) -> None:
    output = run.stderr + "\n".join(map(str, run.messages))
    assert TOKEN not in output
    assert TOKEN[:12] not in output


def test_missing_scopes_skip_their_streams_and_the_run_succeeds(tmp_path: Path) -> None:
    with Emulator(
        small_spec(), token=TOKEN, scroll_expiry=2.0, forbidden_scopes=("read_admins", "read_tags")
    ) as emu:
        run = run_tap(tmp_path, tap_config(emu), env=DEBUG)
        assert run.returncode == 0, run.stderr[-3000:]
        for stream, scope in (
            ("admins", "read_admins"),
            ("teams", "read_admins"),
            ("tags", "read_tags"),
        ):
            assert f"Skipping stream '{stream}' (missing scope: {scope})" in run.stderr
            assert f"Run summary: stream '{stream}' was skipped" in run.stderr
            assert not run.records[stream]
            assert not [
                m for m in run.messages if m["type"] == "ACTIVATE_VERSION" and m["stream"] == stream
            ]
        _assert_complete(emu, run)
        _assert_token_absent(run)


def test_a_rejected_token_stops_the_run_with_one_clear_line(tmp_path: Path) -> None:
    with Emulator(small_spec(), token=TOKEN) as emu:
        config = {**tap_config(emu), "access_token": "wrong-token-ffffffffffff"}
        run = run_tap(tmp_path, config, env=DEBUG)
        # Stopped at the first answer, not retried (counted, not timed: a busy machine
        # makes any run slow). Before its first answer the budget sends one request at a time.
        rejected = emu.stats()
    assert rejected["total"] == 1, rejected["routes"]
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, errors
    assert "the access token was rejected" in errors[0]
    assert "Traceback" not in run.stderr
    assert "wrong-token-ffffffffffff" not in run.stderr + str(run.messages)


def test_a_storm_of_429_5xx_and_broken_bodies_ends_with_complete_data(tmp_path: Path) -> None:
    faults = Faults(
        seed=5, rate_limit_rate=0.10, error_rate=0.05, empty_rate=0.02, truncated_rate=0.02
    )
    # Every 429 waits for the rate window's reset (5 s on average), as Intercom asks: a small
    # workspace keeps the storm to a few dozen of them. The companies scroll keeps Intercom's
    # one-minute expiry here: with the 2-s expiry of the other tests, each 429 on a scroll
    # page (a 5-s wait) expired the scroll, and four in one run ended it (concurrent streams
    # made that likely). Expiry itself is tested apart.
    spec = WorkspaceSpec(seed=8, contacts=80, conversations=50, tickets=10, companies=20)
    with Emulator(spec, token=TOKEN, faults=faults) as emu:
        run = run_tap(tmp_path, tap_config(emu, max_retries=12), env=DEBUG)
        assert run.returncode == 0, run.stderr[-3000:]
        _assert_complete(emu, run)
        truth = emu.truth()
        parts = {str(p["conversation_id"]) for p in run.records["conversation_parts"]}
        assert parts == set(map(str, truth["conversation_parts"]))
        stats = emu.stats()
        assert stats["rate_limited"] >= 3
        assert "Retrying" in run.stderr
        _assert_token_absent(run)


def test_a_tight_budget_is_respected_with_almost_no_429(tmp_path: Path) -> None:
    spec = WorkspaceSpec(seed=3, contacts=150, conversations=240, tickets=10, companies=10)
    with Emulator(spec, token=TOKEN, rate_limit=100, scroll_expiry=2.0) as emu:
        started = time.monotonic()
        run = run_tap(tmp_path, tap_config(emu))
        elapsed = time.monotonic() - started
        assert run.returncode == 0, run.stderr[-3000:]
        stats = emu.stats()
        assert stats["total"] >= 250
        assert stats["rate_limited"] <= 3, stats
        _assert_complete(emu, run, ("contacts", "conversations"))
        print(
            f"\nbudget 100/10s: {stats['total']} requests in {elapsed:.1f}s, "
            f"{stats['rate_limited']} answered 429"
        )


def test_a_list_missing_from_the_api_skips_its_stream_and_the_run_succeeds(
    tmp_path: Path,
) -> None:
    with Emulator(small_spec(), token=TOKEN, scroll_expiry=2.0) as emu:
        emu.configure(missing_routes=["/help_center/collections"])
        run = run_tap(tmp_path, tap_config(emu))
        assert run.returncode == 0, run.stderr[-3000:]
        skips = [
            line for line in run.stderr.splitlines() if "Skipping stream 'collections'" in line
        ]
        assert len(skips) == 1, run.stderr[-3000:]
        assert "/help_center/collections" in skips[0]
        assert "Run summary: stream 'collections' was skipped" in run.stderr
        assert not run.records["collections"]
        _assert_complete(emu, run)
