"""SQL text of the archive, built apart from running it (pure: strings in, strings out).

Everything that reaches SQL text from data is an identifier, always through `quote`; values
are always bound parameters (the `?` placeholders here).
"""

# S608: SQL text here is built only from `quote`d identifiers and constants; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import typing as t

from target_sqlite_archive import codec, normalize

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

TABLES = "_archive_tables"
COLUMNS = "_archive_columns"
RAW = "_archive_raw"
STATE = "_archive_state"
LINKS = "_archive_links"
DICTIONARIES = "_archive_dictionaries"
LAYOUTS = "_archive_layouts"

ROOT_META = (
    "_sdc_id",
    "_sdc_received_at",
    "_sdc_table_version",
    "_sdc_deleted_at",
    "_sdc_merged_into_id",
    "_sdc_raw_sha",
)
CHILD_META = ("_sdc_id", "_sdc_root_id", "_sdc_parent_id", "_sdc_position", "_sdc_deleted_at")
# The bookkeeping columns' declarations, after the data columns (out of an analyst's way).
_ROOT_META_DDL = (
    "_sdc_id TEXT NOT NULL UNIQUE, _sdc_received_at TEXT, _sdc_table_version INTEGER, "
    "_sdc_deleted_at TEXT, _sdc_merged_into_id TEXT, _sdc_raw_sha BLOB"
)
_CHILD_META_DDL = (
    "_sdc_id TEXT NOT NULL, _sdc_root_id TEXT NOT NULL, _sdc_parent_id TEXT NOT NULL, "
    "_sdc_position INTEGER NOT NULL, _sdc_deleted_at TEXT"
)
#: The archive's format, in `PRAGMA user_version`: 0 was the first release (no primary keys,
#: every child table created); 1 has keys, links, tombstone columns, tables created with their
#: first row, and full-text indexes; 2 names each raw version's codec (`_archive_raw.codec`:
#: zstd rows beside the older zlib ones); 3 keeps the streams' zstd dictionaries
#: (`_archive_dictionaries`, for rows whose codec is 'zstd-dict'); 4 records which layout each
#: root table's rows were written with, and since when (`_archive_layouts`: a version equal to
#: the stored one then only touches the row's bookkeeping).
FORMAT = 4
#: The data tables' layout, per table in `_archive_tables.format`: the archive format that last
#: changed it (formats 2 to 4 changed only archive-wide tables, so format-1 tables are not
#: rebuilt).
TABLE_FORMAT = 1
#: Column kind of a child table's copy of one of its root's key properties.
KEY = "key"

# Declared types: their affinities keep values of the column's own kind unchanged. JSON
# columns are TEXT so that JSON text such as "5" is never turned into a number.
SQL_TYPES = {
    normalize.INTEGER: "INTEGER",
    normalize.NUMBER: "REAL",
    normalize.BOOLEAN: "INTEGER",
    normalize.STRING: "TEXT",
    normalize.ANY: "",  # no affinity: strings and numbers stay exactly what they were
    normalize.JSON: "TEXT",
    normalize.TEXT: "TEXT",
    KEY: "",  # whatever type the root's key has
}

META_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLES} (
    table_name TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    path TEXT NOT NULL,
    parent_table TEXT,
    rel_path TEXT NOT NULL,
    scalar INTEGER NOT NULL,
    format INTEGER NOT NULL DEFAULT 0,
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
    raw BLOB NOT NULL,
    codec TEXT NOT NULL DEFAULT 'zlib'
);
CREATE INDEX IF NOT EXISTS _archive_raw_by_key ON {RAW} (stream, record_key);
CREATE TABLE IF NOT EXISTS {LINKS} (
    table_name TEXT NOT NULL,
    column_name TEXT NOT NULL,
    stream TEXT NOT NULL,
    key TEXT NOT NULL,
    part_of INTEGER NOT NULL,
    PRIMARY KEY (table_name, column_name)
);
CREATE TABLE IF NOT EXISTS {DICTIONARIES} (
    dict_id INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    created_at TEXT NOT NULL,
    dictionary BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS {LAYOUTS} (
    table_name TEXT PRIMARY KEY,
    layout TEXT NOT NULL,
    since TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {STATE} (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL,
    committed_at TEXT NOT NULL
);
"""

SELECT_TABLES = (
    f"SELECT table_name, stream, path, parent_table, rel_path, scalar, format FROM {TABLES}"
)
SELECT_COLUMNS = f"SELECT table_name, path, kind, column_name FROM {COLUMNS} ORDER BY rowid"
INSERT_TABLE = (
    f"INSERT INTO {TABLES} (table_name, stream, path, parent_table, rel_path, scalar, format) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
SET_TABLE_FORMAT = f"UPDATE {TABLES} SET format = ? WHERE table_name = ?"
INSERT_COLUMN = f"INSERT INTO {COLUMNS} (table_name, path, kind, column_name) VALUES (?, ?, ?, ?)"
INSERT_RAW = (
    f"INSERT INTO {RAW} (stream, record_key, received_at, table_version, sha, raw, codec) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
INSERT_DICTIONARY = (
    f"INSERT INTO {DICTIONARIES} (dict_id, stream, created_at, dictionary) VALUES (?, ?, ?, ?)"
)
SELECT_DICTIONARIES = (
    f"SELECT dict_id, stream, dictionary FROM {DICTIONARIES} ORDER BY created_at, dict_id"
)
LAST_DICTIONARY_ID = f"SELECT max(dict_id) FROM {DICTIONARIES}"
SELECT_LAYOUT = f"SELECT layout, since FROM {LAYOUTS} WHERE table_name = ?"
SAVE_LAYOUT = (
    f"INSERT INTO {LAYOUTS} (table_name, layout, since) VALUES (?, ?, ?) "
    "ON CONFLICT (table_name) DO UPDATE SET layout = excluded.layout, since = excluded.since"
)
# Format 0 -> 1: the first release's tables are format 0 (the column's default).
ADD_TABLE_FORMAT = f"ALTER TABLE {TABLES} ADD COLUMN format INTEGER NOT NULL DEFAULT 0"
# Format 1 -> 2: archives before the codec column hold zlib rows only: the default names them.
ADD_RAW_CODEC = f"ALTER TABLE {RAW} ADD COLUMN codec TEXT NOT NULL DEFAULT '{codec.ZLIB}'"
SAVE_STATE = (
    f"INSERT INTO {STATE} (id, state, committed_at) VALUES (1, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET state = excluded.state, committed_at = excluded.committed_at"
)
LOAD_STATE = f"SELECT state FROM {STATE} WHERE id = 1"
SAVE_LINK = (
    f"INSERT INTO {LINKS} (table_name, column_name, stream, key, part_of) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (table_name, column_name) DO UPDATE SET stream = excluded.stream, "
    "key = excluded.key, part_of = excluded.part_of"
)
SELECT_PARTS = f"SELECT table_name, column_name, key FROM {LINKS} WHERE part_of AND stream = ?"


def quote(name: str) -> str:
    """An SQL identifier for any name: double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def _names(names: Iterable[str]) -> str:
    return ", ".join(map(quote, names))


def _placeholders(n: int) -> str:
    return ", ".join("?" * n)


class ForeignKey(t.NamedTuple):
    column: str
    table: str  # the table it points at
    key: str  # that table's column


class Index(t.NamedTuple):
    name: str
    columns: tuple[str, ...]
    case_folded: bool = False


def index_name(table: str, columns: Sequence[str], *, case_folded: bool = False) -> str:
    return f"_archive_ix__{table}__{'__'.join(columns)}{'__nocase' if case_folded else ''}"


def root_index_name(table: str) -> str:
    return f"_archive_ix__{table}__root"


def create_table(
    table: str,
    columns: Sequence[tuple[str, str]],
    *,
    child: bool,
    primary_key: Sequence[str] = (),
    foreign_keys: Sequence[ForeignKey] = (),
    name: str | None = None,
) -> str:
    """A table with `(name, kind)` data columns, then its bookkeeping columns, its primary key
    and its single-column foreign keys; created as `name` if given (a rebuild)."""
    parts = [f"{quote(column)} {SQL_TYPES[kind]}".rstrip() for column, kind in columns]
    parts.append(_CHILD_META_DDL if child else _ROOT_META_DDL)
    if primary_key:
        parts.append(f"PRIMARY KEY ({_names(primary_key)})")
    parts += [
        f"FOREIGN KEY ({quote(fk.column)}) REFERENCES {quote(fk.table)} ({quote(fk.key)})"
        for fk in foreign_keys
    ]
    return f"CREATE TABLE {quote(name or table)} ({', '.join(parts)})"


def create_index(table: str, index: Index) -> str:
    collate = " COLLATE NOCASE" if index.case_folded else ""
    columns = ", ".join(quote(c) + collate for c in index.columns)
    return f"CREATE INDEX IF NOT EXISTS {quote(index.name)} ON {quote(table)} ({columns})"


def fts_table(table: str) -> str:
    """The name of a table's full-text index (the name sqlite-utils and Datasette use)."""
    return f"{table}_fts"


def create_fts(table: str, columns: Sequence[str]) -> list[str]:
    """An FTS5 index of `columns` with `table` as its external content, filled from it.

    `content="<table>"` in double quotes is what Datasette's and sqlite-utils' detection
    matches. unicode61 with remove_diacritics 2 folds case and diacritics (naive = naïve).
    The writer keeps it in step batch by batch (`fts_delete`, `fts_insert`): per-row
    triggers cost about five times as much.
    """
    fts = quote(fts_table(table))
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({_names(columns)}, content={quote(table)}, "
        'tokenize="unicode61 remove_diacritics 2")',
        rebuild_fts(table),
    ]


def drop_fts(table: str) -> list[str]:
    return [f"DROP TABLE IF EXISTS {quote(fts_table(table))}"]


# In rowid order: FTS5 appends ascending rowids to its pending terms, and flushes them to a new
# segment whenever a rowid comes out of order, which `_sdc_id` order does at almost every row
# (measured on conversation parts: 8.0 us a row by `_sdc_id`, 3.0 in rowid order).


def fts_delete(table: str, columns: Sequence[str], n: int) -> str:
    """The index entries of `n` rows by `_sdc_id`, removed (before their text changes)."""
    fts = quote(fts_table(table))
    names = _names(columns)
    return (
        f"INSERT INTO {fts} ({fts}, rowid, {names}) SELECT 'delete', rowid, {names} "
        f"FROM {quote(table)} WHERE _sdc_id IN ({_placeholders(n)}) ORDER BY rowid"
    )


def fts_insert(table: str, columns: Sequence[str], n: int) -> str:
    """The index entries of `n` rows by `_sdc_id`, from their current text."""
    names = _names(columns)
    return (
        f"INSERT INTO {quote(fts_table(table))} (rowid, {names}) SELECT rowid, {names} "
        f"FROM {quote(table)} WHERE _sdc_id IN ({_placeholders(n)}) ORDER BY rowid"
    )


def fts_insert_after(table: str, columns: Sequence[str]) -> str:
    """(rowid,): the index entries of the rows above a rowid (a batch's new rows: SQLite gives
    each new row the largest rowid plus one), by a range scan in rowid order."""
    names = _names(columns)
    return (
        f"INSERT INTO {quote(fts_table(table))} (rowid, {names}) SELECT rowid, {names} "
        f"FROM {quote(table)} WHERE rowid > ? ORDER BY rowid"
    )


def last_rowid(table: str) -> str:
    return f"SELECT coalesce(max(rowid), 0) FROM {quote(table)}"


def rebuild_fts(table: str) -> str:
    """Re-read the whole index from its content table."""
    fts = quote(fts_table(table))
    return f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')"


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
    updates += ["_sdc_deleted_at = NULL", "_sdc_merged_into_id = NULL"]
    return sql + f" ON CONFLICT (_sdc_id) DO UPDATE SET {', '.join(updates)}"


def mark_tombstone(table: str) -> str:
    """(deleted_at, merged_into, received_at, version, sha, _sdc_id): the row marked deleted,
    its data left as it was."""
    return (
        f"UPDATE {quote(table)} SET _sdc_deleted_at = ?, _sdc_merged_into_id = ?, "
        "_sdc_received_at = ?, _sdc_table_version = ?, _sdc_raw_sha = ? WHERE _sdc_id = ?"
    )


def insert_tombstone(table: str, keys: Sequence[str]) -> str:
    """(_sdc_id, deleted_at, merged_into, received_at, version, sha, *key values): a row for a
    tombstone of a key the archive has never had: its keys and metadata only."""
    names = [
        "_sdc_id",
        "_sdc_deleted_at",
        "_sdc_merged_into_id",
        "_sdc_received_at",
        "_sdc_table_version",
        "_sdc_raw_sha",
        *keys,
    ]
    return f"INSERT INTO {quote(table)} ({_names(names)}) VALUES ({_placeholders(len(names))})"


def mark_descendants(table: str) -> str:
    """(deleted_at, root id): the child rows of a tombstoned root row."""
    return f"UPDATE {quote(table)} SET _sdc_deleted_at = ? WHERE _sdc_root_id = ?"


def mark_parts(table: str, column: str) -> str:
    """(deleted_at, owner key): the rows of a stream owned by a tombstoned record."""
    return (
        f"UPDATE {quote(table)} SET _sdc_deleted_at = ? "
        f"WHERE {quote(column)} = ? AND _sdc_deleted_at IS NULL"
    )


def mark_parts_descendants(table: str, parts: str, column: str) -> str:
    """(deleted_at, owner key): the child rows of the rows `mark_parts` marks."""
    return (
        f"UPDATE {quote(table)} SET _sdc_deleted_at = ? WHERE _sdc_root_id IN "
        f"(SELECT _sdc_id FROM {quote(parts)} WHERE {quote(column)} = ?)"
    )


def insert_child(table: str, data: Sequence[str], keys: Sequence[str] = ()) -> str:
    """A child row: its bookkeeping, `data` columns, and `keys`, the copies of its root's key
    properties, read from the root id (`_sdc_root_id`, a JSON array of them) by SQLite."""
    names = [*CHILD_META[:4], *data, *keys]
    values = [f"?{n}" for n in range(1, 5 + len(data))]
    values += [f"json_extract(?2, '$[{n}]')" for n in range(len(keys))]
    return f"INSERT INTO {quote(table)} ({_names(names)}) VALUES ({', '.join(values)})"


def delete_descendants(table: str) -> str:
    return f"DELETE FROM {quote(table)} WHERE _sdc_root_id = ?"


def stored_rows(table: str, n: int) -> str:
    """(since, *`n` `_sdc_id`s) -> (_sdc_id, raw hash, current) of each that has a row; current:
    not marked deleted, and written at or after `since` (with the table's present layout)."""
    return (
        "SELECT _sdc_id, _sdc_raw_sha, _sdc_deleted_at IS NULL AND _sdc_received_at >= ? "
        f"FROM {quote(table)} WHERE _sdc_id IN ({_placeholders(n)})"
    )


def latest_received(table: str) -> str:
    return f"SELECT max(_sdc_received_at) FROM {quote(table)}"


def touch_root(table: str) -> str:
    """(received_at, version, _sdc_id): a row received again unchanged: its bookkeeping only."""
    return (
        f"UPDATE {quote(table)} SET _sdc_received_at = ?, _sdc_table_version = ? WHERE _sdc_id = ?"
    )


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
    """(received_at, codec, raw) of a stream's versions, optionally of one key, oldest first."""
    key = " AND record_key = ?" if by_key else ""
    return f"SELECT received_at, codec, raw FROM {RAW} WHERE stream = ?{key} ORDER BY version_id"
