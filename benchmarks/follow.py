"""Benchmark of follow mode: how far behind Intercom the archive is while changes stream in.

    .venv/bin/python -m benchmarks.follow [--changes 1000 --seconds 60 --latency 150] [--quick]

The emulator (in this process, delivering signed webhooks from its own threads) serves a
workspace at ``--latency`` ms per request and a private app's 1,667 requests per 10 s. The real
``intercom-webhooks`` receiver queues the notifications; ``tap-intercom`` in follow mode (the
``live`` environment's settings: a drain every second, the safety-net sync hourly) pipes into
``target-sqlite-archive`` (``batch_wait_seconds: 1``). After the first sync is committed,
``--changes`` changes of every kind are made, evenly spread over ``--seconds``, and the archive
is polled every 100 ms. Figures, not a timed test: see BENCHMARKS.md.

- change to committed row: from the mutation until the archive holds that version (its
  ``updated_at``, whole seconds) or marks the row deleted; p50, p95, max;
- GETs by id per changed item (and per change) while following;
- the request budget: requests per 10-second window while following, against the limit, and
  what is left for the safety-net sync.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import goals
from benchmarks.common import (
    PRIVATE_APP_RATE,
    StatsSampler,
    log,
    out_dir,
    window_counts,
    write_json,
)
from tap_intercom.timestamps import iso
from tests.emulator import Emulator, WebhookSettings, WorkspaceSpec
from tests.emulator.workspace import Workspace
from tests.webhooks.follow_pipeline import Follower, committed_state, follow_config
from tests.webhooks.receiver import SECRET, Receiver

TABLES = ("contacts", "conversations", "tickets", "companies")
BY_ID = tuple(f"GET /{table}/{{id}}" for table in TABLES)
FULL = {"contacts": 3000, "conversations": 1500, "tickets": 100, "companies": 500}
QUICK = {"contacts": 100, "conversations": 40, "tickets": 10, "companies": 15}
#: The change mix: (weight, kind, entity). Updates dominate, as in a live workspace.
MIX = (
    (35, "update", "conversations"), (30, "update", "contacts"), (10, "update", "tickets"),
    (5, "update", "companies"), (6, "reply", "conversations"), (3, "close", "conversations"),
    (3, "create", "contacts"), (3, "create", "conversations"), (1, "create", "tickets"),
    (2, "delete", "contacts"), (1, "delete", "conversations"), (1, "delete", "companies"),
)  # fmt: skip


@dataclass
class Change:
    table: str
    rid: str
    at: float  # when the mutation returned (wall clock)
    updated_at: int | None  # the version the archive must reach; None: the row is deleted
    seen: float | None = None


@dataclass
class Result:
    changes: int
    seconds: float
    latency_ms: int
    items: int
    committed: int
    p50_s: float
    p95_s: float
    max_s: float
    gets_by_id: int
    gets_per_item: float
    gets_per_change: float
    requests: int
    windows: list[int] = field(default_factory=list)
    limit_per_window: int = PRIVATE_APP_RATE
    left_per_window: int = 0
    left_share: float = 0.0
    routes: dict[str, int] = field(default_factory=dict)
    goals: dict[str, str] = field(default_factory=dict)


def _change(ws: Workspace, rng: random.Random, kinds: list[tuple[str, str]]) -> Change:
    kind, entity = rng.choice(kinds)
    if kind == "update":
        (rid,) = ws.update(entity)
    elif kind == "reply":
        (rid,) = ws.add_parts(count=1)
    elif kind == "close":
        (rid,) = ws.close(count=1)
    elif kind == "create":
        (rid,) = ws.create(entity)
    else:
        (rid,) = ws.delete(entity)
    core = ws.core(entity, rid)
    return Change(entity, rid, time.time(), None if core is None else int(core["updated_at"]))


class Watcher(threading.Thread):
    """Polls the archive every 100 ms and stamps each change when its version is committed."""

    def __init__(self, database: Path) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.pending: list[Change] = []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def add(self, change: Change) -> None:
        with self.lock:
            self.pending.append(change)

    def run(self) -> None:
        while not self.done.is_set():
            now = time.time()
            rows = self._rows()
            with self.lock:
                for change in self.pending:
                    if change.seen is None and _reached(change, rows.get(change.table, {})):
                        change.seen = now
            self.done.wait(0.1)

    def _rows(self) -> dict[str, dict[str, tuple[Any, Any]]]:
        found: dict[str, dict[str, tuple[Any, Any]]] = {}
        try:
            with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
                for table in TABLES:
                    query = f'SELECT id, updated_at, _sdc_deleted_at FROM "{table}"'  # noqa: S608
                    found[table] = {str(r[0]): (r[1], r[2]) for r in db.execute(query)}
        except sqlite3.Error:
            pass  # a table not created yet
        return found


def _reached(change: Change, rows: dict[str, tuple[Any, Any]]) -> bool:
    row = rows.get(change.rid)
    if row is None:
        return False
    updated, deleted = row
    if change.updated_at is None:
        return deleted is not None
    return deleted is None and updated is not None and updated >= iso(change.updated_at)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(
    changes: int, seconds: float, latency_ms: int, sizes: dict[str, int], seed: int = 15
) -> Result:
    spec = WorkspaceSpec(
        seed=seed,
        long_conversations=0,
        contacts=sizes["contacts"],
        conversations=sizes["conversations"],
        tickets=sizes["tickets"],
        companies=sizes["companies"],
    )
    kinds = [(kind, entity) for weight, kind, entity in MIX for _ in range(weight)]
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="bench-follow-") as tmp:
        folder = Path(tmp)
        receiver = Receiver(folder / "queue.sqlite")
        database = folder / "archive.sqlite"
        hooks = WebhookSettings(url=receiver.url, secret=SECRET, retry_delay=1.0, workers=4)
        try:
            with Emulator(
                spec, latency_ms=latency_ms, rate_limit=PRIVATE_APP_RATE, webhooks=hooks
            ) as emu:
                config = follow_config(emu, receiver, drain_interval_seconds=1)
                follower = Follower(folder / "run", config, database, batch_wait_seconds=1)
                try:
                    log("follow: the first sync")
                    started = time.monotonic()
                    while not (
                        follower.count("Run summary: no stream")
                        and committed_state(database) is not None
                    ):
                        if time.monotonic() - started > 900 or follower.tap.poll() is not None:
                            raise RuntimeError(follower.describe())
                        time.sleep(0.2)
                    time.sleep(2)  # the first sync's last commit
                    log(f"follow: {changes} changes over {seconds:.0f} s")
                    emu.reset_stats()
                    sampler = StatsSampler(emu)  # type: ignore[arg-type]
                    watcher = Watcher(database)
                    sampler.start()
                    watcher.start()
                    made: list[Change] = []
                    begin = time.monotonic()
                    for n in range(changes):
                        delay = begin + n * seconds / changes - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                        change = _change(emu.workspace, rng, kinds)
                        made.append(change)
                        watcher.add(change)
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline and any(c.seen is None for c in made):
                        time.sleep(0.2)
                    watcher.done.set()
                    watcher.join()
                    samples = sampler.stop()
                    stats = emu.stats()
                finally:
                    follower.terminate()
                    follower.kill()
        finally:
            receiver.kill()
    return _result(made, seconds, latency_ms, stats, samples)


def _result(
    made: list[Change],
    seconds: float,
    latency_ms: int,
    stats: dict[str, Any],
    samples: list[tuple[float, int]],
) -> Result:
    lags = [c.seen - c.at for c in made if c.seen is not None]
    # Several changes of one item within one second share an updated_at: each counts once seen.
    items = {(c.table, c.rid) for c in made}
    routes = {route: sum(codes.values()) for route, codes in stats["routes"].items()}
    gets = sum(routes.get(route, 0) for route in BY_ID)
    windows, _, _ = window_counts(samples)
    busiest = max(windows, default=int(stats["total"]))
    result = Result(
        changes=len(made),
        seconds=seconds,
        latency_ms=latency_ms,
        items=len(items),
        committed=len(lags),
        p50_s=round(statistics.median(lags), 2) if lags else float("nan"),
        p95_s=round(_percentile(lags, 0.95), 2) if lags else float("nan"),
        max_s=round(max(lags), 2) if lags else float("nan"),
        gets_by_id=gets,
        gets_per_item=round(gets / len(items), 3),
        gets_per_change=round(gets / len(made), 3),
        requests=int(stats["total"]),
        windows=windows,
        left_per_window=PRIVATE_APP_RATE - busiest,
        left_share=round(1 - busiest / PRIVATE_APP_RATE, 3),
        routes=dict(sorted(routes.items())),
    )
    for name, goal, value in (
        ("p95", goals.FOLLOW_P95_SECONDS, result.p95_s),
        ("gets_per_item", goals.FOLLOW_GETS_PER_ITEM, result.gets_per_item),
    ):
        result.goals[name] = f"{value} ({goal.text}: {'met' if goal.met(value) else 'MISSED'})"
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.follow")
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--latency", type=int, default=150, help="ms per emulator request")
    parser.add_argument("--quick", action="store_true", help="a small workspace, 100 changes")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    changes, seconds = (100, 10.0) if args.quick else (args.changes, args.seconds)
    result = measure(changes, seconds, args.latency, sizes)
    path = write_json(out_dir() / "follow.json", result.__dict__)
    print(json.dumps(result.__dict__, indent=1))
    log(f"follow: figures in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
