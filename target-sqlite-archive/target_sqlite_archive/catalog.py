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

from target_sqlite_archive.normalize import Column, TablePlan, dumps
from target_sqlite_archive.sql import CHILD_META, ROOT_META, root_index_name

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
    columns: dict[tuple[str, str], str] = field(default_factory=dict)  # (path, kind) -> name
    taken: set[str] = field(default_factory=set)

    def column_names(self, plan: TablePlan) -> list[str]:
        """The names of a plan's columns, in plan order."""
        return [self.columns[(dumps(list(c.path)), c.kind)] for c in plan.columns]

    def typed_columns(self) -> list[tuple[Column, str]]:
        """Every column of the table with what it holds, in the order they were added."""
        return [
            (Column(tuple(json.loads(path)), kind), name)
            for (path, kind), name in self.columns.items()
        ]

    def name_column(self, column: Column) -> NewColumn:
        """Name a new column of this table; the name is taken at once."""
        path = dumps(list(column.path))
        base = "__".join(column.path) if column.path else "value"
        if any(p == path for (p, _kind) in self.columns):
            # The property changed type: a new column beside the old one, so no stored value
            # is ever converted (SQLite affinity would turn "0123" into 123).
            base = f"{base}__{column.kind}"
        name = allocate(base, self.taken)
        self.columns[(path, column.kind)] = name
        return NewColumn(name, column.kind, path)

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
        self.taken_tables = {fold(name) for name in schema_names}
        self.tables: dict[tuple[str, str], TableInfo] = {}
        self.by_name: dict[str, TableInfo] = {}
        for name, stream, path, parent, rel_path, scalar in tables:
            info = TableInfo(name, stream, path, parent, rel_path, bool(scalar))
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
        self, stream: str, plan: TablePlan, parent: TableInfo | None
    ) -> tuple[TableInfo, list[NewColumn]]:
        """Name a table for a plan the catalog does not know, and all its columns."""
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
        # Index names live in the same namespace as tables.
        self.taken_tables.add(fold(root_index_name(name)))
        columns = [info.name_column(column) for column in plan.columns]
        self._add(info)
        return info, columns
