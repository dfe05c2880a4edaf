"""Intercom-shaped records through the project's own stream schemas."""

from __future__ import annotations

import json
import random
from pathlib import Path

from benchmarks.target import generate
from tests.target.harness import opened, prune, record, rows, run

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def schema_message(stream: str) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": json.loads((SCHEMAS / f"{stream}.json").read_text()),
        "key_properties": generate.KEYS[stream],
    }


def a_conversation() -> tuple[dict, list[dict]]:
    rng = random.Random(7)
    conversation = generate.conversation(rng, 1, parts=20)
    conversation["tags"]["tags"] = [
        {
            "type": "tag",
            "id": "11",
            "name": "vip",
            "applied_at": "2024-01-02T03:04:05+00:00",
            "applied_by": {"type": "admin", "id": "991267"},
        },
        {
            "type": "tag",
            "id": "12",
            "name": "billing",
            "applied_at": None,
            "applied_by": {"type": "admin", "id": "991268"},
        },
    ]
    conversation["source"]["attachments"] = [
        {
            "type": "upload",
            "name": "a.png",
            "url": "https://example.com/a.png",
            "content_type": "image/png",
            "filesize": 10,
            "width": 1,
            "height": 2,
        }
    ]
    conversation["custom_attributes"] = {"plan": "pro", "seats": 3, "Plan": "other", "": None}
    parts = [generate.part(rng, conversation, n) for n in range(20)]
    for p in parts:
        p["attachments"] = []
    parts[3]["attachments"] = [
        {
            "type": "upload",
            "name": "x.pdf",
            "url": "u",
            "content_type": "application/pdf",
            "filesize": 5,
            "width": None,
            "height": None,
        }
    ]
    return conversation, parts


def test_conversation_with_parts_tags_contacts_teammates(database: Path) -> None:
    conversation, parts = a_conversation()
    run(
        database,
        [
            schema_message("conversations"),
            schema_message("conversation_parts"),
            record("conversations", conversation),
            *(record("conversation_parts", p) for p in parts),
        ],
    )
    key = json.dumps([conversation["id"]])
    assert rows(
        database, "SELECT id, source__author__id, statistics__count_reopens FROM conversations"
    ) == [
        (
            conversation["id"],
            conversation["source"]["author"]["id"],
            conversation["statistics"]["count_reopens"],
        )
    ]
    assert rows(
        database,
        "SELECT t.name, t.applied_by__id, t._sdc_position FROM conversations c "
        "JOIN conversations__tags__tags t ON t._sdc_root_id = c._sdc_id ORDER BY t._sdc_position",
    ) == [("vip", "991267", 0), ("billing", "991268", 1)]
    assert rows(
        database, "SELECT _sdc_root_id, name, filesize FROM conversations__source__attachments"
    ) == [(key, "a.png", 10)]
    assert rows(database, "SELECT id FROM conversations__contacts__contacts") == [
        (conversation["contacts"]["contacts"][0]["id"],)
    ]
    assert rows(database, "SELECT id FROM conversations__teammates__teammates") == [("991267",)]

    # Custom attributes: one JSON column, queryable, case-distinct keys kept apart.
    assert rows(
        database,
        "SELECT json_extract(custom_attributes, '$.plan'), "
        "json_extract(custom_attributes, '$.Plan'), json_extract(custom_attributes, '$.seats') "
        "FROM conversations",
    ) == [("pro", "other", 3)]

    # Parts: composite key, joinable to their conversation, their own attachments table.
    assert rows(
        database,
        "SELECT count(*) FROM conversation_parts p JOIN conversations c "
        "ON p.conversation_id = c.id",
    ) == [(20,)]
    assert rows(database, "SELECT name, _sdc_root_id FROM conversation_parts__attachments") == [
        ("x.pdf", json.dumps([conversation["id"], parts[3]["id"]], separators=(",", ":")))
    ]

    with opened(database) as store:
        assert prune(store.read_records("conversations")) == {key: prune(conversation)}
        rebuilt = prune(store.read_records("conversation_parts"))
        assert sorted(rebuilt.values(), key=lambda p: p["id"]) == sorted(
            (prune(p) for p in parts), key=lambda p: p["id"]
        )
        [(_at, raw)] = store.raw_versions("conversations")
        assert json.loads(raw) == conversation


def test_contacts_with_custom_attributes_and_lists(database: Path) -> None:
    rng = random.Random(3)
    contacts = [generate.contact(rng, n) for n in range(5)]
    run(database, [schema_message("contacts"), *(record("contacts", c) for c in contacts)])
    assert rows(database, "SELECT count(*) FROM contacts") == [(5,)]
    assert rows(database, "SELECT count(*) FROM contacts__tags__data") == [
        (sum(len(c["tags"]["data"]) for c in contacts),)
    ]
    assert rows(
        database, "SELECT json_extract(custom_attributes, '$.plan') FROM contacts ORDER BY id"
    ) == [(c["custom_attributes"]["plan"],) for c in sorted(contacts, key=lambda c: c["id"])]
    with opened(database) as store:
        rebuilt = prune(store.read_records("contacts"))
        assert rebuilt == {json.dumps([c["id"]]): prune(c) for c in contacts}


def test_timestamps_are_stored_as_sent(database: Path) -> None:
    conversation, _parts = a_conversation()
    conversation["created_at"] = "2024-02-29T23:59:59.123456+00:00"
    run(database, [schema_message("conversations"), record("conversations", conversation)])
    assert rows(database, "SELECT created_at, datetime(created_at) FROM conversations") == [
        ("2024-02-29T23:59:59.123456+00:00", "2024-02-29 23:59:59")
    ]
