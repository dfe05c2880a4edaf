"""A conversation's whole thread, in order: the opening message, then every part.

The opening message is the conversation's `source` (Intercom does not repeat it as a part);
parts come from the `conversation_parts` stream, ordered by `created_at` and then by id.
"""

# S608: SQL text here is built only from quoted identifiers and constants; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from intercom_archive.archive import ArchiveError, column_names, table_names
from intercom_archive.text import plain_text


@dataclass(frozen=True)
class Message:
    """The opening message or one part, with its author and time."""

    part_id: str | None  # None for the opening message
    part_type: str
    author_type: str | None
    author_name: str | None
    author_email: str | None
    created_at: str | None
    text: str


@dataclass
class Thread:
    id: str
    title: str | None
    state: str | None
    created_at: str | None
    updated_at: str | None
    deleted_at: str | None
    messages: list[Message] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _value(row: sqlite3.Row, name: str) -> Any:
    return row[name] if name in row.keys() else None  # noqa: SIM118 (a Row iterates its values)


def conversation_thread(connection: sqlite3.Connection, conversation_id: str) -> Thread:
    if "conversations" not in table_names(connection):
        raise ArchiveError("the archive holds no conversations yet")
    row = connection.execute(
        "SELECT * FROM conversations WHERE id = ?", (str(conversation_id),)
    ).fetchone()
    if row is None:
        raise ArchiveError(f"no conversation {conversation_id} in the archive")
    thread = Thread(
        id=str(row["id"]),
        title=_value(row, "title") or _value(row, "source__subject"),
        state=_value(row, "state"),
        created_at=_value(row, "created_at"),
        updated_at=_value(row, "updated_at"),
        deleted_at=_value(row, "_sdc_deleted_at"),
    )
    thread.messages.append(
        Message(
            part_id=None,
            part_type=f"opening message ({_value(row, 'source__delivered_as') or 'message'})",
            author_type=_value(row, "source__author__type"),
            author_name=_value(row, "source__author__name"),
            author_email=_value(row, "source__author__email"),
            created_at=_value(row, "created_at"),
            text=plain_text(_value(row, "source__body")),
        )
    )
    if "conversation_parts" not in table_names(connection):
        return thread
    has = column_names(connection, "conversation_parts")
    email = "author__email" if "author__email" in has else "NULL"
    parts = connection.execute(
        "SELECT id, part_type, author__type, author__name, "
        f"{email} AS author__email, created_at, body FROM conversation_parts "
        "WHERE conversation_id = ? ORDER BY created_at, length(id), id",
        (thread.id,),
    )
    for part in parts:
        thread.messages.append(
            Message(
                part_id=str(part["id"]),
                part_type=part["part_type"] or "part",
                author_type=part["author__type"],
                author_name=part["author__name"],
                author_email=part["author__email"],
                created_at=part["created_at"],
                text=plain_text(part["body"]),
            )
        )
    return thread


def render_thread(thread: Thread) -> str:
    """The thread as plain text, one block per message."""
    head = f"Conversation {thread.id}"
    if thread.title:
        head += f": {thread.title}"
    lines = [head, f"state {thread.state or '?'}, created {thread.created_at or '?'}"]
    if thread.deleted_at:
        lines.append(f"DELETED at {thread.deleted_at}")
    for message in thread.messages:
        author = message.author_name or message.author_email or "(unknown)"
        if message.author_type:
            author += f" [{message.author_type}]"
        lines += ["", f"--- {message.created_at or '?'}  {author}  {message.part_type}"]
        if message.text:
            lines.append(message.text)
    return "\n".join(lines) + "\n"
