"""The archive file: a read-only connection, the tables it holds and its committed state.

Relies only on the layout `target-sqlite-archive/README.md` documents: root tables named as
their streams with `_sdc_deleted_at` and `_sdc_received_at`, `_archive_tables` (each table's
stream and parent) and `_archive_state` (the last committed Singer state and its time).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from intercom_archive.encryption import DATABASE_ERRORS, KeyProblem, Secret, check_key, open_keyed


class ArchiveError(Exception):
    """A problem a person can fix, said in one line (no traceback)."""


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect(
    path: str | Path, *, write: bool = False, key: Secret | None = None
) -> sqlite3.Connection:
    """Open the archive; read-only unless `write` (only `views` writes, and only views); with
    SQLCipher when the archive is encrypted and `key` opens it."""
    file = Path(path)
    if not file.is_file():
        raise ArchiveError(
            f"no archive at {file}: run a sync first "
            "(meltano run tap-intercom target-sqlite-archive) or pass --database"
        )
    uri = f"file:{quote(str(file.resolve()))}?mode={'rw' if write else 'ro'}"
    try:
        if key is None:
            check_key(file, None)
            connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            connection.row_factory = sqlite3.Row
        else:
            connection = open_keyed(uri, file, key)
        # The writer may hold the write lock for a batch; views wait for it instead of failing.
        connection.execute("PRAGMA busy_timeout = 30000")
        known = table_names(connection)
    except KeyProblem as problem:
        raise ArchiveError(str(problem)) from None
    except DATABASE_ERRORS as error:
        raise ArchiveError(f"{file} is not a readable SQLite archive ({error})") from None
    if "_archive_tables" not in known:
        connection.close()
        raise ArchiveError(f"{file} is not an archive written by target-sqlite-archive")
    return connection


def table_names(connection: sqlite3.Connection) -> set[str]:
    return {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }


def column_names(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({quote_identifier(table)})")}


def streams(connection: sqlite3.Connection) -> list[str]:
    """The root tables (one per stream) the archive's catalog knows and the file holds."""
    present = table_names(connection)
    rows = connection.execute(
        "SELECT table_name FROM _archive_tables "
        "WHERE parent_table IS NULL OR parent_table = '' ORDER BY table_name"
    )
    return [row[0] for row in rows if row[0] in present]


@dataclass(frozen=True)
class CommittedState:
    """The last Singer state the writer committed, and when."""

    value: dict[str, Any]
    committed_at: str | None

    def bookmark(self, stream: str) -> dict[str, Any]:
        bookmarks = self.value.get("bookmarks", {})
        entry = bookmarks.get(stream) if isinstance(bookmarks, dict) else None
        return dict(entry) if isinstance(entry, dict) else {}


def committed_state(connection: sqlite3.Connection) -> CommittedState:
    if "_archive_state" not in table_names(connection):
        return CommittedState({}, None)
    row = connection.execute(
        "SELECT state, committed_at FROM _archive_state ORDER BY committed_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return CommittedState({}, None)
    try:
        value = json.loads(row["state"]) if row["state"] else {}
    except ValueError:
        value = {}
    return CommittedState(value if isinstance(value, dict) else {}, row["committed_at"])
