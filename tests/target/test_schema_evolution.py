"""Schema evolution: new properties become columns; a type change never loses a value."""

from __future__ import annotations

from pathlib import Path

from tests.target.harness import opened, prune, record, rows, run, schema


def columns(database: Path, table: str) -> list[tuple[str, str]]:
    return [(r[1], r[2]) for r in rows(database, f'PRAGMA table_info("{table}")')]


def test_new_property_becomes_a_new_column(database: Path) -> None:
    v1 = {"id": {"type": "integer"}, "a": {"type": "string"}}
    nested = {"type": "object", "properties": {"x": {"type": "boolean"}}}
    v2 = {**v1, "b": {"type": "integer"}, "o": nested}
    run(database, [schema("s", v1), record("s", {"id": 1, "a": "x"})])
    run(database, [schema("s", v2), record("s", {"id": 2, "a": "y", "b": 5, "o": {"x": True}})])
    assert ("b", "INTEGER") in columns(database, "s")
    assert ("o__x", "INTEGER") in columns(database, "s")
    assert rows(database, "SELECT id, a, b, o__x FROM s ORDER BY id") == [
        (1, "x", None, None),
        (2, "y", 5, 1),
    ]


def test_type_change_keeps_every_value(database: Path) -> None:
    as_int = {"id": {"type": "integer"}, "code": {"type": "integer"}}
    as_str = {"id": {"type": "integer"}, "code": {"type": "string"}}
    run(database, [schema("s", as_int), record("s", {"id": 1, "code": 123})])
    run(database, [schema("s", as_str), record("s", {"id": 2, "code": "0123"})])
    run(database, [schema("s", as_str), record("s", {"id": 3, "code": "abc"})])

    assert ("code", "INTEGER") in columns(database, "s")
    assert ("code__string", "TEXT") in columns(database, "s")
    # "0123" keeps its leading zero: it is not in the INTEGER column, whose affinity would
    # have made it 123.
    assert rows(database, "SELECT id, code, code__string FROM s ORDER BY id") == [
        (1, 123, None),
        (2, None, "0123"),
        (3, None, "abc"),
    ]
    with opened(database) as store:
        assert store.read_records("s") == {
            "[1]": {"id": 1, "code": 123},
            "[2]": {"id": 2, "code": "0123"},
            "[3]": {"id": 3, "code": "abc"},
        }


def test_updated_row_under_new_type_clears_the_old_column(database: Path) -> None:
    as_int = {"id": {"type": "integer"}, "code": {"type": "integer"}}
    as_str = {"id": {"type": "integer"}, "code": {"type": "string"}}
    run(database, [schema("s", as_int), record("s", {"id": 1, "code": 7})])
    run(database, [schema("s", as_str), record("s", {"id": 1, "code": "seven"})])
    assert rows(database, "SELECT code, code__string FROM s") == [(None, "seven")]


def test_object_becoming_free_form_and_scalar_becoming_object(database: Path) -> None:
    nested = {"type": "object", "properties": {"k": {"type": "integer"}}}
    typed = {"id": {"type": "integer"}, "o": nested}
    free = {"id": {"type": "integer"}, "o": {"type": "object"}}
    run(database, [schema("s", typed), record("s", {"id": 1, "o": {"k": 1}})])
    run(database, [schema("s", free), record("s", {"id": 2, "o": {"k": "one", "j": [1]}})])
    with opened(database) as store:
        assert store.read_records("s") == {
            "[1]": {"id": 1, "o": {"k": 1}},
            "[2]": {"id": 2, "o": {"k": "one", "j": [1]}},
        }


def test_mixed_types_are_stored_as_they_come(database: Path) -> None:
    props = {
        "id": {"type": "integer"},
        "v": {"type": ["string", "integer", "null"]},
        "w": {"anyOf": [{"type": "boolean"}, {"type": "string"}]},
    }
    records = [{"id": 1, "v": "12", "w": True}, {"id": 2, "v": 12, "w": "true"}]
    run(database, [schema("s", props), *(record("s", r) for r in records)])
    assert rows(database, "SELECT v, typeof(v), w FROM s ORDER BY id") == [
        ("12", "text", "true"),
        (12, "integer", '"true"'),
    ]
    with opened(database) as store:
        assert prune(store.read_records("s")) == {"[1]": records[0], "[2]": records[1]}


def test_integers_beyond_64_bits_are_kept_exactly_in_the_raw_archive(database: Path) -> None:
    props = {"id": {"type": "integer"}, "big": {"type": "integer"}}
    big = 2**70 + 1
    run(database, [schema("s", props), record("s", {"id": 1, "big": big})])
    # SQLite has no integer that large: the INTEGER column holds the nearest REAL (a known,
    # documented limit); the raw archive has the exact text.
    assert rows(database, "SELECT big, typeof(big) FROM s") == [(float(big), "real")]
    with opened(database) as store:
        [(_at, raw)] = store.raw_versions("s")
        assert raw == '{"id": 1, "big": 1180591620717411303425}'


def test_property_removed_from_schema_is_cleared_on_update(database: Path) -> None:
    v1 = {"id": {"type": "integer"}, "gone": {"type": "string"}}
    v2 = {"id": {"type": "integer"}}
    run(database, [schema("s", v1), record("s", {"id": 1, "gone": "x"})])
    run(database, [schema("s", v2), record("s", {"id": 1})])
    assert rows(database, "SELECT gone FROM s") == [(None,)]


def test_schema_change_within_one_batch(database: Path) -> None:
    as_int = {"id": {"type": "integer"}, "code": {"type": "integer"}}
    as_str = {"id": {"type": "integer"}, "code": {"type": "string"}}
    run(
        database,
        [
            schema("s", as_int),
            record("s", {"id": 1, "code": 1}),
            record("s", {"id": 2, "code": 2}),
            schema("s", as_str),
            record("s", {"id": 1, "code": "one"}),
        ],
    )
    # Both sinks' records land in one transaction, the older schema's first.
    assert rows(database, "SELECT id, code, code__string FROM s ORDER BY id") == [
        (1, None, "one"),
        (2, 2, None),
    ]
