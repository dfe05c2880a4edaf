"""The real ``intercom-webhooks`` process: signatures, idempotency, ping, limits, app_id,
health, logs, and a clean SIGTERM."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tap_intercom.webhooks.signature import sign
from tests.webhooks.receiver import RECEIVER, SECRET, Receiver, notification


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    r = Receiver(tmp_path / "queue.sqlite", args=("--app-id", "app1"))
    yield r
    if r.proc.poll() is None:
        r.kill()


def test_forged_missing_and_stale_signatures_get_401_and_queue_nothing(
    receiver: Receiver,
) -> None:
    body = json.dumps(notification("notif_forged")).encode()
    forged = "sha1=" + "0" * 40
    stale = sign(b"the-previous-client-secret", body)
    tampered = sign(SECRET.encode(), body)
    for signature, payload in (
        (forged, body),
        (None, body),
        (stale, body),
        ("", body),
        (tampered, body.replace(b"c1", b"c2")),
    ):
        assert receiver.post(payload, signature).status_code == 401
    assert receiver.queued_ids() == set()
    assert requests.get(receiver.url + "/health", timeout=5).json()["rejected"] == 5
    assert receiver.terminate() == 0
    rejected = [line for line in receiver.stderr.splitlines() if "rejected" in line]
    assert len(rejected) == 5 + 1  # one line per refusal, plus the metrics at exit
    assert "c1" not in receiver.stderr
    assert "notification_event" not in receiver.stderr
    assert SECRET not in receiver.stderr


def test_accepted_notification_is_queued_once(receiver: Receiver) -> None:
    first = receiver.send(notification("notif_a"))
    assert first.status_code == 200
    for _ in range(3):
        assert receiver.send(notification("notif_a")).status_code == 200
    assert (
        receiver.send(
            notification("notif_b", "company.updated", {"type": "company", "id": "co1"})
        ).status_code
        == 200
    )
    assert receiver.queued_ids() == {"notif_a", "notif_b"}
    health = requests.get(receiver.url + "/health", timeout=5).json()
    assert (health["accepted"], health["duplicates"]) == (2, 3)


def test_concurrent_duplicates_are_stored_once(receiver: Receiver) -> None:
    statuses: list[int] = []

    def send() -> None:
        statuses.append(receiver.send(notification("notif_same")).status_code)

    threads = [threading.Thread(target=send) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 12
    assert receiver.queued_ids() == {"notif_same"}


def test_ping_other_app_unhandled_topic_and_malformed(receiver: Receiver) -> None:
    assert receiver.send(notification("notif_p", "ping", {"type": "ping"})).status_code == 200
    assert receiver.send(notification("notif_o", app_id="someone-else")).status_code == 200
    admin = notification("notif_u", "admin.logged_in", {"type": "admin", "id": "1"})
    assert receiver.send(admin).status_code == 200
    no_id = notification("notif_m", item={"type": "contact"})
    assert receiver.send(no_id).status_code == 400
    not_json = b"{not json"
    assert receiver.post(not_json, sign(SECRET.encode(), not_json)).status_code == 400
    assert receiver.queued_ids() == set()
    health = requests.get(receiver.url + "/health", timeout=5).json()
    assert (health["pings"], health["other_app"], health["ignored_topics"]) == (1, 1, 1)
    assert health["malformed"] == 2
    assert receiver.terminate() == 0
    assert "ignored_topics=1" in receiver.stderr
    assert "other_app=1" in receiver.stderr


def test_bodies_over_one_mebibyte_get_413(receiver: Receiver) -> None:
    big = notification("notif_big")
    big["data"]["item"]["notes"] = "x" * (1024 * 1024)
    body = json.dumps(big).encode()
    assert receiver.post(body, sign(SECRET.encode(), body)).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(17):
            yield b"y" * 65536

    assert receiver.post(chunks(), "sha1=00").status_code == 413  # type: ignore[arg-type]
    just_fits = notification("notif_fits")
    just_fits["data"]["item"]["notes"] = "x" * (1024 * 1024 - 400)
    body = json.dumps(just_fits).encode()
    assert len(body) <= 1024 * 1024
    assert receiver.post(body, sign(SECRET.encode(), body)).status_code == 200
    assert receiver.queued_ids() == {"notif_fits"}


def test_health_and_sigterm_exit_zero(receiver: Receiver) -> None:
    assert requests.get(receiver.url + "/health", timeout=5).status_code == 200
    assert requests.get(receiver.url + "/", timeout=5).status_code == 405
    assert receiver.send(notification("notif_t")).status_code == 200
    assert receiver.terminate() == 0
    assert "stopped; metrics accepted=1" in receiver.stderr
    assert receiver.queued_ids() == {"notif_t"}


def test_secret_comes_from_env_or_file_never_argv(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "INTERCOM_CLIENT_SECRET"}
    run = subprocess.run(
        [RECEIVER, "--port", "0", "--queue", str(tmp_path / "q.sqlite")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "no client secret: set INTERCOM_CLIENT_SECRET or pass --client-secret-file"
    ]
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    r = Receiver(tmp_path / "q2.sqlite", secret="ignored-env", args=(
        "--client-secret-file", str(secret_file)))  # fmt: skip
    try:
        assert r.send(notification("notif_f"), secret="from-a-file").status_code == 200
        assert r.send(notification("notif_g"), secret="ignored-env").status_code == 401
    finally:
        assert r.terminate() == 0
