"""Benchmark of the webhook receiver: notifications per second and response times from
concurrent senders, with signature checks and durable (synchronous=FULL) group commits.

    .venv/bin/python -m benchmarks.webhooks [--notifications 20000] [--senders 4x16]

Starts the real ``intercom-webhooks`` process, sends signed, distinct notifications from
sender processes (each with threads holding one keep-alive connection), and checks the queue
afterwards: every notification answered 200 must be in it, once. The group-commit window is
compared side by side (the default 2 ms against 0: commit whatever arrived while the last
commit ran). Figures, not a timed test: see BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tap_intercom.webhooks.queue import WebhookQueue
from tap_intercom.webhooks.signature import sign

ROOT = Path(__file__).resolve().parents[1]
RECEIVER = str(Path(sys.executable).with_name("intercom-webhooks"))
SECRET = "bench-client-secret"  # noqa: S105 - synthetic, for the benchmark's own receiver


@dataclass
class Result:
    label: str
    batch_window_ms: float
    concurrency: int
    notifications: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    acknowledged: int
    queued: int
    lost: int
    commits: int


def _body(i: int, run: str) -> bytes:
    """A realistic notification (a contact of about 2 kB, as Intercom sends)."""
    item = {
        "type": "contact",
        "id": f"{run}{i:012x}",
        "role": "user",
        "email": f"contact{i}@example.test",
        "name": "Ada Lovelace",
        "updated_at": 1_700_000_000 + i,
        "custom_attributes": {f"attr_{k}": "x" * 20 for k in range(40)},
    }
    return json.dumps(
        {
            "type": "notification_event",
            "id": f"notif_{run}_{i}",
            "topic": "contact.user.updated",
            "app_id": "benchapp",
            "created_at": 1_700_000_000,
            "delivery_attempts": 1,
            "data": {"type": "notification_event_data", "item": item},
        }
    ).encode()


def _sender(port: int, indices: list[int], threads: int, run: str, out: Any) -> None:
    """One sender process: ``threads`` threads over ``indices``; puts (latencies, acked)."""
    secret = SECRET.encode()
    chunks = [indices[n::threads] for n in range(threads)]
    latencies: list[float] = []
    acked = 0
    lock = threading.Lock()

    def work(chunk: list[int]) -> None:
        nonlocal acked
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        ok = 0
        for i in chunk:
            body = _body(i, run)
            headers = {"Content-Type": "application/json", "X-Hub-Signature": sign(secret, body)}
            start = time.perf_counter()
            connection.request("POST", "/", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            ok += response.status == 200
        connection.close()
        with lock:
            latencies.extend(mine)
            acked += ok

    pool = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((latencies, acked))


def measure(
    label: str, notifications: int, processes: int, threads: int, window_ms: float
) -> Result:
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        queue_path = Path(tmp) / "queue.sqlite"
        proc = subprocess.Popen(
            [RECEIVER, "--port", "0", "--queue", str(queue_path),
             "--batch-window-ms", str(window_ms), "--log-level", "WARNING"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "INTERCOM_CLIENT_SECRET": SECRET},
        )  # fmt: skip
        assert proc.stdout is not None
        line = proc.stdout.readline()
        port = int(line.strip().rsplit(":", 1)[1])
        run = f"{int(time.time() * 1000) % 10**9:x}"
        indices = list(range(notifications))
        out: Any = multiprocessing.get_context("fork").Queue()
        senders = [
            multiprocessing.get_context("fork").Process(
                target=_sender, args=(port, indices[p::processes], threads, run, out)
            )
            for p in range(processes)
        ]
        start = time.perf_counter()
        for s in senders:
            s.start()
        parts = [out.get() for _ in senders]
        seconds = time.perf_counter() - start
        for s in senders:
            s.join()
        health = json.loads(_get(port, "/health"))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        latencies = sorted(x for lat, _ in parts for x in lat)
        acked = sum(a for _, a in parts)
        q = WebhookQueue(queue_path)
        queued = q.count()
        q.close()
    return Result(
        label=label,
        batch_window_ms=window_ms,
        concurrency=processes * threads,
        notifications=notifications,
        seconds=round(seconds, 2),
        per_second=round(notifications / seconds),
        p50_ms=round(statistics.median(latencies) * 1000, 1),
        p99_ms=round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        max_ms=round(latencies[-1] * 1000, 1),
        acknowledged=acked,
        queued=queued,
        lost=acked - queued,
        commits=int(health["commits"]),
    )


def _get(port: int, path: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    body = connection.getresponse().read().decode()
    connection.close()
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhooks")
    parser.add_argument("--notifications", type=int, default=20_000)
    parser.add_argument("--senders", default="4x16", help="PROCESSESxTHREADS")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "webhooks.json")
    args = parser.parse_args(argv)
    processes, threads = (int(x) for x in args.senders.split("x"))
    results: list[Result] = []
    for _ in range(args.repeat):  # interleaved, so both windows see the same machine load
        for window in (2.0, 0.0):
            r = measure(f"window {window:g} ms", args.notifications, processes, threads, window)
            print(json.dumps(asdict(r)), file=sys.stderr, flush=True)
            results.append(r)
        few = measure("window 2 ms, 4 senders", args.notifications // 4, 1, 4, 2.0)
        print(json.dumps(asdict(few)), file=sys.stderr, flush=True)
        results.append(few)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
        check=False,
    ).stdout.strip()  # fmt: skip
    args.out.write_text(
        json.dumps({"commit": commit, "results": [asdict(r) for r in results]}, indent=1)
    )
    print(
        "| run | senders | notifications | per second | p50 ms | p99 ms | max ms | commits |",
        end="",
    )
    print(" lost |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.label} | {r.concurrency} | {r.notifications:,} | {r.per_second:,} |"
            f" {r.p50_ms} | {r.p99_ms} | {r.max_ms} | {r.commits:,} | {r.lost} |"
        )
    return 0 if all(r.lost == 0 and r.acknowledged == r.notifications for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
