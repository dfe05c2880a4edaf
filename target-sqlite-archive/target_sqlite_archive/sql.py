"""SQL text of the archive, built apart from running it (pure: strings in, strings out).

Everything that reaches SQL text from data is an identifier, always through `quote`; values
are always bound parameters (the `?` placeholders here).
"""

# S608: SQL text here is built only from `quote`d identifiers and constants; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import typing as t

from target_sqlite_archive import normalize

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

TABLES = "_archive_tables"
COLUMNS = "_archive_columns"
RAW = "_archive_raw"
STATE = "_archive_state"

ROOT_META = (
    "_sdc_id",
    "_sdc_received_at",
    "_sdc_table_version",
    "_sdc_deleted_at",
    "_sdc_raw_sha",
)
CHILD_META = ("_sdc_id", "_sdc_root_id", "_sdc_parent_id", "_sdc_position")

# Declared types: their affinities keep values of the column's own kind unchanged. JSON
# columns are TEXT so that JSON text such as "5" is never turned into a number.
SQL_TYPES = {
    normalize.INTEGER: "INTEGER",
    normalize.NUMBER: "REAL",
    normalize.BOOLEAN: "INTEGER",
    normalize.STRING: "TEXT",
    normalize.ANY: "",  # no affinity: strings and numbers stay exactly what they were
    normalize.JSON: "TEXT",
}

META_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLES} (
    table_name TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    path TEXT NOT NULL,
    parent_table TEXT,
    rel_path TEXT NOT NULL,
    scalar INTEGER NOT NULL,
    UNIQUE (stream, path)
);
CREATE TABLE IF NOT EXISTS {COLUMNS} (
    table_name TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    column_name TEXT NOT NULL,
    PRIMARY KEY (table_name, path, kind)
);
CREATE TABLE IF NOT EXISTS {RAW} (
    version_id INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    record_key TEXT,
    received_at TEXT NOT NULL,
    table_version INTEGER,
    sha BLOB NOT NULL,
    raw BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS _archive_raw_by_key ON {RAW} (stream, record_key);
CREATE TABLE IF NOT EXISTS {STATE} (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL,
    committed_at TEXT NOT NULL
);
"""

SELECT_TABLES = f"SELECT table_name, stream, path, parent_table, rel_path, scalar FROM {TABLES}"
SELECT_COLUMNS = f"SELECT table_name, path, kind, column_name FROM {COLUMNS} ORDER BY rowid"
INSERT_TABLE = (
    f"INSERT INTO {TABLES} (table_name, stream, path, parent_table, rel_path, scalar) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
INSERT_COLUMN = f"INSERT INTO {COLUMNS} (table_name, path, kind, column_name) VALUES (?, ?, ?, ?)"
INSERT_RAW = (
    f"INSERT INTO {RAW} (stream, record_key, received_at, table_version, sha, raw) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
SAVE_STATE = (
    f"INSERT INTO {STATE} (id, state, committed_at) VALUES (1, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET state = excluded.state, committed_at = excluded.committed_at"
)
LOAD_STATE = f"SELECT state FROM {STATE} WHERE id = 1"


def quote(name: str) -> str:
    """An SQL identifier for any name: double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def _names(names: Iterable[str]) -> str:
    return ", ".join(map(quote, names))


def _placeholders(n: int) -> str:
    return ", ".join("?" * n)


def root_index_name(table: str) -> str:
    return f"_archive_ix__{table}__root"


def create_root_table(table: str, columns: Sequence[tuple[str, str]]) -> list[str]:
    """A root table with its bookkeeping columns and `(name, kind)` data columns."""
    data = "".join(f", {quote(name)} {SQL_TYPES[kind]}" for name, kind in columns)
    return [
        f"CREATE TABLE {quote(table)} (_sdc_id TEXT NOT NULL UNIQUE, _sdc_received_at TEXT, "
        f"_sdc_table_version INTEGER, _sdc_deleted_at TEXT, _sdc_raw_sha BLOB{data})"
    ]


def create_child_table(table: str, columns: Sequence[tuple[str, str]]) -> list[str]:
    """A child table with its link columns, `(name, kind)` data columns and root index."""
    data = "".join(f", {quote(name)} {SQL_TYPES[kind]}" for name, kind in columns)
    return [
        f"CREATE TABLE {quote(table)} (_sdc_id TEXT NOT NULL, _sdc_root_id TEXT NOT NULL, "
        f"_sdc_parent_id TEXT NOT NULL, _sdc_position INTEGER NOT NULL{data})",
        f"CREATE INDEX {quote(root_index_name(table))} ON {quote(table)} (_sdc_root_id)",
    ]


def add_column(table: str, column: str, kind: str) -> str:
    return f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} {SQL_TYPES[kind]}"


def upsert_root(table: str, data: Sequence[str], every_column: Iterable[str], keyed: bool) -> str:
    """The root row's statement: `_sdc_id`, the `data` columns, then the row's bookkeeping.

    Keyed streams upsert on `_sdc_id`; streams without keys append.
    """
    names = ["_sdc_id", *data, "_sdc_received_at", "_sdc_table_version", "_sdc_raw_sha"]
    sql = f"INSERT INTO {quote(table)} ({_names(names)}) VALUES ({_placeholders(len(names))})"
    if not keyed:
        return sql
    # Every column of the table is set: a column this schema does not fill (an old property,
    # or a property's old type) must not keep a previous version's value.
    stale = set(every_column) - set(data)
    updates = [f"{quote(n)} = excluded.{quote(n)}" for n in names[1:]]
    updates += [f"{quote(n)} = NULL" for n in sorted(stale)]
    updates.append("_sdc_deleted_at = NULL")
    return sql + f" ON CONFLICT (_sdc_id) DO UPDATE SET {', '.join(updates)}"


def insert_child(table: str, data: Sequence[str]) -> str:
    names = [*CHILD_META, *data]
    return f"INSERT INTO {quote(table)} ({_names(names)}) VALUES ({_placeholders(len(names))})"


def delete_descendants(table: str) -> str:
    return f"DELETE FROM {quote(table)} WHERE _sdc_root_id = ?"


def stored_shas(table: str, n: int) -> str:
    """The raw hash of each of `n` `_sdc_id`s that has a row."""
    return f"SELECT _sdc_id, _sdc_raw_sha FROM {quote(table)} WHERE _sdc_id IN ({_placeholders(n)})"


def mark_deleted(table: str) -> str:
    """ACTIVATE_VERSION: (deleted_at, version, written_before, written_before) -> rows of older
    versions marked, only those last written before `written_before` when it is not NULL."""
    return (
        f"UPDATE {quote(table)} SET _sdc_deleted_at = ? "
        "WHERE _sdc_deleted_at IS NULL AND (_sdc_table_version IS NULL OR _sdc_table_version < ?) "
        "AND (? IS NULL OR _sdc_received_at < ?)"
    )


def select_root(table: str, columns: Sequence[str], *, include_deleted: bool) -> str:
    names = "".join(", " + quote(name) for name in columns)
    where = "" if include_deleted else " WHERE _sdc_deleted_at IS NULL"
    return f"SELECT _sdc_id{names} FROM {quote(table)}{where}"


def select_children(table: str, columns: Sequence[str]) -> str:
    names = "".join(", " + quote(name) for name in columns)
    return (
        f"SELECT _sdc_id, _sdc_parent_id{names} FROM {quote(table)} "
        "ORDER BY _sdc_parent_id, _sdc_position"
    )


def select_raw(*, by_key: bool) -> str:
    """(received_at, raw) of a stream's versions, optionally of one key, oldest first."""
    key = " AND record_key = ?" if by_key else ""
    return f"SELECT received_at, raw FROM {RAW} WHERE stream = ?{key} ORDER BY version_id"
