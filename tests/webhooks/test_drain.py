"""The tap drains the webhook queue: one GET per changed item, records into the usual streams,
deletions and merges as tombstones, the queue position in the state, pruning at start-up."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tap_intercom.drain import DrainResult, canonical_id, latest_changes
from tap_intercom.settings import SettingError, validate
from tap_intercom.timestamps import to_iso
from tap_intercom.webhooks.queue import QueuedNotification, QueueEntry, WebhookQueue
from tests.e2e.harness import TapRun, run_tap
from tests.emulator import Emulator, WebhookSettings
from tests.webhooks.follow_pipeline import follow_spec, make_every_change
from tests.webhooks.receiver import SECRET, Receiver

TOKEN = "drain-test-token"
STREAMS = (
    "contacts", "companies", "conversations", "conversation_parts", "deleted_conversations",
    "tickets", "ticket_parts",
)  # fmt: skip
SPEC = follow_spec(21, long_conversations=3)  # conversations over the 500-part cap too


def _row(position: int, item_id: str, topic: str = "contact.user.updated", **kw: Any) -> Any:
    entry = QueueEntry(f"n{position}", topic, kw.pop("item_type", "contact"), item_id, **kw)
    return QueuedNotification(position, entry)


def test_latest_changes_keeps_the_newest_per_item() -> None:
    rows = [_row(1, "a"), _row(2, "b"), *(_row(p, "a") for p in range(3, 53))]
    rows.append(_row(53, "c", "contact.merged", merged_into_id="d", created_at=7))
    rows.append(_row(54, "c", "contact.user.updated", created_at=9))
    rows.append(_row(55, "a", "conversation.admin.closed", item_type="conversation"))
    changes = latest_changes(rows)
    assert [(c.item_type, c.item_id, c.position) for c in changes] == [
        ("contact", "b", 2), ("contact", "a", 52), ("contact", "c", 54), ("conversation", "a", 55),
    ]  # fmt: skip
    assert changes[1].notifications == 51
    assert changes[2].merged_into_id == "d"  # a later notification does not lose the merge
    assert changes[2].notified_at == 9


def test_canonical_link() -> None:
    assert canonical_id('<https://api.intercom.io/contacts/abc123>; rel="canonical"') == "abc123"
    assert canonical_id("<http://x/contacts/7/>;rel=canonical") == "7"
    assert canonical_id('<http://x/a>; rel="next"') is None
    assert canonical_id(None) is None


def test_totals_add_up() -> None:
    totals = DrainResult(position=3)
    totals.add(DrainResult(notifications=5, items=2, records=4, tombstones=1, position=9))
    totals.add(DrainResult(notifications=1, items=1, position=10))
    assert totals == DrainResult(notifications=6, items=3, records=4, tombstones=1, position=10)


def test_follow_settings_are_checked_together() -> None:
    base = {"access_token": "t"}
    settings = validate(
        {**base, "webhook_queue": "q.sqlite", "follow": "true"}, default_user_agent="x"
    )
    assert (settings.webhook_queue, settings.follow) == ("q.sqlite", True)
    assert settings.drain_interval_seconds == 1.0
    assert settings.sync_interval_seconds == 3600
    for config, named in (
        ({"follow": True}, "follow: needs webhook_queue"),
        ({"webhook_queue": "q", "follow": True, "reconcile": True}, "follow: a follower"),
        ({"webhook_queue": " "}, "webhook_queue: must be"),
        ({"webhook_queue": "q", "drain_interval_seconds": 0}, "drain_interval_seconds: must"),
        ({"webhook_queue": "q", "sync_interval_seconds": 0}, "sync_interval_seconds: must"),
    ):
        with pytest.raises(SettingError, match=named):
            validate({**base, **config}, default_user_agent="x")


def test_read_received_is_the_drained_tail(tmp_path: Path) -> None:
    q = WebhookQueue(tmp_path / "q.sqlite")
    q.store([QueueEntry(f"n{i}", "company.updated", "company", str(i), received_at=100.0 + i)
             for i in range(6)])  # fmt: skip
    assert [r.position for r in q.read_received(after=102.0, through=5)] == [4, 5]
    q.close()


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[tuple[Emulator, Receiver]]:
    receiver = Receiver(tmp_path / "queue.sqlite")
    settings = WebhookSettings(url=receiver.url, secret=SECRET, retry_delay=0.1)
    with Emulator(SPEC, token=TOKEN, webhooks=settings) as emu:
        yield emu, receiver
    receiver.kill()


def _config(emu: Emulator, receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {
        "access_token": TOKEN,
        "api_url": emu.url,
        "start_date": "2000-01-01T00:00:00Z",
        "lookback_window_seconds": 60,
        "webhook_queue": str(receiver.queue_path),
        **extra,
    }


def _by_id(run: TapRun, stream: str, *, tombstones: bool = False) -> dict[str, dict[str, Any]]:
    return {str(r["id"]): r for r in (run.tombstones if tombstones else run.records)[stream]}


def test_drain_emits_current_records_and_tombstones(
    pipeline: tuple[Emulator, Receiver], tmp_path: Path
) -> None:
    emu, receiver = pipeline
    ws = emu.workspace
    first = run_tap(tmp_path, _config(emu, receiver), streams=STREAMS)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.state["bookmarks"]["webhook_queue"] == {"position": 0}

    (busy,) = ws.update("contacts", count=1)
    for _ in range(49):
        ws.update("contacts", [busy])
    c = make_every_change(ws)
    assert emu.webhooks is not None
    assert emu.webhooks.wait_idle(30)
    queued = len(receiver.queued_ids())
    assert queued >= 60

    emu.reset_stats()
    second = run_tap(tmp_path, _config(emu, receiver), state=first.state, streams=STREAMS)
    assert second.returncode == 0, second.stderr[-3000:]
    routes = emu.stats()["routes"]
    # 50 changes of one contact between two drains: one GET.
    # busy, updated, created, unarchived and merged_into; deleted, archived and merged: gone
    assert routes["GET /contacts/{id}"] == {"200": 5, "404": 3}
    assert second.state["bookmarks"]["webhook_queue"]["position"] == queued
    truth = emu.truth()
    drained = [r for r in second.records["contacts"] if str(r["id"]) == busy]
    assert drained[-1]["updated_at"] == to_iso(truth["contacts"][busy])
    assert c.created in _by_id(second, "contacts")
    assert c.unarchived in _by_id(second, "contacts")
    contact_tombstones = _by_id(second, "contacts", tombstones=True)
    for gone in (c.deleted, c.archived, c.merged):
        assert contact_tombstones[gone]["_sdc_deleted_at"], gone
    assert contact_tombstones[c.merged]["_sdc_merged_into_id"] == c.merged_into
    assert "_sdc_merged_into_id" not in contact_tombstones[c.deleted]
    assert set(contact_tombstones[c.deleted]) == {"id", "_sdc_deleted_at"}
    conversations = _by_id(second, "conversations")
    assert _by_id(second, "conversations", tombstones=True)[c.deleted_conversation][
        "_sdc_deleted_at"
    ]
    assert c.deleted_conversation in _by_id(second, "deleted_conversations")
    parts = [p for p in second.records["conversation_parts"] if p["conversation_id"] == c.closed]
    assert any(p["id"] == c.redacted_part and p["redacted"] for p in parts)
    assert any(p["conversation_id"] == c.replied for p in second.records["conversation_parts"])
    assert conversations[c.closed]["state"] == "closed"
    assert "monitor_evaluations" in conversations[c.closed]  # the QA fields, from refresh
    assert _by_id(second, "tickets")[c.ticket]["updated_at"] == to_iso(truth["tickets"][c.ticket])
    assert any(p["ticket_id"] == c.ticket for p in second.records["ticket_parts"])
    assert _by_id(second, "tickets", tombstones=True)[c.deleted_ticket]["_sdc_deleted_at"]
    assert c.company in _by_id(second, "companies")
    assert _by_id(second, "companies", tombstones=True)[c.deleted_company]["_sdc_deleted_at"]

    # The next run prunes what the input state's position covers (but the rows of the last
    # ten minutes, which its search sync may need again), and drains nothing again.
    q = WebhookQueue(receiver.queue_path)
    q.store([QueueEntry("n-late", "company.updated", "company", c.company)])  # after the state
    q.close()
    with sqlite3.connect(receiver.queue_path) as db:  # all but the two newest an hour old
        db.execute("UPDATE notifications SET received_at = received_at - 3600 WHERE position < ?",
                   (queued - 1,))  # fmt: skip
    emu.reset_stats()
    third = run_tap(tmp_path, _config(emu, receiver), state=second.state, streams=STREAMS)
    assert third.returncode == 0, third.stderr[-3000:]
    # The two rows kept, fetched again after the search sync, and n-late, drained.
    assert "fetched 2 recently notified items again" in third.stderr
    assert "drained 1 notifications of 1 items" in third.stderr
    assert "GET /contacts/{id}" not in emu.stats()["routes"]  # (contacts changed first)
    assert f"pruned {queued - 2} queued notifications" in third.stderr
    q = WebhookQueue(receiver.queue_path)
    assert [r.position for r in q.read()] == [queued - 1, queued, queued + 1]
    q.close()


def test_a_merged_contact_answers_410_from_2_17(
    pipeline: tuple[Emulator, Receiver], tmp_path: Path
) -> None:
    emu, receiver = pipeline
    assert emu.webhooks is not None
    emu.webhooks.configure(url=None)  # the notification is lost: only the 410 can tell
    config = _config(emu, receiver, api_version="2.17")
    first = run_tap(tmp_path, config, streams=("contacts",))
    assert first.returncode == 0, first.stderr[-3000:]
    merged, into = emu.workspace.merge()
    q = WebhookQueue(receiver.queue_path)
    q.store([QueueEntry("n-merge", "contact.user.updated", "contact", merged)])
    q.close()
    second = run_tap(tmp_path, config, state=first.state, streams=("contacts",))
    assert second.returncode == 0, second.stderr[-3000:]
    tombstone = _by_id(second, "contacts", tombstones=True)[merged]
    assert tombstone["_sdc_merged_into_id"] == into
    assert emu.stats()["routes"]["GET /contacts/{id}"]["410"] == 1
