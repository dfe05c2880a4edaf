"""Per stream: rows, live rows, the last commit time and the bookmark."""

# S608: SQL text here is built only from quoted identifiers and constants; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from intercom_archive.archive import column_names, committed_state, quote_identifier, streams


@dataclass(frozen=True)
class StreamStatus:
    rows: int
    live_rows: int  # rows without `_sdc_deleted_at`
    last_commit: str | None  # newest `_sdc_received_at`: when its latest version arrived
    bookmark: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def archive_status(connection: sqlite3.Connection) -> dict[str, StreamStatus]:
    state = committed_state(connection)
    result: dict[str, StreamStatus] = {}
    for stream in streams(connection):
        table = quote_identifier(stream)
        has = column_names(connection, stream)
        deleted = "_sdc_deleted_at IS NULL" if "_sdc_deleted_at" in has else "1"
        received = "max(_sdc_received_at)" if "_sdc_received_at" in has else "NULL"
        row = connection.execute(
            f"SELECT count(*), coalesce(sum({deleted}), 0), {received} FROM {table}"
        ).fetchone()
        result[stream] = StreamStatus(int(row[0]), int(row[1]), row[2], state.bookmark(stream))
    return result


def render_status(status: dict[str, StreamStatus], committed_at: str | None) -> str:
    lines = [f"last commit: {committed_at or 'never'}", ""]
    header = ("stream", "rows", "live", "last commit", "bookmark")
    table = [header]
    for name, entry in status.items():
        bookmark = entry.bookmark.get("replication_key_value")
        table.append(
            (
                name,
                f"{entry.rows:,}",
                f"{entry.live_rows:,}",
                entry.last_commit or "-",
                "-" if bookmark is None else str(bookmark),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = [
            cell.rjust(widths[i]) if i in (1, 2) else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
