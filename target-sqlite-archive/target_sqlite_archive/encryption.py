"""The archive encrypted at rest with SQLCipher: opening it with a key, naming why a file does not
open, encrypting a plain archive in place, and rotating the key.

SQLCipher comes from `sqlcipher3` (SQLCipher 4, its own SQLite and OpenSSL built into the
wheel). A file without a key is opened with the standard library's sqlite3, as before; a file
with one only through `connect` here, so the key, the cipher page size and the error probe are
set in one place. The key is held in a `Key`, whose repr never shows it, and never reaches a log
line or an exception message.

    python -m target_sqlite_archive.encryption encrypt ARCHIVE   # key from KEY_VARIABLE
    python -m target_sqlite_archive.encryption rekey ARCHIVE     # new key: NEW_KEY_VARIABLE
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import sqlcipher3

#: The archive's page size, which SQLCipher makes its cipher page size: every reader sets it.
PAGE_SIZE = 8192
PLAIN_HEADER = b"SQLite format 3\x00"
KEY_VARIABLE = "TARGET_SQLITE_ARCHIVE_ENCRYPTION_KEY"
NEW_KEY_VARIABLE = "TARGET_SQLITE_ARCHIVE_NEW_ENCRYPTION_KEY"
#: What a failed statement on either binding raises: sqlcipher3's errors are not sqlite3's.
DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, sqlcipher3.dbapi2.Error)

Connection = t.Any  # sqlite3.Connection or sqlcipher3's: the same DB-API, two classes


class ArchiveKeyError(Exception):
    """The archive cannot be opened with the key given (or without one); one line, no key."""


#: What opening or writing the archive raises: a key that does not fit, a database error of
#: either binding, a file system error.
ARCHIVE_ERRORS: tuple[type[Exception], ...] = (ArchiveKeyError, *DATABASE_ERRORS, OSError)


@dataclass(frozen=True)
class Key:
    """An encryption key (a passphrase SQLCipher stretches with PBKDF2), kept out of reprs."""

    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.secret or "\x00" in self.secret:
            msg = "encryption_key must be a non-empty text without NUL characters"
            raise ValueError(msg)

    def __repr__(self) -> str:
        return "Key(<redacted>)"

    def literal(self) -> str:
        """The key as an SQL string literal: PRAGMA key takes no bound parameter."""
        return "'" + self.secret.replace("'", "''") + "'"


def file_kind(path: str | os.PathLike[str]) -> str:
    """'missing', 'empty', 'plain' (an SQLite header) or 'encrypted' (anything else)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(PLAIN_HEADER))
    except FileNotFoundError:
        return "missing"
    if not header:
        return "empty"
    return "plain" if header == PLAIN_HEADER else "encrypted"


def connect(
    path: str,
    key: Key | None,
    *,
    timeout: float = 30.0,
    check_same_thread: bool = False,
) -> Connection:
    """A connection to the archive at `path` in autocommit mode (transactions are explicit),
    keyed when `key` is given, after a probe that
    names in one line why it does not open: a wrong key, a missing key, or a plain file opened
    with a key. Nothing is written before the probe has passed."""
    kind = file_kind(path)
    if key is None:
        if kind == "encrypted":
            msg = (
                f"Archive {path} is encrypted (or not an SQLite file): set encryption_key "
                f"(or {KEY_VARIABLE}) to open it"
            )
            raise ArchiveKeyError(msg)
        return sqlite3.connect(
            path,
            timeout=timeout,
            isolation_level=None,
            check_same_thread=check_same_thread,
        )
    if kind == "plain":
        msg = (
            f"Archive {path} is not encrypted but encryption_key is set: encrypt it first "
            f"(python -m target_sqlite_archive.encryption encrypt {path}) or unset "
            "encryption_key; nothing was written"
        )
        raise ArchiveKeyError(msg)
    conn = sqlcipher3.connect(
        path, timeout=timeout, isolation_level=None, check_same_thread=check_same_thread
    )
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")  # SQLCipher's own stderr lines
        conn.execute(f"PRAGMA key = {key.literal()}")
        conn.execute(f"PRAGMA cipher_page_size = {PAGE_SIZE}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        # Sorts and temporary tables stay in memory: no temporary file of plaintext pages.
        conn.execute("PRAGMA temp_store = MEMORY")
    except sqlcipher3.dbapi2.DatabaseError:
        conn.close()
        msg = (
            f"Archive {path}: encryption_key does not open it (a wrong key, or the file is not "
            "an archive); nothing was written"
        )
        raise ArchiveKeyError(msg) from None
    return conn


def encrypt_in_place(path: str, key: Key) -> None:
    """Encrypt a plain archive: export it into a keyed copy beside it, check the copy, then
    rename it over the original. A crash at any point leaves either the whole plain archive or
    the whole encrypted one (and perhaps a stale `.encrypting` copy, removed next time).

    No target may write the archive meanwhile: the export holds the write lock, so one that
    tries waits, and one that holds it makes this fail.
    """
    if file_kind(path) != "plain":
        msg = f"Archive {path} is not a plain SQLite archive: nothing to encrypt"
        raise ArchiveKeyError(msg)
    copy = Path(f"{path}.encrypting")
    copy.unlink(missing_ok=True)
    source = sqlcipher3.connect(path, isolation_level=None, timeout=5)  # no key: plain
    try:
        source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        version = source.execute("PRAGMA user_version").fetchone()[0]
        source.execute("ATTACH DATABASE ? AS encrypted KEY ?", (str(copy), key.secret))
        source.execute(f"PRAGMA encrypted.cipher_page_size = {PAGE_SIZE}")
        source.execute("BEGIN IMMEDIATE")  # no writer may commit to the plain file meanwhile
        source.execute("SELECT sqlcipher_export('encrypted')")
        source.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        source.execute("COMMIT")
        source.execute("DETACH DATABASE encrypted")
    finally:
        source.close()
    check = connect(str(copy), key)
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            msg = f"Archive {path}: the encrypted copy failed its integrity check; kept plain"
            raise ArchiveKeyError(msg)
    finally:
        check.close()
    _fsync(copy)
    # The plain archive's WAL was checkpointed and truncated: only empty side files remain.
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(copy, path)
    _fsync(Path(path).parent)


def rekey(path: str, key: Key, new_key: Key) -> None:
    """Re-encrypt the archive under `new_key` (SQLCipher's PRAGMA rekey: one transaction, so a
    crash leaves it under one key or the other)."""
    conn = connect(path, key)
    try:
        conn.execute(f"PRAGMA rekey = {new_key.literal()}")
    finally:
        conn.close()
    connect(path, new_key).close()  # proves the new key opens it


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def key_from(config: t.Mapping[str, t.Any]) -> Key | None:
    """The key of the target's settings: encryption_key, else the file encryption_key_file
    names (its text without the final line break), else none."""
    value = config.get("encryption_key")
    if value:
        return Key(str(value))
    file = config.get("encryption_key_file")
    if file:
        try:
            text = Path(str(file)).read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"encryption_key_file: cannot read {file} ({exc.strerror or exc})"
            raise ArchiveKeyError(msg) from None
        return Key(text.rstrip("\r\n"))
    return None


_CLI_ERRORS: tuple[type[Exception], ...] = (ValueError, *ARCHIVE_ERRORS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m target_sqlite_archive.encryption",
        description="Encrypt a plain archive in place, or rotate its key. Keys come from the "
        f"environment ({KEY_VARIABLE}, {NEW_KEY_VARIABLE}) or files, never from arguments.",
    )
    parser.add_argument("action", choices=["encrypt", "rekey"])
    parser.add_argument("database")
    parser.add_argument("--key-file", help=f"file holding the key (default: ${KEY_VARIABLE})")
    parser.add_argument(
        "--new-key-file", help=f"file holding the new key for rekey (default: ${NEW_KEY_VARIABLE})"
    )
    args = parser.parse_args(argv)
    try:
        key = key_from(
            {"encryption_key": os.environ.get(KEY_VARIABLE), "encryption_key_file": args.key_file}
        )
        if key is None:
            parser.error(f"no key: set {KEY_VARIABLE} or pass --key-file")
        if args.action == "encrypt":
            encrypt_in_place(args.database, key)
        else:
            new_key = key_from(
                {
                    "encryption_key": os.environ.get(NEW_KEY_VARIABLE),
                    "encryption_key_file": args.new_key_file,
                }
            )
            if new_key is None:
                parser.error(f"no new key: set {NEW_KEY_VARIABLE} or pass --new-key-file")
            rekey(args.database, key, new_key)
    except _CLI_ERRORS as exc:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"{parser.prog}: {exc}\n")
        return 1
    sys.stdout.write(f"{args.database}: {'encrypted' if args.action == 'encrypt' else 'rekeyed'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
