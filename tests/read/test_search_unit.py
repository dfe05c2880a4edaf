"""`search` over FTS5 tables laid out as the read side expects them (`<table>_fts`, external
content), built here by SQL: literal terms, --raw rejection, part hits, deleted records left
out, the merge of rankings, on cases the emulator does not produce. `test_search.py` checks
the same through the CLI against the FTS tables the target writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from intercom_archive import search
from tests.read.conftest import HOSTILE, check_hostile_query, run_cli


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "stand-in.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE _archive_tables (table_name, stream, path, parent_table, rel_path, scalar);
            INSERT INTO _archive_tables VALUES
                ('conversations', 'conversations', '[]', NULL, '[]', 0),
                ('conversation_parts', 'conversation_parts', '[]', NULL, '[]', 0),
                ('contacts', 'contacts', '[]', NULL, '[]', 0);
            CREATE TABLE conversations (id TEXT, source__body TEXT, _sdc_deleted_at TEXT);
            CREATE TABLE conversation_parts (conversation_id TEXT, id TEXT, body TEXT,
                _sdc_deleted_at TEXT);
            CREATE TABLE contacts (id TEXT, name TEXT, email TEXT, _sdc_deleted_at TEXT);
            INSERT INTO conversations VALUES ('c1', '<p>Refund for my naïve order</p>', NULL),
                ('c2', '<p>gone refund</p>', '2026-01-01T00:00:00Z');
            INSERT INTO conversation_parts VALUES
                ('c1', 'p1', '<p>the <b>zymurgy</b> refund</p>', NULL),
                ('c1', 'p2', 'alice@example.com asked: DROP TABLE contacts;--', NULL),
                ('c2', 'p3', 'zymurgy in a deleted conversation', NULL);
            INSERT INTO contacts VALUES ('u1', 'Chloé Ångström', 'alice@example.com', NULL);
            """
        )
        for table, columns in (
            ("conversations", "source__body"),
            ("conversation_parts", "body"),
            ("contacts", "name, email"),
        ):
            db.execute(
                f"CREATE VIRTUAL TABLE {table}_fts USING fts5({columns}, "
                f"content=\"{table}\", tokenize='unicode61 remove_diacritics 2')"
            )
            db.execute(f"INSERT INTO {table}_fts({table}_fts) VALUES('rebuild')")
    return path


def _hits(database: Path, *argv: str) -> list[dict[str, str]]:
    result = run_cli("search", "-d", str(database), "--json", *argv)
    assert result.code == 0, result.err
    hits: list[dict[str, str]] = result.json()
    return hits


def test_a_part_hit_points_at_its_conversation_and_part(database: Path) -> None:
    hits = _hits(database, "zymurgy")
    assert [(h["stream"], h["id"], h.get("part_id")) for h in hits] == [
        ("conversations", "c1", "p1")
    ]
    assert hits[0]["snippet"] == "the [zymurgy] refund"


def test_deleted_records_and_their_parts_only_with_include_deleted(database: Path) -> None:
    assert {h["id"] for h in _hits(database, "refund")} == {"c1"}
    with_deleted = _hits(database, "zymurgy", "--include-deleted")
    assert {(h["id"], h["part_id"]) for h in with_deleted} == {("c1", "p1"), ("c2", "p3")}


def test_terms_are_literal_and_accents_do_not_matter(database: Path) -> None:
    assert [h["id"] for h in _hits(database, "naive")] == ["c1"]
    assert [h["id"] for h in _hits(database, "angstrom", "--stream", "contacts")] == ["u1"]
    sql_text = _hits(database, "DROP TABLE contacts;--")
    assert [(h["id"], h["part_id"]) for h in sql_text] == [("c1", "p2")]
    email = {(h["stream"], h["id"]) for h in _hits(database, "alice@example.com")}
    assert email == {("contacts", "u1"), ("conversations", "c1")}
    assert _hits(database, "qwzxv") == []
    assert run_cli("search", "-d", str(database), "qwzxv").out.strip() == "[]"


def test_the_rankings_of_the_indexes_are_merged_by_reciprocal_rank(database: Path) -> None:
    hits = _hits(database, "refund")
    assert [h["rank"] for h in hits] == sorted(h["rank"] for h in hits)
    first = [search.Hit("conversations", "a", "", None, "conversations", 1)]
    second = [
        search.Hit("contacts", "b", "", None, "contacts", 1),
        search.Hit("contacts", "c", "", None, "contacts", 2),
    ]
    merged = search.merge([second, first], limit=3)
    assert [h.id for h in merged] == ["a", "b", "c"]
    assert search.literal_query('say "hi" (now) 🎉') == '"say" """hi""" "(now)"'
    assert search.literal_query("🎉 --") is None


@pytest.mark.parametrize("query", HOSTILE, ids=lambda q: repr(q[:24]))
def test_hostile_queries_exit_0_and_raw_ones_0_or_2_without_traceback(
    database: Path, query: str
) -> None:
    check_hostile_query(database, query)
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM contacts").fetchone()[0] == 1


def test_a_rejected_raw_query_exits_2_with_one_line(database: Path) -> None:
    result = run_cli("search", "-d", str(database), "--raw", "a AND")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        'intercom-archive: FTS5 rejected the --raw query: fts5: syntax error near ""'
    ]
    assert _hits(database, "--raw", "refund OR zymurgy")


def test_a_word_with_more_matches_than_candidates_is_ranked_among_the_newest(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sqlite3.connect(database) as db:
        # p10 holds the word most densely (bm25's best) but was archived first.
        rows = [("c1", "p10", "quokka quokka quokka")]
        rows += [("c1", f"p{n}", f"quokka and {' '.join(['filler'] * 30)}") for n in range(11, 15)]
        db.executemany("INSERT INTO conversation_parts VALUES (?, ?, ?, NULL)", rows)
        db.execute("INSERT INTO conversation_parts_fts(conversation_parts_fts) VALUES('rebuild')")
    every = _hits(database, "quokka", "--stream", "conversations")
    assert every[0]["part_id"] == "p10"
    assert len(every) == 5
    monkeypatch.setattr(search, "CANDIDATES", 3)
    bounded = _hits(database, "quokka", "--stream", "conversations")
    assert {h["part_id"] for h in bounded} == {"p12", "p13", "p14"}


def test_live_matches_older_than_deleted_candidates_are_still_found(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sqlite3.connect(database) as db:
        rows: list[tuple[str, str, str, str | None]] = [("c1", "p20", "wombat", None)]
        rows += [("c1", f"p{n}", "wombat", "2026-01-01T00:00:00Z") for n in range(21, 25)]
        db.executemany("INSERT INTO conversation_parts VALUES (?, ?, ?, ?)", rows)
        db.execute("INSERT INTO conversation_parts_fts(conversation_parts_fts) VALUES('rebuild')")
    monkeypatch.setattr(search, "CANDIDATES", 3)
    hits = _hits(database, "wombat", "--stream", "conversations")
    assert [h["part_id"] for h in hits] == ["p20"]
