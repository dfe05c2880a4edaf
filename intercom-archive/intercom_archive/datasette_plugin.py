"""The Datasette plugin that keys each connection to an encrypted archive (`prepare_connection`).

Imported only by `serve`, after sqlcipher3 stands in for pysqlite3 (Datasette is an optional
extra). Datasette calls the hook on every connection it opens, before its first statement.
"""

from __future__ import annotations

import weakref
from typing import Any

from datasette import hookimpl

from intercom_archive.encryption import Secret, prepare

#: Datasette instance -> (its database name for the archive, the key); an entry goes with it.
KEYS: weakref.WeakKeyDictionary[Any, tuple[str, Secret]] = weakref.WeakKeyDictionary()


@hookimpl
def prepare_connection(conn: Any, database: str, datasette: Any) -> None:
    entry = KEYS.get(datasette)
    if entry is not None and entry[0] == database:
        prepare(conn, entry[1])
