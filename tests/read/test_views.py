"""The analyst views: installed over the tables that exist, recreated when a table appears."""

# S608: table and column names here are the test's own constants.
# ruff: noqa: S608

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from intercom_archive import views
from tests.read.conftest import Synced, run_cli, synced_archive

VIEW_NAMES = "SELECT name FROM sqlite_master WHERE type = 'view'"
VIEWS = {
    "conversations_enhanced",
    "contacts_enhanced",
    "tickets_enhanced",
    "conversation_parts_enhanced",
}


def _copy(archive: Synced, folder: Path) -> Path:
    copy = folder / "copy.sqlite"
    with sqlite3.connect(archive.database) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy


def test_every_view_is_installed_and_reads(archive: Synced) -> None:
    assert {d.name for d in views.definitions()} == VIEWS
    with sqlite3.connect(archive.database) as connection:
        installed = {
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'view'")
        }
        assert installed >= VIEWS
        live = connection.execute(
            "SELECT count(*) FROM conversations WHERE _sdc_deleted_at IS NULL"
        ).fetchone()[0]
        assert (
            connection.execute("SELECT count(*) FROM conversations_enhanced").fetchone()[0] == live
        )
        row = connection.execute(
            "SELECT assignee_name, team_name, contact_email, count_parts "
            "FROM conversations_enhanced "
            "WHERE assignee_name IS NOT NULL AND contact_email IS NOT NULL LIMIT 1"
        ).fetchone()
        assert row is not None
        assert row[3] >= 0
        parts = connection.execute("SELECT count(*) FROM conversation_parts").fetchone()[0]
        assert (
            connection.execute("SELECT count(*) FROM conversation_parts_enhanced").fetchone()[0]
            == parts
        )
        named = connection.execute(
            "SELECT count(*) FROM conversation_parts_enhanced WHERE author_name IS NULL"
        ).fetchone()[0]
        assert named < parts
        assert (
            connection.execute(
                "SELECT count(*) FROM contacts_enhanced WHERE companies IS NOT NULL"
            ).fetchone()[0]
            > 0
        )
        assert (
            connection.execute(
                "SELECT count(*) FROM tickets_enhanced "
                "WHERE ticket_type IS NOT NULL AND state IS NOT NULL"
            ).fetchone()[0]
            > 0
        )


def test_a_missing_table_gets_a_stand_in_and_rename_keeps_working(
    archive: Synced, tmp_path: Path
) -> None:
    copy = _copy(archive, tmp_path)
    with sqlite3.connect(copy) as connection:
        connection.execute("DROP VIEW IF EXISTS conversations_enhanced")
        connection.execute("DROP TABLE conversations__tags__tags")
    result = run_cli("views", "-d", str(copy), "--json")
    assert result.code == 0, result.err
    detail = result.json()["views"]["conversations_enhanced"]
    assert detail["status"] == "created"
    assert "conversations__tags__tags" in detail["detail"]
    with sqlite3.connect(copy) as connection:
        assert connection.execute("SELECT count(*) FROM conversations_enhanced").fetchone()[0] > 0
        # The writer renames tables when it rebuilds them: no view may name a missing table.
        connection.execute("ALTER TABLE teams RENAME TO teams_rebuilt")
        connection.execute("ALTER TABLE teams_rebuilt RENAME TO teams")
        # What the stand-in prevents: a view over the missing table breaks every rename.
        connection.execute("CREATE VIEW naive AS SELECT * FROM conversations__tags__tags")
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            connection.execute("ALTER TABLE teams RENAME TO teams_rebuilt")
        connection.execute("DROP VIEW naive")

        # The table appears (its first row arrived): the view is due for recreation.
        connection.execute(
            "CREATE TABLE conversations__tags__tags "
            "(_sdc_id, _sdc_root_id, _sdc_parent_id, _sdc_position, id, name)"
        )
        connection.execute(
            "INSERT INTO conversations__tags__tags "
            "SELECT 'x', _sdc_id, _sdc_id, 0, 't1', 'appeared-tag' FROM conversations LIMIT 1"
        )
    status = run_cli("status", "-d", str(copy), "--json")
    assert status.json()["stale_views"] == ["conversations_enhanced"]
    assert "intercom-archive views" in run_cli("status", "-d", str(copy)).out
    assert run_cli("views", "-d", str(copy)).code == 0
    with sqlite3.connect(copy) as connection:
        tags = connection.execute(
            "SELECT tags FROM conversations_enhanced WHERE tags = 'appeared-tag'"
        ).fetchall()
    assert tags == [("appeared-tag",)]
    assert run_cli("status", "-d", str(copy), "--json").json()["stale_views"] == []


def test_a_view_whose_required_table_is_missing_is_skipped(archive: Synced, tmp_path: Path) -> None:
    copy = _copy(archive, tmp_path)
    with sqlite3.connect(copy) as connection:
        connection.execute("DROP VIEW tickets_enhanced")
        connection.execute("DROP TABLE tickets")
    result = run_cli("views", "-d", str(copy))
    assert result.code == 0
    assert "skipped tickets_enhanced: needs table tickets" in result.out
    with sqlite3.connect(copy) as connection:
        names = {
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'view'")
        }
        connection.execute("ALTER TABLE teams RENAME TO teams_2")
    assert "tickets_enhanced" not in names
    assert VIEWS - {"tickets_enhanced"} <= names


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """An archive after an incremental run that deleted a conversation and added parts."""
    with synced_archive(tmp_path_factory.mktemp("changed")) as synced:
        workspace = synced.emulator.workspace
        deleted = workspace.delete("conversations", count=1)
        workspace.add_parts(count=2, n=2)
        synced.sync()
        assert run_cli("views", "-d", str(synced.database)).code == 0
        synced.deleted = deleted  # type: ignore[attr-defined]
        yield synced


def test_deleted_conversations_are_absent_from_the_views(changed: Synced) -> None:
    (gone,) = changed.deleted  # type: ignore[attr-defined]
    with sqlite3.connect(changed.database) as connection:
        for view, column in (
            ("conversations_enhanced", "conversation_id"),
            ("conversation_parts_enhanced", "conversation_id"),
        ):
            rows = connection.execute(f"SELECT count(*) FROM {view} WHERE {column} = ?", (gone,))
            assert rows.fetchone()[0] == 0, view
        live = connection.execute("SELECT count(*) FROM conversations_enhanced").fetchone()[0]
        assert live > 0


def test_views_are_only_written_by_the_views_command(archive: Synced, tmp_path: Path) -> None:
    copy = _copy(archive, tmp_path)
    before = copy.read_bytes()
    for argv in (["status"], ["contact", "--email", "x@y.test"], ["search", "refund"]):
        assert run_cli(argv[0], "-d", str(copy), *argv[1:]).code == 0
    assert copy.read_bytes() == before
    shutil.rmtree(tmp_path)


# The views' columns as they were before their shared SQL moved into sql/_fragments.sql.
COLUMNS = {
    "contacts_enhanced": "contact_id role name email phone external_id created_at updated_at "
    "signed_up_at last_seen_at last_replied_at country city owner_id companies "
    "count_companies tags",
    "conversation_parts_enhanced": "conversation_id part_id part_type created_at author_type "
    "author_id author_name author_email body redacted",
    "conversations_enhanced": "conversation_id created_at updated_at state open read priority "
    "title source_type initiated_as initiated_by_type admin_assignee_id assignee_name "
    "team_assignee_id team_name contact_email tags rating rating_remark "
    "first_admin_response_at time_to_first_response_seconds "
    "intercom_time_to_admin_reply_seconds count_parts count_comments count_assignments "
    "count_reopens intercom_count_parts",
    "tickets_enhanced": "ticket_id ticket_number title description category ticket_type_id "
    "ticket_type ticket_state_id state state_shown_to_customer state_category open "
    "created_at updated_at admin_assignee_id assignee_name team_assignee_id team_name "
    "contact_email count_parts",
}


def test_the_views_keep_their_columns(archive: Synced) -> None:
    with sqlite3.connect(archive.database) as connection:
        for view, columns in COLUMNS.items():
            cursor = connection.execute(f"SELECT * FROM {view} LIMIT 0")
            assert [d[0] for d in cursor.description] == columns.split(), view


def test_shared_sql_is_expanded_from_the_fragments() -> None:
    fragments = views.parse_fragments(
        "-- fragment pick(table, alias): one row\n(SELECT 1 FROM {0} AS {1})\n\n"
        "-- fragment none(): nothing\nNULL\n"
    )
    assert fragments == {"pick": (2, "(SELECT 1 FROM {0} AS {1})"), "none": (0, "NULL")}
    sql = "SELECT\n    {{pick(tags, t)}} AS x,\n    {{none()}}"
    assert views.expand(sql, fragments) == "SELECT\n    (SELECT 1 FROM tags AS t) AS x,\n    NULL"
    with pytest.raises(ValueError, match="no SQL fragment pick of 1 arguments"):
        views.expand("{{pick(tags)}}", fragments)
    for definition in views.definitions():
        assert "{{" not in definition.body, definition.name
