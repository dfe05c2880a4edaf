"""What an archive written by target-sqlite-archive holds of one hydrated stream, read once at
the start of a reconcile pass (archive mode, see tap_intercom.reconcile).

Per live (not tombstoned) conversation or ticket: its id, archived `updated_at`, its live
archived parts, and the part count Intercom stated when it was archived (the parts'
`total_count`, and for conversations `statistics.count_conversation_parts`). The table and
column names come from the archive's own catalog (`_archive_tables`, `_archive_columns`), which
maps each stream and property path to what the target named them, so the tap never depends on
the target's code.

I/O only, and read-only: the file is opened with `mode=ro`. An encrypted archive needs
`sqlcipher3` (the `encrypted-archive` extra), imported only when a key is given.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

from tap_intercom.reconcile import Archived
from tap_intercom.search import to_epoch

#: SQLCipher's page size as target-sqlite-archive writes it (its readers must set it).
CIPHER_PAGE_SIZE = 8192
PLAIN_HEADER = b"SQLite format 3\x00"


class ArchiveUnreadable(Exception):
    """The archive cannot be read: the message says why in one line (never the key)."""


def read(
    path: str,
    key: str | None,
    *,
    stream: str,
    parts_stream: str | None,
    parent_key: str,
    parts_key: str,
) -> dict[str, Archived]:
    """The archive's live records of `stream` by id; empty when it has never held the stream.
    Without `parts_stream` the parts are not counted: each record's are taken as whole."""
    connection, errors = _connect(path, key)
    try:
        return _snapshot(connection, stream, parts_stream, parent_key, parts_key)
    except errors as exc:
        msg = f"{path} cannot be read ({exc})"
        raise ArchiveUnreadable(msg) from None
    finally:
        connection.close()


def _connect(path: str, key: str | None) -> tuple[Any, tuple[type[Exception], ...]]:
    """A read-only connection and the errors its statements raise (sqlcipher3's are not
    sqlite3's)."""
    try:
        with Path(path).open("rb") as handle:
            header = handle.read(len(PLAIN_HEADER))
    except FileNotFoundError:
        msg = f"no file at {path}"
        raise ArchiveUnreadable(msg) from None
    except OSError as exc:
        msg = f"{path} cannot be opened ({exc.strerror})"
        raise ArchiveUnreadable(msg) from None
    uri = f"file:{urllib.parse.quote(str(Path(path).resolve()))}?mode=ro"
    if header == PLAIN_HEADER:
        return sqlite3.connect(uri, uri=True, timeout=30), (sqlite3.Error,)
    if not key:
        msg = (
            f"{path} is encrypted or not an SQLite file: set reconcile_archive_encryption_key "
            "(the target's encryption_key)"
        )
        raise ArchiveUnreadable(msg)
    return _connect_encrypted(path, uri, key)


def _connect_encrypted(path: str, uri: str, key: str) -> tuple[Any, tuple[type[Exception], ...]]:
    try:
        import sqlcipher3  # only an encrypted archive needs it
    except ImportError:
        msg = (
            f"{path} is encrypted and sqlcipher3 is not installed: "
            "pip install 'archivist-tap-intercom[encrypted-archive]'"
        )
        raise ArchiveUnreadable(msg) from None
    connection = sqlcipher3.connect(uri, uri=True, timeout=30)
    literal = "'" + key.replace("'", "''") + "'"  # PRAGMA key takes no bound parameter
    try:
        connection.execute("PRAGMA cipher_log_level = NONE")
        connection.execute(f"PRAGMA key = {literal}")
        connection.execute(f"PRAGMA cipher_page_size = {CIPHER_PAGE_SIZE}")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.dbapi2.DatabaseError:
        connection.close()
        msg = f"{path}: reconcile_archive_encryption_key does not open it (a wrong key?)"
        raise ArchiveUnreadable(msg) from None
    return connection, (sqlite3.Error, sqlcipher3.dbapi2.Error)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(connection: Any, stream: str) -> str | None:
    row = connection.execute(
        "SELECT table_name FROM _archive_tables WHERE stream = ? AND path = '[]'", (stream,)
    ).fetchone()
    return None if row is None else str(row[0])


def _column(connection: Any, table: str, *path: str) -> str | None:
    row = connection.execute(
        "SELECT column_name FROM _archive_columns WHERE table_name = ? AND path = ? "
        "ORDER BY kind LIMIT 1",
        (table, json.dumps(list(path), separators=(",", ":"))),
    ).fetchone()
    return None if row is None else str(row[0])


def _snapshot(
    connection: Any, stream: str, parts_stream: str | None, parent_key: str, parts_key: str
) -> dict[str, Archived]:
    catalog = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_archive_tables'"
    ).fetchone()
    if catalog is None:
        msg = "it is not an archive of target-sqlite-archive (no _archive_tables)"
        raise ArchiveUnreadable(msg)
    table = _table(connection, stream)
    id_column = _column(connection, table, "id") if table else None
    if table is None or id_column is None:
        return {}
    updated = _column(connection, table, "updated_at")
    stated = [
        c
        for c in (
            _column(connection, table, parts_key, "total_count"),
            _column(connection, table, "statistics", "count_conversation_parts"),
        )
        if c
    ]
    updated_sql = f"r.{_quote(updated)}" if updated else "NULL"
    stated_sql = ", ".join(f"coalesce(r.{_quote(c)}, 0)" for c in stated)
    stated_sql = (f"max({stated_sql}, 0)" if len(stated) > 1 else stated_sql) or "0"
    parts_table = _table(connection, parts_stream) if parts_stream else None
    parent = _column(connection, parts_table, parent_key) if parts_table else None
    if parts_table and parent:
        parts_sql = (
            f"(SELECT {_quote(parent)} AS parent, count(*) AS n "  # noqa: S608
            f"FROM {_quote(parts_table)} WHERE _sdc_deleted_at IS NULL GROUP BY {_quote(parent)})"
        )
    else:
        parts_sql = "(SELECT NULL AS parent, 0 AS n)"
    counted = parts_stream is not None
    query = (
        f"SELECT r.{_quote(id_column)}, {updated_sql}, {stated_sql}, coalesce(p.n, 0) "  # noqa: S608
        f"FROM {_quote(table)} AS r LEFT JOIN {parts_sql} AS p "
        f"ON p.parent = r.{_quote(id_column)} WHERE r._sdc_deleted_at IS NULL"
    )
    snapshot: dict[str, Archived] = {}
    for record_id, updated_at, total, parts in connection.execute(query):
        stated_count = int(total or 0)
        snapshot[str(record_id)] = Archived(
            updated_at=_epoch(updated_at),
            parts=int(parts) if counted else stated_count,
            stated=stated_count,
        )
    return snapshot


def _epoch(value: Any) -> int | None:
    try:
        return to_epoch(value)
    except (TypeError, ValueError):
        return None
