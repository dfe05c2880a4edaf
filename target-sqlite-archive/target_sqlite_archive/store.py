"""The writer's side of the archive: one transaction per job, its DDL, upserts and raw versions.

SQL text comes from sql.py, names from catalog.py; this module runs them. All writes of a
commit happen inside `transaction()`.
"""

from __future__ import annotations

import json
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass

from target_sqlite_archive import normalize, sql
from target_sqlite_archive.batch import utc_now, version_time
from target_sqlite_archive.catalog import NewColumn, TableInfo
from target_sqlite_archive.connection import (
    DEFAULT_BUSY_TIMEOUT_SECONDS,
    open_archive,
    read_catalog,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from target_sqlite_archive.batch import WriteEntry
    from target_sqlite_archive.encryption import Key
    from target_sqlite_archive.normalize import TablePlan

# Keys per IN (...) lookup: far below SQLite's variable limit.
_LOOKUP_CHUNK = 500


def _bindable(row: tuple[t.Any, ...]) -> tuple[t.Any, ...]:
    # SQLite integers are 64-bit: a larger one is kept as its decimal text (and exactly in
    # the raw archive).
    return tuple(str(v) if v.__class__ is int and not -(2**63) <= v < 2**63 else v for v in row)


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


class ArchiveStore:
    """The archive file as the writer process holds it."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        autocheckpoint: bool = True,
        encryption_key: Key | None = None,
    ) -> None:
        self.conn = open_archive(
            path,
            busy_timeout_seconds=busy_timeout_seconds,
            autocheckpoint=autocheckpoint,
            encryption_key=encryption_key,
        )
        self._generation = 0
        self._prepared: dict[tuple[str, int], PreparedStream] = {}
        self._load_catalog()

    def close(self) -> None:
        self.conn.close()

    def checkpoint(self) -> None:
        """Copy committed pages from the WAL into the database file, without waiting for
        readers (SQLite's PASSIVE mode)."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # -- the catalog's DDL ------------------------------------------------------------------

    def _load_catalog(self) -> None:
        """Read the name mappings; also after a rollback, which may undo new names."""
        self._generation += 1
        self._prepared.clear()
        self.catalog = read_catalog(self.conn)

    def _ensure_table(self, stream: str, plan: TablePlan, parent: TableInfo | None) -> TableInfo:
        info = self.catalog.get(stream, plan.path)
        if info is None:
            info, columns = self.catalog.new_table(stream, plan, parent)
            # One CREATE with every column: an ALTER per column costs a schema rewrite each.
            data = [(c.name, c.kind) for c in columns]
            create = sql.create_root_table if parent is None else sql.create_child_table
            for statement in create(info.name, data):
                self.conn.execute(statement)
            self.conn.execute(
                sql.INSERT_TABLE,
                (info.name, info.stream, info.path, info.parent, info.rel_path, info.scalar),
            )
            self._record_columns(info, columns)
            self._generation += 1
        new = info.new_columns(plan)
        for column in new:
            self.conn.execute(sql.add_column(info.name, column.name, column.kind))
        self._record_columns(info, new)
        return info

    def _record_columns(self, info: TableInfo, columns: list[NewColumn]) -> None:
        if not columns:
            return
        self.conn.executemany(
            sql.INSERT_COLUMN, [(info.name, c.path, c.kind, c.name) for c in columns]
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
        root_info = infos[()]
        root_sql = sql.upsert_root(
            root_info.name, root_info.column_names(plan), root_info.columns.values(), keyed
        )
        children = {
            table.path: PreparedTable(
                infos[table.path],
                table,
                sql.insert_child(infos[table.path].name, infos[table.path].column_names(table)),
            )
            for table in plan.walk()
            if table.path
        }
        delete_sqls = [
            sql.delete_descendants(info.name)
            for info in self.catalog.of_stream(stream)
            if info.parent is not None
        ]
        prepared = PreparedStream(
            self._generation, PreparedTable(root_info, plan, root_sql), children, delete_sqls
        )
        self._prepared[cache_key] = prepared
        return prepared

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
        self, stream: str, plan: TablePlan, keyed: bool, entries: Sequence[WriteEntry]
    ) -> None:
        """Upsert a batch of one stream's normalized records, their descendants and raw
        versions."""
        prepared = self.prepare(stream, plan, keyed)
        # The hash of each key's stored version, read before this batch overwrites it.
        stored = self._stored_shas(prepared.root.info.name, entries) if keyed else {}

        # Only the last version of a key within the batch is written; descendants of rows
        # that existed are replaced (deleted here, inserted below, same transaction).
        latest = {e.row_id: e for e in entries}
        replaced = [(i,) for i in latest if i in stored]
        if replaced:
            for statement in prepared.delete_sqls:
                self.conn.executemany(statement, replaced)
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
        raw_rows: list[tuple[t.Any, ...]] = []
        for e in entries:
            if keyed and stored.get(e.row_id) == e.sha:
                continue
            stored[e.row_id] = e.sha
            key = e.row_id if keyed else None
            raw_rows.append((stream, key, e.received_at, e.version, e.sha, e.raw))
        self.conn.executemany(sql.INSERT_RAW, raw_rows)

    def _insert(self, statement: str, rows: list[tuple[t.Any, ...]]) -> None:
        # Over-large integers are rare, so they are looked for only when binding fails; the
        # savepoint undoes the rows the failed call had already inserted.
        self.conn.execute("SAVEPOINT _archive_insert")
        try:
            self.conn.executemany(statement, rows)
        except OverflowError:
            self.conn.execute("ROLLBACK TO _archive_insert")
            self.conn.executemany(statement, [_bindable(row) for row in rows])
        self.conn.execute("RELEASE _archive_insert")

    def _stored_shas(self, root: str, entries: Sequence[WriteEntry]) -> dict[str, bytes]:
        """Raw hash of the stored version of each id that has a row."""
        found: dict[str, bytes] = {}
        pending = list({e.row_id for e in entries})
        for start in range(0, len(pending), _LOOKUP_CHUNK):
            chunk = pending[start : start + _LOOKUP_CHUNK]
            found.update(self.conn.execute(sql.stored_shas(root, len(chunk)), chunk))
        return found

    def mark_deleted(self, stream: str, version: int) -> int:
        """ACTIVATE_VERSION: rows a newer complete pass did not send are marked, not dropped.

        A version that is a Unix time in milliseconds (singer-python's habit, and the tap's
        reconcile pass) is also when the pass started: a row last written at or after it was
        written during the pass by someone else (a webhook follower, another run) and is kept.
        """
        info = self.catalog.root(stream)
        if info is None:
            return 0
        before = version_time(version)
        values = (utc_now(), version, before, before)
        cursor = self.conn.execute(sql.mark_deleted(info.name), values)
        return cursor.rowcount

    def save_state(self, state: t.Any) -> None:
        self.conn.execute(sql.SAVE_STATE, (json.dumps(state), utc_now()))


def _parent_path(plan: TablePlan, table: TablePlan) -> normalize.Path:
    for candidate in plan.walk():
        if table in candidate.children:
            return candidate.path
    raise KeyError(table.path)
