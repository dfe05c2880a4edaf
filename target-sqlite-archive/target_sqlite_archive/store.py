"""The writer's side of the archive: a transaction per job; upserts, tombstones, raw versions.

SQL text comes from sql.py, names from catalog.py, DDL from tables.py; this module writes
rows. All writes of a commit happen inside `transaction()`.
"""

from __future__ import annotations

import datetime
import json
import time
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass

from target_sqlite_archive import normalize, sql
from target_sqlite_archive.batch import canonical_sha, ms_text, utc_now, version_time
from target_sqlite_archive.codec import (
    FIRST_DICTIONARY_ID,
    ZSTD,
    Dictionary,
    RawCompressor,
    worth_training,
)
from target_sqlite_archive.connection import (
    DEFAULT_BUSY_TIMEOUT_SECONDS,
    open_archive,
    read_catalog,
    read_dictionaries,
)
from target_sqlite_archive.hints import Hints, stream_hints
from target_sqlite_archive.tables import Tables, register_functions

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from target_sqlite_archive.batch import WriteEntry
    from target_sqlite_archive.catalog import TableInfo
    from target_sqlite_archive.encryption import Key
    from target_sqlite_archive.normalize import TablePlan

# Keys per IN (...) lookup: far below SQLite's variable limit.
_LOOKUP_CHUNK = 500
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
# Up to this rowid SQLite gives a new row the largest rowid plus one.
_LAST_SEQUENTIAL_ROWID = 2**63 - 1


def _bindable(row: tuple[t.Any, ...]) -> tuple[t.Any, ...]:
    # SQLite integers are 64-bit: a larger one is kept as its decimal text (and exactly in
    # the raw archive).
    return tuple(str(v) if v.__class__ is int and not -(2**63) <= v < 2**63 else v for v in row)


@dataclass(slots=True)
class PreparedStream:
    """A stream's plan bound to its tables, with its statements ready."""

    generation: int
    plan: TablePlan
    keys: tuple[str, ...]
    hints: Hints
    root: TableInfo
    upsert_sql: str
    children: dict[normalize.Path, TableInfo]
    child_sqls: dict[normalize.Path, str]
    delete_sqls: list[str]  # one per created child table of the stream, old schemas' included
    fts_columns: list[str]  # the root's search columns its `<table>_fts` indexes; [] none
    mark_sqls: list[str]  # the same tables, for a tombstone
    layout: str  # what the rows of a record depend on besides the record (`layout_of`)


class ArchiveStore:
    """The archive file as the writer process holds it."""

    def __init__(
        self,
        path: str,
        *,
        compression_level: int,
        busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        autocheckpoint: bool = True,
        encryption_key: Key | None = None,
        full_text_search: dict[str, t.Any] | None = None,
        indexes: dict[str, t.Any] | None = None,
    ) -> None:
        self.conn = open_archive(
            path,
            busy_timeout_seconds=busy_timeout_seconds,
            autocheckpoint=autocheckpoint,
            encryption_key=encryption_key,
        )
        register_functions(self.conn)
        self.full_text_search = full_text_search or {}
        self.indexes = indexes or {}
        self._generation = 0
        self._prepared: dict[tuple[str, int], PreparedStream] = {}
        self._compression_level = compression_level
        self._load_catalog()

    def close(self) -> None:
        self.conn.close()

    def checkpoint(self) -> None:
        """Copy committed pages from the WAL into the database file, without waiting for
        readers (SQLite's PASSIVE mode)."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def hints_of(self, stream: str, schema: dict[str, t.Any]) -> Hints:
        return stream_hints(stream, schema, self.full_text_search, self.indexes)

    def plan(self, stream: str, schema: dict[str, t.Any]) -> TablePlan:
        """The plan of a stream's schema, with the search text its hints ask for."""
        return normalize.build_plan(schema, self.hints_of(stream, schema).search)

    def _load_catalog(self) -> None:
        """Read the name mappings and the raw versions' dictionaries; also after a rollback,
        which may undo new names and a dictionary trained in it."""
        self._generation += 1
        self._prepared.clear()
        self.catalog = read_catalog(self.conn)
        dictionaries = read_dictionaries(self.conn)
        self._compressor = RawCompressor(self._compression_level, dictionaries)
        # The dictionaries the target has not been told of (take_dictionaries): after a
        # rollback, again every one the file holds.
        self._untold = list({d.stream: d for d in dictionaries}.values())

    def take_dictionaries(self) -> list[Dictionary]:
        """The newest dictionary of each stream that the target was not given yet (each
        committed: called after COMMIT), so that it compresses those streams' versions."""
        untold, self._untold = self._untold, []
        return untold

    def prepare(
        self, stream: str, plan: TablePlan, keys: Sequence[str], *, rows: bool = True
    ) -> PreparedStream:
        """Tables, columns and statements for a stream's plan (DDL only when new); the root
        table is created only when `rows` are coming."""
        cache_key = (stream, id(plan))
        prepared = self._prepared.get(cache_key)
        # `is`: an id can be reused by a new plan once an old sink's plan is freed.
        if (
            prepared is not None
            and prepared.plan is plan
            and prepared.generation == self._generation
            and (prepared.root.created or not rows)
        ):
            return prepared
        hints = self.hints_of(stream, plan.schema or {})
        tables = Tables(self.conn, self.catalog)
        infos = tables.ensure(stream, plan, keys, hints, rows=rows)
        if tables.changed:
            self._generation += 1
        root = infos[()]
        for link in hints.links:
            column = self._key_column(root, link.path[0]) if len(link.path) == 1 else None
            if column is not None:
                part_of = link == hints.part_of
                self.conn.execute(
                    sql.SAVE_LINK, (root.name, column, link.stream, link.key, part_of)
                )
        created = [i for i in self.catalog.of_stream(stream) if i.parent and i.created]
        prepared = PreparedStream(
            generation=self._generation,
            plan=plan,
            keys=tuple(keys),
            hints=hints,
            root=root,
            upsert_sql=sql.upsert_root(
                root.name, root.column_names(plan), root.columns.values(), bool(keys)
            ),
            children={path: info for path, info in infos.items() if path},
            child_sqls={
                table.path: sql.insert_child(
                    infos[table.path].name,
                    infos[table.path].column_names(table),
                    infos[table.path].key_columns(),
                )
                for table in plan.walk()
                if table.path
            },
            delete_sqls=[sql.delete_descendants(i.name) for i in created],
            fts_columns=[
                root.columns[(normalize.dumps(list(path)), normalize.TEXT)] for path in plan.search
            ]
            if root.created
            else [],
            mark_sqls=[sql.mark_descendants(i.name) for i in created],
            layout=layout_of(plan, keys),
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
        self,
        stream: str,
        plan: TablePlan,
        keys: Sequence[str],
        entries: Sequence[WriteEntry],
        codec: str | None = None,
    ) -> None:
        """Upsert a batch of one stream's normalized records, their descendants and raw
        versions; mark the rows of its tombstones deleted. `codec`: the one the entries' raw
        texts are compressed with already (None: as received)."""
        keyed = bool(keys)
        prepared = self.prepare(stream, plan, keys, rows=bool(entries))
        if not entries:
            return  # the stream's first hand-over in this run: its tables are up to date
        # The hash of each key's stored version, read before this batch overwrites it, and
        # the keys whose row is current (written with this layout, not marked deleted).
        if keyed:
            since = self._layout_since(prepared)
            stored, current = self._stored(prepared.root.name, entries, since)
        else:
            stored, current = {}, set()

        # Only the last version of a key within the batch is written; descendants of rows
        # that existed are replaced (deleted here, inserted below, same transaction).
        # A tombstone after a key's last version in the batch marks what that version wrote.
        latest: dict[str, WriteEntry] = {}
        buried: dict[str, WriteEntry] = {}
        for e in entries:
            if e.deleted_at is not None and keyed:
                buried[e.row_id] = e
            else:
                latest[e.row_id] = e
                buried.pop(e.row_id, None)
        tombstones = list(buried.values())
        # A current row whose record comes again unchanged would be written as it is: only its
        # bookkeeping moves (when and in which table version it was received). An incremental
        # run sends many such records: a full-table stream's whole list, every part of a
        # conversation that changed.
        touched = [
            (e.received_at, e.version, i)
            for i, e in latest.items()
            if i in current and stored[i] == e.sha
        ]
        if touched:
            self.conn.executemany(sql.touch_root(prepared.root.name), touched)
            for _received_at, _version, i in touched:
                del latest[i]
        replaced = [(i,) for i in latest if i in stored]
        if replaced:
            for statement in prepared.delete_sqls:
                self.conn.executemany(statement, replaced)
            self._index(prepared, [i for (i,) in replaced], sql.fts_delete)
        rows = []
        children: dict[normalize.Path, list[tuple[t.Any, ...]]] = {}
        for row_id, e in latest.items():
            rows.append((row_id, *e.values, e.received_at, e.version, e.sha))
            for path, child_rows in e.children.items():
                children.setdefault(path, []).extend(child_rows)
        last = self._last_rowid(prepared)
        self._insert(prepared.upsert_sql, rows)
        self._index_written(prepared, list(latest), stored, last)
        for path, child_rows in children.items():
            info = prepared.children[path]
            if not info.created:
                # No table without data: a child table is created with its first row.
                Tables(self.conn, self.catalog).create(info, keys, prepared.hints)
                self._generation += 1
                prepared.delete_sqls.append(sql.delete_descendants(info.name))
                prepared.mark_sqls.append(sql.mark_descendants(info.name))
            self._insert(prepared.child_sqls[path], child_rows)
        if tombstones:
            self._bury(prepared, tombstones, stored.keys() | latest.keys())

        # A version equal to the latest one stored for its key is not stored again.
        kept: list[WriteEntry] = []
        for e in entries:
            if keyed and stored.get(e.row_id) == e.sha:
                continue
            stored[e.row_id] = e.sha
            kept.append(e)
        self._write_raw(stream, kept, keyed=keyed, codec=codec)

    def _write_raw(
        self, stream: str, kept: Sequence[WriteEntry], *, keyed: bool, codec: str | None
    ) -> None:
        """The raw rows of a batch's new versions, compressed with the stream's dictionary
        (already, with `codec`); the first batch big enough trains it, stored in the same
        transaction."""
        if codec is not None:
            rows = [
                (stream, e.row_id if keyed else None, e.received_at, e.version, e.sha, e.raw, codec)
                for e in kept
            ]
            self.conn.executemany(sql.INSERT_RAW, rows)
            return
        codec, compress = self._compressor.for_stream(stream)
        if codec == ZSTD and worth_training(texts := [e.raw for e in kept]):
            # The next id is read inside this write transaction: another writer of the same
            # file (a webhook follower) may have stored a dictionary since this one opened it.
            (last,) = self.conn.execute(sql.LAST_DICTIONARY_ID).fetchone()
            dict_id = max(FIRST_DICTIONARY_ID, (last or 0) + 1)
            trained = self._compressor.train(stream, texts, dict_id)
            if trained is not None:
                self.conn.execute(sql.INSERT_DICTIONARY, (dict_id, stream, utc_now(), trained.data))
                self._untold.append(trained)
                codec, compress = self._compressor.for_stream(stream)
        rows = [
            (
                stream,
                e.row_id if keyed else None,
                e.received_at,
                e.version,
                e.sha,
                compress(e.raw),
                codec,
            )
            for e in kept
        ]
        self.conn.executemany(sql.INSERT_RAW, rows)

    def _bury(
        self,
        prepared: PreparedStream,
        tombstones: Sequence[WriteEntry],
        existing: t.AbstractSet[str],
    ) -> None:
        """Mark tombstoned rows and their descendants deleted, their data left as it was; a
        key never seen gets a row of its keys and metadata only. Rows of streams that are
        parts of this one (`x-part-of`) are marked too."""
        root = prepared.root
        marks = [
            (e.deleted_at, e.merged_into, e.received_at, e.version, e.sha, e.row_id)
            for e in tombstones
            if e.row_id in existing
        ]
        self.conn.executemany(sql.mark_tombstone(root.name), marks)
        new = [e for e in tombstones if e.row_id not in existing]
        if new:
            key_columns = [self._key_column(root, k) for k in prepared.keys]
            usable = [c for c in key_columns if c is not None]
            statement = sql.insert_tombstone(root.name, usable)
            rows = []
            for e in new:
                values = json.loads(e.row_id)
                key_values = [v for v, c in zip(values, key_columns, strict=False) if c is not None]
                row = (e.row_id, e.deleted_at, e.merged_into, e.received_at, e.version, e.sha)
                rows.append((*row, *key_values))
            self._insert(statement, rows)
            self._index(prepared, [e.row_id for e in new], sql.fts_insert)
        ids = [(e.deleted_at, e.row_id) for e in tombstones]
        for statement in prepared.mark_sqls:
            self.conn.executemany(statement, ids)
        for owned in self._parts_of(prepared.root.stream):
            info, column, link_key = owned
            pairs = [
                (e.deleted_at, _key_value(e.row_id, prepared.keys, link_key)) for e in tombstones
            ]
            self.conn.executemany(sql.mark_parts(info.name, column), pairs)
            for child in self.catalog.of_stream(info.stream):
                if child.parent is not None and child.created:
                    self.conn.executemany(
                        sql.mark_parts_descendants(child.name, info.name, column), pairs
                    )

    def _index(
        self,
        prepared: PreparedStream,
        row_ids: list[str],
        statement: t.Callable[[str, Sequence[str], int], str],
    ) -> None:
        """Remove or add the full-text entries of these rows, in the batch's transaction."""
        columns = prepared.fts_columns
        if not columns or not row_ids:
            return
        table = prepared.root.name
        for start in range(0, len(row_ids), _LOOKUP_CHUNK):
            chunk = row_ids[start : start + _LOOKUP_CHUNK]
            self.conn.execute(statement(table, columns, len(chunk)), chunk)

    def _last_rowid(self, prepared: PreparedStream) -> int | None:
        """The root table's largest rowid, if it has a full-text index to keep in step."""
        if not prepared.fts_columns:
            return None
        (last,) = self.conn.execute(sql.last_rowid(prepared.root.name)).fetchone()
        return int(last)

    def _index_written(
        self,
        prepared: PreparedStream,
        row_ids: list[str],
        stored: t.Container[str],
        last: int | None,
    ) -> None:
        """The full-text entries of the rows the upsert just wrote, `last` the largest rowid
        before it: rows it replaced by `_sdc_id`, the new ones by one scan of the rowids
        above `last` (half the cost of looking each up by `_sdc_id`)."""
        if last is None or last >= _LAST_SEQUENTIAL_ROWID - len(row_ids):
            # Near the largest rowid SQLite picks new ones at random: each looked up.
            self._index(prepared, row_ids, sql.fts_insert)
            return
        replaced = [i for i in row_ids if i in stored]
        self._index(prepared, replaced, sql.fts_insert)
        if len(replaced) < len(row_ids):
            statement = sql.fts_insert_after(prepared.root.name, prepared.fts_columns)
            self.conn.execute(statement, (last,))

    def _key_column(self, info: TableInfo, key: str) -> str | None:
        path = normalize.dumps([key])
        for (column_path, kind), name in info.columns.items():
            if column_path == path and kind not in (normalize.TEXT, sql.KEY):
                return name
        return None

    def _parts_of(self, stream: str) -> list[tuple[TableInfo, str, str]]:
        """(root table, owner column, owner key) of the streams that are parts of this one
        (`x-part-of`, recorded in `_archive_links` when their tables were prepared)."""
        found = []
        for table, column, key in self.conn.execute(sql.SELECT_PARTS, (stream,)):
            info = self.catalog.by_name.get(table)
            if info is not None and info.created:
                found.append((info, column, key))
        return found

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

    def _stored(
        self, root: str, entries: Sequence[WriteEntry], since: str
    ) -> tuple[dict[str, bytes], set[str]]:
        """The raw hash of the stored version of each id that has a row, and the ids whose row
        is current: not marked deleted, and written at or after `since` (`_layout_since`)."""
        found: dict[str, bytes] = {}
        current: set[str] = set()
        pending = list({e.row_id for e in entries})
        for start in range(0, len(pending), _LOOKUP_CHUNK):
            chunk = pending[start : start + _LOOKUP_CHUNK]
            for row_id, sha, is_current in self.conn.execute(
                sql.stored_rows(root, len(chunk)), (since, *chunk)
            ):
                found[row_id] = sha
                if is_current:
                    current.add(row_id)
        return found, current

    def _layout_since(self, prepared: PreparedStream) -> str:
        """Since when the root table's rows are written with this stream's layout (in the
        form of `_sdc_received_at`); recorded here, in the batch's transaction, if it is new.

        A new layout starts after the latest row the table holds, so that no row an earlier
        layout wrote (another schema, another target version, a writer beside this one) counts
        as current; rows this target receives from then on do.
        """
        table = prepared.root.name
        row = self.conn.execute(sql.SELECT_LAYOUT, (table,)).fetchone()
        if row is not None and row[0] == prepared.layout:
            return str(row[1])
        (latest,) = self.conn.execute(sql.latest_received(table)).fetchone()
        since = _after(latest)
        self.conn.execute(sql.SAVE_LAYOUT, (table, prepared.layout, since))
        return since

    def mark_deleted(self, stream: str, version: int) -> int:
        """ACTIVATE_VERSION: rows a newer complete pass did not send are marked, not dropped.

        A version that is a Unix time in milliseconds (singer-python's habit, and the tap's
        reconcile pass) is also when the pass started: a row last written at or after it was
        written during the pass by someone else (a webhook follower, another run) and is kept.
        """
        info = self.catalog.root(stream)
        if info is None or not info.created:
            return 0
        before = version_time(version)
        values = (utc_now(), version, before, before)
        cursor = self.conn.execute(sql.mark_deleted(info.name), values)
        return cursor.rowcount

    def save_state(self, state: t.Any) -> None:
        self.conn.execute(sql.SAVE_STATE, (json.dumps(state), utc_now()))


def layout_of(plan: TablePlan, keys: Sequence[str]) -> str:
    """What the rows of a record depend on besides the record itself: its stream's schema,
    keys and search paths, the tables' format and how records become rows (a hash)."""
    described = [
        normalize.LAYOUT_VERSION,
        sql.TABLE_FORMAT,
        plan.schema,
        [list(path) for path in plan.search],
        list(keys),
    ]
    return canonical_sha(described).hex()


def _after(received_at: t.Any) -> str:
    """The `_sdc_received_at` text one millisecond after a stored one; '' after none (an empty
    table); now after one that does not read as a time."""
    if received_at is None:
        return ""
    try:
        moment = datetime.datetime.fromisoformat(str(received_at))
    except ValueError:
        return ms_text(time.time_ns() // 1_000_000 + 1)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    # Whole milliseconds by timedelta's exact arithmetic (a float timestamp can round down).
    ms = (moment - _EPOCH) // datetime.timedelta(milliseconds=1)
    return ms_text(ms + 1)


def _key_value(row_id: str, keys: Sequence[str], key: str) -> t.Any:
    """One key property's value out of a row id (the JSON array of the key values)."""
    return json.loads(row_id)[list(keys).index(key)]
