"""Kill -9 the CLI mid-stream: every state it emitted is covered by committed data, and the
archive's own state is the last one emitted (or one committed just before the kill); also
with two jobs in flight to a writer that cannot commit them."""

from __future__ import annotations

import array
import fcntl
import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import termios
import threading
import time
import typing as t
from pathlib import Path

from tests.processes import child_pids
from tests.target.harness import opened, rows

CLI = "from target_sqlite_archive.target import TargetSqliteArchive; TargetSqliteArchive.cli()"
RECORDS = 200_000
STATES_BEFORE_KILL = 6


def _feed(pipe: t.IO[str]) -> None:
    properties = {"id": {"type": "integer"}, "pad": {"type": "string"}}
    schema = {"type": "object", "properties": properties}
    try:
        pipe.write(
            json.dumps(
                {"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]}
            )
            + "\n"
        )
        for n in range(RECORDS):
            pipe.write(
                json.dumps({"type": "RECORD", "stream": "s", "record": {"id": n, "pad": "x" * 50}})
                + "\n"
            )
            if n % 7 == 0:
                pipe.write(json.dumps({"type": "STATE", "value": {"s": n}}) + "\n")
        pipe.close()
    except (BrokenPipeError, ValueError):
        pass  # the target was killed, as intended


def _start_target(
    database: Path,
    *,
    stderr: t.IO[str] | int = subprocess.DEVNULL,
    **settings: t.Any,
) -> subprocess.Popen[str]:
    """The target's CLI on `database` with `settings` added to its config, fed through its
    stdin, states read from its stdout."""
    config = database.with_name("config.json")
    config.write_text(json.dumps({"database": str(database), **settings}))
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def test_kill_between_batches_loses_nothing_promised(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    process = _start_target(database, batch_size_rows=500)
    assert process.stdin is not None
    assert process.stdout is not None
    feeder = threading.Thread(target=_feed, args=(process.stdin,), daemon=True)
    feeder.start()
    emitted = []
    writers: list[int] = []
    for line in process.stdout:
        emitted.append(json.loads(line))
        if len(emitted) >= STATES_BEFORE_KILL:
            writers = child_pids(process.pid)
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=30)
    feeder.join(timeout=30)
    # The writer finishes the transaction it is in (it sees the target gone when it replies):
    # the archive is read once it has stopped, so both reads below see the same commits.
    _wait_for(lambda: not any(_alive(pid) for pid in writers), "the writer to stop")
    assert process.returncode == -signal.SIGKILL
    assert len(emitted) == STATES_BEFORE_KILL

    committed_ids = {row[0] for row in rows(database, "SELECT id FROM s")}
    assert committed_ids, "batches were committed before the kill"
    assert max(committed_ids) < RECORDS - 1, "the kill came before the end of the input"
    for state in emitted:
        # State {"s": n} was sent after record n: records 0..n must all be committed.
        assert set(range(state["s"] + 1)) <= committed_ids
    with opened(database) as store:
        stored = store.load_state()
    assert stored["s"] >= emitted[-1]["s"]
    assert set(range(stored["s"] + 1)) <= committed_ids
    # No record beyond the next batch boundary: at most one batch in flight was lost.
    assert committed_ids == set(range(len(committed_ids)))


def _singer_text(*parts: range | dict[str, int]) -> str:
    """Stream "s"'s SCHEMA, then per part its RECORDs (a range of ids) or a STATE (a dict)."""
    schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    lines: list[dict[str, t.Any]] = [
        {"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]}
    ]
    for part in parts:
        if isinstance(part, range):
            lines += [{"type": "RECORD", "stream": "s", "record": {"id": n}} for n in part]
        else:
            lines.append({"type": "STATE", "value": part})
    return "".join(json.dumps(line) + "\n" for line in lines)


def _state_ready(process: subprocess.Popen[str], seconds: float) -> bool:
    """Whether a state line can be read from the target within `seconds`."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    return bool(ready)


def test_sigterm_commits_what_is_pending_and_emits_its_state(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    process = _start_target(database, batch_size_rows=50)
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(_singer_text(range(50), {"s": 49}, range(50, 80), {"s": 79}))
    process.stdin.flush()
    # The input stays open: only the signal ends the run. The first state says the target
    # is reading; the 30 records after it are pending when the signal comes.
    assert json.loads(process.stdout.readline()) == {"s": 49}
    _wait_for(lambda: _read_everything(process), "the target to read every line sent")
    process.send_signal(signal.SIGTERM)
    out, _err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert [json.loads(line) for line in out.splitlines()] == [{"s": 79}]
    assert rows(database, "SELECT count(*) FROM s") == [(80,)]


def test_a_committed_state_goes_out_when_the_input_falls_silent(tmp_path: Path) -> None:
    """A state whose job was sent while more input waited is read back at a later message;
    when none comes, the reply timer passes it on within a fraction of a second, not after
    `batch_wait_seconds` (here an hour) when the wait timer commits the records after it."""
    database = tmp_path / "archive.sqlite"
    process = _start_target(database, batch_size_rows=50, batch_wait_seconds=3600)
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        # One write: the first state's job is sent while the lines after it wait.
        process.stdin.write(_singer_text(range(50), {"s": 49}, range(50, 80), {"s": 79}))
        process.stdin.flush()
        assert _state_ready(process, 20), "no state within 20 s"
        assert json.loads(process.stdout.readline()) == {"s": 49}
        # The 30 records after it are not committed yet (a batch holds 50, the wait is long):
        # their state is not out.
        assert not _state_ready(process, 1.0)
    finally:
        process.kill()
        process.wait(timeout=30)


def test_a_state_committed_with_a_full_batch_goes_out_when_the_input_falls_silent(
    tmp_path: Path,
) -> None:
    """A state held behind records goes into the job of the batch that fills next; when that
    is the last line for a while, the job's reply is still read and its state passed on."""
    database = tmp_path / "archive.sqlite"
    process = _start_target(database, batch_size_rows=50, batch_wait_seconds=3600)
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        # The 50th record fills the batch.
        process.stdin.write(_singer_text(range(49), {"s": 48}, range(49, 50)))
        process.stdin.flush()
        assert _state_ready(process, 20), "no state within 20 s"
        assert json.loads(process.stdout.readline()) == {"s": 48}
        assert rows(database, "SELECT count(*) FROM s") == [(50,)]
    finally:
        process.kill()
        process.wait(timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        status = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return not status.startswith("Z")  # a zombie has stopped


def _wait_for(condition: t.Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _read_everything(process: subprocess.Popen[str], steady: float = 0.2) -> bool:
    """Whether the target has taken every byte sent and handled the lines: its input pipe is
    empty, and its main thread waits in a pipe read (the next line) all through `steady`
    seconds. Where the kernel hides the wait channel, the empty pipe alone, held for 1 s."""
    assert process.stdin is not None
    wchan = Path(f"/proc/{process.pid}/wchan")
    deadline = time.monotonic() + steady
    while time.monotonic() < deadline:
        unread = array.array("i", [0])
        fcntl.ioctl(process.stdin.fileno(), termios.FIONREAD, unread)
        channel = wchan.read_text() if wchan.exists() else "0"
        if unread[0] or (channel != "0" and "pipe" not in channel):
            return False
        if channel == "0":
            deadline = max(deadline, time.monotonic() + 1.0 - steady)
        time.sleep(0.02)
    return True


def _uncommitted_jobs(log: Path) -> int:
    text = log.read_text()
    return text.count("| Sent ") - text.count("| Committed ")


def _quiet(log: Path, seconds: float = 2.0) -> bool:
    """The log has not grown for `seconds`: the target is blocked."""
    size = log.stat().st_size
    time.sleep(seconds)
    return log.stat().st_size == size


def test_two_jobs_in_flight_when_killed_emit_no_state_beyond_the_committed(
    tmp_path: Path,
) -> None:
    database = tmp_path / "archive.sqlite"
    log = tmp_path / "target.log"
    with log.open("w") as stderr:
        process = _start_target(
            database, batch_size_rows=2000, stderr=stderr, busy_timeout_seconds=120
        )
    assert process.stdin is not None
    assert process.stdout is not None
    threading.Thread(target=_feed, args=(process.stdin,), daemon=True).start()
    emitted: list[t.Any] = []
    stdout = process.stdout

    def read_states() -> None:
        emitted.extend(json.loads(line) for line in stdout)

    reader = threading.Thread(target=read_states, daemon=True)
    reader.start()
    writer = None
    blocker = sqlite3.connect(database, timeout=60, isolation_level=None)
    try:
        _wait_for(lambda: len(emitted) >= 2, "the first commits")
        [writer] = child_pids(process.pid)
        # Another connection takes the write lock between two of the writer's transactions:
        # nothing more commits. The writer still reads its input, so the target goes on
        # until two jobs wait for their COMMIT, then blocks sending the third (reading, on
        # the way, the replies of the jobs committed before the lock).
        blocker.execute("BEGIN IMMEDIATE")
        _wait_for(lambda: _uncommitted_jobs(log) == 2 and _quiet(log), "two jobs in flight")
        states_at_kill = len(emitted)
    finally:
        process.kill()
        if writer is not None:
            os.kill(writer, signal.SIGKILL)
        process.wait(timeout=30)
        reader.join(timeout=30)
        blocker.rollback()
        blocker.close()

    assert len(emitted) == states_at_kill
    committed_ids = {row[0] for row in rows(database, "SELECT id FROM s")}
    sent = sum(int(n) for n in re.findall(r"Sent (\d+) records", log.read_text()))
    assert sent - len(committed_ids) >= 2 * 2000, "two jobs were sent and never committed"
    assert committed_ids == set(range(len(committed_ids)))
    assert emitted
    for state in emitted:
        # State {"s": n} was sent after record n: records 0..n must all be committed.
        assert set(range(state["s"] + 1)) <= committed_ids
    with opened(database) as store:
        assert store.load_state()["s"] >= emitted[-1]["s"]
