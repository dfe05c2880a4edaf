"""Opening the archive file: the one place a connection to it is made, with its pragmas.

Both the writer (store.py) and the reader (reader.py) open the file here, so a change to how
the file is opened (an encryption key, say) is made once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlcipher3

from target_sqlite_archive import sql
from target_sqlite_archive.catalog import Catalog
from target_sqlite_archive.codec import Dictionary
from target_sqlite_archive.encryption import PAGE_SIZE, Connection, Key, connect

DEFAULT_BUSY_TIMEOUT_SECONDS = 30


def bind_without_adapting() -> None:
    """Let both bindings pass None, bytes and bool to SQLite as they are, without the adapter
    lookup (process-wide: call it in the writer process).

    Python 3.11's sqlite3 (and sqlcipher3, built from the same code) binds only exact int,
    float, str and bytearray values directly; every other value, None and bytes included, is
    first offered to the adapter registry, whose miss raises and formats an AttributeError
    inside. An archive row is mostly NULLs (a conversation part has 38 columns, ~25 of them
    empty), so that miss was a third of binding a row (measured, 38 columns with 25 NULLs:
    8.8 -> 4.6 us a row with sqlite3, 28 -> 3.8 us with sqlcipher3). The adapters registered
    here return the value unchanged (`{}.get(None)` is None, `bytes(b)` is `b`, `int(True)`
    is 1, as SQLite stores a bool), so what is stored is the same.
    """
    for module in (sqlite3, sqlcipher3):
        module.register_adapter(type(None), {}.get)
        module.register_adapter(bytes, bytes)
        module.register_adapter(bool, int)


def open_archive(
    path: str,
    *,
    busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
    autocheckpoint: bool = True,
    encryption_key: Key | None = None,
) -> Connection:
    """A connection to the archive at `path` (created with its folder if missing), in WAL mode
    with the catalog tables in place; in autocommit mode: transactions are explicit.

    With `encryption_key`, the file is SQLCipher's (see encryption.py); a key that does not
    open it, a key for a plain file or no key for an encrypted one raise ArchiveKeyError, in
    one line, before anything is written. Readers outside this package (intercom-archive)
    open an encrypted archive with the same call, or with encryption.connect.
    """
    if path != ":memory:":
        if Path(path).is_dir():
            msg = (
                f"Archive {path} is a folder, not a file: set database to a file path, e.g. "
                f"{Path(path) / 'intercom.sqlite'}"
            )
            raise IsADirectoryError(msg)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path, encryption_key, timeout=busy_timeout_seconds)
    # Only takes effect on a new file: 8 KiB pages hold wide root rows (Intercom contacts
    # flatten to ~80 columns) with fewer overflow pages; ~6% less CPU writing them. An
    # encrypted file has its cipher page size set to the same by connect().
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL loses no committed transaction on a process crash (only on power
    # loss), and spares an fsync per commit.
    conn.execute("PRAGMA synchronous=NORMAL")
    if not autocheckpoint:
        # The caller checkpoints when it would otherwise wait (ArchiveStore.checkpoint).
        conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("PRAGMA cache_size=-65536")
    conn.executescript(sql.META_DDL)
    _upgrade(conn)
    return conn


def _upgrade(conn: Connection) -> None:
    """Bring the archive-wide tables of an older archive to the current format (sql.FORMAT),
    in one transaction; the data tables follow when their stream next writes (tables.py).

    Format 0 -> 1: the catalog gets its `format` column. Format 1 -> 2: `_archive_raw` gets its
    `codec` column, whose default names every older row's codec (zlib) without rewriting one.
    Format 2 -> 3: `_archive_dictionaries`; format 3 -> 4: `_archive_layouts` (sql.META_DDL
    creates both on every open); no row changes. Rows written before `_archive_layouts` have no
    recorded layout, so their next version is written in full once.
    """
    if _user_version(conn) >= sql.FORMAT:
        return  # checked without a lock first: opening never waits for a writer needlessly
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process (a reader opening the file too) may have upgraded it meanwhile; each
        # step checks what it adds, so a step done by an earlier, interrupted run is skipped.
        if _user_version(conn) < sql.FORMAT:
            if "format" not in _columns(conn, sql.TABLES):
                # Tables the first release made are format 0 (the column's default).
                conn.execute(sql.ADD_TABLE_FORMAT)
            if "codec" not in _columns(conn, sql.RAW):
                conn.execute(sql.ADD_RAW_CODEC)
            conn.execute(f"PRAGMA user_version = {sql.FORMAT}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _user_version(conn: Connection) -> int:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    return int(version)


def _columns(conn: Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def read_catalog(conn: Connection) -> Catalog:
    """The catalog as the file holds it (again after a rollback, which may undo new names)."""
    return Catalog(
        (name for (name,) in conn.execute("SELECT name FROM sqlite_master")),
        conn.execute(sql.SELECT_TABLES),
        conn.execute(sql.SELECT_COLUMNS),
    )


def read_dictionaries(conn: Connection) -> list[Dictionary]:
    """The raw versions' zstd dictionaries the file holds, oldest first."""
    return [Dictionary(*row) for row in conn.execute(sql.SELECT_DICTIONARIES)]
