"""Full-text search: `<table>_fts` kept in step with its rows, found by Datasette."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from datasette.app import Datasette

from tests.target.harness import record, rows, run, schema
from tests.target.test_intercom_shapes import SCHEMAS, a_conversation, schema_message

DELETED = "2026-01-05T10:00:00Z"


def _check(database: Path, *tables: str) -> None:
    db = sqlite3.connect(database)
    for table in tables:
        fts = f"{table}_fts"
        db.execute(f'INSERT INTO "{fts}" ("{fts}") VALUES (\'integrity-check\')')  # noqa: S608
        # rank 1: also against the content table, row by row.
        db.execute(f'INSERT INTO "{fts}" ("{fts}", rank) VALUES (\'integrity-check\', 1)')  # noqa: S608
    db.close()


def _found(database: Path, table: str, query: str) -> list[tuple]:
    return rows(
        database,
        f'SELECT t.id FROM "{table}" t JOIN "{table}_fts" f ON f.rowid = t.rowid '  # noqa: S608
        f'WHERE "{table}_fts" MATCH ? ORDER BY t.id',
        [query],
    )


def _sync(database: Path) -> tuple[dict, list[dict]]:
    conversation, parts = a_conversation()
    parts[0]["body"] = "<p>The <b>naïve</b> customer wrote about a flibbertigibbet &amp; more</p>"
    parts[1]["body"] = "<p>Nothing rare here</p>"
    run(
        database,
        [
            schema_message("conversations"),
            schema_message("conversation_parts"),
            record("conversations", conversation),
            *(record("conversation_parts", p) for p in parts),
        ],
    )
    return conversation, parts


def test_parts_are_found_by_words_of_their_html_bodies(database: Path) -> None:
    _conversation, parts = _sync(database)
    _check(database, "conversations", "conversation_parts")
    assert _found(database, "conversation_parts", "flibbertigibbet") == [(parts[0]["id"],)]
    # Diacritics and case fold: naive finds naïve.
    assert _found(database, "conversation_parts", "NAIVE") == [(parts[0]["id"],)]
    # Markup is not text.
    assert _found(database, "conversation_parts", "b") == []
    sql = rows(database, "SELECT sql FROM sqlite_master WHERE name = 'conversation_parts_fts'")
    assert 'content="conversation_parts"' in sql[0][0]
    assert "remove_diacritics 2" in sql[0][0]


def test_a_redacted_word_is_no_longer_found(database: Path) -> None:
    _conversation, parts = _sync(database)
    redacted = parts[0] | {"body": "<p>[redacted]</p>"}
    run(
        database,
        [
            schema_message("conversation_parts"),
            record("conversation_parts", redacted),
        ],
    )
    _check(database, "conversation_parts")
    assert _found(database, "conversation_parts", "flibbertigibbet") == []
    assert _found(database, "conversation_parts", "redacted") == [(parts[0]["id"],)]


def test_the_index_stays_whole_after_a_tombstone_and_a_type_change(database: Path) -> None:
    conversation, _parts = _sync(database)
    tombstone = {"id": conversation["id"], "_sdc_deleted_at": DELETED}
    run(database, [schema_message("conversations"), record("conversations", tombstone)])
    _check(database, "conversations", "conversation_parts")

    props = {"id": {"type": "integer"}, "body": {"type": "string"}}
    message = schema("notes", props)
    message["schema"]["x-full-text-search"] = ["body"]
    run(database, [message, record("notes", {"id": 1, "body": "quokka"})])
    changed = schema("notes", {"id": {"type": "integer"}, "body": {"type": "integer"}})
    changed["schema"]["x-full-text-search"] = ["body"]
    run(database, [changed, record("notes", {"id": 1, "body": 42})])
    _check(database, "notes")
    assert _found(database, "notes", "quokka") == []
    assert _found(database, "notes", "42") == [(1,)]


def _notes(database: Path, notes: dict[str, str]) -> None:
    # String ids: an integer key would be the table's rowid itself.
    message = schema("notes", {"id": {"type": "string"}, "body": {"type": "string"}})
    message["schema"]["x-full-text-search"] = ["body"]
    run(database, [message, *(record("notes", {"id": i, "body": b}) for i, b in notes.items())])


def test_a_batch_of_new_and_replaced_rows_is_indexed_whole(database: Path) -> None:
    _notes(database, {"1": "aardvark", "2": "badger"})
    # One batch: a replaced row between new ones (the new ones are indexed by their rowids).
    _notes(database, {"3": "cheetah", "1": "dingo", "4": "eland"})
    _check(database, "notes")
    found = {word: _found(database, "notes", word) for word in ("aardvark", "badger", "cheetah")}
    assert found == {"aardvark": [], "badger": [("2",)], "cheetah": [("3",)]}
    assert _found(database, "notes", "dingo OR eland") == [("1",), ("4",)]


def test_new_rows_are_indexed_when_rowids_are_no_longer_sequential(database: Path) -> None:
    _notes(database, {"1": "aardvark"})
    # At the largest rowid SQLite gives new rows random ones, below it.
    db = sqlite3.connect(database)
    db.execute("UPDATE notes SET rowid = 9223372036854775807")
    db.execute("INSERT INTO notes_fts (notes_fts) VALUES ('rebuild')")
    db.commit()
    db.close()
    _notes(database, {"2": "badger", "3": "cheetah"})
    _check(database, "notes")
    assert _found(database, "notes", "badger OR cheetah OR aardvark") == [("1",), ("2",), ("3",)]


def test_tickets_are_found_by_their_title_inside_ticket_attributes(database: Path) -> None:
    ticket = {
        "id": "t1",
        "ticket_attributes": {"_default_title_": "Printer zyzzyva", "_default_description_": "x"},
    }
    message = schema_message("conversations") | {"stream": "tickets"}
    message["schema"] = json.loads((SCHEMAS / "tickets.json").read_text())
    run(database, [message, record("tickets", ticket)])
    _check(database, "tickets")
    assert _found(database, "tickets", "zyzzyva") == [("t1",)]


@pytest.mark.parametrize(("word", "expected"), [("flibbertigibbet", 1), ("xyzzyabsent", 0)])
def test_datasette_search_finds_the_table(database: Path, word: str, expected: int) -> None:
    _sync(database)

    async def search() -> dict:
        datasette = Datasette([str(database)])
        response = await datasette.client.get(
            f"/{database.stem}/conversation_parts.json?_search={word}&_shape=objects"
        )
        assert response.status_code == 200
        return response.json()

    result = asyncio.run(search())
    # Datasette silently returns every row when it does not detect the FTS table.
    assert len(result["rows"]) == expected
