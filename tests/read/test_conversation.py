"""`intercom-archive conversation`: the opening message and every part, in order."""

from __future__ import annotations

import sqlite3

from intercom_archive.text import plain_text
from tests.read.conftest import Synced, run_cli


def test_the_thread_holds_the_opening_message_and_every_part_in_order(archive: Synced) -> None:
    with sqlite3.connect(archive.database) as connection:
        (conversation_id,) = connection.execute(
            "SELECT conversation_id FROM conversation_parts GROUP BY conversation_id "
            "ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
    truth = archive.emulator.workspace.conversation(conversation_id, plaintext=True)
    assert truth is not None
    parts = truth["conversation_parts"]["conversation_parts"]
    assert len(parts) >= 2
    result = run_cli("conversation", "-d", str(archive.database), conversation_id, "--json")
    assert result.code == 0, result.err
    thread = result.json()
    assert thread["id"] == conversation_id
    messages = thread["messages"]
    assert messages[0]["part_id"] is None
    assert messages[0]["text"] == plain_text(truth["source"]["body"])
    assert [m["part_id"] for m in messages[1:]] == [str(p["id"]) for p in parts]
    assert [m["text"] for m in messages[1:]] == [plain_text(p["body"]) for p in parts]

    text = run_cli("conversation", "-d", str(archive.database), conversation_id)
    assert text.code == 0
    positions = [text.out.index(m["text"].splitlines()[0]) for m in messages if m["text"]]
    assert positions == sorted(positions)
    assert "<p>" not in text.out
    assert text.out.count("\n--- ") == len(messages)


def test_an_unknown_conversation_is_one_line_and_exit_1(archive: Synced) -> None:
    result = run_cli("conversation", "-d", str(archive.database), "404404404")
    assert result.code == 1
    assert result.err.strip() == "intercom-archive: no conversation 404404404 in the archive"
