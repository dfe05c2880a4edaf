"""The archive's tables: created, given new columns, keys, indexes and full-text search, rebuilt.

Runs the DDL that sql.py writes, inside the writer's transaction, on what the catalog names:
- a root table is created with its stream's first batch, a child table with its first row;
  the catalog records every table and column before that;
- a table of an older layout (see `sql.TABLE_FORMAT`) is rebuilt in place when its stream
  next comes (its SCHEMA is enough): the views and triggers that name it are dropped and
  recreated around the rebuild, and its full-text index is rebuilt from the new table.
"""

# S608: SQL text here is built only from `quote`d identifiers and constants; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import json
import sqlite3
import typing as t

from target_sqlite_archive import sql
from target_sqlite_archive.catalog import Catalog, NewColumn, TableInfo
from target_sqlite_archive.normalize import TEXT, dumps, search_text
from target_sqlite_archive.sql import KEY, TABLE_FORMAT, quote

if t.TYPE_CHECKING:
    from collections.abc import Sequence

    from target_sqlite_archive.hints import Hints
    from target_sqlite_archive.normalize import Path, TablePlan

_REBUILD = "_archive_rebuild"
SEARCH_TEXT_FUNCTION = "_archive_search_text"


def register_functions(conn: sqlite3.Connection) -> None:
    """The Python functions the DDL here calls, on the writer's connection."""
    conn.create_function(SEARCH_TEXT_FUNCTION, 1, search_text, deterministic=True)


class Tables:
    """The DDL side of one stream's batch: what its tables need before rows go in."""

    def __init__(self, conn: sqlite3.Connection, catalog: Catalog) -> None:
        self.conn = conn
        self.catalog = catalog
        self.changed = False  # DDL ran: prepared statements of other plans may be stale

    def ensure(
        self, stream: str, plan: TablePlan, keys: Sequence[str], hints: Hints, *, rows: bool
    ) -> dict[Path, TableInfo]:
        """Every table of the plan known to the catalog, with its columns; the root table
        (or rebuilt) with its keys, links, indexes and full-text index, created if `rows`
        are coming."""
        infos: dict[Path, TableInfo] = {}
        for table in plan.walk():
            parent = None if not table.path else infos[_parent_path(plan, table)]
            info = self.catalog.get(stream, table.path)
            if info is None:
                info, columns = self.catalog.new_table(stream, table, parent, keys)
                self.conn.execute(
                    sql.INSERT_TABLE,
                    (
                        info.name,
                        info.stream,
                        info.path,
                        info.parent,
                        info.rel_path,
                        info.scalar,
                        info.format,
                    ),
                )
                self._record(info, columns)
            else:
                if info.created and info.format < TABLE_FORMAT:
                    self._rebuild(info, keys, hints)
                new = info.new_columns(table)
                if info.created:
                    for column in new:
                        self.conn.execute(sql.add_column(info.name, column.name, column.kind))
                        if column.kind == TEXT:
                            self._fill_search_text(info, column)
                self._record(info, new)
            infos[table.path] = info
        for info in self.catalog.of_stream(stream):
            # Child tables of the stream's older schemas are upgraded too: every table a
            # tombstone marks has the columns it sets.
            if info.created and info.format < TABLE_FORMAT:
                self._rebuild(info, keys, hints)
        root = infos[()]
        if not root.created and rows:
            self.create(root, keys, hints)
        if root.created:
            self._index_root(root, hints)
            self._sync_fts(root, plan)
        return infos

    def _fill_search_text(self, info: TableInfo, column: NewColumn) -> None:
        """A search column added to rows that exist: computed from the columns they have
        (a JSON column's member through json_extract), as normalize.search_text would."""
        path = tuple(json.loads(column.path))
        for n in range(len(path), 0, -1):
            source = self._column(info, path[:n])
            if source is None:
                continue
            value = quote(source)
            if n < len(path):
                member = "".join('."' + p.replace('"', '""') + '"' for p in path[n:])
                value = f"json_extract({value}, '${member.replace(chr(39), chr(39) * 2)}')"
            self.conn.execute(
                f"UPDATE {quote(info.name)} SET {quote(column.name)} = "
                f"{SEARCH_TEXT_FUNCTION}({value})"
            )
            return

    def _record(self, info: TableInfo, columns: list[NewColumn]) -> None:
        if columns:
            self.conn.executemany(
                sql.INSERT_COLUMN, [(info.name, c.path, c.kind, c.name) for c in columns]
            )
            self.changed = True

    def _column(self, info: TableInfo, path: Path) -> str | None:
        """The column holding a property (its first type's), if the table has one."""
        wanted = dumps(list(path))
        for (column_path, kind), name in info.columns.items():
            if column_path == wanted and kind not in (TEXT, KEY):
                return name
        return None

    def create(
        self, info: TableInfo, keys: Sequence[str], hints: Hints, *, name: str | None = None
    ) -> None:
        """CREATE TABLE with every column the catalog has for it, its keys and links."""
        columns = info.data_columns()
        foreign_keys: list[sql.ForeignKey] = []
        primary_key: list[str] = []
        if info.parent is None:
            found = [self._column(info, (key,)) for key in keys]
            primary_key = [c for c in found if c is not None] if None not in found else []
            for link in hints.links:
                column = self._column(info, link.path)
                if column is not None:
                    other = self.catalog.root(link.stream)
                    target = other.name if other is not None else link.stream
                    foreign_keys.append(sql.ForeignKey(column, target, link.key))
        else:
            root = self._root_of(info)
            key_columns = info.key_columns()
            root_key = [self._column(root, (key,)) for key in keys]
            if len(key_columns) == 1 and len(root_key) == 1 and root_key[0] is not None:
                foreign_keys.append(sql.ForeignKey(key_columns[0], root.name, root_key[0]))
            else:
                foreign_keys.append(sql.ForeignKey("_sdc_root_id", root.name, "_sdc_id"))
            if info.parent != root.name:
                foreign_keys.append(sql.ForeignKey("_sdc_parent_id", info.parent, "_sdc_id"))
        self.conn.execute(
            sql.create_table(
                info.name,
                columns,
                child=info.parent is not None,
                primary_key=primary_key,
                foreign_keys=foreign_keys,
                name=name,
            )
        )
        if name is None:
            self._created(info)

    def _created(self, info: TableInfo) -> None:
        info.created = True
        info.format = TABLE_FORMAT
        self.conn.execute(sql.SET_TABLE_FORMAT, (TABLE_FORMAT, info.name))
        if info.parent is not None:
            self._index_child(info)
        self.changed = True

    def _root_of(self, info: TableInfo) -> TableInfo:
        root = self.catalog.root(info.stream)
        assert root is not None
        return root

    def _index_child(self, info: TableInfo) -> None:
        indexes = [sql.Index(sql.root_index_name(info.name), ("_sdc_root_id",))]
        key_columns = tuple(info.key_columns())
        if key_columns:
            name = sql.index_name(info.name, key_columns)
            indexes.append(sql.Index(name, key_columns))
        if info.parent != self._root_of(info).name:
            name = sql.index_name(info.name, ("_sdc_parent_id",))
            indexes.append(sql.Index(name, ("_sdc_parent_id",)))
        for index in indexes:
            self.conn.execute(sql.create_index(info.name, index))

    def _index_root(self, info: TableInfo, hints: Hints) -> None:
        # The primary key's own index serves lookups by its first column (a part's
        # conversation_id): a second index on that column would only cost every insert.
        (leading,) = self.conn.execute(
            "SELECT group_concat(name) FROM pragma_table_info(?) WHERE pk = 1", (info.name,)
        ).fetchone()
        for wanted in hints.indexes:
            column = self._column(info, wanted.path)
            if column is None or (column == leading and not wanted.case_folded):
                continue
            name = sql.index_name(info.name, (column,), case_folded=wanted.case_folded)
            index = sql.Index(name, (column,), wanted.case_folded)
            self.conn.execute(sql.create_index(info.name, index))

    def _sync_fts(self, info: TableInfo, plan: TablePlan) -> None:
        """The root's full-text index over the plan's search columns: created, changed or
        dropped to match them."""
        wanted = [info.columns[(dumps(list(path)), TEXT)] for path in plan.search]
        fts = sql.fts_table(info.name)
        have = [row[1] for row in self.conn.execute(f"PRAGMA table_info({quote(fts)})")]
        if have == wanted:
            return
        for statement in sql.drop_fts(info.name):
            self.conn.execute(statement)
        if wanted:
            for statement in sql.create_fts(info.name, wanted):
                self.conn.execute(statement)
        self.changed = True

    # -- upgrading a table of an older format -----------------------------------------------

    def _rebuild(self, info: TableInfo, keys: Sequence[str], hints: Hints) -> None:
        """Rewrite a table in the current format, keeping every row (and its rowid, which its
        full-text index refers to)."""
        q = quote(info.name)
        if info.parent is not None:
            if self.conn.execute(f"SELECT 1 FROM {q} LIMIT 1").fetchone() is None:
                # No table without data: an empty child table waits for its first row.
                self.conn.execute(f"DROP TABLE {q}")
                info.created = False
                info.format = TABLE_FORMAT
                self.conn.execute(sql.SET_TABLE_FORMAT, (TABLE_FORMAT, info.name))
                return
            self._record(info, info.new_key_columns(keys))
        dependents = self._dependents(info.name)
        for kind, name, _sql in dependents:
            self.conn.execute(f"DROP {kind.upper()} IF EXISTS {quote(name)}")
        old = [row[1] for row in self.conn.execute(f"PRAGMA table_info({q})")]
        self.create(info, keys, hints, name=_REBUILD)
        new = [row[1] for row in self.conn.execute(f"PRAGMA table_info({quote(_REBUILD)})")]
        copied = [c for c in new if c in old]
        sources = [quote(c) for c in copied]
        for n, column in enumerate(info.key_columns()):
            copied.append(column)
            sources.append(f"json_extract(_sdc_root_id, '$[{n}]')")
        self.conn.execute(
            f"INSERT INTO {quote(_REBUILD)} (rowid, {', '.join(map(quote, copied))}) "
            f"SELECT rowid, {', '.join(sources)} FROM {q}"
        )
        self.conn.execute(f"DROP TABLE {q}")
        self.conn.execute(f"ALTER TABLE {quote(_REBUILD)} RENAME TO {q}")
        self._created(info)
        # Indexes first, then triggers, then views: each may name what the one before made.
        for kind in ("index", "trigger", "view"):
            for dependent_kind, _name, text in dependents:
                if dependent_kind == kind:
                    self.conn.execute(text)
        fts = sql.fts_table(info.name)
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (fts,)).fetchone():
            self.conn.execute(sql.rebuild_fts(info.name))

    def _dependents(self, table: str) -> list[tuple[str, str, str]]:
        """(type, name, sql) of the views and triggers that may name a table, and of its own
        indexes that are not the archive's: what a rebuild drops and recreates."""
        found = []
        needle = table.lower()
        for kind, name, tbl_name, text in self.conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE type IN ('view', 'trigger', 'index') AND sql IS NOT NULL"
        ):
            if kind == "index":
                if tbl_name == table and not name.startswith("_archive_"):
                    found.append((kind, name, text))
            elif tbl_name == table or needle in text.lower():
                found.append((kind, name, text))
        return found


def _parent_path(plan: TablePlan, table: TablePlan) -> Path:
    for candidate in plan.walk():
        if table in candidate.children:
            return candidate.path
    raise KeyError(table.path)
