"""Contact lookup: every user and lead with an email, external id or phone number.

Email is matched without regard to case (the archive's case-folded email index), phone
numbers by their digits alone (`+1 (555) 010-2000` equals `15550102000`, found through the
contacts' full-text index), external ids exactly. Deleted contacts are listed too, marked,
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
_FTS = "contacts_fts"
# More digits than any phone number has (E.164 allows 15, an extension adds a few): such a
# query is compared by the scan rather than by an FTS5 query of that many terms.
_FTS_PHONE_DIGITS = 32


def digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def _phone_digits_sql(column: str) -> str:
    expression = column
    for separator in _PHONE_SEPARATORS:
        expression = f"replace({expression}, '{separator}', '')"
    return expression


def _phone_candidates(connection: sqlite3.Connection, wanted: str) -> list[int]:
    """Rowids of the contacts whose phone may have these digits (the caller compares digits).

    Through `contacts_fts` when it indexes `phone__text`: its tokenizer cuts a number into
    its runs of digits, so a number with these digits starts with a token that is a prefix of
    them and holds a token that is a suffix of them. One FTS5 query of both conditions finds
    every such number among a hundred thousand in a millisecond. A number whose digits touch
    letters (`5550100x12`) is not cut into digit runs, and is found only through the scan that
    serves archives without that index.
    """
    if len(wanted) <= _FTS_PHONE_DIGITS and "phone__text" in column_names(connection, _FTS):
        prefixes = " OR ".join(f'^"{wanted[:n]}"' for n in range(1, len(wanted) + 1))
        suffixes = " OR ".join(f'"{wanted[n:]}"' for n in range(len(wanted)))
        query = f"phone__text : ({prefixes}) AND phone__text : ({suffixes})"
        return [
            row[0]
            for row in connection.execute(
                f"SELECT rowid FROM {_FTS} WHERE {_FTS} MATCH ?", (query,)
            )
        ]
    # Only rowid and phone are read while scanning, so SQLite scans the archive's phone
    # index (narrow) rather than the table (wide rows).
    return [
        rowid
        for rowid, number in connection.execute(
            "SELECT rowid, phone FROM contacts WHERE phone IS NOT NULL"
            f" AND ({_phone_digits_sql('phone')} = ? OR phone GLOB '*[^0-9+(). /-]*')",
            (wanted,),
        )
        if digits(number) == wanted  # also phones with rarer separators, checked here
    ]


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
        rows = connection.execute(
            select + "rowid IN (SELECT value FROM json_each(?))",
            (json.dumps(_phone_candidates(connection, wanted)),),
        ).fetchall()
        rows = [r for r in rows if digits(r["phone"] or "") == wanted]
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
