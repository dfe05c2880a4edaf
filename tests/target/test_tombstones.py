"""Tombstones: a record with `_sdc_deleted_at` marks its row and what it owns, keeping data."""

from __future__ import annotations

from pathlib import Path

from tests.target.harness import opened, record, rows, run
from tests.target.test_intercom_shapes import a_conversation, schema_message

DELETED = "2026-01-05T10:00:00Z"


def _load(database: Path, *extra: dict) -> tuple[dict, list[dict]]:
    conversation, parts = a_conversation()
    run(
        database,
        [
            schema_message("conversations"),
            schema_message("conversation_parts"),
            record("conversations", conversation),
            *(record("conversation_parts", p) for p in parts),
            *extra,
        ],
    )
    return conversation, parts


def test_a_tombstone_marks_the_conversation_and_its_parts_and_keeps_their_data(
    database: Path,
) -> None:
    conversation, parts = _load(database)
    tombstone = {"id": conversation["id"], "_sdc_deleted_at": DELETED}
    run(database, [schema_message("conversations"), record("conversations", tombstone)])

    assert rows(database, "SELECT state, _sdc_deleted_at FROM conversations") == [
        (conversation["state"], DELETED)
    ]
    assert rows(
        database,
        "SELECT count(*), count(body) FROM conversation_parts WHERE _sdc_deleted_at = ?",
        [DELETED],
    ) == [(len(parts), sum(1 for p in parts if p.get("body") is not None))]
    assert rows(
        database,
        "SELECT count(*) FROM conversations__tags__tags WHERE _sdc_deleted_at = ?",
        [DELETED],
    ) == [(2,)]
    assert rows(
        database,
        "SELECT count(*) FROM conversation_parts__attachments WHERE _sdc_deleted_at = ?",
        [DELETED],
    ) == [(1,)]
    with opened(database) as store:
        versions = store.raw_versions("conversations")
    assert len(versions) == 2  # the tombstone is a version too

    # A later record clears the mark.
    run(
        database,
        [
            schema_message("conversations"),
            schema_message("conversation_parts"),
            record("conversations", conversation | {"state": "closed"}),
            *(record("conversation_parts", p) for p in parts),
        ],
    )
    assert rows(database, "SELECT state, _sdc_deleted_at FROM conversations") == [("closed", None)]
    assert rows(
        database, "SELECT count(*) FROM conversation_parts WHERE _sdc_deleted_at IS NULL"
    ) == [(len(parts),)]


def test_a_tombstone_of_an_unknown_key_leaves_a_row_of_keys_and_marks(database: Path) -> None:
    tombstone = {"id": "77", "_sdc_deleted_at": DELETED}
    run(database, [schema_message("conversations"), record("conversations", tombstone)])
    assert rows(database, "SELECT id, state, _sdc_deleted_at FROM conversations") == [
        ("77", None, DELETED)
    ]


def test_a_merged_contact_records_where_it_went(database: Path) -> None:
    contact = {"id": "c1", "email": "a@example.com", "name": "A"}
    merged = {"id": "c1", "_sdc_deleted_at": DELETED, "_sdc_merged_into_id": "c2"}
    run(
        database,
        [schema_message("contacts"), record("contacts", contact), record("contacts", merged)],
    )
    assert rows(database, "SELECT email, _sdc_deleted_at, _sdc_merged_into_id FROM contacts") == [
        ("a@example.com", DELETED, "c2")
    ]
