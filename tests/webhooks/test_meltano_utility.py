"""``meltano invoke intercom-webhooks``: the utility plugin installs, takes its settings from
Meltano (environment), receives a signed notification, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import requests

from tap_intercom.webhooks.queue import WebhookQueue
from tap_intercom.webhooks.signature import sign
from tests.webhooks.receiver import notification

ROOT = Path(__file__).resolve().parents[2]
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"


def test_meltano_invoke_runs_the_receiver(tmp_path: Path) -> None:
    # A project of its own (the real meltano.yml, the package linked in), so its .meltano/
    # never races the other Meltano test's install in the repository.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "meltano.yml", project / "meltano.yml")
    (project / "tap-intercom").symlink_to(ROOT / "tap-intercom")
    (project / "schemas").symlink_to(ROOT / "schemas")
    queue = tmp_path / "queue.sqlite"
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "INTERCOM_CLIENT_SECRET": "meltano-test-secret",
        "INTERCOM_WEBHOOKS_PORT": "0",
        "INTERCOM_WEBHOOKS_QUEUE": str(queue),
    }
    installed = subprocess.run(
        [MELTANO, "install", "utility", "intercom-webhooks"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    proc = subprocess.Popen(
        [MELTANO, "invoke", "intercom-webhooks"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("WEBHOOKS_URL="), line
        url = line.strip().split("=", 1)[1]
        body = json.dumps(notification("notif_meltano")).encode()
        signature = sign(b"meltano-test-secret", body)
        answer = requests.post(
            url + "/",
            data=body,
            headers={"X-Hub-Signature": signature},
            timeout=10,
        )
        assert answer.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-2000:]
    q = WebhookQueue(queue)
    assert q.notification_ids() == {"notif_meltano"}
    q.close()
