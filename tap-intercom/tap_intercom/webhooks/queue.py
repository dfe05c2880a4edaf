"""The webhook queue file: the one definition of its table, shared by receiver and tap.

The receiver (``intercom-webhooks``) appends one row per accepted notification; the tap reads
the rows after its state's position, fetches each changed item by id, and prunes the rows a
committed state has passed. A row holds identifiers and times only, never the notification's
body: the body carries customer data, and the tap fetches the current object anyway.

Standard library only (``sqlite3``), so the tap reads the queue without the receiver's
server dependencies. WAL mode lets the tap read while the receiver writes; ``synchronous=FULL``
makes a commit survive power loss, which is what lets the receiver answer 200 after it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

# AUTOINCREMENT: a position is never reused after pruning, so a position saved in a state keeps
# meaning "everything up to here" for as long as the file lives.
_DDL = """
CREATE TABLE IF NOT EXISTS notifications (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    item_type TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item_updated_at INTEGER,
    merged_into_id TEXT,
    created_at INTEGER,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_item ON notifications (item_type, item_id);
"""

_INSERT = """
INSERT OR IGNORE INTO notifications (notification_id, topic, item_type, item_id,
    item_updated_at, merged_into_id, created_at, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
_COLUMNS = """
SELECT position, notification_id, topic, item_type, item_id, item_updated_at, merged_into_id,
    created_at, received_at
FROM notifications"""
_SELECT = _COLUMNS + " WHERE position > ? ORDER BY position"
_SELECT_RECEIVED = _COLUMNS + " WHERE position <= ? AND received_at > ? ORDER BY position"


@dataclass(frozen=True)
class QueueEntry:
    """One accepted notification as the queue keeps it (identifiers and times only).

    ``item_type`` is Intercom's object type (contact, conversation, ticket, company);
    ``item_updated_at`` the item's ``updated_at`` when the payload had one; ``merged_into_id``
    the contact a merged contact went into, when the payload names it; ``created_at`` the
    notification's own time (Intercom's clock, unix seconds); ``received_at`` the receiver's.
    """

    notification_id: str
    topic: str
    item_type: str
    item_id: str
    item_updated_at: int | None = None
    merged_into_id: str | None = None
    created_at: int | None = None
    received_at: float = 0.0

    def row(self) -> tuple[object, ...]:
        return (
            self.notification_id,
            self.topic,
            self.item_type,
            self.item_id,
            self.item_updated_at,
            self.merged_into_id,
            self.created_at,
            self.received_at or time.time(),
        )


@dataclass(frozen=True)
class QueuedNotification:
    """A row read back from the queue, with its position (strictly increasing)."""

    position: int
    entry: QueueEntry


class WebhookQueue:
    """A connection to the queue file; creates the file and table when missing.

    One object per thread: sqlite3 connections are not shared across threads here.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(self.path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            self._db.close()
            raise ValueError(
                f"{self.path} is a webhook queue of version {version}; this program knows"
                f" version {SCHEMA_VERSION}"
            )
        if version == 0:
            self._db.executescript(
                f"BEGIN IMMEDIATE; {_DDL} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )

    def close(self) -> None:
        self._db.close()

    def store(self, entries: Sequence[QueueEntry]) -> list[bool]:
        """Append ``entries`` in one durable transaction; True for each new notification id,
        False for one already queued (a redelivery: stored once)."""
        out: list[bool] = []
        cursor = self._db.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            for entry in entries:
                cursor.execute(_INSERT, entry.row())
                out.append(cursor.rowcount == 1)
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        return out

    def read(self, after: int = 0, limit: int | None = None) -> list[QueuedNotification]:
        """Rows with a position greater than ``after``, oldest first (at most ``limit``)."""
        sql = _SELECT
        params: tuple[int, ...] = (after,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (after, limit)
        return [_row(r) for r in self._db.execute(sql, params)]

    def read_received(self, after: float, through: int) -> list[QueuedNotification]:
        """Rows received after ``after`` (Unix seconds) at or before position ``through``,
        oldest first: what a tap drained in the last minutes (see tap_intercom.drain)."""
        return [_row(r) for r in self._db.execute(_SELECT_RECEIVED, (through, after))]

    def prune(self, through: int, received_before: float | None = None) -> int:
        """Delete every row at or before position ``through`` (and, when given, received
        before ``received_before``, Unix seconds); returns how many went."""
        sql = "DELETE FROM notifications WHERE position <= ?"
        params: tuple[float, ...] = (through,)
        if received_before is not None:
            sql += " AND received_at < ?"
            params = (through, received_before)
        return self._db.execute(sql, params).rowcount

    def last_position(self) -> int:
        """The highest position ever given (0 for an empty new file), pruned rows included."""
        row = self._db.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'notifications'"
        ).fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM notifications").fetchone()[0])

    def notification_ids(self) -> set[str]:
        """Every queued notification id (tests and tools)."""
        return {r[0] for r in self._db.execute("SELECT notification_id FROM notifications")}


def _row(r: tuple[Any, ...]) -> QueuedNotification:
    position, nid, topic, item_type, item_id, updated, merged, created, received = r
    return QueuedNotification(
        position=int(position),
        entry=QueueEntry(
            notification_id=str(nid),
            topic=str(topic),
            item_type=str(item_type),
            item_id=str(item_id),
            item_updated_at=None if updated is None else int(updated),
            merged_into_id=None if merged is None else str(merged),
            created_at=None if created is None else int(created),
            received_at=float(received),
        ),
    )
