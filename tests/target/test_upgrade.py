"""An archive written by the first release (format 0) is upgraded in place, nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.target.harness import lines, opened, record, rows, run
from tests.target.test_intercom_shapes import a_conversation, schema_message
from tests.target.test_kill import CLI

FIXTURE = Path(__file__).with_name("fixtures") / "format0.sqlite"
STREAMS = ("conversations", "conversation_parts", "contacts")


def _snapshot(database: Path) -> dict[str, object]:
    with opened(database) as store:
        return {
            "records": {s: store.read_records(s) for s in STREAMS},
            "raw": {s: store.raw_versions(s) for s in STREAMS},
            "state": store.load_state(),
        }


def _new_messages() -> list[dict]:
    _conversation, parts = a_conversation()
    return [
        schema_message("conversations"),
        schema_message("conversation_parts"),
        schema_message("contacts"),
        record("conversation_parts", parts[5]),
        record("contacts", {"id": "new-contact", "email": "New@Example.test"}),
    ]


def _assert_upgraded(database: Path, before: dict[str, object]) -> None:
    db = sqlite3.connect(database)
    # Format 0 -> 2 in one opening: the catalog's format column and the raw codec column.
    assert db.execute("PRAGMA user_version").fetchone() == (2,)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    primary = {
        t: [
            r[1]
            for r in sorted(db.execute(f'PRAGMA table_info("{t}")'), key=lambda r: r[5])
            if r[5]
        ]
        for t in STREAMS
    }
    assert primary == {
        "conversations": ["id"],
        "conversation_parts": ["conversation_id", "id"],
        "contacts": ["id"],
    }
    links = {(r[3], r[2]) for r in db.execute('PRAGMA foreign_key_list("conversation_parts")')}
    assert ("conversation_id", "conversations") in links
    assert {
        (r[3], r[2]) for r in db.execute('PRAGMA foreign_key_list("contacts__tags__data")')
    } == {("root__id", "contacts")}
    # The analyst's view survived the rebuild of the table it names.
    assert db.execute("SELECT count(*) FROM open_conversations").fetchone() == (1,)
    # No empty child table is left; the catalog still knows them.
    for (table,) in db.execute(
        "SELECT table_name FROM _archive_tables WHERE table_name IN "
        "(SELECT name FROM sqlite_master WHERE type = 'table')"
    ).fetchall():
        assert db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] > 0, table  # noqa: S608
    for fts in ("conversations_fts", "conversation_parts_fts", "contacts_fts"):
        db.execute(f"INSERT INTO {fts} ({fts}, rank) VALUES ('integrity-check', 1)")  # noqa: S608
    db.close()
    after = _snapshot(database)
    old_records = before["records"]
    assert isinstance(old_records, dict)
    for stream in STREAMS:
        assert set(old_records[stream]) <= set(after["records"][stream]), stream  # type: ignore[index]
        for key, value in old_records[stream].items():
            assert after["records"][stream][key] == value, (stream, key)  # type: ignore[index]
        assert after["raw"][stream][: len(before["raw"][stream])] == before["raw"][stream]  # type: ignore[index]
    assert after["state"] == before["state"]


def test_an_archive_of_the_first_release_is_upgraded_in_place(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    shutil.copy(FIXTURE, database)
    before = _snapshot(database)
    run(database, _new_messages())
    _assert_upgraded(database, before)
    # Old rows are found by the rebuilt full-text index.
    assert (
        rows(
            database,
            "SELECT count(*) FROM conversation_parts_fts "
            "WHERE conversation_parts_fts MATCH 'refund'",
        )[0][0]
        > 0
    )
    assert rows(
        database, "SELECT id FROM contacts WHERE email = ? COLLATE NOCASE", ["new@example.TEST"]
    ) == [("new-contact",)]


def test_a_kill_mid_upgrade_leaves_the_old_or_the_new_archive(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    shutil.copy(FIXTURE, database)
    before = _snapshot(database)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"database": str(database)}))
    text = lines(_new_messages())
    for delay in (0.3, 0.6, 0.9, 1.2, 1.5):
        process = subprocess.Popen(
            [sys.executable, "-c", CLI, "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdin is not None
        process.stdin.write(text)
        process.stdin.flush()
        time.sleep(delay)
        # The writer process (the target's child) holds the upgrade's transaction.
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        writers = children.read_text().split() if children.exists() else []
        for pid in writers:
            os.kill(int(pid), signal.SIGKILL)
        process.send_signal(signal.SIGKILL)
        process.wait()
        db = sqlite3.connect(database)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
        # Whatever the kill interrupted, every old record is still there.
        now = _snapshot(database)
        for stream in STREAMS:
            for key, value in before["records"][stream].items():  # type: ignore[index]
                assert now["records"][stream][key] == value  # type: ignore[index]
    run(database, _new_messages())
    _assert_upgraded(database, before)
