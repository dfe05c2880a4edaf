"""SIGKILL the receiver at seeded moments while the emulator delivers a burst: every
notification answered 200 is in the queue, and the emulator's retries fill in the rest."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from tests.emulator import Emulator, WebhookSettings, WorkspaceSpec
from tests.webhooks.receiver import SECRET, Receiver

SPEC = WorkspaceSpec(
    seed=11, admins=3, teams=2, tags=5, segments=2, companies=30, contacts=200,
    conversations=60, tickets=20, articles=2, collections=1, parts_mean=3, cluster_size=10,
)  # fmt: skip


def test_sigkill_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(1)
    queue_path = tmp_path / "queue.sqlite"
    receiver = Receiver(queue_path)
    port = receiver.port
    settings = WebhookSettings(url=receiver.url, secret=SECRET, retry_delay=0.2, workers=8)
    with Emulator(SPEC, webhooks=settings) as emu:
        delivery = emu.webhooks
        assert delivery is not None
        stop = threading.Event()

        def burst() -> None:  # about 500 changes a second while the receiver comes and goes
            entities = ("contacts", "conversations", "tickets", "companies")
            while not stop.is_set():
                emu.workspace.update(entities[rng.randrange(4)], count=2)
                time.sleep(0.004)

        writer = threading.Thread(target=burst)
        writer.start()
        kills = 0
        try:
            for _ in range(3):
                time.sleep(rng.uniform(0.1, 0.6))  # a seeded moment inside the burst
                receiver.kill()
                kills += 1
                acknowledged = delivery.acknowledged()
                queued = receiver.queued_ids()
                assert acknowledged <= queued, len(acknowledged - queued)
                assert acknowledged, "nothing was acknowledged before the kill"
                time.sleep(rng.uniform(0.0, 0.3))  # deliveries fail meanwhile: retried
                receiver = Receiver(queue_path, port=port)
        finally:
            stop.set()
            writer.join()
        assert delivery.wait_idle(60)
        assert delivery.stats()["failed_attempts"] > 0  # the kills did refuse deliveries
        assert receiver.queued_ids() == set(delivery.notifications)
        assert receiver.terminate() == 0
    assert kills == 3
