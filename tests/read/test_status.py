"""`intercom-archive status`: per stream rows, live rows, last commit, bookmark."""

# S608: table and column names here are the test's own constants.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.read.conftest import Synced, run_cli


def test_status_counts_equal_the_tables(archive: Synced) -> None:
    result = run_cli("status", "-d", str(archive.database), "--json")
    assert result.code == 0, result.err
    streams = result.json()["streams"]
    assert {"contacts", "conversations", "conversation_parts", "tickets"} <= set(streams)
    state = archive.last.state or {}
    with sqlite3.connect(archive.database) as connection:
        for name, entry in streams.items():
            rows, live, last = connection.execute(
                "SELECT count(*), sum(_sdc_deleted_at IS NULL), max(_sdc_received_at) "
                f'FROM "{name}"'
            ).fetchone()
            assert entry["rows"] == rows, name
            assert entry["live_rows"] == (live or 0), name
            assert entry["last_commit"] == last, name
            assert entry["bookmark"] == state["bookmarks"].get(name, {}), name
    assert streams["conversations"]["rows"] > 0
    assert streams["conversations"]["bookmark"]["replication_key_value"]

    text = run_cli("status", "-d", str(archive.database))
    assert "conversations" in text.out
    assert f"{streams['conversation_parts']['rows']:,}" in text.out


def test_a_missing_or_foreign_file_is_one_line(tmp_path: Path) -> None:
    missing = run_cli("status", "-d", str(tmp_path / "none.sqlite"))
    assert missing.code == 1
    assert len(missing.err.strip().splitlines()) == 1
    assert "no archive at" in missing.err
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    foreign = run_cli("status", "-d", str(other))
    assert foreign.code == 1
    assert "not an archive written by target-sqlite-archive" in foreign.err
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    broken = run_cli("status", "-d", str(garbage))
    assert broken.code == 1
    assert len(broken.err.strip().splitlines()) == 1
