"""ACTIVATE_VERSION as a Unix time in ms: rows written after the pass started are kept."""

from __future__ import annotations

import time
from pathlib import Path

from tests.target.harness import record, rows, run, schema

PROPS = {"id": {"type": "integer"}}


def deleted(database: Path) -> dict[int, bool]:
    return {i: d is not None for i, d in rows(database, "SELECT id, _sdc_deleted_at FROM contacts")}


def written(ids: list[int], version: int | None = None) -> list[dict]:
    return [
        schema("contacts", PROPS),
        *(record("contacts", {"id": i}, version=version) for i in ids),
    ]


def activate(version: int) -> dict:
    return {"type": "ACTIVATE_VERSION", "stream": "contacts", "version": version}


def test_a_row_written_during_the_pass_by_another_run_is_not_marked(database: Path) -> None:
    run(database, written([1, 2, 3]))  # an earlier incremental run: no version
    time.sleep(0.01)
    started_ms = int(time.time() * 1000)
    time.sleep(0.01)
    run(database, written([4]))  # a webhook follower writes 4 while the pass runs
    run(database, [*written([1, 3], started_ms), activate(started_ms)])
    assert deleted(database) == {1: False, 2: True, 3: False, 4: False}


def test_a_margin_before_the_start_keeps_recent_rows_too(database: Path) -> None:
    run(database, written([1, 2]))
    time.sleep(0.01)
    recent_ms = int(time.time() * 1000)
    time.sleep(0.01)
    run(database, written([3]))  # written just before the pass, within its margin
    run(database, [*written([1], recent_ms), activate(recent_ms)])
    assert deleted(database) == {1: False, 2: True, 3: False}


def test_versions_that_are_not_ms_times_mark_by_version_alone(database: Path) -> None:
    # singer-sdk sends the run's start in seconds: no time rule, every older row is a candidate.
    run(database, written([1, 2]))
    seconds = int(time.time()) - 3600
    run(database, [*written([1], seconds), activate(seconds)])
    assert deleted(database) == {1: False, 2: True}
