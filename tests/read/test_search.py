"""`intercom-archive search` through its CLI against archives synced from the emulator."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.emulator.workspace import Workspace, rare_word
from tests.read.conftest import HOSTILE, Synced, check_hostile_query, run_cli, synced_archive


def fold(text: str) -> str:
    """What a diacritics-folding unicode61 tokenizer makes of text: lower case, no accents."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str | None) -> set[str]:
    return set(re.findall(r"\w+", fold(text or "")))


def rare_terms(database: Path, fts: str) -> list[str]:
    """Terms of `fts` that occur in exactly one row, read through fts5vocab."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        connection.execute(f"CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, {fts}, row)")
        rows = connection.execute(
            "SELECT term FROM temp.vocab WHERE doc = 1 AND length(term) > 3 "
            "AND term GLOB '*[a-z]*' ORDER BY term"
        ).fetchall()
    return [row[0] for row in rows]


def search_json(database: Path, *argv: str) -> list[dict[str, str]]:
    result = run_cli("search", "-d", str(database), "--json", *argv)
    assert result.code == 0, result.err
    hits: list[dict[str, str]] = result.json()
    return hits


def test_the_archive_has_the_documented_fts_tables(archive: Synced) -> None:
    with sqlite3.connect(archive.database) as connection:
        names = {
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE sql LIKE '%USING fts5%'"
            )
        }
    expected = {"conversations", "conversation_parts", "tickets", "ticket_parts", "contacts"}
    expected.add("articles")
    assert {f"{t}_fts" for t in expected} <= names


def test_a_rare_word_of_a_conversation_part_points_at_its_part(archive: Synced) -> None:
    truth = archive.emulator.workspace
    terms = rare_terms(archive.database, "conversation_parts_fts")
    assert terms, "the emulator's part bodies hold rare words"
    term = terms[0]
    expected = [
        (str(cid), str(part["id"]))
        for cid in truth.truth()["conversation_parts"]
        for part in (truth.conversation(cid, plaintext=True) or {})
        .get("conversation_parts", {})
        .get("conversation_parts", [])
        if term in tokens(part["body"])
    ]
    assert len(expected) == 1
    hits = search_json(archive.database, term, "--stream", "conversations")
    part_hits = [(h["id"], h.get("part_id")) for h in hits if h.get("part_id")]
    assert part_hits == expected
    assert all(h["stream"] == "conversations" for h in hits)
    assert term in fold(hits[0]["snippet"])


def test_a_rare_word_of_a_ticket_part_an_article_and_an_email(archive: Synced) -> None:
    ticket_terms = rare_terms(archive.database, "ticket_parts_fts")
    assert ticket_terms
    hits = search_json(archive.database, ticket_terms[0], "--stream", "tickets")
    with sqlite3.connect(archive.database) as connection:
        expected = {
            (str(t), str(p))
            for t, p, body in connection.execute("SELECT ticket_id, id, body FROM ticket_parts")
            if ticket_terms[0] in tokens(body)
        }
        article = connection.execute("SELECT id, title FROM articles LIMIT 1").fetchone()
        email = connection.execute(
            "SELECT id, email FROM contacts WHERE email IS NOT NULL LIMIT 1"
        ).fetchone()
    assert {(h["id"], h["part_id"]) for h in hits if "part_id" in h} == expected

    article_hits = search_json(archive.database, article[1], "--stream", "articles")
    assert article_hits[0]["id"] == str(article[0])
    assert article_hits[0]["stream"] == "articles"

    contact_hits = search_json(archive.database, email[1])
    assert [(h["stream"], h["id"]) for h in contact_hits] == [("contacts", str(email[0]))]


def test_a_query_without_its_accents_finds_the_accented_word(archive: Synced) -> None:
    with sqlite3.connect(archive.database) as connection:
        names = connection.execute("SELECT id, name FROM contacts").fetchall()
    accented = next(w for _, n in names for w in (n or "").split() if fold(w) != w.lower())
    bare = fold(accented)
    expected = {str(i) for i, n in names if bare in tokens(n)}
    hits = search_json(archive.database, bare, "--stream", "contacts", "--limit", "1000")
    assert {h["id"] for h in hits} == expected
    assert accented.lower() in hits[0]["snippet"].lower()


def test_no_match_prints_an_empty_list_and_exits_0(archive: Synced) -> None:
    for argv in (["--json"], []):
        result = run_cli("search", "-d", str(archive.database), *argv, "qwzxvbnmplk")
        assert result.code == 0
        assert result.out.strip() == "[]"


@pytest.mark.parametrize("query", HOSTILE, ids=lambda q: repr(q[:24]))
def test_hostile_queries_exit_0_and_raw_ones_0_or_2_without_traceback(
    archive: Synced, query: str
) -> None:
    check_hostile_query(archive.database, query)


def test_the_tables_survive_hostile_queries(archive: Synced) -> None:
    with sqlite3.connect(archive.database) as connection:
        assert connection.execute("SELECT count(*) FROM contacts").fetchone()[0] > 0


@dataclass
class Changed:
    """An archive before and after an incremental run that deleted a conversation, added
    parts to others and redacted one part."""

    synced: Synced
    deleted: str
    redacted: tuple[str, str]  # (conversation id, part id)
    redacted_word: str  # the rare word only the redacted part held
    added: tuple[str, str, str]  # (conversation id, part id, the rare word of that new part)


def _vocabulary(database: Path, fts: str) -> dict[str, int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        connection.execute(f"CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, {fts}, row)")
        return dict(connection.execute("SELECT term, doc FROM temp.vocab").fetchall())


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Changed]:
    with synced_archive(tmp_path_factory.mktemp("search-changed")) as synced:
        before = _vocabulary(synced.database, "conversation_parts_fts")
        with sqlite3.connect(synced.database) as connection:
            parts = connection.execute(
                "SELECT conversation_id, id, body FROM conversation_parts "
                "WHERE body IS NOT NULL ORDER BY conversation_id, id"
            ).fetchall()
        # A part whose rare word no other part holds: after its redaction nothing may find it.
        conversation_id, part_id, word = next(
            (str(c), str(p), fold(rare))
            for c, p, _ in parts
            if (rare := rare_word(int(p))) is not None and before.get(fold(rare)) == 1
        )
        workspace = synced.emulator.workspace
        assert workspace.redact(conversation_id, part_id) == [part_id]
        others = [c for c in workspace.truth()["conversation_parts"] if str(c) != conversation_id]
        (deleted,) = workspace.delete("conversations", ids=[others[0]])
        # The emulator gives a part a rare word by its id: grow the conversation whose next
        # part ids reach one soonest, so the run adds a part with a rare word to find.
        grown, new_part, new_word = min(
            (g for c in others[1:] if fold((g := _next_rare_part(workspace, c))[2]) != word),
            key=lambda g: g[3],
        )[:3]
        workspace.add_parts([grown], n=int(new_part) - _next_part_id(workspace, grown) + 1)
        workspace.add_parts(others[1:3], n=2)
        synced.sync()
        yield Changed(
            synced, deleted, (conversation_id, part_id), word, (grown, new_part, new_word)
        )


def _next_part_id(workspace: Workspace, conversation_id: str) -> int:
    core = workspace.core("conversations", conversation_id)
    assert core is not None
    return int(workspace.part_ids("conversations", core)[-1]) + 1


def _next_rare_part(workspace: Workspace, conversation_id: str) -> tuple[str, str, str, int]:
    """The conversation, its first future part id with a rare word, the word, the distance."""
    start = _next_part_id(workspace, conversation_id)
    key = next(k for k in range(start, start + 200) if rare_word(k) is not None)
    return conversation_id, str(key), str(rare_word(key)), key - start


def test_deleted_conversations_are_left_out_unless_asked_for(changed: Changed) -> None:
    database, gone = changed.synced.database, changed.deleted
    with sqlite3.connect(database) as connection:
        bodies = [
            r[0]
            for r in connection.execute(
                "SELECT body FROM conversation_parts WHERE conversation_id = ? "
                "AND body IS NOT NULL",
                (gone,),
            )
        ]
    assert bodies, "the archive keeps a deleted conversation's parts"
    word = sorted(tokens(bodies[0]), key=len)[-1]
    everything = ["--stream", "conversations", "--limit", "100000"]
    hits = search_json(database, word, *everything)
    assert gone not in {h["id"] for h in hits}
    with_deleted = search_json(database, word, *everything, "--include-deleted")
    assert gone in {h["id"] for h in with_deleted}


def test_words_of_new_parts_are_found_and_of_the_redacted_part_not(changed: Changed) -> None:
    database = changed.synced.database
    after = _vocabulary(database, "conversation_parts_fts")
    with sqlite3.connect(database) as connection:
        live_parts = {
            (str(c), str(i))
            for c, i in connection.execute(
                "SELECT conversation_id, id FROM conversation_parts WHERE _sdc_deleted_at IS NULL"
            )
        }
        redacted = connection.execute(
            "SELECT redacted, body FROM conversation_parts WHERE conversation_id = ? AND id = ?",
            changed.redacted,
        ).fetchone()
    assert redacted is not None, "the archive keeps the redacted part"
    assert redacted[1] is None, "the archive holds the redaction"
    grown, new_part, word = changed.added
    assert (grown, new_part) in live_parts
    hits = search_json(database, fold(word), "--stream", "conversations", "--limit", "1000")
    assert (grown, new_part) in {(h["id"], h.get("part_id")) for h in hits}
    assert {(h["id"], h.get("part_id")) for h in hits if "part_id" in h} <= live_parts
    gone = search_json(database, changed.redacted_word, "--include-deleted", "--limit", "1000")
    assert changed.redacted not in {(h["id"], h.get("part_id")) for h in gone}
    assert changed.redacted_word not in after


def test_no_hit_points_at_a_row_that_is_gone(changed: Changed) -> None:
    database = changed.synced.database
    with sqlite3.connect(database) as connection:
        parts = {
            (str(c), str(i))
            for c, i in connection.execute("SELECT conversation_id, id FROM conversation_parts")
        }
        conversations = {str(r[0]) for r in connection.execute("SELECT id FROM conversations")}
    vocabulary = _vocabulary(database, "conversation_parts_fts")
    words = sorted(vocabulary, key=lambda w: -vocabulary[w])[:4]
    for word in words:
        for hit in search_json(database, word, "--limit", "100000", "--include-deleted"):
            if hit["stream"] != "conversations":
                continue
            assert hit["id"] in conversations
            if "part_id" in hit:
                assert (hit["id"], hit["part_id"]) in parts
