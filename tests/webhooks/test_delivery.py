"""The emulator's webhook delivery into the real receiver: topics of every mutation, signed;
retries, drops, duplicates, reordering and another app_id; what GET answers afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tap_intercom.webhooks.queue import WebhookQueue
from tests.emulator import Emulator, WebhookSettings, WorkspaceSpec
from tests.webhooks.receiver import SECRET, Receiver

SPEC = WorkspaceSpec(
    seed=3, admins=3, teams=2, tags=5, segments=2, companies=10, contacts=60,
    conversations=30, tickets=10, articles=2, collections=1, parts_mean=4, cluster_size=10,
)  # fmt: skip


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    r = Receiver(tmp_path / "queue.sqlite", args=("--app-id", "emuapp01"))
    yield r
    if r.proc.poll() is None:
        r.kill()


def _emulator(receiver: Receiver, **settings: object) -> Emulator:
    return Emulator(
        SPEC,
        webhooks=WebhookSettings(url=receiver.url, secret=SECRET, retry_delay=0.1, **settings),  # type: ignore[arg-type]
    )


def _queued(receiver: Receiver) -> list[tuple[str, str, str]]:
    q = WebhookQueue(receiver.queue_path)
    try:
        return [(r.entry.topic, r.entry.item_type, r.entry.item_id) for r in q.read()]
    finally:
        q.close()


def test_every_mutation_is_delivered_signed_with_its_topic(receiver: Receiver) -> None:
    with _emulator(receiver, workers=1) as emu:  # one sender: arrival in mutation order
        ws = emu.workspace
        (contact,) = ws.create("contacts")
        ws.update("contacts", [contact])
        (conversation,) = ws.create("conversations")
        ws.add_parts([conversation])
        ws.close([conversation])
        (part,) = ws.redact(conversation)
        ws.update("tickets", count=1)
        (company,) = ws.update("companies", count=1)
        ws.delete("companies", [company])
        (archived,) = ws.archive(count=1)
        merged, into = ws.merge()
        (deleted,) = ws.delete("conversations", count=1)
        assert emu.webhooks is not None
        assert emu.webhooks.wait_idle(30)
        assert emu.webhooks.undelivered() == set()
        topics = [t for t, _, _ in _queued(receiver)]
        role = ws.get("contacts", contact)["role"]  # type: ignore[index]
        assert topics[:2] == [f"contact.{role}.created", f"contact.{role}.updated"]
        assert topics[2:6] == [
            "conversation.user.created",
            "conversation.user.replied",
            "conversation.admin.closed",
            "conversation_part.redacted",
        ]
        assert set(topics[6:]) >= {
            "ticket.attribute.updated", "company.updated", "company.deleted",
            "contact.archived", "contact.merged", "conversation.deleted",
        }  # fmt: skip
        q = WebhookQueue(receiver.queue_path)
        merge = next(r.entry for r in q.read() if r.entry.topic == "contact.merged")
        q.close()
        assert (merge.item_id, merge.merged_into_id) == (merged, into)
        headers = emu.headers()
        get = lambda path, h=headers: requests.get(emu.url + path, headers=h, timeout=5)  # noqa: E731
        assert get(f"/contacts/{archived}").status_code == 404
        assert get(f"/conversations/{deleted}").status_code == 404
        assert get(f"/companies/{company}").status_code == 404
        assert get(f"/contacts/{merged}").status_code == 404  # 2.16 documents 404
        gone = get(f"/contacts/{merged}", {**headers, "Intercom-Version": "2.17"})
        assert gone.status_code == 410
        assert gone.headers["Link"] == f'<{emu.url}/contacts/{into}>; rel="canonical"'
        parts = get(f"/conversations/{conversation}").json()["conversation_parts"]
        redacted = [p for p in parts["conversation_parts"] if p["id"] == part]
        assert redacted[0]["redacted"] is True
        assert redacted[0]["body"] is None
        ws.unarchive([archived])
        assert emu.webhooks.wait_idle(30)
        assert get(f"/contacts/{archived}").status_code == 200
    assert _queued(receiver)[-1] == ("contact.unarchived", "contact", archived)


def test_non_2xx_is_retried_until_acknowledged(receiver: Receiver, tmp_path: Path) -> None:
    with Emulator(
        SPEC,
        webhooks=WebhookSettings(url=receiver.url, secret="a-stale-secret", retry_delay=0.1),
    ) as emu:
        assert emu.webhooks is not None
        emu.workspace.update("contacts", count=3)
        emu.workspace.update("tickets", count=2)
        assert not emu.webhooks.wait_idle(0.5)  # 401s, retried
        assert emu.webhooks.stats()["failed_attempts"] >= 5
        assert receiver.queued_ids() == set()
        emu.webhooks.configure(secret=SECRET)  # the operator fixes the secret
        assert emu.webhooks.wait_idle(30)
        assert len(receiver.queued_ids()) == 5
        assert all(401 in n.statuses for n in emu.webhooks.notifications.values())


def test_drops_duplicates_and_reordering_are_seeded(receiver: Receiver) -> None:
    with _emulator(
        receiver, seed=5, drop_rate=0.2, duplicate_rate=0.3, reorder_rate=0.3, reorder_delay=0.05
    ) as emu:
        assert emu.webhooks is not None
        emu.workspace.update("contacts", count=40)
        assert emu.webhooks.wait_idle(30)
        delivery = emu.webhooks
        stats = delivery.stats()
        assert 0 < stats["dropped"] < 40
        assert stats["duplicated"] > 0
        assert stats["acknowledged"] == 40 - stats["dropped"] + stats["duplicated"]
        queued = receiver.queued_ids()
        assert queued == set(delivery.notifications) - set(delivery.dropped)
        order = [nid for nid in delivery.notifications if nid in queued]
        q = WebhookQueue(receiver.queue_path)
        arrived = [r.entry.notification_id for r in q.read()]
        q.close()
        assert arrived != order  # some were overtaken
        health = requests.get(receiver.url + "/health", timeout=5).json()
        assert health["duplicates"] == stats["duplicated"]


def test_notifications_from_another_app_are_ignored(receiver: Receiver) -> None:
    with _emulator(receiver, app_id="another-workspace") as emu:
        assert emu.webhooks is not None
        emu.workspace.update("contacts", count=4)
        assert emu.webhooks.wait_idle(30)
        assert emu.webhooks.stats()["acknowledged"] == 4  # answered 200, so not retried
    assert receiver.queued_ids() == set()
    assert requests.get(receiver.url + "/health", timeout=5).json()["other_app"] == 4
