"""End-to-end incremental behaviour: changes, lag, shared timestamps, interrupted runs."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tap_intercom import search, timestamps
from tests.e2e.conftest import TOKEN, tap_config
from tests.e2e.harness import TapRun, parse_output, run_tap, tap_command
from tests.emulator import Emulator, WorkspaceSpec

pytestmark = pytest.mark.e2e

INCREMENTAL = ("contacts", "conversations", "conversation_parts", "tickets", "ticket_parts")
LOOKBACK = 600


@pytest.fixture
def clustered() -> Iterator[Emulator]:
    """A workspace where 400 conversations share one updated_at, across page boundaries."""
    spec = WorkspaceSpec(
        seed=11,
        contacts=300,
        conversations=520,
        tickets=20,
        companies=20,
        parts_mean=4,
        conversation_cluster_size=400,
    )
    with Emulator(spec, token=TOKEN, scroll_expiry=2.0) as emu:
        yield emu


def _latest(run: TapRun, stream: str) -> dict[str, str]:
    return {str(r["id"]): r["updated_at"] for r in run.records[stream]}


def _parts(run: TapRun, stream: str, key: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for part in run.records[stream]:
        found.setdefault(str(part[key]), set()).add(str(part["id"]))
    return found


def _assert_matches_truth(emu: Emulator, runs: list[TapRun]) -> None:
    """Everything the truth holds was emitted by these runs, with its latest updated_at."""
    truth = emu.truth()
    for stream in ("contacts", "conversations", "tickets"):
        latest: dict[str, str] = {}
        for run in runs:
            latest.update(_latest(run, stream))
        for rid, updated in truth[stream].items():
            assert latest.get(str(rid)) == timestamps.iso(updated), (stream, rid)
    for stream, key, truth_key in (
        ("conversation_parts", "conversation_id", "conversation_parts"),
        ("ticket_parts", "ticket_id", "ticket_parts"),
    ):
        found: dict[str, set[str]] = {}
        for run in runs:
            for parent, ids in _parts(run, stream, key).items():
                found.setdefault(parent, set()).update(ids)
        for parent, ids in truth[truth_key].items():
            assert found.get(str(parent), set()) == set(map(str, ids)), (stream, parent)


def _route_counts(emu: Emulator) -> Counter[str]:
    counts: Counter[str] = Counter()
    for route, statuses in emu.stats()["routes"].items():
        counts[route] = sum(statuses.values())
    return counts


def test_next_run_captures_every_change_and_costs_only_the_changes(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(emulator, lookback_window_seconds=LOOKBACK)
    first = run_tap(tmp_path, config, streams=INCREMENTAL)
    assert first.returncode == 0, first.stderr[-2000:]
    _assert_matches_truth(emulator, [first])
    bookmark = search.to_epoch(first.bookmark("conversations")["replication_key_value"])
    assert bookmark is not None

    ws = emulator.workspace
    changed_contacts = ws.update("contacts", count=12)  # later on the bookmark's own day
    changed_conversations = ws.update("conversations", count=9)
    changed_conversations += ws.create("conversations", count=4)
    changed_conversations += ws.add_parts(count=5, n=3)
    changed_tickets = ws.update("tickets", count=4)
    emulator.reset_stats()

    second = run_tap(tmp_path, config, state=first.state, streams=INCREMENTAL)
    assert second.returncode == 0, second.stderr[-2000:]
    _assert_matches_truth(emulator, [first, second])
    assert set(changed_contacts) <= set(second.ids("contacts"))
    assert set(changed_conversations) <= set(second.ids("conversations"))
    assert set(changed_tickets) <= set(second.ids("tickets"))

    # Cost: search pages for what changed (plus the re-read overlap) and one GET per changed
    # conversation or ticket, nothing per unchanged record.
    truth = emulator.truth()
    since = bookmark - LOOKBACK
    conversations_in_window = sum(1 for t in truth["conversations"].values() if t >= since)
    tickets_in_window = sum(1 for t in truth["tickets"].values() if t >= since)
    contact_floor = search.contact_lower_bound(since)
    contacts_in_overlap = sum(1 for t in truth["contacts"].values() if t >= contact_floor)
    counts = _route_counts(emulator)
    assert counts["GET /conversations/{id}"] == conversations_in_window
    assert counts["GET /tickets/{id}"] == tickets_in_window
    assert counts["POST /conversations/search"] <= math.ceil(conversations_in_window / 150) + 1
    assert counts["POST /tickets/search"] <= math.ceil(tickets_in_window / 150) + 1
    assert counts["POST /contacts/search"] <= math.ceil(contacts_in_overlap / 150) + 1
    extra_lists = counts["GET /contacts/{id}/tags"] + counts["GET /contacts/{id}/companies"]
    bound = (
        math.ceil((conversations_in_window + tickets_in_window + contacts_in_overlap) / 150)
        + conversations_in_window
        + tickets_in_window
        + extra_lists
        + 3
    )
    total = sum(counts.values())
    assert total <= bound
    print(
        f"\nincremental figures: {total} requests for {len(set(changed_contacts))} contacts, "
        f"{len(set(changed_conversations))} conversations and {len(changed_tickets)} tickets "
        f"changed; re-read overlap {contacts_in_overlap} contacts, "
        f"{conversations_in_window} conversations, {tickets_in_window} tickets; bound {bound}"
    )


def test_changes_hidden_by_search_lag_are_captured_by_the_following_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(emulator, lookback_window_seconds=LOOKBACK)
    first = run_tap(tmp_path, config, streams=INCREMENTAL)
    assert first.returncode == 0

    emulator.configure(search_lag=120.0)
    lagged_conversations = emulator.workspace.update("conversations", count=3)
    lagged_contacts = emulator.workspace.update("contacts", count=3)
    second = run_tap(tmp_path, config, state=first.state, streams=INCREMENTAL)
    assert second.returncode == 0
    # The index has not caught up: the lagged versions are not seen yet.
    truth = emulator.truth()
    for rid in lagged_conversations:
        assert _latest(second, "conversations").get(rid) != timestamps.iso(
            truth["conversations"][rid]
        )

    emulator.configure(search_lag=0.0)  # the index catches up
    third = run_tap(tmp_path, config, state=second.state, streams=INCREMENTAL)
    assert third.returncode == 0
    for rid in lagged_conversations:
        assert _latest(third, "conversations")[rid] == timestamps.iso(truth["conversations"][rid])
    for rid in lagged_contacts:
        assert _latest(third, "contacts")[rid] == timestamps.iso(truth["contacts"][rid])


def _cluster(emu: Emulator) -> tuple[int, set[str]]:
    times = Counter(emu.truth()["conversations"].values())
    at, size = times.most_common(1)[0]
    assert size >= 400
    return at, {str(rid) for rid, t in emu.truth()["conversations"].items() if t == at}


def test_shared_timestamp_cluster_is_complete_in_full_and_incremental_runs(
    clustered: Emulator, tmp_path: Path
) -> None:
    at, members = _cluster(clustered)
    config = tap_config(clustered, lookback_window_seconds=0)
    full = run_tap(tmp_path, config, streams=("conversations",))
    assert full.returncode == 0
    assert members <= set(full.ids("conversations"))

    # An incremental run whose bookmark sits on the cluster's second, without any lookback.
    state = {"bookmarks": {"conversations": {"replication_key_value": timestamps.iso(at)}}}
    inside = run_tap(tmp_path, config, state=state, streams=("conversations",))
    assert inside.returncode == 0
    assert members <= set(inside.ids("conversations"))


def _interrupted_run(command: list[str], stop_after: int, stream: str = "conversations") -> TapRun:
    """Run the tap and SIGKILL it once `stop_after` records of `stream` came out."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    seen = 0
    for line in process.stdout:
        lines.append(line)
        if f'"stream":"{stream}"' in line.replace(" ", "") and '"RECORD"' in line:
            seen += 1
            if seen >= stop_after:
                os.killpg(process.pid, signal.SIGKILL)
                break
    process.wait(timeout=30)
    process.stdout.close()
    return parse_output("".join(lines), TapRun(process.returncode or -9, ""))


def test_killed_runs_resume_from_their_state_without_starting_over(
    clustered: Emulator, tmp_path: Path
) -> None:
    config = tap_config(clustered, lookback_window_seconds=LOOKBACK, page_size=50)
    streams = ("contacts", "conversations", "conversation_parts")
    clustered.reset_stats()
    full = run_tap(tmp_path, config, streams=streams)
    assert full.returncode == 0
    full_requests = clustered.stats()["total"]
    conversation_ids = set(map(str, clustered.truth()["conversations"]))

    rng = random.Random(20261123)
    for trial in range(5):
        stop_after = rng.randint(30, len(conversation_ids) - 30)
        clustered.reset_stats()
        killed = _interrupted_run(tap_command(tmp_path, config, streams=streams), stop_after)
        assert killed.states, "the tap wrote no state before it was killed"
        state: dict[str, Any] = killed.state
        window = state["bookmarks"]["conversations"]
        assert window.get("window_end"), f"trial {trial}: no open window in {json.dumps(state)}"

        clustered.reset_stats()
        resumed = run_tap(tmp_path, config, state=state, streams=streams)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        resumed_requests = clustered.stats()["total"]
        emitted = set(killed.ids("conversations")) | set(resumed.ids("conversations"))
        assert emitted == conversation_ids, f"trial {trial} stopped after {stop_after}"
        # Only the records after the saved position were hydrated again.
        hydrated_again = len(resumed.ids("conversations"))
        assert hydrated_again < len(conversation_ids) - stop_after + 200
        assert resumed_requests < full_requests
        print(
            f"\nkill trial {trial}: killed after {stop_after} conversations, resumed run "
            f"{resumed_requests} requests (full run {full_requests}), "
            f"{hydrated_again} conversations emitted again"
        )
