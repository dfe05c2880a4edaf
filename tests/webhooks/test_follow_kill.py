"""SIGKILL the receiver and the follow-mode pipeline at seeded random moments while the
workspace changes, restarting each (the pipeline from the archive's last committed state):
every notification answered 200 ends in the archive at its item's latest version (or marked
deleted), with one row per id.

The emulator's search lags five minutes here (Intercom's "a few minutes"), so the follower's
safety-net syncs (one at every restart) see none of the test's changes, only versions older
than what the drains wrote: what reaches the archive came through the queue, and what the
syncs write stale is fetched again after them.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from tap_intercom.timestamps import iso
from tap_intercom.webhooks.queue import WebhookQueue
from tests.emulator import Emulator, WebhookSettings
from tests.emulator.workspace import Workspace
from tests.reliability.pipeline import duplicate_keys, integrity_ok
from tests.webhooks.follow_pipeline import (
    Follower,
    committed_position,
    committed_state,
    follow_config,
    follow_spec,
    mirror_differences,
    rows,
    wait_for,
)
from tests.webhooks.receiver import SECRET, Receiver

SPEC = follow_spec(
    41,
    companies=15,
    contacts=200,
    conversations=40,
    tickets=12,
    parts_mean=3,
    deleted_conversations=0,
)
SEARCH_LAG = 300.0
TABLES = {"contact": "contacts", "conversation": "conversations", "ticket": "tickets",
          "company": "companies"}  # fmt: skip


def _change(ws: Workspace, rng: random.Random) -> None:
    """One seeded change of any kind the follower handles."""
    kind = rng.randrange(12)
    if kind < 3:
        ws.update(("contacts", "conversations", "tickets", "companies")[rng.randrange(4)])
    elif kind == 3:
        ws.create(("contacts", "conversations", "tickets")[rng.randrange(3)])
    elif kind == 4:
        ws.add_parts(count=1)
    elif kind == 5:
        ws.close(count=1)
    elif kind == 6:
        ws.delete(("contacts", "conversations", "tickets", "companies")[rng.randrange(4)])
    elif kind == 7:
        ws.archive(count=1)
    elif kind == 8:
        ws.merge()
    elif kind == 9:
        ws.redact(ws.update("conversations")[0])
    else:
        ws.update("contacts", count=3)


def last_position(queue_path: Path) -> int:
    queue = WebhookQueue(queue_path)
    try:
        return queue.last_position()
    finally:
        queue.close()


def not_at_latest(database: Path, emu: Emulator, notification_ids: set[str]) -> list[str]:
    """The notified items whose archive row is not the workspace's latest version: a live
    item at its updated_at, a gone one (deleted, archived, merged) marked deleted."""
    assert emu.webhooks is not None
    truth = emu.truth()
    wrong = []
    for nid in sorted(notification_ids):
        notification = emu.webhooks.notifications[nid]
        table = TABLES[notification.item_type]
        rid = notification.item_id
        updated, deleted = (
            rows(database, f'SELECT updated_at, _sdc_deleted_at FROM "{table}" WHERE id = ?', rid)  # noqa: S608
            or [(None, None)]
        )[0]
        live = truth[table].get(rid)
        if (live is None and deleted is None) or (
            live is not None and (deleted is not None or updated != iso(live))
        ):
            wrong.append(f"{table} {rid}: {updated} {deleted} (truth {live})")
    return wrong


def test_sigkill_of_receiver_and_pipeline_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(15)
    queue_path = tmp_path / "queue.sqlite"
    database = tmp_path / "archive.sqlite"
    receiver = Receiver(queue_path)
    port = receiver.port
    settings = WebhookSettings(url=receiver.url, secret=SECRET, retry_delay=0.1, workers=4)
    with Emulator(SPEC, search_lag=SEARCH_LAG, webhooks=settings) as emu:
        delivery = emu.webhooks
        assert delivery is not None
        runs = 1
        follower = Follower(tmp_path / f"run{runs}", follow_config(emu, receiver), database)
        stop = threading.Event()

        def write() -> None:  # about 60 changes a second while everything comes and goes
            changes = random.Random(16)
            while not stop.is_set():
                _change(emu.workspace, changes)
                time.sleep(0.015)

        writer = threading.Thread(target=write)
        kills = {"receiver": 0, "pipeline": 0}
        try:
            assert wait_for(lambda: committed_state(database) is not None, 60), follower.describe()
            writer.start()
            victims = ["receiver", "pipeline"] * 3
            rng.shuffle(victims)
            for victim in victims:
                time.sleep(rng.uniform(0.3, 1.2))  # a seeded moment
                if victim == "receiver":
                    receiver.kill()
                    kills["receiver"] += 1
                    time.sleep(rng.uniform(0.0, 0.3))  # deliveries fail meanwhile: retried
                    receiver = Receiver(queue_path, port=port)
                else:
                    follower.kill(rng.choice([("tap",), ("target",), ("tap", "target")]))
                    kills["pipeline"] += 1
                    runs += 1
                    # Restarted as Meltano would: from the last state the target committed.
                    follower = Follower(
                        tmp_path / f"run{runs}",
                        follow_config(emu, receiver),
                        database,
                        state=committed_state(database),
                    )
        finally:
            stop.set()
            if writer.is_alive():
                writer.join()
        try:
            assert delivery.wait_idle(60)
            acknowledged = delivery.acknowledged()
            assert acknowledged == set(delivery.notifications)  # retries filled in the rest
            queued = last_position(queue_path)
            # The follower catches up on every acknowledged notification, then commits it.
            converged = wait_for(
                lambda: (
                    committed_position(database) >= queued
                    and not not_at_latest(database, emu, acknowledged)
                ),
                60,
                every=0.5,
            )
            assert converged, "\n".join(not_at_latest(database, emu, acknowledged)[:10]) + (
                follower.describe()
            )
            code_tap, code_target, _ = follower.terminate()
        finally:
            follower.kill()
            receiver.kill()
    assert (code_tap, code_target) == (0, 0), follower.describe()
    assert kills == {"receiver": 3, "pipeline": 3}
    assert len(acknowledged) > 200
    assert integrity_ok(database)
    assert duplicate_keys(database) == {}  # one row per id
    assert not mirror_differences(database, emu)  # and the rest of the mirror is right too
