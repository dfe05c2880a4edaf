"""Failures: said clearly, and nothing promised (an emitted state) is lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.target.harness import opened, record, rows, run, schema, state


def test_a_locked_archive_fails_without_emitting_state(database: Path) -> None:
    props = {"id": {"type": "integer"}}
    first = run(database, [schema("s", props), record("s", {"id": 1}), state({"s": 1})])
    assert first.states == [{"s": 1}]

    blocker = sqlite3.connect(database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the file
    try:
        messages = [schema("s", props), record("s", {"id": 2}), state({"s": 2})]
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            run(database, messages, busy_timeout_seconds=0.2)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with opened(database) as store:
        assert store.load_state() == {"s": 1}
    assert rows(database, "SELECT id FROM s") == [(1,)]


def test_invalid_record_stops_the_run_before_its_batch(database: Path) -> None:
    props = {"id": {"type": "integer"}, "n": {"type": "integer"}}
    messages = [
        schema("s", props),
        record("s", {"id": 1, "n": 1}),
        state({"s": 1}),
        record("s", {"id": 2, "n": "two"}),
        state({"s": 2}),
    ]
    with pytest.raises(Exception, match="must be integer"):
        run(database, messages, batch_size_rows=1)
    # Record 1 filled its batch and was committed with no state yet (the state came after
    # it); the state that followed was then passed on at once. Nothing after the bad record.
    assert rows(database, "SELECT id FROM s") == [(1,)]
    with opened(database) as store:
        assert store.load_state() == {"s": 1}
