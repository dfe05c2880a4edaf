"""Reading the archive back: the last state, raw versions, and records reassembled from tables.

For users, replay and the tests; the writer never needs it.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

from target_sqlite_archive import normalize, sql
from target_sqlite_archive.catalog import TableInfo
from target_sqlite_archive.codec import RawDecoder
from target_sqlite_archive.connection import (
    DEFAULT_BUSY_TIMEOUT_SECONDS,
    open_archive,
    read_catalog,
    read_dictionaries,
)
from target_sqlite_archive.encryption import Connection, Key, connect

if t.TYPE_CHECKING:
    from collections.abc import Sequence


def open_for_reading(
    path: str, encryption_key: str | Key | None = None, *, timeout: float = 5.0
) -> Connection:
    """A read-only connection to an existing archive, plain or (with its key) encrypted.

    For other readers (intercom-archive, scripts): the one call that sets the key and the
    cipher page size and names in one line (ArchiveKeyError) a wrong key, a missing key or a
    key for a plain file. It creates and writes nothing; queries that would write fail.
    """
    if not Path(path).is_file():
        msg = f"Archive {path} does not exist (or is not a file)"
        raise FileNotFoundError(msg)
    key = Key(encryption_key) if isinstance(encryption_key, str) else encryption_key
    conn = connect(path, key, timeout=timeout)
    conn.execute("PRAGMA query_only = ON")
    return conn


class ArchiveReader:
    """One archive file, read."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        encryption_key: Key | None = None,
    ) -> None:
        self.conn = open_archive(
            path, busy_timeout_seconds=busy_timeout_seconds, encryption_key=encryption_key
        )
        self.catalog = read_catalog(self.conn)

    def close(self) -> None:
        self.conn.close()

    def load_state(self) -> t.Any:
        row = self.conn.execute(sql.LOAD_STATE).fetchone()
        return None if row is None else json.loads(row[0])

    def table_name(self, stream: str, path: Sequence[str] = ()) -> str | None:
        info = self.catalog.get(stream, path)
        return None if info is None else info.name

    def raw_versions(self, stream: str, key: str | None = None) -> list[tuple[str, str]]:
        """(received_at, record JSON text as received), oldest first."""
        params = (stream,) if key is None else (stream, key)
        rows = self.conn.execute(sql.select_raw(by_key=key is not None), params)
        decoder = RawDecoder(lambda: read_dictionaries(self.conn))
        return [(at, decoder.text(codec, raw).decode()) for at, codec, raw in rows]

    def read_records(self, stream: str, *, include_deleted: bool = True) -> dict[str, t.Any]:
        """Reassemble every root record of a stream from the normalized tables, by `_sdc_id`.

        The tables cannot tell a null from an absent property or an empty array: those are
        left out. The raw archive keeps the exact JSON.
        """
        root = self.catalog.root(stream)
        if root is None or not root.created:
            return {}
        objects: dict[str, dict[str, t.Any]] = {}  # _sdc_id -> the object of that row
        records: dict[str, t.Any] = {}
        columns = root.typed_columns()
        statement = sql.select_root(
            root.name, [name for _c, name in columns], include_deleted=include_deleted
        )
        for row_id, *values in self.conn.execute(statement):
            obj = normalize.assemble_object([c for c, _n in columns], values)
            objects[row_id] = records[row_id] = obj
        for info in self.catalog.of_stream(stream):  # parents before children
            if info.parent is not None and info.created:
                self._attach_children(info, objects)
        return records

    def _attach_children(self, info: TableInfo, objects: dict[str, dict[str, t.Any]]) -> None:
        columns = info.typed_columns()
        statement = sql.select_children(info.name, [name for _c, name in columns])
        rel_path = tuple(json.loads(info.rel_path))
        lists: dict[str, list[t.Any]] = {}
        for row_id, parent_id, *values in self.conn.execute(statement):
            item: t.Any
            if info.scalar:
                item = None
                for (column, _n), value in zip(columns, values, strict=True):
                    if value is not None:
                        item = normalize.from_column(column.kind, value)
            else:
                item = normalize.assemble_object([c for c, _n in columns], values)
                objects[row_id] = item
            lists.setdefault(parent_id, []).append(item)
        for parent_id, items in lists.items():
            parent = objects.get(parent_id)
            if parent is not None:
                normalize.attach(parent, rel_path, items)
