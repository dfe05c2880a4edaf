"""An archive written by the first release (format 0) is upgraded in place, nothing lost."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.target import generate
from target_sqlite_archive import sql
from tests.processes import child_pids
from tests.target.harness import lines, opened, record, rows, run
from tests.target.test_codec import readme_raw_texts
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
    # Format 0 -> 4 in one opening: the catalog's format column, the raw codec column, the
    # dictionaries' and the layouts' tables.
    assert db.execute("PRAGMA user_version").fetchone() == (sql.FORMAT,)
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
        for pid in child_pids(process.pid):
            os.kill(pid, signal.SIGKILL)
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


FORMAT1 = FIXTURE.with_name("format1.sqlite")


def _data_tables(database: Path) -> dict[str, str]:
    """Each data table's SQL, by name (what a rebuild would change)."""
    db = sqlite3.connect(database)
    try:
        return dict(
            db.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN "
                "(SELECT table_name FROM _archive_tables)"
            ).fetchall()
        )
    finally:
        db.close()


def test_an_archive_of_format_1_is_upgraded_in_place(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    shutil.copy(FORMAT1, database)
    db = sqlite3.connect(database)
    assert db.execute("PRAGMA user_version").fetchone() == (1,)
    assert "codec" not in {r[1] for r in db.execute("PRAGMA table_info(_archive_raw)")}
    search = "SELECT count(*) FROM conversation_parts_fts WHERE conversation_parts_fts MATCH ?"
    (old_hits,) = db.execute(search, ["refund"]).fetchone()
    assert old_hits > 0
    db.close()
    tables = _data_tables(database)
    before = _snapshot(database)  # opening it upgrades it: one ALTER, no table rebuilt
    run(database, _new_messages())

    db = sqlite3.connect(database)
    assert db.execute("PRAGMA user_version").fetchone() == (sql.FORMAT,)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # The data tables kept their layout (format 1 still: none rebuilt) and their rows.
    assert set(db.execute("SELECT DISTINCT format FROM _archive_tables")) == {(1,)}
    db.close()
    assert {n: s for n, s in _data_tables(database).items() if n in tables} == tables
    # Old raw rows are zlib and say so; the new ones are zstd.
    codecs = rows(database, "SELECT stream, codec, count(*) FROM _archive_raw GROUP BY 1, 2")
    assert ("contacts", "zlib", 5) in codecs
    assert ("contacts", "zstd", 1) in codecs
    assert ("conversation_parts", "zstd", 1) in codecs
    after = _snapshot(database)
    for stream in STREAMS:
        old = before["records"][stream]  # type: ignore[index]
        assert {k: after["records"][stream][k] for k in old} == old, stream  # type: ignore[index]
        assert after["raw"][stream][: len(before["raw"][stream])] == before["raw"][stream]  # type: ignore[index]
    assert after["state"] == before["state"]
    # The README's recipe reads the zlib and the zstd rows alike.
    texts = readme_raw_texts(database, "contacts")
    assert texts == [text for _at, text in after["raw"]["contacts"]]  # type: ignore[index]
    assert json.loads(texts[-1])["id"] == "new-contact"
    # The tombstone of format 1 is still one.
    assert rows(database, "SELECT count(*) FROM contacts WHERE _sdc_deleted_at IS NOT NULL") == [
        (1,)
    ]
    # The old rows' hits are still found (the new part may add one).
    assert rows(database, search, ["refund"])[0][0] >= old_hits


FORMAT2 = FIXTURE.with_name("format2.sqlite")


def test_an_archive_of_format_2_gets_its_dictionaries_table_and_reads_back(
    tmp_path: Path,
) -> None:
    """Format 2 (zstd rows without dictionaries, written by 276f7c8): opening it adds
    `_archive_dictionaries`; its rows stay as they were and a large batch after it gets the
    stream's dictionary."""
    database = tmp_path / "archive.sqlite"
    shutil.copy(FORMAT2, database)
    db = sqlite3.connect(database)
    assert db.execute("PRAGMA user_version").fetchone() == (2,)
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert "_archive_dictionaries" not in tables
    old_raw = db.execute("SELECT version_id, codec, raw FROM _archive_raw").fetchall()
    assert {codec for _id, codec, _raw in old_raw} == {"zstd"}
    db.close()
    before = _snapshot(database)
    rng = random.Random(3)
    contacts = [generate.contact(rng, n) for n in range(200)]
    run(database, [schema_message("contacts"), *(record("contacts", c) for c in contacts)])

    db = sqlite3.connect(database)
    assert db.execute("PRAGMA user_version").fetchone() == (sql.FORMAT,)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT stream FROM _archive_dictionaries").fetchall() == [("contacts",)]
    last_old = max(version_id for version_id, _codec, _raw in old_raw)
    kept = db.execute(
        "SELECT version_id, codec, raw FROM _archive_raw WHERE version_id <= ?", (last_old,)
    ).fetchall()
    new = db.execute(
        "SELECT DISTINCT codec FROM _archive_raw WHERE version_id > ?", (last_old,)
    ).fetchall()
    db.close()
    assert sorted(kept) == sorted(old_raw)  # not rewritten
    assert new == [("zstd-dict",)]
    after = _snapshot(database)
    for stream in STREAMS:
        assert after["raw"][stream][: len(before["raw"][stream])] == before["raw"][stream]  # type: ignore[index]
    texts = readme_raw_texts(database, "contacts")
    assert texts == [text for _at, text in after["raw"]["contacts"]]  # type: ignore[index]
    assert [json.loads(t)["id"] for t in texts[-200:]] == [c["id"] for c in contacts]


FORMAT3 = FIXTURE.with_name("format3.sqlite")


def _received_again(database: Path) -> list[dict]:
    """Each live row's latest raw version, as a tap would send the record again."""
    messages: list[dict] = [schema_message(s) for s in STREAMS]
    with opened(database) as store:
        for stream in STREAMS:
            live = store.conn.execute(
                f'SELECT _sdc_id FROM "{stream}" WHERE _sdc_deleted_at IS NULL'  # noqa: S608
            )
            for (key,) in live.fetchall():
                _at, text = store.raw_versions(stream, key)[-1]
                messages.append(record(stream, json.loads(text)))
    return messages


def test_an_archive_of_format_3_gets_its_layouts_and_rewrites_old_rows_once(
    tmp_path: Path,
) -> None:
    """Format 3 (written by dd9bc8b, without `_archive_layouts`): opening it adds the table
    and no row changes; records sent again unchanged are written in full once (their rows
    have no recorded layout), and from then on only their bookkeeping moves."""
    database = tmp_path / "archive.sqlite"
    shutil.copy(FORMAT3, database)
    db = sqlite3.connect(database)
    assert db.execute("PRAGMA user_version").fetchone() == (3,)
    assert "_archive_layouts" not in {n for (n,) in db.execute("SELECT name FROM sqlite_master")}
    db.executescript(
        """
        CREATE TABLE rewrites (what TEXT);
        CREATE TRIGGER part_rewritten AFTER UPDATE OF body ON conversation_parts
        BEGIN INSERT INTO rewrites VALUES ('part'); END;
        """
    )
    db.commit()
    db.close()
    before = _snapshot(database)
    again = _received_again(database)
    parts = sum(1 for m in again if m["type"] == "RECORD" and m["stream"] == "conversation_parts")
    assert parts > 0

    run(database, again)
    db = sqlite3.connect(database)
    assert db.execute("PRAGMA user_version").fetchone() == (sql.FORMAT,)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    layouts = {t for (t,) in db.execute("SELECT table_name FROM _archive_layouts")}
    assert set(STREAMS) <= layouts
    db.close()
    assert rows(database, "SELECT count(*) FROM rewrites") == [(parts,)]
    after = _snapshot(database)
    assert after["records"] == before["records"]
    assert after["raw"] == before["raw"]  # the same versions: none stored again

    run(database, again)
    assert rows(database, "SELECT count(*) FROM rewrites") == [(parts,)]  # current now
    assert _snapshot(database)["raw"] == before["raw"]
