"""Datasette over the archive: metadata (titles, searchable tables, views first) and the server.

Datasette is an optional extra (`intercom-archive[datasette]`); everything else of the read
side works without it.
"""

from __future__ import annotations

import html
import importlib.util
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from intercom_archive.archive import ArchiveError, table_names
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
# The column Datasette shows for a row wherever another table links to it.
LABELS = {
    "admins": "name",
    "teams": "name",
    "tags": "name",
    "companies": "name",
    "contacts": "email",
    "conversations": "title",
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


def datasette_app(connection: sqlite3.Connection, path: Path) -> Any:
    """The Datasette instance `serve` runs, in this process (for tests and embedding)."""
    if not datasette_available():
        raise ArchiveError(INSTALL_HINT)
    from datasette.app import Datasette

    return Datasette(
        [str(path)],
        metadata=metadata(connection, database_name(path)),
        settings={"sql_time_limit_ms": SQL_TIME_LIMIT_MS},
    )


def serve(connection: sqlite3.Connection, path: Path, port: int) -> int:
    """Run Datasette on 127.0.0.1:`port` until interrupted; its exit code."""
    if not datasette_available():
        raise ArchiveError(INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="intercom-archive-") as folder:
        meta = Path(folder) / "metadata.json"
        meta.write_text(json.dumps(metadata(connection, database_name(path))))
        connection.close()
        argv = [sys.executable, "-m", "datasette", "serve", str(path), "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--metadata", str(meta)]
        argv += ["--setting", "sql_time_limit_ms", str(SQL_TIME_LIMIT_MS)]
        try:
            return subprocess.call(argv)  # noqa: S603 (our own interpreter and arguments)
        except KeyboardInterrupt:
            return 0
