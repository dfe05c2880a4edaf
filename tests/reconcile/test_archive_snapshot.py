"""archive_snapshot on archives the real target writes (plain and encrypted), the one-line
reasons it gives for files it cannot read, and the two reconcile_archive settings."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tap_intercom import archive_snapshot
from tap_intercom.reconcile import Archived
from tap_intercom.settings import SettingError, validate
from tests.target.harness import record, run

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
KEY = "synthetic-archive-key-7c1e"


def schema_message(stream: str, keys: list[str]) -> dict[str, Any]:
    body = json.loads((SCHEMAS / f"{stream}.json").read_text())
    return {"type": "SCHEMA", "stream": stream, "schema": body, "key_properties": keys}


def conversation(record_id: str, parts: int, counted: int | None = None) -> dict[str, Any]:
    return {
        "id": record_id,
        "type": "conversation",
        "updated_at": "2026-01-02T03:04:05Z",
        "statistics": {"count_conversation_parts": parts if counted is None else counted},
        "conversation_parts": {"type": "conversation_part.list", "total_count": parts,
                               "returned_count": parts, "truncated": False},
    }  # fmt: skip


def part(conversation_id: str, n: int) -> dict[str, Any]:
    return {"id": f"{conversation_id}-{n}", "conversation_id": conversation_id, "type": "x"}


def write_archive(database: Path, **config: Any) -> None:
    messages: list[Any] = [
        schema_message("conversations", ["id"]),
        schema_message("conversation_parts", ["conversation_id", "id"]),
        record("conversations", conversation("c1", 3)),
        record("conversations", conversation("c2", 500, counted=736)),
        record("conversations", conversation("gone", 1)),
        record("conversations", {"id": "gone", "_sdc_deleted_at": "2026-01-03T00:00:00Z"}),
        *(record("conversation_parts", part("c1", n)) for n in range(2)),  # one fell short
        *(record("conversation_parts", part("c2", n)) for n in range(500)),
    ]
    run(database, messages, **config)


def snapshot(path: Path, key: str | None = None, parts: str | None = "conversation_parts") -> Any:
    return archive_snapshot.read(
        str(path),
        key,
        stream="conversations",
        parts_stream=parts,
        parent_key="conversation_id",
        parts_key="conversation_parts",
    )


def test_the_live_records_with_their_parts_and_stated_counts(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    write_archive(database)
    at = 1_767_323_045  # 2026-01-02T03:04:05Z
    assert snapshot(database) == {
        "c1": Archived(updated_at=at, parts=2, stated=3),
        "c2": Archived(updated_at=at, parts=500, stated=736),  # statistics over the cap
    }
    # Parts this run does not sync are not counted: each record's are taken as whole.
    assert snapshot(database, parts=None)["c1"] == Archived(updated_at=at, parts=3, stated=3)
    # A stream the archive never held: nothing archived, every listed record is new.
    other = archive_snapshot.read(
        str(database), None, stream="tickets", parts_stream="ticket_parts",
        parent_key="ticket_id", parts_key="ticket_parts",
    )  # fmt: skip
    assert other == {}


def test_the_archive_is_opened_read_only(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    write_archive(database)
    database.chmod(0o444)
    try:
        assert set(snapshot(database)) == {"c1", "c2"}
    finally:
        database.chmod(0o644)


def test_an_encrypted_archive_opens_with_its_key(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    write_archive(database, encryption_key=KEY)
    assert set(snapshot(database, KEY)) == {"c1", "c2"}
    with pytest.raises(archive_snapshot.ArchiveUnreadable, match="does not open it") as wrong:
        snapshot(database, "not-the-key")
    with pytest.raises(archive_snapshot.ArchiveUnreadable, match="is encrypted") as missing:
        snapshot(database)
    for error in (wrong, missing):
        assert KEY not in str(error.value)
        assert "not-the-key" not in str(error.value)
        assert "\n" not in str(error.value)


def test_files_that_are_not_archives_say_why_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(archive_snapshot.ArchiveUnreadable, match=r"^no file at "):
        snapshot(tmp_path / "missing.sqlite")
    plain = tmp_path / "plain.sqlite"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").close()
    with pytest.raises(archive_snapshot.ArchiveUnreadable, match="not an archive"):
        snapshot(plain)
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all\n")
    with pytest.raises(archive_snapshot.ArchiveUnreadable, match="not an SQLite file"):
        snapshot(text)


def test_the_settings(tmp_path: Path) -> None:
    base = {"access_token": "synthetic-token"}
    settings = validate(
        {**base, "reconcile_archive": "a.sqlite", "reconcile_archive_encryption_key": KEY},
        default_user_agent="ua",
    )
    assert settings.reconcile_archive == "a.sqlite"
    assert settings.reconcile_archive_encryption_key == KEY
    assert KEY not in repr(settings)
    # Meltano gives an unset variable as '': unset.
    empty = validate(
        {**base, "reconcile_archive": "", "reconcile_archive_encryption_key": ""},
        default_user_agent="ua",
    )
    assert (empty.reconcile_archive, empty.reconcile_archive_encryption_key) == (None, None)
    with pytest.raises(SettingError, match=r"^reconcile_archive: ") as bad:
        validate({**base, "reconcile_archive": 7}, default_user_agent="ua")
    with pytest.raises(SettingError) as bad_key:
        validate({**base, "reconcile_archive_encryption_key": ["x"]}, default_user_agent="ua")
    assert "['x']" not in str(bad_key.value)
    assert "7" not in str(bad.value).split(":", 1)[1]
