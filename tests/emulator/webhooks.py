"""The emulator's webhook delivery: signed notifications for its mutations, sent from
background threads, retried until acknowledged, with seeded faults.

A ``WebhookDelivery`` listens to a ``Workspace`` (``workspace.listeners``); every mutation
becomes a notification (``type: notification_event``, ``id``, ``topic``, ``app_id``,
``created_at``, ``delivery_attempts``, ``first_sent_at``, ``data.item``) signed with
``X-Hub-Signature: sha1=<HMAC-SHA1 of the raw body>``. A non-2xx answer or a failed connection
is retried after ``retry_delay`` seconds (Intercom waits a minute and tries once more; the
emulator keeps trying, up to ``max_attempts``, so tests converge). Faults, drawn from one seeded
generator: ``drop_rate`` (never sent), ``duplicate_rate`` (sent twice, same id),
``reorder_rate`` (held back ``reorder_delay`` seconds so later ones overtake it), and
``app_id`` (send as another workspace).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

from tests.emulator.workspace import Record, Workspace

DEFAULT_SECRET = "emulator-client-secret"
DEFAULT_APP_ID = "emuapp01"


@dataclass(frozen=True)
class WebhookSettings:
    url: str | None = None  # the receiver's endpoint; None: notifications wait until one is set
    secret: str = DEFAULT_SECRET
    app_id: str = DEFAULT_APP_ID
    retry_delay: float = 1.0
    max_attempts: int = 0  # 0: until acknowledged
    timeout: float = 5.0  # Intercom gives an endpoint 5 seconds
    workers: int = 2
    seed: int = 0
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    reorder_delay: float = 0.2


@dataclass
class Notification:
    notification_id: str
    topic: str
    item_type: str
    item_id: str
    created_at: int
    item: Record
    attempts: int = 0
    first_sent_at: int | None = None
    acknowledged: bool = False
    statuses: list[int] = field(default_factory=list)  # 0: no answer (connection failed)


class WebhookDelivery:
    """Turns workspace mutations into signed deliveries to ``settings.url``."""

    def __init__(self, workspace: Workspace, settings: WebhookSettings | None = None) -> None:
        self.workspace = workspace
        self.settings = settings or WebhookSettings()
        self._rng = random.Random(f"webhooks/{self.settings.seed}")
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, str]] = []  # (due, sequence, notification id)
        self._seq = 0
        self._in_flight = 0
        self._stopping = False
        self.notifications: dict[str, Notification] = {}  # by id, in creation order
        self.dropped: list[str] = []
        self.duplicated: list[str] = []
        self._counts = {"attempts": 0, "acknowledged": 0, "failed_attempts": 0}
        self._threads: list[threading.Thread] = []
        workspace.listeners.append(self._on_change)

    # ------------------------------------------------------------ control
    def configure(self, **changes: Any) -> WebhookSettings:
        known = {f.name for f in fields(WebhookSettings)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown webhook settings: {', '.join(sorted(unknown))}")
        with self._cond:
            self.settings = replace(self.settings, **changes)
            if "seed" in changes:
                self._rng = random.Random(f"webhooks/{self.settings.seed}")
            self._cond.notify_all()
        return self.settings

    def start(self) -> WebhookDelivery:
        if not self._threads:
            self._stopping = False
            for n in range(max(1, self.settings.workers)):
                thread = threading.Thread(target=self._work, name=f"webhooks-{n}", daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []
        if self._on_change in self.workspace.listeners:
            self.workspace.listeners.remove(self._on_change)

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {
                "notifications": len(self.notifications),
                **self._counts,
                "dropped": len(self.dropped),
                "duplicated": len(self.duplicated),
                "pending": len(self._due) + self._in_flight,
            }

    def acknowledged(self) -> set[str]:
        """Ids of the notifications some delivery of which was answered 2xx."""
        with self._cond:
            return {n.notification_id for n in self.notifications.values() if n.acknowledged}

    def undelivered(self) -> set[str]:
        """Ids that were meant to be delivered (not dropped) and are not acknowledged yet."""
        with self._cond:
            dropped = set(self.dropped)
            return {
                n.notification_id
                for n in self.notifications.values()
                if not n.acknowledged and n.notification_id not in dropped
            }

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is due or in flight (everything acknowledged, dropped or given
        up); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._due or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    # ------------------------------------------------------------ creation
    def _on_change(self, topic: str, item: Record) -> None:
        """Workspace listener (called under the workspace lock): record and schedule."""
        with self._cond:
            nid = f"notif_{uuid.UUID(int=self._rng.getrandbits(128), version=4)}"
            item_id = str(item.get("id"))
            notification = Notification(
                notification_id=nid,
                topic=topic,
                item_type=str(item.get("type")),
                item_id=item_id,
                created_at=int(time.time()),
                item=item,
            )
            self.notifications[nid] = notification
            s = self.settings
            if self._rng.random() < s.drop_rate:
                self.dropped.append(nid)
                return
            delay = s.reorder_delay if self._rng.random() < s.reorder_rate else 0.0
            self._schedule(nid, delay)
            if self._rng.random() < s.duplicate_rate:
                self.duplicated.append(nid)
                self._schedule(nid, delay + 0.001)

    def _schedule(self, nid: str, delay: float) -> None:
        self._seq += 1
        heapq.heappush(self._due, (time.monotonic() + delay, self._seq, nid))
        self._cond.notify()

    def body(self, notification: Notification) -> bytes:
        payload = {
            "type": "notification_event",
            "app_id": self.settings.app_id,
            "id": notification.notification_id,
            "topic": notification.topic,
            "created_at": notification.created_at,
            "delivery_attempts": notification.attempts,
            "first_sent_at": notification.first_sent_at,
            "data": {"type": "notification_event_data", "item": notification.item},
        }
        return json.dumps(payload, ensure_ascii=False).encode()

    # ------------------------------------------------------------ sending
    def _work(self) -> None:
        connection: http.client.HTTPConnection | None = None
        target: tuple[str, int] | None = None
        while True:
            with self._cond:
                nid = self._next_due()
                if nid is None:
                    break
                notification = self.notifications[nid]
                notification.attempts += 1
                notification.first_sent_at = notification.first_sent_at or int(time.time())
                body = self.body(notification)
                s = self.settings
                self._in_flight += 1
                self._counts["attempts"] += 1
            assert s.url is not None
            split = urlsplit(s.url)
            where = (split.hostname or "127.0.0.1", split.port or 80)
            if connection is None or where != target:
                if connection is not None:
                    connection.close()
                connection, target = http.client.HTTPConnection(*where, timeout=s.timeout), where
            status = 0
            try:
                connection.request(
                    "POST",
                    split.path or "/",
                    body=body,
                    headers={
                        "Content-Type": "application/json",
                        "User-Agent": "intercom-parrot-service-client/1.0",
                        "X-Hub-Signature": "sha1="
                        + hmac.new(s.secret.encode(), body, hashlib.sha1).hexdigest(),
                    },
                )
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = None
            with self._cond:
                self._in_flight -= 1
                notification.statuses.append(status)
                if 200 <= status < 300:
                    notification.acknowledged = True
                    self._counts["acknowledged"] += 1
                else:
                    self._counts["failed_attempts"] += 1
                    retry = not s.max_attempts or notification.attempts < s.max_attempts
                    if retry and not notification.acknowledged:
                        self._schedule(nid, s.retry_delay)
                self._cond.notify_all()
        if connection is not None:
            connection.close()

    def _next_due(self) -> str | None:
        """Wait (holding the condition) for a due notification; None when stopping."""
        while not self._stopping:
            if self._due and self.settings.url:
                due, _, nid = self._due[0]
                wait = due - time.monotonic()
                if wait <= 0:
                    heapq.heappop(self._due)
                    return nid
                self._cond.wait(wait)
            else:
                self._cond.wait(0.5)
        return None
