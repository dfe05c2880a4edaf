"""Datasette through its own test client: metadata, views first, hidden bookkeeping tables."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from intercom_archive import serve
from intercom_archive.archive import connect
from tests.read.conftest import Synced, run_cli


def _get(archive: Synced, *paths: str) -> list[Any]:
    async def fetch() -> list[Any]:
        connection = connect(archive.database)
        try:
            app = serve.datasette_app(connection, archive.database)
        finally:
            connection.close()
        await app.invoke_startup()
        return [await app.client.get(path) for path in paths]

    return asyncio.run(fetch())


def test_the_database_page_lists_the_views_first(archive: Synced) -> None:
    (page, listing) = _get(archive, "/archive", "/archive.json")
    assert page.status_code == 200
    html = page.text
    first_view = html.index("conversations_enhanced")
    assert first_view < html.index("Searchable tables")
    data = listing.json()
    views = {v["name"] for v in data["views"]}
    assert {"conversations_enhanced", "contacts_enhanced", "tickets_enhanced"} <= views
    hidden = {t["name"] for t in data["tables"] if t["hidden"]}
    assert {"_archive_raw", "_archive_state"} <= hidden


def test_tables_have_titles_and_views_read(archive: Synced) -> None:
    (conversations, view) = _get(
        archive, "/archive/conversations", "/archive/conversations_enhanced.json?_size=5"
    )
    assert conversations.status_code == 200
    assert "<title>Conversations" in conversations.text or "Conversations" in conversations.text
    assert view.status_code == 200
    rows = view.json()["rows"]
    assert rows
    with sqlite3.connect(archive.database) as connection:
        live = connection.execute("SELECT count(*) FROM conversations_enhanced").fetchone()[0]
    assert live >= len(rows)


def test_serve_without_datasette_says_how_to_install_it(archive: Synced, monkeypatch: Any) -> None:
    monkeypatch.setattr(serve, "datasette_available", lambda: False)
    result = run_cli("serve", "-d", str(archive.database), "--port", "1")
    assert result.code == 1
    assert result.err.strip().splitlines() == [f"intercom-archive: {serve.INSTALL_HINT}"]
    assert "pip install 'intercom-archive[datasette]'" in result.err


def _rows(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text[:500]
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


def test_search_through_datasette_finds_the_word_and_nothing_for_a_missing_one(
    archive: Synced,
) -> None:
    with sqlite3.connect(archive.database) as connection:
        part_id, body = connection.execute(
            "SELECT id, body FROM conversation_parts WHERE body LIKE '%refund%' LIMIT 1"
        ).fetchone()
        (subject_word,) = connection.execute(
            "SELECT 'refund' FROM conversations WHERE source__body LIKE '%refund%' LIMIT 1"
        ).fetchone()
        total_parts = connection.execute("SELECT count(*) FROM conversation_parts").fetchone()[0]
    responses = _get(
        archive,
        "/archive/conversation_parts.json?_search=refund&_size=max&_shape=objects",
        "/archive/conversation_parts.json?_search=qwzxvbnmplk&_shape=objects",
        f"/archive/conversations.json?_search={subject_word}&_shape=objects",
        "/archive/conversations.json?_search=qwzxvbnmplk&_shape=objects",
    )
    found_parts, no_parts, found_conversations, no_conversations = (_rows(r) for r in responses)
    assert str(part_id) in {str(r["id"]) for r in found_parts}
    assert 0 < len(found_parts) < total_parts
    assert all("refund" in (r["body"] or "").lower() for r in found_parts)
    assert "refund" in body.lower()
    assert no_parts == []
    assert found_conversations
    assert no_conversations == []


def test_foreign_key_links_render(archive: Synced) -> None:
    with sqlite3.connect(archive.database) as connection:
        links = connection.execute(
            "SELECT count(*) FROM pragma_foreign_key_list('conversation_parts') "
            "WHERE \"table\" = 'conversations'"
        ).fetchone()[0]
        _rowid, conversation_id = connection.execute(
            "SELECT rowid, conversation_id FROM conversation_parts LIMIT 1"
        ).fetchone()
    assert links == 1, "the archive declares conversation_parts.conversation_id -> conversations"
    (table,) = _get(archive, "/archive/conversation_parts?_size=5")
    assert f'href="/archive/conversations/{conversation_id}"' in table.text
