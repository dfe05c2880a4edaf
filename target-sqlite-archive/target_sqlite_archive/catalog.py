"""The archive's catalog: which table and column holds which stream path, and naming them.

Pure: it works on rows read from `_archive_tables` and `_archive_columns` and says what is
new; the store runs the DDL and records it. Names are chosen once and reused on every later
run, so a table or column never changes name, and two names SQLite would treat as one (it
compares identifiers without case) never share a column: the later one gets a `_2`, `_3`...
suffix.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field

from target_sqlite_archive.normalize import TEXT, Column, TablePlan, dumps
from target_sqlite_archive.sql import (
    CHILD_META,
    KEY,
    ROOT_META,
    TABLE_FORMAT,
    fts_table,
    root_index_name,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

RESERVED_PREFIXES = ("_archive_", "sqlite_")
ROOT_PATH = "[]"


def fold(name: str) -> str:
    # SQLite folds only ASCII case; folding more is merely over-cautious.
    return name.lower()


def allocate(base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`... : the first name no other identifier folds to."""
    base = base.replace("\x00", "_") or "_"
    candidate, n = base, 2
    while fold(candidate) in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(fold(candidate))
    return candidate


class NewColumn(t.NamedTuple):
    name: str
    kind: str
    path: str  # JSON array


@dataclass(slots=True)
class TableInfo:
    name: str
    stream: str
    path: str  # JSON array
    parent: str | None
    rel_path: str  # JSON array
    scalar: bool
    format: int = TABLE_FORMAT  # the table layout it was made in (sql.TABLE_FORMAT)
    created: bool = False  # False: known to the catalog, but no row has come yet
    columns: dict[tuple[str, str], str] = field(default_factory=dict)  # (path, kind) -> name
    taken: set[str] = field(default_factory=set)

    def key_columns(self) -> list[str]:
        """A child table's copies of its root's key properties, in key order."""
        return [name for (_path, kind), name in self.columns.items() if kind == KEY]

    def data_columns(self) -> list[tuple[str, str]]:
        """(name, kind) of every column but the bookkeeping ones, in the order they came."""
        return [(name, kind) for (_path, kind), name in self.columns.items()]

    def column_names(self, plan: TablePlan) -> list[str]:
        """The names of a plan's columns, in plan order."""
        return [self.columns[(dumps(list(c.path)), c.kind)] for c in plan.columns]

    def typed_columns(self) -> list[tuple[Column, str]]:
        """Every column holding a property, with what it holds, in the order they were added."""
        return [
            (Column(tuple(json.loads(path)), kind), name)
            for (path, kind), name in self.columns.items()
            if kind not in (KEY, TEXT)
        ]

    def name_column(self, column: Column) -> NewColumn:
        """Name a new column of this table; the name is taken at once."""
        path = dumps(list(column.path))
        base = "__".join(column.path) if column.path else "value"
        if column.kind == TEXT:
            base += "__text"  # beside the property's own column, same name and a suffix
        elif any(p == path and kind not in (TEXT, KEY) for (p, kind) in self.columns):
            # The property changed type: a new column beside the old one, so no stored value
            # is ever converted (SQLite affinity would turn "0123" into 123).
            base = f"{base}__{column.kind}"
        name = allocate(base, self.taken)
        self.columns[(path, column.kind)] = name
        return NewColumn(name, column.kind, path)

    def new_key_columns(self, root_keys: Sequence[str]) -> list[NewColumn]:
        """Name a child table's copies of its root's key properties (`root__<key>`)."""
        new = []
        for key in root_keys:
            path = dumps([key])
            if (path, KEY) not in self.columns:
                name = allocate(f"root__{key}", self.taken)
                self.columns[(path, KEY)] = name
                new.append(NewColumn(name, KEY, path))
        return new

    def new_columns(self, plan: TablePlan) -> list[NewColumn]:
        """Name the plan's columns the table does not have yet."""
        return [
            self.name_column(column)
            for column in plan.columns
            if (dumps(list(column.path)), column.kind) not in self.columns
        ]


class Catalog:
    """Every table and column the archive knows, by stream and path."""

    def __init__(
        self,
        schema_names: Iterable[str],
        tables: Iterable[Sequence[t.Any]],
        columns: Iterable[Sequence[t.Any]],
    ) -> None:
        """From the names in `sqlite_master` and the rows of the two catalog tables."""
        existing = set(schema_names)
        self.taken_tables = {fold(name) for name in existing}
        self.tables: dict[tuple[str, str], TableInfo] = {}
        self.by_name: dict[str, TableInfo] = {}
        for name, stream, path, parent, rel_path, scalar, version in tables:
            info = TableInfo(
                name, stream, path, parent, rel_path, bool(scalar), version, name in existing
            )
            self.taken_tables.add(fold(name))
            info.taken = {fold(c) for c in (ROOT_META if parent is None else CHILD_META)}
            self._add(info)
        for table, path, kind, column in columns:
            info = self.by_name[table]
            info.columns[(path, kind)] = column
            info.taken.add(fold(column))

    def _add(self, info: TableInfo) -> None:
        self.tables[(info.stream, info.path)] = info
        self.by_name[info.name] = info

    def get(self, stream: str, path: Sequence[str] = ()) -> TableInfo | None:
        return self.tables.get((stream, dumps(list(path))))

    def root(self, stream: str) -> TableInfo | None:
        return self.tables.get((stream, ROOT_PATH))

    def of_stream(self, stream: str) -> list[TableInfo]:
        """The stream's tables, parents before children (old schemas' included)."""
        tables = [i for i in self.tables.values() if i.stream == stream]
        return sorted(tables, key=lambda i: len(json.loads(i.path)))

    def new_table(
        self, stream: str, plan: TablePlan, parent: TableInfo | None, root_keys: Sequence[str]
    ) -> tuple[TableInfo, list[NewColumn]]:
        """Name a table for a plan the catalog does not know, and all its columns (a child's
        copies of its root's key properties first)."""
        base = stream if parent is None else parent.name + "__" + "__".join(plan.rel_path)
        if base.lower().startswith(RESERVED_PREFIXES):
            base = "t_" + base  # the archive's own namespace is never a stream's
        name = allocate(base, self.taken_tables)
        info = TableInfo(
            name=name,
            stream=stream,
            path=dumps(list(plan.path)),
            parent=parent.name if parent else None,
            rel_path=dumps(list(plan.rel_path)),
            scalar=plan.scalar,
            taken={fold(c) for c in (ROOT_META if parent is None else CHILD_META)},
        )
        # Index and full-text table names live in the same namespace as tables.
        self.taken_tables.add(fold(root_index_name(name)))
        if parent is None:
            self.taken_tables.add(fold(fts_table(name)))
        columns = [] if parent is None else info.new_key_columns(root_keys)
        columns += [info.name_column(column) for column in plan.columns]
        self._add(info)
        return info, columns
