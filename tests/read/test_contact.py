"""`intercom-archive contact`: email in any case, phone by digits, external id, freshness."""

# S608: table and column names here are the test's own constants.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from intercom_archive import contacts
from tests.read.conftest import Synced, run_cli


def _a_contact(archive: Synced, where: str) -> sqlite3.Row:
    with sqlite3.connect(archive.database) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute(f"SELECT * FROM contacts WHERE {where} LIMIT 1").fetchone()
    assert row is not None
    return row


def test_email_in_another_case_finds_the_contact_with_every_field(archive: Synced) -> None:
    contact = _a_contact(archive, "email IS NOT NULL AND role = 'user'")
    email = contact["email"]
    third_case = "".join(ch.upper() if i % 2 else ch.lower() for i, ch in enumerate(email))
    assert third_case not in (email, email.lower(), email.upper())
    result = run_cli(
        "contact", "--database", str(archive.database), "--email", third_case, "--json"
    )
    assert result.code == 0, result.err
    found = result.json()
    assert [c["id"] for c in found["contacts"]] == [contact["id"]]
    hit = found["contacts"][0]
    for field in ("id", "role", "email", "external_id", "name", "updated_at", "deleted"):
        assert field in hit
    assert hit["email"] == email
    assert hit["role"] == "user"
    assert hit["deleted"] is False
    assert "merged_into_id" in hit


def test_the_output_says_how_fresh_the_contacts_are(archive: Synced) -> None:
    state = archive.last.state or {}
    bookmark = state["bookmarks"]["contacts"]["replication_key_value"]
    contact = _a_contact(archive, "email IS NOT NULL")
    result = run_cli("contact", "-d", str(archive.database), "--email", contact["email"], "--json")
    freshness = result.json()["freshness"]
    assert freshness["contacts_updated_through"] == bookmark
    with sqlite3.connect(archive.database) as connection:
        (committed_at,) = connection.execute("SELECT committed_at FROM _archive_state").fetchone()
    assert freshness["committed_at"] == committed_at
    text = run_cli("contact", "-d", str(archive.database), "--email", contact["email"])
    assert committed_at in text.out
    assert bookmark in text.out


def test_phone_is_compared_by_its_digits(archive: Synced) -> None:
    contact = _a_contact(archive, "phone IS NOT NULL")
    digits = "".join(ch for ch in contact["phone"] if ch.isdigit())
    spaced = f"+{digits[:2]} ({digits[2:4]}) {digits[4:7]}-{digits[7:]}"
    result = run_cli("contact", "-d", str(archive.database), "--phone", spaced, "--json")
    assert result.code == 0, result.err
    assert contact["id"] in [c["id"] for c in result.json()["contacts"]]


def test_external_id_and_no_match(archive: Synced) -> None:
    contact = _a_contact(archive, "external_id IS NOT NULL")
    result = run_cli(
        "contact", "-d", str(archive.database), "--external-id", contact["external_id"], "--json"
    )
    assert [c["id"] for c in result.json()["contacts"]] == [contact["id"]]
    nobody = run_cli("contact", "-d", str(archive.database), "--email", "nobody@x.test", "--json")
    assert nobody.code == 0
    assert nobody.json()["contacts"] == []
    text = run_cli("contact", "-d", str(archive.database), "--email", "nobody@x.test")
    assert "no contact matches" in text.out


def test_an_email_in_a_third_case_finds_the_user_and_the_lead_that_share_it(
    archive: Synced,
) -> None:
    with sqlite3.connect(archive.database) as connection:
        row = connection.execute(
            "SELECT lower(email), group_concat(DISTINCT email) FROM contacts "
            "WHERE email IS NOT NULL GROUP BY lower(email) "
            "HAVING count(DISTINCT role) = 2 AND count(DISTINCT email) = 2 LIMIT 1"
        ).fetchone()
        assert row is not None, "the emulator has a user and a lead sharing an email"
        shared, spellings = row
        expected = {
            (r[0], r[1])
            for r in connection.execute(
                "SELECT id, role FROM contacts WHERE lower(email) = ?", (shared,)
            )
        }
    third = shared.upper()
    assert third not in spellings.split(",")
    result = run_cli("contact", "-d", str(archive.database), "--email", third, "--json")
    assert result.code == 0, result.err
    found = {(c["id"], c["role"]) for c in result.json()["contacts"]}
    assert found == expected
    assert {role for _, role in found} == {"user", "lead"}


def test_a_phone_in_any_format_is_found_through_the_index_and_the_scan_alike(
    archive: Synced, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "copy.sqlite"
    with sqlite3.connect(archive.database) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    stored = ("(353) 1-000 0017", "+35310000017", "353 10000017", "+353 1 000 0018")
    with sqlite3.connect(copy) as connection:
        ids = [r[0] for r in connection.execute("SELECT id FROM contacts LIMIT 4")]
        for contact_id, number in zip(ids, stored, strict=True):
            connection.execute(
                "UPDATE contacts SET phone = ?, phone__text = ? WHERE id = ?",
                (number, number, contact_id),
            )
        # The target keeps the index in step; an edit outside it rebuilds (its README says so).
        connection.execute("INSERT INTO contacts_fts(contacts_fts) VALUES('rebuild')")
    expected = set(ids[:3])
    result = run_cli("contact", "-d", str(copy), "--phone", "+353-1-0000017", "--json")
    assert {c["id"] for c in result.json()["contacts"]} == expected
    monkeypatch.setattr(contacts, "_FTS", "no_such_fts")  # the scan of archives without it
    scanned = run_cli("contact", "-d", str(copy), "--phone", "+353-1-0000017", "--json")
    assert {c["id"] for c in scanned.json()["contacts"]} == expected
