"""An archive encrypted at rest: where its key comes from, and a keyed read-only connection.

`target-sqlite-archive` writes the archive with SQLCipher 4 when it has an `encryption_key`
(its README, "Encrypted archives"): the key goes first (`PRAGMA key`), then the cipher page
size, which is the archive's page size, 8192. SQLCipher comes from `sqlcipher3`, whose wheels
carry their own SQLite and OpenSSL. The key is held in a `Secret`, whose repr never shows it;
no message here or in the CLI holds it.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlcipher3

KEY_VARIABLE = "INTERCOM_ARCHIVE_ENCRYPTION_KEY"
CIPHER_PAGE_SIZE = 8192
_PLAIN_HEADER = b"SQLite format 3\x00"
#: What a statement raises on either binding: sqlcipher3's errors are not sqlite3's.
DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, sqlcipher3.dbapi2.Error)
OPERATIONAL_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.OperationalError,
    sqlcipher3.dbapi2.OperationalError,
)
_HOW = f"set {KEY_VARIABLE} or pass --encryption-key-file"


class KeyProblem(Exception):
    """The archive does not open with the key given (or without one): one line, never the key."""


@dataclass(frozen=True)
class Secret:
    """The archive's passphrase (SQLCipher stretches it with PBKDF2)."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    def pragma(self) -> str:
        """`PRAGMA key = '…'`: the pragma takes no bound parameter, so quotes are doubled."""
        return "PRAGMA key = '" + self.value.replace("'", "''") + "'"


def key_from(file: str | None, environ: dict[str, str] | None = None) -> Secret | None:
    """The key in `file` (its text without the final line break), else in the environment."""
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
        except OSError as error:
            raise KeyProblem(f"cannot read the key file {file}: {error.strerror}") from None
        if not text:
            raise KeyProblem(f"the key file {file} is empty")
        return Secret(text)
    value = (os.environ if environ is None else environ).get(KEY_VARIABLE)
    return Secret(value) if value else None


def is_encrypted(path: Path) -> bool:
    """An SQLite file starts with its header in plain text; an SQLCipher one does not."""
    with path.open("rb") as handle:
        header = handle.read(len(_PLAIN_HEADER))
    return bool(header) and header != _PLAIN_HEADER


def prepare(connection: Any, key: Secret) -> None:
    """Key a fresh SQLCipher connection (the first statements it runs), then prove the key."""
    connection.execute("PRAGMA cipher_log_level = NONE")  # SQLCipher's own lines on stderr
    connection.execute(key.pragma())
    connection.execute(f"PRAGMA cipher_page_size = {CIPHER_PAGE_SIZE}")


def check_key(path: Path, key: Secret | None) -> None:
    """Name in one line a key that cannot fit: none for an encrypted file, one for a plain file."""
    encrypted = is_encrypted(path)
    if key is None and encrypted:
        raise KeyProblem(f"{path} is encrypted (or not an SQLite file): {_HOW}")
    if key is not None and not encrypted:
        raise KeyProblem(
            f"{path} is not encrypted, but a key was given: unset {KEY_VARIABLE} "
            "and drop --encryption-key-file"
        )


def open_keyed(uri: str, path: Path, key: Secret) -> Any:
    """An SQLCipher connection to `uri` (the file `path`), keyed and probed: a key that does not
    fit is named in one line. Opening writes nothing."""
    check_key(path, key)
    connection = sqlcipher3.connect(uri, uri=True, check_same_thread=False)
    try:
        prepare(connection, key)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.dbapi2.DatabaseError:
        connection.close()
        raise KeyProblem(f"the key does not open {path} (a wrong key, or not an archive)") from None
    connection.row_factory = sqlcipher3.Row
    return connection
