"""The SQLite archive: connection, identifiers, DDL, schema evolution, upserts, raw versions, state.

Everything that reaches SQL text from data is an identifier, always through `quote`; values
are always bound parameters. Names are chosen once, stored in `_archive_tables` and
`_archive_columns`, and reused on every later run, so a table or column never changes name
and two names SQLite would treat as one (it compares identifiers without case) never share a
column: the later one gets a `_2`, `_3`... suffix.
"""

# S608: SQL text here is built only from `quote`d identifiers and constants; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import datetime
import hashlib
import json
import sqlite3
import typing as t
import uuid
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path as FsPath

import orjson

from target_sqlite_archive import normalize
from target_sqlite_archive.normalize import Column, TablePlan, dumps

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

TABLES = "_archive_tables"
COLUMNS = "_archive_columns"
RAW = "_archive_raw"
STATE = "_archive_state"
RESERVED_PREFIXES = ("_archive_", "sqlite_")
DEFAULT_COMPRESSION_LEVEL = 1

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

# Keys per IN (...) lookup: far below SQLite's variable limit.
_LOOKUP_CHUNK = 500

_META_DDL = f"""
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


def quote(name: str) -> str:
    """An SQL identifier for any name: double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")


def canonical_sha(record: t.Any) -> bytes:
    """Identity of a record's content: key order and whitespace do not make a new version."""
    try:
        text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits, which orjson refuses
        text = json.dumps(
            record, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode()
    return hashlib.blake2b(text, digest_size=16).digest()


def _bindable(row: tuple[t.Any, ...]) -> tuple[t.Any, ...]:
    # SQLite integers are 64-bit: a larger one is kept as its decimal text (and exactly in
    # the raw archive).
    return tuple(str(v) if v.__class__ is int and not -(2**63) <= v < 2**63 else v for v in row)


def _fold(name: str) -> str:
    # SQLite folds only ASCII case; folding more is merely over-cautious.
    return name.lower()


def _allocate(base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`... : the first name no other identifier folds to."""
    base = base.replace("\x00", "_") or "_"
    candidate, n = base, 2
    while _fold(candidate) in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(_fold(candidate))
    return candidate


@dataclass(slots=True)
class TableInfo:
    name: str
    stream: str
    path: str  # JSON array
    parent: str | None
    rel_path: str  # JSON array
    scalar: bool
    columns: dict[tuple[str, str], str] = field(default_factory=dict)  # (path, kind) -> name
    taken: set[str] = field(default_factory=set)


@dataclass(slots=True)
class PreparedTable:
    """A plan table bound to its SQLite table, with its statement ready."""

    info: TableInfo
    plan: TablePlan
    insert_sql: str


@dataclass(slots=True)
class PreparedStream:
    generation: int
    root: PreparedTable
    children: dict[normalize.Path, PreparedTable]
    delete_sqls: list[str]  # one per child table of the stream, old schemas' included


class Entry(t.NamedTuple):
    """One received record, normalized, as the sink hands it over."""

    row_id: str  # the root row's `_sdc_id`: key JSON, or a random id for streams without key
    sha: bytes  # canonical_sha of the record
    raw: str  # the record's JSON text as received
    version: int | None  # the RECORD message's table version, if any
    received_at: str
    values: list[t.Any]  # root row values, in plan column order
    children: normalize.ChildRows  # child rows by table path


def new_row_id() -> str:
    # Appended rows have no identity of their own; a content hash would merge equal rows.
    return uuid.uuid4().hex


class ArchiveStore:
    """One SQLite archive file. All writes of a commit happen inside `transaction()`."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_seconds: float = 30.0,
        compression_level: int = DEFAULT_COMPRESSION_LEVEL,
        autocheckpoint: bool = True,
    ) -> None:
        if path != ":memory:":
            FsPath(path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are explicit, one per batch.
        self.conn = sqlite3.connect(
            path, isolation_level=None, timeout=busy_timeout_seconds, check_same_thread=False
        )
        # Only takes effect on a new file: 8 KiB pages hold wide root rows (Intercom contacts
        # flatten to ~80 columns) with fewer overflow pages; ~6% less CPU writing them.
        self.conn.execute("PRAGMA page_size=8192")
        self.conn.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL loses no committed transaction on a process crash (only on power
        # loss), and spares an fsync per commit.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if not autocheckpoint:
            # The caller checkpoints when it would otherwise wait (see `checkpoint`).
            self.conn.execute("PRAGMA wal_autocheckpoint=0")
        self.conn.execute("PRAGMA cache_size=-65536")
        self.conn.executescript(_META_DDL)
        self.compression_level = compression_level
        self._generation = 0
        self._prepared: dict[tuple[str, int], PreparedStream] = {}
        self._load_catalog()

    def close(self) -> None:
        self.conn.close()

    def checkpoint(self) -> None:
        """Copy committed pages from the WAL into the database file, without waiting for
        readers (SQLite's PASSIVE mode)."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # -- catalog ------------------------------------------------------------------------

    def _load_catalog(self) -> None:
        """Read the name mappings; also after a rollback, which may undo new names."""
        self._generation += 1
        self._prepared.clear()
        self._taken_tables = {
            _fold(name) for (name,) in self.conn.execute("SELECT name FROM sqlite_master")
        }
        self._tables: dict[tuple[str, str], TableInfo] = {}
        self._by_name: dict[str, TableInfo] = {}
        for name, stream, path, parent, rel_path, scalar in self.conn.execute(
            f"SELECT table_name, stream, path, parent_table, rel_path, scalar FROM {TABLES}"
        ):
            info = TableInfo(name, stream, path, parent, rel_path, bool(scalar))
            info.taken = {_fold(c) for c in (ROOT_META if parent is None else CHILD_META)}
            self._tables[(stream, path)] = info
            self._by_name[name] = info
        for table, path, kind, column in self.conn.execute(
            f"SELECT table_name, path, kind, column_name FROM {COLUMNS} ORDER BY rowid"
        ):
            info = self._by_name[table]
            info.columns[(path, kind)] = column
            info.taken.add(_fold(column))

    def _ensure_table(self, stream: str, plan: TablePlan, parent: TableInfo | None) -> TableInfo:
        path = dumps(list(plan.path))
        info = self._tables.get((stream, path))
        if info is None:
            base = stream if parent is None else parent.name + "__" + "__".join(plan.rel_path)
            if base.lower().startswith(RESERVED_PREFIXES):
                base = "t_" + base  # the archive's own namespace is never a stream's
            name = _allocate(base, self._taken_tables)
            meta = ROOT_META if parent is None else CHILD_META
            info = TableInfo(
                name=name,
                stream=stream,
                path=path,
                parent=parent.name if parent else None,
                rel_path=dumps(list(plan.rel_path)),
                scalar=plan.scalar,
                taken={_fold(c) for c in meta},
            )
            # One CREATE with every column: an ALTER per column costs a schema rewrite each.
            new = [self._name_column(info, column) for column in plan.columns]
            self._create_table(info, new)
            self._tables[(stream, path)] = info
            self._by_name[name] = info
            self._generation += 1
        new = [
            self._name_column(info, column)
            for column in plan.columns
            if (dumps(list(column.path)), column.kind) not in info.columns
        ]
        for column_name, kind, _path in new:
            self.conn.execute(
                f"ALTER TABLE {quote(info.name)} ADD COLUMN {quote(column_name)} {SQL_TYPES[kind]}"
            )
        self._record_columns(info, new)
        return info

    def _create_table(self, info: TableInfo, columns: list[tuple[str, str, str]]) -> None:
        q = quote(info.name)
        data = "".join(f", {quote(name)} {SQL_TYPES[kind]}" for name, kind, _path in columns)
        if info.parent is None:
            ddl = (
                f"CREATE TABLE {q} (_sdc_id TEXT NOT NULL UNIQUE, _sdc_received_at TEXT, "
                f"_sdc_table_version INTEGER, _sdc_deleted_at TEXT, _sdc_raw_sha BLOB{data})"
            )
            self.conn.execute(ddl)
        else:
            ddl = (
                f"CREATE TABLE {q} (_sdc_id TEXT NOT NULL, _sdc_root_id TEXT NOT NULL, "
                f"_sdc_parent_id TEXT NOT NULL, _sdc_position INTEGER NOT NULL{data})"
            )
            self.conn.execute(ddl)
            index = quote(f"_archive_ix__{info.name}__root")
            self.conn.execute(f"CREATE INDEX {index} ON {q} (_sdc_root_id)")
        self._taken_tables.add(_fold(f"_archive_ix__{info.name}__root"))
        self.conn.execute(
            f"INSERT INTO {TABLES} (table_name, stream, path, parent_table, rel_path, scalar) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (info.name, info.stream, info.path, info.parent, info.rel_path, info.scalar),
        )
        self._record_columns(info, columns)

    def _name_column(self, info: TableInfo, column: Column) -> tuple[str, str, str]:
        """(name, kind, path JSON) of a new column; the name is taken at once."""
        path = dumps(list(column.path))
        base = "__".join(column.path) if column.path else "value"
        if any(p == path for (p, _kind) in info.columns):
            # The property changed type: a new column beside the old one, so no stored value
            # is ever converted (SQLite affinity would turn "0123" into 123).
            base = f"{base}__{column.kind}"
        name = _allocate(base, info.taken)
        info.columns[(path, column.kind)] = name
        return name, column.kind, path

    def _record_columns(self, info: TableInfo, columns: list[tuple[str, str, str]]) -> None:
        if not columns:
            return
        self.conn.executemany(
            f"INSERT INTO {COLUMNS} (table_name, path, kind, column_name) VALUES (?, ?, ?, ?)",
            [(info.name, path, kind, name) for name, kind, path in columns],
        )
        self._generation += 1

    def prepare(self, stream: str, plan: TablePlan, keyed: bool) -> PreparedStream:
        """Tables, columns and statements for a stream's plan (DDL only when new)."""
        cache_key = (stream, id(plan))
        prepared = self._prepared.get(cache_key)
        # `is`: an id can be reused by a new plan once an old sink's plan is freed.
        if (
            prepared is not None
            and prepared.root.plan is plan
            and prepared.generation == self._generation
        ):
            return prepared
        infos: dict[normalize.Path, TableInfo] = {}
        for table in plan.walk():
            parent = None if not table.path else infos[_parent_path(plan, table)]
            infos[table.path] = self._ensure_table(stream, table, parent)
        root = PreparedTable(infos[()], plan, self._root_sql(infos[()], plan, keyed))
        children = {
            table.path: PreparedTable(
                infos[table.path], table, self._child_sql(infos[table.path], table)
            )
            for table in plan.walk()
            if table.path
        }
        delete_sqls = [
            f"DELETE FROM {quote(info.name)} WHERE _sdc_root_id = ?"
            for info in self._tables.values()
            if info.stream == stream and info.parent is not None
        ]
        prepared = PreparedStream(self._generation, root, children, delete_sqls)
        self._prepared[cache_key] = prepared
        return prepared

    def _column_names(self, info: TableInfo, plan: TablePlan) -> list[str]:
        return [info.columns[(dumps(list(c.path)), c.kind)] for c in plan.columns]

    def _root_sql(self, info: TableInfo, plan: TablePlan, keyed: bool) -> str:
        data = self._column_names(info, plan)
        names = ["_sdc_id", *data, "_sdc_received_at", "_sdc_table_version", "_sdc_raw_sha"]
        sql = (
            f"INSERT INTO {quote(info.name)} ({', '.join(map(quote, names))}) "
            f"VALUES ({', '.join('?' * len(names))})"
        )
        if not keyed:
            return sql  # streams without keys append
        # Every column of the table is set: a column this schema does not fill (an old
        # property, or a property's old type) must not keep a previous version's value.
        stale = set(info.columns.values()) - set(data)
        updates = [f"{quote(n)} = excluded.{quote(n)}" for n in names[1:]]
        updates += [f"{quote(n)} = NULL" for n in sorted(stale)]
        updates.append("_sdc_deleted_at = NULL")
        return sql + f" ON CONFLICT (_sdc_id) DO UPDATE SET {', '.join(updates)}"

    def _child_sql(self, info: TableInfo, plan: TablePlan) -> str:
        names = [*CHILD_META, *self._column_names(info, plan)]
        return (
            f"INSERT INTO {quote(info.name)} ({', '.join(map(quote, names))}) "
            f"VALUES ({', '.join('?' * len(names))})"
        )

    # -- writes ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic batch: data, raw versions and state commit together or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._load_catalog()
            raise
        self.conn.execute("COMMIT")

    def write_batch(
        self,
        stream: str,
        plan: TablePlan,
        keyed: bool,
        entries: Sequence[Entry],
        compressed: t.Callable[[], Sequence[bytes]] | None = None,
    ) -> None:
        """Upsert a batch of one stream's normalized records, their descendants and raw
        versions. `compressed`, if given, returns the entries' raw texts compressed, in entry
        order: it is called last, so compression elsewhere overlaps the other writes."""
        prepared = self.prepare(stream, plan, keyed)
        # The hash of each key's stored version, read before this batch overwrites it.
        stored = self._stored_shas(quote(prepared.root.info.name), entries) if keyed else {}

        # Only the last version of a key within the batch is written; descendants of rows
        # that existed are replaced (deleted here, inserted below, same transaction).
        latest = {e.row_id: e for e in entries}
        replaced = [(i,) for i in latest if i in stored]
        if replaced:
            for sql in prepared.delete_sqls:
                self.conn.executemany(sql, replaced)
        rows = []
        children: dict[normalize.Path, list[tuple[t.Any, ...]]] = {}
        for row_id, e in latest.items():
            rows.append((row_id, *e.values, e.received_at, e.version, e.sha))
            for path, child_rows in e.children.items():
                children.setdefault(path, []).extend(child_rows)
        self._insert(prepared.root.insert_sql, rows)
        for path, child_rows in children.items():
            self._insert(prepared.children[path].insert_sql, child_rows)

        # A version equal to the latest one stored for its key is not stored again.
        raws = compressed() if compressed is not None else None
        level = self.compression_level
        raw_rows: list[tuple[t.Any, ...]] = []
        for n, e in enumerate(entries):
            if keyed and stored.get(e.row_id) == e.sha:
                continue
            stored[e.row_id] = e.sha
            raw = raws[n] if raws is not None else zlib.compress(e.raw.encode(), level)
            key = e.row_id if keyed else None
            raw_rows.append((stream, key, e.received_at, e.version, e.sha, raw))
        self.conn.executemany(
            f"INSERT INTO {RAW} (stream, record_key, received_at, table_version, sha, raw) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            raw_rows,
        )

    def _insert(self, sql: str, rows: list[tuple[t.Any, ...]]) -> None:
        # Over-large integers are rare, so they are looked for only when binding fails; the
        # savepoint undoes the rows the failed call had already inserted.
        self.conn.execute("SAVEPOINT _archive_insert")
        try:
            self.conn.executemany(sql, rows)
        except OverflowError:
            self.conn.execute("ROLLBACK TO _archive_insert")
            self.conn.executemany(sql, [_bindable(row) for row in rows])
        self.conn.execute("RELEASE _archive_insert")

    def _stored_shas(self, root: str, entries: Sequence[Entry]) -> dict[str, bytes]:
        """Raw hash of the stored version of each id that has a row."""
        found: dict[str, bytes] = {}
        pending = list({e.row_id for e in entries})
        for start in range(0, len(pending), _LOOKUP_CHUNK):
            chunk = pending[start : start + _LOOKUP_CHUNK]
            sql = (
                f"SELECT _sdc_id, _sdc_raw_sha FROM {root} "
                f"WHERE _sdc_id IN ({', '.join('?' * len(chunk))})"
            )
            found.update(self.conn.execute(sql, chunk))
        return found

    def mark_deleted(self, stream: str, version: int) -> int:
        """ACTIVATE_VERSION: rows a newer complete pass did not send are marked, not dropped."""
        info = self._tables.get((stream, "[]"))
        if info is None:
            return 0
        cursor = self.conn.execute(
            f"UPDATE {quote(info.name)} SET _sdc_deleted_at = ? "
            "WHERE _sdc_deleted_at IS NULL "
            "AND (_sdc_table_version IS NULL OR _sdc_table_version < ?)",
            (utc_now(), version),
        )
        return cursor.rowcount

    def save_state(self, state: t.Any) -> None:
        self.conn.execute(
            f"INSERT INTO {STATE} (id, state, committed_at) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET state = excluded.state, "
            "committed_at = excluded.committed_at",
            (json.dumps(state), utc_now()),
        )

    # -- reads (for users, replay and the tests) ------------------------------------------

    def load_state(self) -> t.Any:
        row = self.conn.execute(f"SELECT state FROM {STATE} WHERE id = 1").fetchone()
        return None if row is None else json.loads(row[0])

    def table_name(self, stream: str, path: Sequence[str] = ()) -> str | None:
        info = self._tables.get((stream, dumps(list(path))))
        return None if info is None else info.name

    def raw_versions(self, stream: str, key: str | None = None) -> list[tuple[str, str]]:
        """(received_at, record JSON text as received), oldest first."""
        sql = f"SELECT received_at, raw FROM {RAW} WHERE stream = ?"
        params: tuple[t.Any, ...] = (stream,)
        if key is not None:
            sql += " AND record_key = ?"
            params += (key,)
        rows = self.conn.execute(sql + " ORDER BY version_id", params)
        return [(at, zlib.decompress(raw).decode()) for at, raw in rows]

    def read_records(self, stream: str, *, include_deleted: bool = True) -> dict[str, t.Any]:
        """Reassemble every root record of a stream from the normalized tables, by `_sdc_id`.

        The tables cannot tell a null from an absent property or an empty array: those are
        left out. The raw archive keeps the exact JSON.
        """
        root = self._tables.get((stream, "[]"))
        if root is None:
            return {}
        tables = [i for i in self._tables.values() if i.stream == stream]
        objects: dict[str, dict[str, t.Any]] = {}  # _sdc_id -> the object of that row
        records: dict[str, t.Any] = {}
        where = "" if include_deleted else " WHERE _sdc_deleted_at IS NULL"
        columns = self._columns_of(root)
        names = ", ".join(quote(name) for _c, name in columns)
        sql = f"SELECT _sdc_id{', ' + names if names else ''} FROM {quote(root.name)}{where}"
        for row_id, *values in self.conn.execute(sql):
            obj = normalize.assemble_object([c for c, _n in columns], values)
            objects[row_id] = records[row_id] = obj
        # Parents before children: a table's path is longer than its parent's.
        for info in sorted(tables, key=lambda i: len(json.loads(i.path))):
            if info.parent is None:
                continue
            self._attach_children(info, objects)
        return records

    def _columns_of(self, info: TableInfo) -> list[tuple[Column, str]]:
        return [
            (Column(tuple(json.loads(path)), kind), name)
            for (path, kind), name in info.columns.items()
        ]

    def _attach_children(self, info: TableInfo, objects: dict[str, dict[str, t.Any]]) -> None:
        columns = self._columns_of(info)
        names = "".join(", " + quote(name) for _c, name in columns)
        sql = (
            f"SELECT _sdc_id, _sdc_parent_id{names} FROM {quote(info.name)} "
            "ORDER BY _sdc_parent_id, _sdc_position"
        )
        rel_path = tuple(json.loads(info.rel_path))
        lists: dict[str, list[t.Any]] = {}
        for row_id, parent_id, *values in self.conn.execute(sql):
            merged = list(values)
            item: t.Any
            if info.scalar:
                item = None
                for (column, _n), value in zip(columns, merged, strict=True):
                    if value is not None:
                        item = normalize.from_column(column.kind, value)
            else:
                item = normalize.assemble_object([c for c, _n in columns], merged)
                objects[row_id] = item
            lists.setdefault(parent_id, []).append(item)
        for parent_id, items in lists.items():
            parent = objects.get(parent_id)
            if parent is not None:
                normalize.attach(parent, rel_path, items)


def _parent_path(plan: TablePlan, table: TablePlan) -> normalize.Path:
    for candidate in plan.walk():
        if table in candidate.children:
            return candidate.path
    raise KeyError(table.path)
