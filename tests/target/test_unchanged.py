"""A record received again unchanged: its row's bookkeeping moves, its data is not rewritten.

A rewritten row has its data columns set again, its child rows deleted and inserted again and
its full-text entries replaced (triggers in the test's archive count them); a current row
received unchanged keeps them all. A row is current
when it is not marked deleted and was written with the stream's present layout (schema, keys,
search paths, how records become rows): under another layout the same record is written in
full, since it may flatten differently.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from target_sqlite_archive.store import _after
from tests.target.harness import record, rows, run, schema
from tests.target.test_fts import _check, _found, _sync

PROPS = {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "extra": {"type": "object"},  # free-form: one JSON column
}
CUSTOMER = {"id": 1, "name": "Ada", "tags": ["vip", "beta"], "extra": {"plan": {"tier": 2}}}


def _watch(database: Path) -> None:
    """Count each rewrite of a row of `s` (its `name` set) and each child row deleted."""
    db = sqlite3.connect(database)
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS rewrites (what TEXT);
        CREATE TRIGGER IF NOT EXISTS row_rewritten AFTER UPDATE OF name ON s
        BEGIN INSERT INTO rewrites VALUES ('row'); END;
        CREATE TRIGGER IF NOT EXISTS child_deleted AFTER DELETE ON s__tags
        BEGIN INSERT INTO rewrites VALUES ('child'); END;
        """
    )
    db.close()


def _rewrites(database: Path) -> dict[str, int]:
    return dict(rows(database, "SELECT what, count(*) FROM rewrites GROUP BY what"))


def _bookkeeping(database: Path) -> list[tuple]:
    return rows(database, "SELECT _sdc_received_at, _sdc_table_version FROM s")


def test_an_unchanged_record_moves_only_the_bookkeeping(database: Path) -> None:
    run(database, [schema("s", PROPS), record("s", CUSTOMER, version=1)])
    _watch(database)
    [(received, _version)] = _bookkeeping(database)
    # Key order is not content: the same record.
    again = dict(reversed(list(CUSTOMER.items())))
    run(database, [schema("s", PROPS), record("s", again, version=2)])
    assert _rewrites(database) == {}
    [(received_again, version)] = _bookkeeping(database)
    assert version == 2
    assert received_again > received
    assert rows(database, "SELECT count(*) FROM _archive_raw") == [(1,)]
    assert rows(database, "SELECT name, extra FROM s") == [("Ada", '{"plan":{"tier":2}}')]


def test_a_changed_record_is_written_in_full(database: Path) -> None:
    run(database, [schema("s", PROPS), record("s", CUSTOMER)])
    _watch(database)
    run(database, [schema("s", PROPS), record("s", {**CUSTOMER, "name": "Ada L."})])
    assert rows(database, "SELECT name FROM s") == [("Ada L.",)]
    assert _rewrites(database) == {"row": 1, "child": 2}
    assert rows(database, "SELECT count(*) FROM _archive_raw") == [(2,)]


def test_unchanged_within_one_run_and_batch_by_batch(database: Path) -> None:
    records = [record("s", {**CUSTOMER, "id": n}) for n in range(1, 7)]
    run(database, [schema("s", PROPS), *records], batch_size_rows=2)
    _watch(database)
    run(database, [schema("s", PROPS), *records, *records], batch_size_rows=2)
    assert _rewrites(database) == {}
    assert rows(database, "SELECT count(*) FROM _archive_raw") == [(6,)]


def test_a_full_pass_of_unchanged_records_marks_nothing_deleted(database: Path) -> None:
    def full_pass(version: int, ids: list[int]) -> list[dict]:
        return [
            schema("s", PROPS),
            *(record("s", {**CUSTOMER, "id": i}, version=version) for i in ids),
            {"type": "ACTIVATE_VERSION", "stream": "s", "version": version},
        ]

    run(database, full_pass(1, [1, 2, 3]))
    run(database, full_pass(2, [1, 3]))
    marked = rows(database, "SELECT id, _sdc_deleted_at IS NOT NULL FROM s ORDER BY id")
    assert marked == [(1, 0), (2, 1), (3, 0)]
    # The row that comes back unchanged is live again, with its children unmarked.
    run(database, full_pass(3, [1, 2, 3]))
    assert rows(database, "SELECT count(*) FROM s WHERE _sdc_deleted_at IS NOT NULL") == [(0,)]
    assert rows(database, "SELECT count(*) FROM s__tags WHERE _sdc_deleted_at IS NOT NULL") == [
        (0,)
    ]


def test_under_a_new_schema_the_same_record_is_written_again(database: Path) -> None:
    run(database, [schema("s", PROPS), record("s", CUSTOMER)])
    # `extra` gets declared properties: the same record now flattens into columns.
    declared = {
        "type": "object",
        "properties": {"plan": {"type": "object", "properties": {"tier": {"type": "integer"}}}},
    }
    _watch(database)
    run(database, [schema("s", {**PROPS, "extra": declared}), record("s", CUSTOMER)])
    assert rows(database, "SELECT extra__plan__tier FROM s") == [(2,)]
    assert _rewrites(database) == {"row": 1, "child": 2}
    # From then on it is current under that schema.
    run(database, [schema("s", {**PROPS, "extra": declared}), record("s", CUSTOMER)])
    assert _rewrites(database) == {"row": 1, "child": 2}


def test_a_tombstoned_row_received_again_is_written_in_full(database: Path) -> None:
    run(database, [schema("s", PROPS), record("s", CUSTOMER)])
    tombstone = {"id": 1, "_sdc_deleted_at": "2026-01-05T10:00:00Z"}
    props = {**PROPS, "_sdc_deleted_at": {"type": ["null", "string"]}}
    run(database, [schema("s", props), record("s", tombstone)])
    run(database, [schema("s", props), record("s", CUSTOMER)])
    assert rows(database, "SELECT name, _sdc_deleted_at FROM s") == [("Ada", None)]
    assert rows(database, "SELECT count(*) FROM s__tags WHERE _sdc_deleted_at IS NULL") == [(2,)]


def test_rows_written_before_the_layout_was_recorded_are_written_again(database: Path) -> None:
    run(database, [schema("s", PROPS), record("s", CUSTOMER)])
    # As an archive of an earlier format, or an earlier target's rows, would have it.
    db = sqlite3.connect(database)
    db.execute("DELETE FROM _archive_layouts")
    db.commit()
    db.close()
    _watch(database)
    run(database, [schema("s", PROPS), record("s", CUSTOMER)])
    assert _rewrites(database) == {"row": 1, "child": 2}
    [(table, since)] = rows(database, "SELECT table_name, since FROM _archive_layouts")
    assert table == "s"
    [(received, _version)] = _bookkeeping(database)
    assert received >= since  # the row is current now
    run(database, [schema("s", PROPS), record("s", CUSTOMER)])
    assert _rewrites(database) == {"row": 1, "child": 2}


def test_full_text_entries_stay_in_step(database: Path) -> None:
    _conversation, parts = _sync(database)
    _sync(database)  # the same records again: current, so not rewritten
    _check(database, "conversations", "conversation_parts")
    assert _found(database, "conversation_parts", "flibbertigibbet") == [(parts[0]["id"],)]
    assert rows(database, "SELECT count(*) FROM conversation_parts_fts") == [(len(parts),)]


def test_after_is_the_next_millisecond() -> None:
    assert _after(None) == ""
    assert _after("2026-12-03T16:40:26.548+00:00") == "2026-12-03T16:40:26.549+00:00"
    # Finer times round down first: the result is still after them.
    assert _after("2026-12-03T16:40:26.548999+00:00") == "2026-12-03T16:40:26.549+00:00"
    assert _after("2026-12-03T16:40:26.999+00:00") == "2026-12-03T16:40:27.000+00:00"
    assert _after("2026-12-03T16:40:26.548123+00:00") > "2026-12-03T16:40:26.548123+00:00"
    assert _after("not a time") > "2026"
