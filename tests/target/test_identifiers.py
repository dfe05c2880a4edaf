"""Odd names from data: always quoted, and never two names in one column."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest

from tests.target.harness import opened, record, rows, run, schema

ODD_NAMES = [
    "select",
    "from",
    "order",
    "group by",
    'quo"te',
    "it's",
    "a.b",
    "名前",
    "Émile",
    "émile",
    "",
    " ",
    "Name",
    "name",
    "NAME",
    "x" * 300,
    "_sdc_id",
    "_SDC_DELETED_AT",
    "a__b",
    "semi;colon --",
    "[brackets]",
    "`tick`",
    "nul\x00byte",
]


def test_every_odd_name_gets_its_own_column(database: Path) -> None:
    properties: dict[str, t.Any] = {name: {"type": ["string", "null"]} for name in ODD_NAMES}
    properties["id"] = {"type": "integer"}
    properties["a"] = {"type": "object", "properties": {"b": {"type": "string"}}}
    data: dict[str, t.Any] = {name: f"value of {name!r}" for name in ODD_NAMES}
    data |= {"id": 1, "a": {"b": "nested a.b"}}
    run(database, [schema("odd", properties), record("odd", data)])

    with opened(database) as store:
        assert store.read_records("odd") == {"[1]": data}
        table = store.table_name("odd")
        assert table is not None
        names = [r[1] for r in store.conn.execute(f'PRAGMA table_info("{table}")')]
    folded = [n.lower() for n in names]
    assert len(folded) == len(set(folded)), "two columns SQLite would treat as one"
    # The first of a case-colliding group keeps its name; later ones get a suffix.
    assert {"Name", "name_2", "NAME_3"} <= set(names)
    assert {"a__b", "a__b_2"} <= set(names)
    # Our own metadata columns are never taken by data.
    assert rows(database, 'SELECT _sdc_id, "_sdc_id_2" FROM odd') == [("[1]", "value of '_sdc_id'")]


def test_names_are_stable_across_runs(database: Path) -> None:
    properties = {"id": {"type": "integer"}, "Name": {"type": "string"}, "name": {"type": "string"}}
    run(database, [schema("s", properties), record("s", {"id": 1, "Name": "A", "name": "a"})])
    # Another run, properties in the other order: the mapping stored in the archive wins.
    reordered = {"id": {"type": "integer"}, "name": {"type": "string"}, "Name": {"type": "string"}}
    run(database, [schema("s", reordered), record("s", {"id": 2, "name": "b", "Name": "B"})])
    assert rows(database, 'SELECT "Name", "name_2" FROM s ORDER BY id') == [("A", "a"), ("B", "b")]
    assert rows(
        database,
        "SELECT json_extract(path, '$[0]'), column_name FROM _archive_columns "
        "WHERE table_name = 's' ORDER BY column_name",
    ) == [("Name", "Name"), ("id", "id"), ("name", "name_2")]


@pytest.mark.parametrize(
    "stream",
    ["_archive_raw", "_ARCHIVE_state", "sqlite_master", "Users", 'we"ird stream', "x" * 300],
)
def test_odd_stream_names_never_touch_the_archive_tables(database: Path, stream: str) -> None:
    properties = {"id": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}
    run(database, [schema(stream, properties), record(stream, {"id": 1, "tags": ["t"]})])
    with opened(database) as store:
        table = store.table_name(stream)
        assert table is not None
        assert not table.lower().startswith(("_archive_", "sqlite_"))
        assert store.read_records(stream) == {"[1]": {"id": 1, "tags": ["t"]}}
        [(_at, raw)] = store.raw_versions(stream)
        assert json.loads(raw) == {"id": 1, "tags": ["t"]}


def test_streams_differing_only_in_case_get_two_tables(database: Path) -> None:
    properties = {"id": {"type": "integer"}}
    run(
        database,
        [
            schema("Users", properties),
            schema("users", properties),
            record("Users", {"id": 1}),
            record("users", {"id": 2}),
        ],
    )
    assert rows(database, 'SELECT id FROM "Users"') == [(1,)]
    assert rows(database, 'SELECT id FROM "users_2"') == [(2,)]


def test_a_stream_named_like_another_streams_child_table(database: Path) -> None:
    array = {"id": {"type": "integer"}, "lines": {"type": "array", "items": {"type": "string"}}}
    run(
        database,
        [
            schema("orders__lines", {"id": {"type": "integer"}}),
            record("orders__lines", {"id": 9}),
            schema("orders", array),
            record("orders", {"id": 1, "lines": ["a"]}),
        ],
    )
    with opened(database) as store:
        assert store.table_name("orders__lines") == "orders__lines"
        assert store.table_name("orders", ["lines"]) == "orders__lines_2"
        assert store.read_records("orders") == {"[1]": {"id": 1, "lines": ["a"]}}
        assert store.read_records("orders__lines") == {"[9]": {"id": 9}}
