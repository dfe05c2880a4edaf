"""The main job behind scripts/demo: Meltano runs of tap-intercom into target-sqlite-archive."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MELTANO = str(ROOT / ".venv-meltano" / "bin" / "meltano")
DEMO_PORT = 8765
DEMO_DATABASE = ROOT / "output" / "demo.sqlite"
PROD_DATABASE = ROOT / "output" / "intercom.sqlite"
JOB_STATE_ID = "{env}:tap-intercom-to-target-sqlite-archive"
# The job of meltano.yml: the sync, then the read side's analyst views over what it wrote.
JOB_BLOCKS = ("tap-intercom", "target-sqlite-archive", "intercom-archive:views")
WORKSPACE = ["--seed", "1", "--contacts", "3000", "--conversations", "1500", "--tickets", "300"]


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def meltano(*args: str, env: dict[str, str] | None = None, quiet: bool = False) -> None:
    log = ROOT / "output" / "meltano.log"
    with log.open("a") as sink:
        completed = subprocess.run(
            [MELTANO, *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=sink if quiet else None,
            stderr=sink,
            check=False,
        )
    if completed.returncode != 0:
        sys.exit(f"demo: `meltano {' '.join(args)}` failed; its log is in {log}")


def free_port(preferred: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])


def control(url: str, route: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{url}/_emulator/{route}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def tables(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {n: connection.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def last_version(database: Path) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "SELECT coalesce(max(version_id), 0) FROM _archive_raw"
        ).fetchone()[0]


def versions_after(database: Path, version_id: int) -> dict[str, int]:
    """Raw record versions the archive stored after `version_id`, per stream."""
    with sqlite3.connect(database) as connection:
        return dict(
            connection.execute(
                "SELECT stream, count(*) FROM _archive_raw WHERE version_id > ? "
                "GROUP BY stream ORDER BY stream",
                (version_id,),
            ).fetchall()
        )


def summary(database: Path) -> None:
    counts = tables(database)
    roots = {n: c for n, c in counts.items() if "__" not in n and not n.startswith("_archive_")}
    children = sum(c for n, c in counts.items() if "__" in n)
    say(f"archive {database.relative_to(ROOT)}: {len(counts)} tables")
    for name, count in roots.items():
        print(f"  {name:<24} {count:>8} rows")
    print(f"  {'(child tables)':<24} {children:>8} rows in {sum('__' in n for n in counts)} tables")
    print(f"  {'(raw versions)':<24} {counts.get('_archive_raw', 0):>8}")


def run_demo() -> None:
    port = free_port(DEMO_PORT)
    url = f"http://127.0.0.1:{port}"
    say(f"starting the Intercom emulator on {url} (synthetic workspace)")
    emulator = subprocess.Popen(
        [sys.executable, "-m", "tests.emulator", "--port", str(port), *WORKSPACE],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        ready = emulator.stdout.readline().strip()
        if not ready.startswith("EMULATOR_URL="):
            sys.exit("demo: the emulator did not start")
        env = {"TAP_INTERCOM_API_URL": url}
        (ROOT / "output").mkdir(exist_ok=True)
        say("installing the Meltano plugins (first time only takes a while)")
        meltano("install", quiet=True)
        # Each demo starts from an empty archive and no state.
        for leftover in DEMO_DATABASE.parent.glob(DEMO_DATABASE.name + "*"):
            leftover.unlink()
        state_id = JOB_STATE_ID.format(env="demo")
        meltano("--environment=demo", "state", "clear", "--force", state_id, quiet=True)

        figures: list[tuple[str, float, dict[str, Any], dict[str, int]]] = []
        for label in ("first run (full)", "second run (incremental)"):
            if figures:
                changes = [
                    {"action": "update", "entity": "contacts", "count": 60},
                    {"action": "update", "entity": "conversations", "count": 30},
                    {"action": "add_parts", "entity": "conversations", "count": 15},
                    {"action": "create", "entity": "conversations", "count": 10},
                    {"action": "delete", "entity": "conversations", "count": 3},
                ]
                for change in changes:
                    control(url, "mutate", change)
                say(
                    "changed the workspace: 60 contacts and 30 conversations updated, parts "
                    "added to 15, 10 conversations created, 3 deleted"
                )
            control(url, "reset_stats", {})
            before = last_version(DEMO_DATABASE)
            started = time.monotonic()
            say(
                f"{label}: meltano --environment=demo run tap-intercom target-sqlite-archive "
                "intercom-archive:views"
            )
            meltano("--environment=demo", "run", *JOB_BLOCKS, env=env)
            stats = control(url, "stats")
            figures.append(
                (
                    label,
                    time.monotonic() - started,
                    stats,
                    versions_after(DEMO_DATABASE, before),
                )
            )

        print()
        summary(DEMO_DATABASE)
        for label, seconds, stats, written in figures:
            print(
                f"  {label}: {seconds:.1f}s, {stats['total']} requests "
                f"({stats['rate_limited']} answered 429), {sum(written.values())} record "
                "versions archived"
            )
            if label.startswith("second"):
                for stream, count in written.items():
                    print(f"      {stream:<24} {count:>6} new versions")
        say(f"Meltano's state for the next run: meltano --environment=demo state get {state_id}")
        say(
            "read it: .venv/bin/intercom-archive status --database output/demo.sqlite "
            "(also search, contact, conversation, serve)"
        )
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


def run_intercom() -> None:
    say("TAP_INTERCOM_ACCESS_TOKEN is set: syncing Intercom (environment prod), read-only")
    (ROOT / "output").mkdir(exist_ok=True)
    meltano("install", quiet=True)
    meltano("--environment=prod", "run", *JOB_BLOCKS)
    summary(PROD_DATABASE)


def main() -> None:
    if os.environ.get("TAP_INTERCOM_ACCESS_TOKEN"):
        run_intercom()
    else:
        run_demo()


if __name__ == "__main__":
    main()
