"""Failures: said clearly, and nothing promised (an emitted state) is lost."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from target_sqlite_archive.committer import WriterStopped
from target_sqlite_archive.target import TargetSqliteArchive
from tests.target.harness import lines, opened, record, rows, run, schema, state


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


def test_a_killed_writer_process_stops_the_run_with_a_clear_error(database: Path) -> None:
    target = TargetSqliteArchive(config={"database": str(database), "batch_size_rows": 10})
    props = {"id": {"type": "integer"}}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        target.process_lines(io.StringIO(lines([schema("s", props), record("s", {"id": 0})])))
        target.process_lines(io.StringIO(lines([state({"s": 0})])))
        for n in range(1, 10):
            target.process_lines(io.StringIO(lines([record("s", {"id": n})])))
        writer = target.committer._process  # the first batch is in flight
        assert writer is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        more = [record("s", {"id": n}) for n in range(10, 30)] + [state({"s": 29})]
        with pytest.raises(WriterStopped, match="writer process stopped"):
            target.process_lines(io.StringIO(lines(more)))
    # The first batch's reply never came: its state was not passed on, whether or not the
    # writer got to COMMIT it before it died (all or nothing).
    assert out.getvalue() == ""
    with opened(database) as store:
        stored = store.load_state()
        committed = store.conn.execute("SELECT count(*) FROM s").fetchone()[0] if stored else 0
    assert (stored, committed) in ((None, 0), ({"s": 0}, 10))


def test_the_writers_error_is_raised_when_a_later_send_meets_its_closed_pipe(
    tmp_path: Path,
) -> None:
    # With two jobs in flight, the writer may reply with an error (an archive it cannot open)
    # and stop before the next job is sent: that error is the cause, not the closed pipe.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the archive's folder should be")
    target = TargetSqliteArchive(config={"database": str(blocked / "a.sqlite")})
    props = {"id": {"type": "integer"}}
    target.process_lines(io.StringIO(lines([schema("s", props), record("s", {"id": 1})])))
    target.commit()  # the first job: the writer fails to open the archive, replies, stops
    writer = target.committer._process
    assert writer is not None
    writer.wait(timeout=30)
    target.process_lines(io.StringIO(lines([record("s", {"id": 2})])))
    with pytest.raises(FileExistsError) as raised:
        target.commit()
    # The CLI logs the first argument, which names the archive and the cause.
    assert raised.value.args[0].startswith(f"Archive {blocked / 'a.sqlite'}: ")
    assert "File exists" in raised.value.args[0]


def test_the_writers_error_collected_by_a_later_state_names_the_archive(tmp_path: Path) -> None:
    # The writer's reply to a job in flight (an archive it cannot open) may be read by the
    # poll a later STATE makes, outside any commit: it is explained there too.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the archive's folder should be")
    target = TargetSqliteArchive(config={"database": str(blocked / "a.sqlite")})
    props = {"id": {"type": "integer"}}
    target.process_lines(io.StringIO(lines([schema("s", props), record("s", {"id": 1})])))
    target.commit()
    writer = target.committer._process
    assert writer is not None
    writer.wait(timeout=30)
    target.process_lines(io.StringIO(lines([record("s", {"id": 2})])))
    with pytest.raises(FileExistsError) as raised:
        target.process_lines(io.StringIO(lines([state({"s": 2})])))
    assert raised.value.args[0].startswith(f"Archive {blocked / 'a.sqlite'}: ")
