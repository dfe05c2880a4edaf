"""Start the real ``intercom-webhooks`` executable for tests, and sign notifications for it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

from tap_intercom.webhooks.queue import WebhookQueue
from tap_intercom.webhooks.signature import sign

RECEIVER = str(Path(sys.executable).with_name("intercom-webhooks"))
SECRET = "test-client-secret-0123456789"


class Receiver:
    """An ``intercom-webhooks`` process on 127.0.0.1 (its stderr is collected)."""

    def __init__(
        self,
        queue_path: Path,
        *,
        port: int = 0,
        secret: str = SECRET,
        args: tuple[str, ...] = (),
    ) -> None:
        self.queue_path = queue_path
        env = {**os.environ, "INTERCOM_CLIENT_SECRET": secret}
        self.proc = subprocess.Popen(
            [RECEIVER, "--port", str(port), "--queue", str(queue_path), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._stderr: list[str] = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        self.url = self._wait_url()
        self.port = int(self.url.rsplit(":", 1)[1])

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def _wait_url(self, timeout: float = 30.0) -> str:
        assert self.proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: lines.put(self.proc.stdout.readline() if self.proc.stdout else ""),
            daemon=True,
        ).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            raise RuntimeError("the receiver did not start: " + self.stderr) from None
        if not line.startswith("WEBHOOKS_URL="):
            self.proc.wait(timeout=10)
            time.sleep(0.1)
            raise RuntimeError(f"the receiver did not start: {line!r} {self.stderr}")
        return line.strip().split("=", 1)[1]

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def post(self, body: bytes, signature: str | None, **kwargs: Any) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature"] = signature
        return requests.post(self.url + "/", data=body, headers=headers, timeout=10, **kwargs)

    def send(self, notification: dict[str, Any], secret: str = SECRET) -> requests.Response:
        body = json.dumps(notification).encode()
        return self.post(body, sign(secret.encode(), body))

    def terminate(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._drain.join(timeout=5)
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        self._drain.join(timeout=5)

    def queued_ids(self) -> set[str]:
        q = WebhookQueue(self.queue_path)
        try:
            return q.notification_ids()
        finally:
            q.close()


def notification(
    nid: str = "notif_1",
    topic: str = "contact.user.updated",
    item: dict[str, Any] | None = None,
    app_id: str = "app1",
) -> dict[str, Any]:
    return {
        "type": "notification_event",
        "id": nid,
        "topic": topic,
        "app_id": app_id,
        "created_at": 1_700_000_000,
        "delivery_attempts": 1,
        "first_sent_at": 1_700_000_000,
        "data": {
            "type": "notification_event_data",
            "item": item or {"type": "contact", "id": "c1", "updated_at": 1_700_000_000},
        },
    }
