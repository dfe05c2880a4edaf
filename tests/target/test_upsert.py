"""Upserts by key: descendants replaced, arrays that shrink, duplicates, appends, versions."""

from __future__ import annotations

import json
from pathlib import Path

from tests.target.harness import opened, prune, record, rows, run, schema

ITEMS = {
    "id": {"type": "integer"},
    "name": {"type": ["string", "null"]},
    "lines": {
        "type": ["array", "null"],
        "items": {
            "type": "object",
            "properties": {
                "sku": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}


def order(id_: int, name: str, lines: list[tuple[str, list[str]]]) -> dict:
    return {"id": id_, "name": name, "lines": [{"sku": s, "tags": tags} for s, tags in lines]}


def test_update_replaces_all_descendants(database: Path) -> None:
    first = order(1, "first", [("a", ["x", "y"]), ("b", ["z"])])
    second = order(1, "second", [("c", ["w"])])
    run(database, [schema("orders", ITEMS), record("orders", first)])
    run(database, [schema("orders", ITEMS), record("orders", second)])

    assert rows(database, "SELECT id, name FROM orders") == [(1, "second")]
    assert rows(database, "SELECT sku, _sdc_position FROM orders__lines") == [("c", 0)]
    assert rows(database, "SELECT value FROM orders__lines__tags") == [("w",)]
    with opened(database) as store:
        assert store.read_records("orders") == {"[1]": second}


def test_array_that_shrinks_leaves_no_stale_rows(database: Path) -> None:
    run(database, [schema("orders", ITEMS), record("orders", order(1, "n", [("a", ["t"])] * 3))])
    run(database, [schema("orders", ITEMS), record("orders", order(1, "n", [("a", [])]))])
    run(database, [schema("orders", ITEMS), record("orders", {"id": 1, "name": "n", "lines": []})])

    assert rows(database, "SELECT count(*) FROM orders__lines") == [(0,)]
    assert rows(database, "SELECT count(*) FROM orders__lines__tags") == [(0,)]


def test_other_records_keep_their_descendants(database: Path) -> None:
    run(
        database,
        [
            schema("orders", ITEMS),
            record("orders", order(1, "one", [("a", ["t"])])),
            record("orders", order(2, "two", [("b", ["u"])])),
        ],
    )
    run(database, [schema("orders", ITEMS), record("orders", order(1, "one", []))])
    assert rows(database, "SELECT _sdc_root_id, sku FROM orders__lines") == [("[2]", "b")]
    assert rows(database, "SELECT _sdc_root_id, value FROM orders__lines__tags") == [("[2]", "u")]


def test_duplicates_in_one_batch_keep_the_last(database: Path) -> None:
    versions = [order(1, f"v{n}", [("a", [str(n)])] * n) for n in range(1, 4)]
    run(database, [schema("orders", ITEMS), *(record("orders", v) for v in versions)])
    assert rows(database, "SELECT name FROM orders") == [("v3",)]
    assert rows(database, "SELECT count(*) FROM orders__lines") == [(3,)]
    with opened(database) as store:
        assert [json.loads(raw) for _at, raw in store.raw_versions("orders")] == versions


def test_children_link_to_parent_and_root(database: Path) -> None:
    run(database, [schema("orders", ITEMS), record("orders", order(7, "n", [("a", ["x"])]))])
    [(line_id, root_id, parent_id)] = rows(
        database, "SELECT _sdc_id, _sdc_root_id, _sdc_parent_id FROM orders__lines"
    )
    assert root_id == parent_id == "[7]"
    [(tag_root, tag_parent)] = rows(
        database, "SELECT _sdc_root_id, _sdc_parent_id FROM orders__lines__tags"
    )
    assert (tag_root, tag_parent) == ("[7]", line_id)
    # Deterministic ids: loading the same record again gives the same ids.
    run(database, [schema("orders", ITEMS), record("orders", order(7, "m", [("a", ["x"])]))])
    assert rows(database, "SELECT _sdc_id FROM orders__lines") == [(line_id,)]


def test_stream_without_keys_appends(database: Path) -> None:
    messages = [schema("hits", ITEMS, keys=()), record("hits", order(1, "n", [("a", [])]))]
    run(database, messages)
    run(database, messages)
    assert rows(database, "SELECT count(*) FROM hits") == [(2,)]
    assert rows(database, "SELECT count(DISTINCT _sdc_root_id) FROM hits__lines") == [(2,)]
    with opened(database) as store:
        assert len(store.raw_versions("hits")) == 2


def test_composite_keys_with_strings_and_integers(database: Path) -> None:
    properties = {"conversation_id": {"type": "string"}, "id": {"type": ["string", "integer"]}}
    keys = ("conversation_id", "id")
    run(
        database,
        [
            schema("parts", properties, keys),
            record("parts", {"conversation_id": "1", "id": 5}),
            record("parts", {"conversation_id": "1", "id": "5"}),
            record("parts", {"conversation_id": "2", "id": 5}),
            record("parts", {"conversation_id": "1", "id": 5}),
        ],
    )
    assert sorted(rows(database, "SELECT _sdc_id, id FROM parts")) == [
        ('["1","5"]', "5"),
        ('["1",5]', 5),
        ('["2",5]', 5),
    ]


def test_only_distinct_versions_are_kept(database: Path) -> None:
    a, b = {"id": 1, "name": "a"}, {"id": 1, "name": "b"}
    for version in (a, a, b, b, a):
        run(database, [schema("orders", ITEMS), record("orders", version)])
    with opened(database) as store:
        kept = [json.loads(raw) for _at, raw in store.raw_versions("orders", "[1]")]
        assert kept == [a, b, a]
        # Same content, other key order: not a new version.
        run(
            database,
            [
                schema("orders", ITEMS),
                '{"type": "RECORD", "stream": "orders", "record": {"name": "a", "id": 1}}',
            ],
        )
        assert len(store.raw_versions("orders", "[1]")) == 3
        assert prune(store.read_records("orders")["[1]"]) == a


def test_null_key_values_still_upsert(database: Path) -> None:
    properties = {"user": {"type": ["string", "null"]}, "name": {"type": "string"}}
    messages = [
        schema("events", properties, ("user", "name")),
        record("events", {"user": None, "name": "login"}),
        record("events", {"user": None, "name": "login"}),
    ]
    run(database, messages)
    run(database, messages)
    assert rows(database, "SELECT _sdc_id FROM events") == [('[null,"login"]',)]
