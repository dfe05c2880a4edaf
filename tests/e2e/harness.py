"""Run the real tap-intercom executable against the emulator and read what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests.catalog import select_streams

TAP = str(Path(sys.executable).with_name("tap-intercom"))
DEFAULT_STREAMS = (
    "admins",
    "teams",
    "tags",
    "segments",
    "subscription_types",
    "data_attributes",
    "companies",
    "contacts",
    "conversations",
    "conversation_parts",
    "deleted_conversations",
    "tickets",
    "ticket_parts",
    "articles",
    "collections",
    "help_centers",
)


@dataclass
class TapRun:
    returncode: int
    stderr: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # Records with `_sdc_deleted_at` set (a deleted conversation's tombstone), kept apart from
    # the live records the tests compare with the workspace.
    tombstones: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    states: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> dict[str, Any]:
        return self.states[-1] if self.states else {}

    def ids(self, stream: str) -> list[str]:
        return [str(r["id"]) for r in self.records[stream]]

    def bookmark(self, stream: str) -> dict[str, Any]:
        return dict(self.state.get("bookmarks", {}).get(stream, {}))


def parse_output(stdout: str, run: TapRun) -> TapRun:
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            # A line cut by a kill: the rest of the output is what a target would have read.
            break
        run.messages.append(message)
        if message["type"] == "RECORD":
            record = message["record"]
            kept = run.tombstones if record.get("_sdc_deleted_at") else run.records
            kept[message["stream"]].append(record)
        elif message["type"] == "STATE":
            run.states.append(message["value"])
    return run


@cache
def discovered_catalog(api_url: str) -> str:
    config = {"access_token": "discovery", "api_url": api_url}
    out = subprocess.run(
        [TAP, "--config", _write_tmp("discover-config.json", config), "--discover"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def _write_tmp(name: str, content: dict[str, Any], directory: Path | None = None) -> str:
    base = directory or Path(os.environ.get("TMPDIR", "/tmp")) / f"tap-e2e-{os.getpid()}"
    base.mkdir(parents=True, exist_ok=True)
    path = base / name
    path.write_text(json.dumps(content))
    return str(path)


def catalog_for(api_url: str, streams: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return select_streams(json.loads(discovered_catalog(api_url)), streams)


def tap_command(
    tmp: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    streams: tuple[str, ...] | list[str] = DEFAULT_STREAMS,
) -> list[str]:
    command = [
        TAP,
        "--config",
        _write_tmp("config.json", config, tmp),
        "--catalog",
        _write_tmp("catalog.json", catalog_for(config["api_url"], streams), tmp),
    ]
    if state:
        command += ["--state", _write_tmp("state.json", state, tmp)]
    return command


def run_tap(
    tmp: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    streams: tuple[str, ...] | list[str] = DEFAULT_STREAMS,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> TapRun:
    completed = subprocess.run(
        tap_command(tmp, config, state=state, streams=streams),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return parse_output(completed.stdout, TapRun(completed.returncode, completed.stderr))
