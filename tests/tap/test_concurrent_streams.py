"""Streams synced at once: the Singer output stays well formed, each stream's state is never
ahead of its records, and a tap killed mid-run and resumed from its last state misses nothing.

The real executable against the emulator (a few milliseconds of latency, so the streams' threads
really interleave), the same way Meltano runs it.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from subprocess import PIPE, Popen
from typing import Any

import pytest

from tests.e2e.harness import DEFAULT_STREAMS, TapRun, parse_output, run_tap, tap_command
from tests.emulator import Emulator
from tests.reliability.pipeline import small_spec, tap_config

pytestmark = pytest.mark.e2e

SEARCH_STREAMS = ("contacts", "conversations", "tickets")
# Streams whose records carry an id the emulator's truth holds.
TRUTH_STREAMS = (
    "admins",
    "teams",
    "tags",
    "segments",
    "companies",
    "contacts",
    "conversations",
    "tickets",
    "articles",
    "collections",
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(small_spec(seed=31), token="tok-concurrent", latency_ms=3) as emu:
        yield emu


def config(emu: Emulator) -> dict[str, Any]:
    # Small pages: many pages, so many states, per stream.
    return tap_config(emu, page_size=15)


def check_well_formed(
    messages: list[dict[str, Any]], resumed_from: dict[str, Any] | None = None
) -> None:
    """Each RECORD after its stream's SCHEMA, and each STATE never ahead of the records
    before it: the last record a search stream's state names was emitted before that STATE
    (or by the run it resumes)."""
    schemas: set[str] = set()
    emitted: dict[str, dict[str, str]] = {}
    for stream, bookmark in ((resumed_from or {}).get("bookmarks") or {}).items():
        if bookmark.get("last_id"):
            emitted.setdefault(stream, {})[bookmark["last_id"]] = "earlier run"
    for message in messages:
        kind = message["type"]
        if kind == "SCHEMA":
            schemas.add(message["stream"])
        elif kind == "RECORD":
            stream = message["stream"]
            assert stream in schemas, f"a {stream} record before its SCHEMA"
            record = message["record"]
            if "id" in record:
                emitted.setdefault(stream, {})[str(record["id"])] = record.get("updated_at") or ""
        elif kind == "STATE":
            for stream in SEARCH_STREAMS:
                bookmark = message["value"].get("bookmarks", {}).get(stream) or {}
                last_id = bookmark.get("last_id")
                if last_id:
                    assert last_id in emitted.get(stream, {}), (stream, last_id)


def streams_interleave(messages: list[dict[str, Any]]) -> int:
    """How often the stream of consecutive RECORDs changes (0 when synced one after another)."""
    streams = [m["stream"] for m in messages if m["type"] == "RECORD"]
    return sum(1 for a, b in itertools.pairwise(streams) if a != b)


def test_concurrent_output_is_well_formed_and_complete(emulator: Emulator, tmp_path: Path) -> None:
    run = run_tap(tmp_path, config(emulator))
    assert run.returncode == 0, run.stderr[-3000:]
    check_well_formed(run.messages)
    # One stream after another would change stream about once per stream (and per parent's
    # parts); at once, the streams' records are mixed all through the output.
    assert streams_interleave(run.messages) > 4 * len(DEFAULT_STREAMS)
    truth = emulator.truth()
    for stream in TRUTH_STREAMS:
        assert set(run.ids(stream)) == {str(i) for i in truth[stream]}, stream
    # The final state closes every search stream's window at its end.
    for stream in SEARCH_STREAMS:
        bookmark = run.bookmark(stream)
        assert bookmark["replication_key_value"] is not None, stream
        assert bookmark["window_start"] is None, stream
        assert bookmark["cursor"] is None, stream


def committed(lines: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """What a target would have committed from a killed tap's output: the messages up to its
    last complete STATE, and that state."""
    run = parse_output("\n".join(lines), TapRun(-9, ""))
    last = max((i for i, m in enumerate(run.messages) if m["type"] == "STATE"), default=-1)
    kept = run.messages[: last + 1]
    states = [m["value"] for m in kept if m["type"] == "STATE"]
    return kept, (states[-1] if states else None)


def record_ids(messages: list[dict[str, Any]], into: dict[str, set[str]]) -> None:
    for message in messages:
        if message["type"] == "RECORD" and "id" in message["record"]:
            into.setdefault(message["stream"], set()).add(str(message["record"]["id"]))


def start_tap(
    tmp: Path, cfg: dict[str, Any], state: Any, stderr: Any, until: int
) -> tuple[Popen[str], list[str]]:
    """Start the tap (in a session of its own) and read its first `until` lines."""
    command = tap_command(tmp, cfg, state=state)
    process = subprocess.Popen(
        command, stdout=PIPE, stderr=stderr, text=True, start_new_session=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if len(lines) >= until:
            break
    return process, lines


def run_killed(tmp: Path, cfg: dict[str, Any], state: Any, kill_after: int) -> list[str]:
    """Run the tap and SIGKILL it once it has written `kill_after` lines; its lines so far."""
    process, lines = start_tap(tmp, cfg, state, subprocess.DEVNULL, kill_after)
    if len(lines) >= kill_after:
        os.killpg(process.pid, signal.SIGKILL)
    assert process.stdout is not None
    process.stdout.close()
    process.wait(timeout=60)
    return lines


def test_killed_and_resumed_concurrent_runs_miss_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    cfg = config(emulator)
    seen: dict[str, set[str]] = {}
    state: dict[str, Any] | None = None
    kills = 0
    for kill_after in (40, 90, 160, 260):
        lines = run_killed(tmp_path, cfg, state, kill_after)
        kept, last_state = committed(lines)
        check_well_formed(kept, state)
        record_ids(kept, seen)
        if last_state is not None:
            state = last_state
        kills += len(lines) >= kill_after
    assert kills >= 3
    final = run_tap(tmp_path, cfg, state=state)
    assert final.returncode == 0, final.stderr[-3000:]
    check_well_formed(final.messages, state)
    record_ids(final.messages, seen)
    truth = emulator.truth()
    for stream in TRUTH_STREAMS:
        missing = {str(i) for i in truth[stream]} - seen.get(stream, set())
        assert not missing, (stream, sorted(missing)[:5])
    parts = {str(p) for ids in truth["conversation_parts"].values() for p in ids}
    assert parts <= seen.get("conversation_parts", set())


def test_the_state_dump_is_one_json_line_per_message(emulator: Emulator, tmp_path: Path) -> None:
    """Every line of a concurrent run is one whole JSON message (no two writes interleaved)."""
    process = subprocess.run(
        tap_command(tmp_path, config(emulator)), capture_output=True, text=True, timeout=300
    )
    assert process.returncode == 0, process.stderr[-3000:]
    for line in process.stdout.splitlines():
        message = json.loads(line)
        assert message["type"] in {"SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION"}


def test_sigterm_mid_run_ends_with_a_state_and_no_error(emulator: Emulator, tmp_path: Path) -> None:
    """SIGTERM (Meltano stopping a run): the streams stop at their next request, the last line
    is a STATE no stream is ahead of, and nothing is logged as an error."""
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr_file:
        process, lines = start_tap(tmp_path, config(emulator), None, stderr_file, 120)
        process.send_signal(signal.SIGTERM)
        assert process.stdout is not None
        lines += process.stdout.readlines()
        process.wait(timeout=120)
    stderr = log.read_text()
    assert process.returncode == 0, stderr[-3000:]
    messages = [json.loads(line) for line in lines]
    assert messages[-1]["type"] == "STATE"
    check_well_formed(messages)
    assert [line for line in stderr.splitlines() if "ERROR" in line] == []
