"""The receiver's pure parts: signature, topics and items, and the queue file."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from pathlib import Path

import pytest

from tap_intercom.webhooks.queue import QueueEntry, WebhookQueue
from tap_intercom.webhooks.signature import sign, verify
from tap_intercom.webhooks.topics import TOPICS, MalformedNotification, notification_item

SECRET = b"unit-secret"


def test_signature_is_hmac_sha1_of_the_raw_body() -> None:
    body = b'{"type":"notification_event"}'
    expected = "sha1=" + hmac.new(SECRET, body, hashlib.sha1).hexdigest()
    assert sign(SECRET, body) == expected
    assert verify(SECRET, body, expected)
    assert verify(SECRET, body, expected.upper().replace("SHA1=", "sha1="))


@pytest.mark.parametrize(
    "header",
    [None, "", "sha1=", "sha1=00", "md5=abc", "garbage", sign(b"other", b"{}"), "sha1=é"],
)
def test_signature_refuses_forged_and_missing(header: str | None) -> None:
    assert not verify(SECRET, b"{}", header)


def test_signature_covers_every_byte() -> None:
    body = b'{"a": 1}'
    assert not verify(SECRET, body + b" ", sign(SECRET, body))


def test_the_issue_topics_are_all_handled() -> None:
    issue = [
        "conversation.user.created", "conversation.user.replied", "conversation.admin.replied",
        "conversation.admin.single.created", "conversation.admin.assigned",
        "conversation.admin.noted", "conversation.admin.closed", "conversation.admin.opened",
        "conversation.admin.snoozed", "conversation.admin.unsnoozed",
        "conversation_part.tag.created", "conversation_part.redacted",
        "conversation.rating.added", "conversation.deleted", "contact.user.created",
        "contact.lead.created", "contact.user.updated", "contact.lead.updated",
        "contact.lead.signed_up", "contact.deleted", "contact.archived", "contact.unarchived",
        "contact.merged", "contact.user.tag.created", "contact.user.tag.deleted",
        "contact.lead.tag.created", "contact.lead.tag.deleted", "company.created",
        "company.updated", "company.deleted", "ticket.created", "ticket.state.updated",
        "ticket.attribute.updated", "ticket.admin.assigned", "ticket.note.created",
        "ticket.admin.replied", "ticket.contact.replied", "ticket.deleted",
    ]  # fmt: skip
    assert set(issue) <= set(TOPICS)
    assert "admin.logged_in" not in TOPICS


def _body(item: dict[str, object]) -> dict[str, object]:
    return {"data": {"item": item}}


def test_items_of_each_shape() -> None:
    item = notification_item(
        "conversation.admin.replied", _body({"type": "conversation", "id": 5, "updated_at": 9})
    )
    assert (item.item_type, item.item_id, item.updated_at) == ("conversation", "5", 9)
    tag = notification_item(
        "contact.user.tag.created",
        _body({"type": "contact_tag", "tag": {"id": "1"}, "contact": {"id": "c9"}}),
    )
    assert (tag.item_type, tag.item_id) == ("contact", "c9")
    part = notification_item(
        "conversation_part.redacted",
        _body({"type": "conversation_part", "id": "77", "conversation_id": "12"}),
    )
    assert (part.item_type, part.item_id) == ("conversation", "12")
    deleted = notification_item("ticket.deleted", _body({"type": "ticket", "id": "3"}))
    assert (deleted.item_type, deleted.item_id, deleted.updated_at) == ("ticket", "3", None)
    merged = notification_item(
        "contact.merged", _body({"type": "contact", "id": "a", "merged_into": {"id": "b"}})
    )
    assert (merged.item_id, merged.merged_into_id) == ("a", "b")
    lead = notification_item("contact.lead.created", _body({"type": "lead", "id": "x"}))
    assert lead.item_type == "contact"


@pytest.mark.parametrize(
    "body",
    [{}, {"data": None}, {"data": {"item": "x"}}, _body({"type": "contact"}), _body({"id": ""})],
)
def test_items_without_an_id_are_malformed(body: dict[str, object]) -> None:
    with pytest.raises(MalformedNotification):
        notification_item("contact.user.updated", body)


def _entry(nid: str, item_id: str = "c1", topic: str = "contact.user.updated") -> QueueEntry:
    return QueueEntry(nid, topic, "contact", item_id, 5, None, 1, 2.0)


def test_queue_stores_each_notification_id_once(tmp_path: Path) -> None:
    q = WebhookQueue(tmp_path / "q.sqlite")
    assert q.store([_entry("n1"), _entry("n2"), _entry("n1")]) == [True, True, False]
    assert q.store([_entry("n2", "other")]) == [False]
    rows = q.read()
    assert [(r.position, r.entry.notification_id) for r in rows] == [(1, "n1"), (2, "n2")]
    assert rows[0].entry == _entry("n1")
    q.close()


def test_queue_positions_survive_pruning_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    q = WebhookQueue(path)
    q.store([_entry(f"n{i}") for i in range(5)])
    assert q.prune(3) == 3
    assert [r.position for r in q.read()] == [4, 5]
    assert [r.position for r in q.read(after=4)] == [5]
    assert len(q.read(limit=1)) == 1
    q.close()
    q = WebhookQueue(path)
    q.prune(5)
    assert q.count() == 0
    q.store([_entry("n9")])
    assert q.read()[0].position == 6  # never reused
    assert q.last_position() == 6
    q.close()


def test_queue_is_durable_and_holds_no_body(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    WebhookQueue(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    columns = [r[1] for r in db.execute("PRAGMA table_info(notifications)")]
    assert columns == [
        "position", "notification_id", "topic", "item_type", "item_id", "item_updated_at",
        "merged_into_id", "created_at", "received_at",
    ]  # fmt: skip
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(ValueError, match="version 99"):
        WebhookQueue(path)
