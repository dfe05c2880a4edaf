"""The target commits on time: a record waits at most `batch_wait_seconds`, even when no other
message comes (a live tap may be silent for hours), and its state is passed on after COMMIT."""

from __future__ import annotations

import contextlib
import json
import queue
import sqlite3
import subprocess
import threading
import time
import typing as t
from pathlib import Path

from target_sqlite_archive.batcher import EARLY_HANDOVER_SECONDS
from tests.processes import child_pids
from tests.target.harness import record, schema, state
from tests.target.test_kill import _start_target, _wait_for


def _reader(pipe: t.IO[str], out: queue.Queue[str]) -> None:
    for line in pipe:
        out.put(line)


@contextlib.contextmanager
def _running(
    database: Path, batch_wait_seconds: float
) -> t.Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    """The target on `database`, each state line it emits put on the queue as it comes; its
    input is closed at the end, and it must then exit cleanly."""
    process = _start_target(database, batch_wait_seconds=batch_wait_seconds)
    assert process.stdout is not None
    states: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(process.stdout, states), daemon=True).start()
    try:
        yield process, states
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0


def _send(process: subprocess.Popen[str], *messages: dict[str, t.Any]) -> None:
    assert process.stdin is not None
    process.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
    process.stdin.flush()


def _rows(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT count(*) FROM s").fetchone()[0])


def test_a_record_is_committed_within_the_wait_when_nothing_else_comes(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    with _running(database, batch_wait_seconds=1) as (process, states):
        _send(process, schema("s", {"id": {"type": "integer"}}), record("s", {"id": 1}))
        _send(process, state({"position": 1}))
        # No further input: the state comes once the record is committed, on time.
        started = time.monotonic()
        assert json.loads(states.get(timeout=30)) == {"position": 1}
        assert time.monotonic() - started < 30
        assert _rows(database) == 1

        # A new record followed by the same state again: committed, and that state passed on
        # again (it now also covers the new record).
        _send(process, record("s", {"id": 2}), state({"position": 1}))
        assert json.loads(states.get(timeout=30)) == {"position": 1}
        assert _rows(database) == 2


def test_records_slower_than_the_writer_are_committed_as_they_come(tmp_path: Path) -> None:
    """A tap paced by its API sends records slower than the writer commits them: a record
    that comes when the pending ones have waited EARLY_HANDOVER_SECONDS hands them over to an
    idle writer, so no batch needs to fill and no wait to end (here an hour) for the state."""
    database = tmp_path / "archive.sqlite"
    with _running(database, batch_wait_seconds=3600) as (process, states):
        _send(process, schema("s", {"id": {"type": "integer"}}), record("s", {"id": 1}))
        _send(process, state({"position": 1}))
        # The writer starts with the first record: from then on that record is pending.
        _wait_for(lambda: bool(child_pids(process.pid)), "the writer to start")
        time.sleep(EARLY_HANDOVER_SECONDS * 2)
        # This record finds the first one waiting and the writer idle: both are committed,
        # with the state received before it; the state after it then has nothing pending.
        _send(process, record("s", {"id": 2}), state({"position": 2}))
        assert json.loads(states.get(timeout=30)) == {"position": 1}
        assert json.loads(states.get(timeout=30)) == {"position": 2}
        assert _rows(database) == 2
