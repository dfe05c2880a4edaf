"""The archive locked by another writer, on a read-only file system, on a full disk: a clear
error naming the archive, the committed data intact, and the next run completes.

Read-only and disk-full are real, not mocked: the archive lives on a small tmpfs that the test
mounts (tests run as root; permissions alone would not stop root from writing), remounts
read-only, or fills up so that writes fail with ENOSPC.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.pipeline import integrity_ok
from tests.reliability.test_target_input import run_target

PROPS = {"id": {"type": "integer"}, "body": {"type": "string"}}


def _lines(first: int, last: int, body_bytes: int = 64, every: int = 25) -> list[str]:
    rng = random.Random(first)
    lines = [
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": "s",
                "schema": {"type": "object", "properties": PROPS},
                "key_properties": ["id"],
            }
        )
    ]
    for i in range(first, last + 1):
        # Random text: it does not compress, so the archive really grows.
        body = rng.randbytes(body_bytes // 2).hex()
        lines.append(
            json.dumps({"type": "RECORD", "stream": "s", "record": {"id": i, "body": body}})
        )
        if i % every == 0 or i == last:
            lines.append(json.dumps({"type": "STATE", "value": {"upto": i}}))
    return lines


def _ids(database: Path) -> set[int]:
    with sqlite3.connect(database) as db:
        return {r[0] for r in db.execute("SELECT id FROM s")}


def _state(database: Path) -> Any:
    with sqlite3.connect(database) as db:
        row = db.execute("SELECT state FROM _archive_state").fetchone()
    return json.loads(row[0]) if row else None


def _error(done: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert errors, done.stderr[-3000:]
    print(f"\n{errors[-1]}")
    return errors[-1]


def _assert_consistent(database: Path, emitted: list[dict[str, Any]], before: Any) -> None:
    """The stored state is the last one passed on (or the one before the run), and every
    record it covers is in the archive."""
    assert integrity_ok(database)
    stored = _state(database)
    assert stored == (emitted[-1] if emitted else before)
    assert set(range(1, stored["upto"] + 1)) <= _ids(database)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (tests must run as root): {done.stderr}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_an_archive_locked_by_another_writer(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    first = run_target(database, _lines(1, 50))
    assert first.returncode == 0, first.stderr[-2000:]
    blocker = sqlite3.connect(database, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        locked = run_target(database, _lines(51, 100), busy_timeout_seconds=0.5)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert locked.returncode != 0
    error = _error(locked)
    assert f"Archive {database}: database is locked" in error
    assert "longer than busy_timeout_seconds=0.5" in error
    assert locked.stdout.strip() == ""  # no state passed on
    _assert_consistent(database, [], {"upto": 50})
    assert _ids(database) == set(range(1, 51))

    again = run_target(database, _lines(51, 100))
    assert again.returncode == 0, again.stderr[-2000:]
    assert _ids(database) == set(range(1, 101))
    assert _state(database) == {"upto": 100}


def test_an_archive_on_a_read_only_file_system(tmpfs: Path) -> None:
    database = tmpfs / "archive.sqlite"
    first = run_target(database, config_dir=tmpfs.parent, lines=_lines(1, 50))
    assert first.returncode == 0, first.stderr[-2000:]
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    try:
        assert subprocess.run(["touch", str(tmpfs / "probe")], check=False).returncode != 0
        refused = run_target(database, config_dir=tmpfs.parent, lines=_lines(51, 100))
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
    assert refused.returncode != 0
    error = _error(refused)
    assert f"Archive {database}:" in error
    assert "read-only file system or permissions" in error
    assert refused.stdout.strip() == ""
    _assert_consistent(database, [], {"upto": 50})
    assert _ids(database) == set(range(1, 51))

    again = run_target(database, config_dir=tmpfs.parent, lines=_lines(51, 100))
    assert again.returncode == 0, again.stderr[-2000:]
    assert _ids(database) == set(range(1, 101))


def test_an_archive_on_a_full_disk(tmpfs: Path) -> None:
    database = tmpfs / "archive.sqlite"
    first = run_target(database, config_dir=tmpfs.parent, lines=_lines(1, 50))
    assert first.returncode == 0, first.stderr[-2000:]
    # Leave a little room: some batches fit, then the disk is full mid-run.
    filler = tmpfs / "filler"
    free = os.statvfs(tmpfs).f_bavail * os.statvfs(tmpfs).f_frsize
    filler.write_bytes(b"\0" * (free - 96 * 1024))
    full = run_target(
        database,
        config_dir=tmpfs.parent,
        lines=_lines(51, 1000, body_bytes=512),
        batch_size_rows=25,
    )
    assert full.returncode != 0
    error = _error(full)
    assert f"Archive {database}:" in error
    assert "full or failing" in error
    assert "Traceback" not in error
    emitted = [json.loads(line) for line in full.stdout.splitlines() if line.strip()]
    print(f"states passed on before the disk filled: {emitted}")
    filler.unlink()  # space again; SQLite needs it to read its WAL index back
    _assert_consistent(database, emitted, {"upto": 50})
    assert _state(database)["upto"] < 1000

    again = run_target(
        database,
        config_dir=tmpfs.parent,
        lines=_lines(51, 1000, body_bytes=512),
        batch_size_rows=25,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert _ids(database) == set(range(1, 1001))
    assert _state(database) == {"upto": 1000}
    assert integrity_ok(database)
