"""Screenshots of a search results page and of one conversation in Datasette (scripts/screenshots).

Syncs the emulator's synthetic workspace into output/screenshots/archive.sqlite with the real
tap and target, installs the views, serves it with `intercom-archive serve` on 127.0.0.1 and
points headless Chromium at two pages.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.emulator import Emulator  # noqa: E402
from tests.reliability.pipeline import (  # noqa: E402
    run_pipeline,
    small_spec,
    tap_config,
    target_config,
)

OUT = ROOT / "output" / "screenshots"
DOCS = ROOT / "intercom-archive" / "docs"
CLI = str(Path(sys.executable).with_name("intercom-archive"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1366,1000",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def build_archive() -> Path:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    database = OUT / "archive.sqlite"
    spec = small_spec(seed=11, contacts=120, conversations=80, tickets=20, parts_mean=6)
    with Emulator(spec, token="screenshots-token") as emulator:  # noqa: S106
        run = run_pipeline(OUT, tap_config(emulator), target_config(database))
    if not run.ok:
        sys.exit(f"screenshots: the sync failed\n{run.describe()}")
    subprocess.run([CLI, "views", "--database", str(database)], check=True)
    return database


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def shoot(url: str, path: Path) -> None:
    chromium = shutil.which("chromium") or "chromium"
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--screenshot={path}", url],
        check=True,
        capture_output=True,
        timeout=120,
    )
    print(f"screenshots: {path.relative_to(ROOT)} <- {url}")


def main() -> None:
    database = build_archive()
    with sqlite3.connect(database) as connection:
        (conversation_id,) = connection.execute(
            "SELECT conversation_id FROM conversation_parts GROUP BY conversation_id "
            "ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
        word = "refund"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [CLI, "serve", "--database", str(database), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"{base}/")
        DOCS.mkdir(parents=True, exist_ok=True)
        # `_col` keeps the pages to the columns a reader looks at (Datasette shows a table's
        # key, conversation_id and id, on its own).
        search_columns = "".join(
            f"&_col={c}" for c in ("author__type", "author__name", "created_at", "body")
        )
        shoot(
            f"{base}/archive/conversation_parts?_search={quote(word)}{search_columns}",
            DOCS / "search.png",
        )
        thread_columns = "".join(
            f"&_col={c}" for c in ("created_at", "part_type", "author_type", "author_name", "body")
        )
        shoot(
            f"{base}/archive/conversation_parts_enhanced?conversation_id={conversation_id}"
            f"&_sort=created_at{thread_columns}",
            DOCS / "conversation.png",
        )
        shoot(f"{base}/archive", DOCS / "database.png")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
