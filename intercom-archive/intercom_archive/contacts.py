"""Contact lookup: every user and lead with an email, external id or phone number.

Email is matched without regard to case, phone numbers by their digits alone (`+1 (555)
010-2000` equals `15550102000`), external ids exactly. Deleted contacts are listed too, marked,
with the contact a merged one went into when the archive knows it: someone about to create a
lead wants to see those.
"""

# S608: SQL text here is built only from quoted identifiers and constants; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from intercom_archive.archive import column_names, committed_state, table_names

# Characters people put between a phone number's digits; removed in SQL so the comparison
# runs inside SQLite, then confirmed in Python for anything rarer.
_PHONE_SEPARATORS = (" ", "+", "-", "(", ")", ".", "/", "\u00a0")


def digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def _phone_digits_sql(column: str) -> str:
    expression = column
    for separator in _PHONE_SEPARATORS:
        expression = f"replace({expression}, '{separator}', '')"
    return expression


@dataclass(frozen=True)
class Contact:
    id: str
    role: str | None
    email: str | None
    external_id: str | None
    name: str | None
    phone: str | None
    updated_at: str | None
    deleted: bool
    deleted_at: str | None
    merged_into_id: str | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Freshness:
    """How current the contacts are: the archive's last commit and the contacts bookmark."""

    committed_at: str | None
    contacts_updated_through: str | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def freshness(connection: sqlite3.Connection) -> Freshness:
    state = committed_state(connection)
    bookmark = state.bookmark("contacts").get("replication_key_value")
    return Freshness(state.committed_at, bookmark if isinstance(bookmark, str) else None)


def find_contacts(
    connection: sqlite3.Connection,
    *,
    email: str | None = None,
    external_id: str | None = None,
    phone: str | None = None,
) -> list[Contact]:
    """Every contact matching the one criterion given, users and leads alike, newest first."""
    if "contacts" not in table_names(connection):
        return []
    columns = column_names(connection, "contacts")
    merged = "_sdc_merged_into_id" if "_sdc_merged_into_id" in columns else "NULL"
    select = (
        "SELECT id, role, email, external_id, name, phone, updated_at, _sdc_deleted_at, "
        f"{merged} AS merged_into_id FROM contacts WHERE "
    )
    if email is not None:
        # SQLite folds ASCII case only: an address with other letters is compared here.
        if email.isascii():
            rows = connection.execute(select + "email = ? COLLATE NOCASE", (email,)).fetchall()
        else:
            rows = connection.execute(select + "email IS NOT NULL").fetchall()
        rows = [r for r in rows if (r["email"] or "").casefold() == email.casefold()]
    elif external_id is not None:
        rows = connection.execute(select + "external_id = ?", (external_id,)).fetchall()
    elif phone is not None:
        wanted = digits(phone)
        if not wanted:
            return []
        # Only rowid and phone are read while scanning, so SQLite scans the archive's phone
        # index (narrow) rather than the table (wide rows); whole rows only for the matches.
        rowids = [
            rowid
            for rowid, number in connection.execute(
                "SELECT rowid, phone FROM contacts WHERE phone IS NOT NULL"
                f" AND ({_phone_digits_sql('phone')} = ? OR phone GLOB '*[^0-9+(). /-]*')",
                (wanted,),
            )
            if digits(number) == wanted  # also phones with rarer separators, checked here
        ]
        rows = connection.execute(
            select + "rowid IN (SELECT value FROM json_each(?))", (json.dumps(rowids),)
        ).fetchall()
    else:
        raise ValueError("one of email, external_id or phone is required")
    contacts = [
        Contact(
            id=str(r["id"]),
            role=r["role"],
            email=r["email"],
            external_id=None if r["external_id"] is None else str(r["external_id"]),
            name=r["name"],
            phone=r["phone"],
            updated_at=r["updated_at"],
            deleted=r["_sdc_deleted_at"] is not None,
            deleted_at=r["_sdc_deleted_at"],
            merged_into_id=None if r["merged_into_id"] is None else str(r["merged_into_id"]),
        )
        for r in rows
    ]
    return sorted(contacts, key=lambda c: (c.updated_at or "", c.id), reverse=True)
