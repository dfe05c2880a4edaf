"""Keys and links: real primary keys, linked child tables, indexes, no table without data."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

from benchmarks.target import generate
from tests.target.harness import record, rows, run, schema
from tests.target.test_intercom_shapes import a_conversation, schema_message


def _primary_key(db: sqlite3.Connection, table: str) -> list[str]:
    info = db.execute(f'PRAGMA table_info("{table}")').fetchall()
    return [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]


def _links(db: sqlite3.Connection, table: str) -> set[tuple[str, str, str]]:
    """(column, table, column) of each foreign key."""
    return {(r[3], r[2], r[4]) for r in db.execute(f'PRAGMA foreign_key_list("{table}")')}


def _plan(db: sqlite3.Connection, query: str, *params: object) -> str:
    return " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + query, params))


def test_root_tables_declare_their_keys_and_children_link_to_them(database: Path) -> None:
    conversation, parts = a_conversation()
    rng = random.Random(5)
    contacts = [generate.contact(rng, n) for n in range(3)]
    run(
        database,
        [
            schema_message("conversations"),
            schema_message("conversation_parts"),
            schema_message("contacts"),
            record("conversations", conversation),
            *(record("conversation_parts", p) for p in parts),
            *(record("contacts", c) for c in contacts),
        ],
    )
    db = sqlite3.connect(database)
    assert _primary_key(db, "conversations") == ["id"]
    assert _primary_key(db, "conversation_parts") == ["conversation_id", "id"]
    assert _primary_key(db, "contacts") == ["id"]
    # Parts link to their conversation (the tap's x-links annotation).
    assert ("conversation_id", "conversations", "id") in _links(db, "conversation_parts")
    # A contact's tags carry the contact's id, linked with a single-column key.
    assert _links(db, "contacts__tags__data") == {("root__id", "contacts", "id")}
    tagged = [c for c in contacts if c["tags"]["data"]]
    assert rows(database, "SELECT DISTINCT root__id FROM contacts__tags__data ORDER BY 1") == [
        (c["id"],) for c in sorted(tagged, key=lambda c: c["id"])
    ]
    # Compound keys link through the root's unique _sdc_id.
    assert _links(db, "conversation_parts__attachments") == {
        ("_sdc_root_id", "conversation_parts", "_sdc_id")
    }
    assert rows(
        database, "SELECT root__conversation_id, root__id FROM conversation_parts__attachments"
    ) == [(conversation["id"], parts[3]["id"])]
    # The bookkeeping columns come after the data.
    columns = [r[1] for r in db.execute('PRAGMA table_info("conversations")')]
    assert not columns[0].startswith("_sdc_")
    assert columns.index("_sdc_id") > columns.index("id")


def test_lookups_use_an_index(database: Path) -> None:
    conversation, parts = a_conversation()
    rng = random.Random(5)
    run(
        database,
        [
            schema_message("conversations"),
            schema_message("conversation_parts"),
            schema_message("contacts"),
            record("conversations", conversation),
            *(record("conversation_parts", p) for p in parts),
            *(record("contacts", generate.contact(rng, n)) for n in range(3)),
        ],
    )
    db = sqlite3.connect(database)
    by_conversation = _plan(db, "SELECT * FROM conversation_parts WHERE conversation_id = ?", "1")
    assert "USING INDEX" in by_conversation or "USING PRIMARY KEY" in by_conversation
    assert "SCAN" not in by_conversation
    # The primary key's index serves it: no second index leads with conversation_id.
    leading = [
        name
        for (name,) in db.execute("SELECT name FROM pragma_index_list('conversation_parts')")
        if db.execute("SELECT name FROM pragma_index_info(?) WHERE seqno = 0", (name,)).fetchone()
        == ("conversation_id",)
    ]
    assert len(leading) == 1, leading
    by_email = _plan(db, "SELECT * FROM contacts WHERE email = ? COLLATE NOCASE", "A@B.C")
    assert "USING INDEX" in by_email, by_email
    for column in ("phone", "external_id", "updated_at"):
        plan = _plan(db, f"SELECT * FROM contacts WHERE {column} = ?", "x")  # noqa: S608
        assert "USING INDEX" in plan, (column, plan)
    assert "USING INDEX" in _plan(db, "SELECT * FROM contacts__tags__data WHERE root__id = ?", 1)


def test_a_child_table_is_created_with_its_first_row(database: Path) -> None:
    props = {
        "id": {"type": "integer"},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "notes": {"type": ["array", "null"], "items": {"type": "object", "properties": {}}},
    }
    run(database, [schema("s", props), record("s", {"id": 1, "tags": [], "notes": None})])
    db = sqlite3.connect(database)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "s" in tables
    assert "s__tags" not in tables
    assert "s__notes" not in tables
    # The catalog knows them all the same.
    known = {r[0] for r in db.execute("SELECT table_name FROM _archive_tables")}
    assert {"s", "s__tags", "s__notes"} <= known
    run(database, [schema("s", props), record("s", {"id": 2, "tags": ["a"]})])
    assert rows(database, "SELECT root__id, value FROM s__tags") == [(2, "a")]


def test_settings_add_indexes_and_replace_search(database: Path) -> None:
    props = {"id": {"type": "integer"}, "code": {"type": "string"}, "text": {"type": "string"}}
    message = schema("s", props)
    message["schema"]["x-full-text-search"] = ["text"]
    run(
        database,
        [message, record("s", {"id": 1, "code": "X", "text": "hello"})],
        indexes={"s": ["code"]},
        full_text_search={"s": ["code"]},
    )
    db = sqlite3.connect(database)
    assert "USING INDEX" in _plan(db, "SELECT * FROM s WHERE code = ?", "X")
    fts = [r[1] for r in db.execute('PRAGMA table_info("s_fts")')]
    assert fts == ["code__text"]
    assert json.loads(json.dumps(rows(database, "SELECT rowid FROM s_fts WHERE s_fts MATCH 'x'")))
