"""Datasette over the archive: metadata (titles, searchable tables, views first) and the server.

Datasette is an optional extra (`intercom-archive[datasette]`); everything else of the read
side works without it. It runs in this process (uvicorn, as `datasette serve` does), so a
SIGTERM to `intercom-archive serve` stops the server itself and leaves no child behind.

Encrypted archives: Datasette opens its files with `pysqlite3` when that imports, else the
standard library's sqlite3. Here `sqlcipher3` (the same DB-API, SQLCipher inside) stands in
for `pysqlite3` before Datasette is first imported, and a `prepare_connection` plugin keys
each connection to the archive before Datasette's first statement on it.
"""

from __future__ import annotations

import asyncio
import html
import importlib.util
import sqlite3
import sys
from pathlib import Path
from typing import Any

import sqlcipher3

from intercom_archive.archive import ArchiveError, table_names
from intercom_archive.encryption import Secret
from intercom_archive.search import fts_tables
from intercom_archive.views import definitions

TITLES = {
    "conversations": "Conversations",
    "conversation_parts": "Conversation parts (every message, note and action)",
    "tickets": "Tickets",
    "ticket_parts": "Ticket parts",
    "contacts": "Contacts (users and leads)",
    "companies": "Companies",
    "admins": "Teammates (admins)",
    "teams": "Teams",
    "tags": "Tags",
    "articles": "Help-center articles",
}
# The column Datasette shows for a row wherever another table links to it. A conversation's is
# its id: most have no title, and Datasette would guess `title` and show links reading "None".
LABELS = {
    "admins": "name",
    "teams": "name",
    "tags": "name",
    "companies": "name",
    "contacts": "email",
    "conversations": "id",
    "articles": "title",
}
# Datasette's default of one second is short for counting two million parts.
SQL_TIME_LIMIT_MS = 5000
INSTALL_HINT = (
    "Datasette is not installed: pip install 'intercom-archive[datasette]' "
    "(scripts/bootstrap installs it)"
)


def metadata(connection: sqlite3.Connection, database_name: str) -> dict[str, Any]:
    present = table_names(connection)
    installed_views = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'view'")
    }
    views = [d for d in definitions() if d.name in installed_views]
    searchable = fts_tables(connection)
    tables: dict[str, Any] = {}
    for name in sorted(present):
        if name.startswith("_archive_"):
            tables[name] = {"hidden": True}
            continue
        entry: dict[str, Any] = {}
        if name in TITLES:
            entry["title"] = TITLES[name]
        if name in LABELS:
            entry["label_column"] = LABELS[name]
        if entry:
            tables[name] = entry
    for fts in searchable:
        entry = tables.setdefault(fts.table, {})
        entry["fts_table"] = fts.name
        entry["fts_pk"] = fts.content_rowid
    for view in views:
        tables[view.name] = {"title": view.name, "description": view.description}
    items = "".join(
        f'<li><a href="/{database_name}/{html.escape(v.name)}">{html.escape(v.name)}</a>: '
        f"{html.escape(v.description)}</li>"
        for v in views
    )
    searchable_items = "".join(
        f'<li><a href="/{database_name}/{html.escape(f.table)}">{html.escape(f.table)}</a> '
        f"(full-text search box, <code>?_search=</code>)</li>"
        for f in searchable
    )
    description = (
        "<p><strong>Analyst views</strong> (live records, names joined in):</p>"
        f"<ul>{items or '<li>none installed: run <code>intercom-archive views</code></li>'}</ul>"
        f"<p><strong>Searchable tables</strong>:</p><ul>{searchable_items or '<li>none</li>'}</ul>"
        "<p>Every other table is the archive as synced: one per stream, arrays as "
        "<code>table__field</code> child tables.</p>"
    )
    return {
        "title": "Intercom archive",
        "description_html": "Your Intercom workspace, archived locally by tap-intercom and "
        "target-sqlite-archive. Views first, then the searchable tables.",
        "databases": {database_name: {"description_html": description, "tables": tables}},
    }


def database_name(path: Path) -> str:
    return path.stem


def datasette_available() -> bool:
    return importlib.util.find_spec("datasette") is not None


def _import_datasette() -> Any:
    """Datasette's class, on sqlcipher3 (which opens plain files too) and with the key plugin."""
    if not datasette_available():
        raise ArchiveError(INSTALL_HINT)
    if "datasette.utils.sqlite" not in sys.modules:
        sys.modules.setdefault("pysqlite3", sqlcipher3)
    from datasette.app import Datasette
    from datasette.plugins import pm
    from datasette.utils import sqlite

    from intercom_archive import datasette_plugin

    if sqlite.sqlite3 is not sqlcipher3:
        # Other code of this process imported Datasette first, on the standard library's
        # sqlite3: each of its modules holds that module (connect, Row, the errors it
        # catches) as the global `sqlite3`. They all move to sqlcipher3 together.
        for name, module in list(sys.modules.items()):
            if (
                name.partition(".")[0] == "datasette"
                and getattr(module, "sqlite3", None) is sqlite3
            ):
                vars(module)["sqlite3"] = sqlcipher3
    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin)
    return Datasette


def datasette_app(connection: sqlite3.Connection, path: Path, key: Secret | None = None) -> Any:
    """The Datasette instance `serve` runs, in this process (for tests and embedding)."""
    datasette_class = _import_datasette()
    from intercom_archive import datasette_plugin

    app = datasette_class(
        [str(path)],
        metadata=metadata(connection, database_name(path)),
        settings={"sql_time_limit_ms": SQL_TIME_LIMIT_MS},
    )
    if key is not None:
        datasette_plugin.KEYS[app] = (database_name(path), key)
    return app


def serve(connection: sqlite3.Connection, path: Path, port: int, key: Secret | None = None) -> int:
    """Run Datasette on 127.0.0.1:`port` until interrupted or terminated (SIGINT, SIGTERM)."""
    app = datasette_app(connection, path, key)
    connection.close()
    import uvicorn

    asyncio.run(app.invoke_startup())
    uvicorn.run(app.app(), host="127.0.0.1", port=port, log_level="warning")
    return 0
