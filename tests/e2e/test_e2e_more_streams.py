"""End-to-end: activity logs, ticket types and states, macros, away status reasons, office
hours, internal articles, content snippets, calls and their transcripts, handling events and
conversation QA results, against the emulator's truth."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import TOKEN, small_spec, tap_config
from tests.e2e.harness import run_tap
from tests.emulator import Emulator

pytestmark = pytest.mark.e2e

FULL_TABLE = (
    "ticket_types",
    "ticket_states",
    "away_status_reasons",
    "office_hours_schedules",
    "internal_articles",
    "content_snippets",
    "calls",
)
INCREMENTAL = ("admin_activity_logs", "macros")
CHILDREN = ("conversations", "call_transcripts", "handling_events")
STREAMS = (*FULL_TABLE, *INCREMENTAL, *CHILDREN)


def _iso(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_full_sync_of_every_new_stream_equals_the_truth(
    emulator: Emulator, tmp_path: Path
) -> None:
    run = run_tap(tmp_path, tap_config(emulator), streams=STREAMS)
    assert run.returncode == 0, run.stderr[-3000:]
    truth = emulator.truth()
    extras = emulator.extras
    for stream in (*FULL_TABLE, *INCREMENTAL):
        assert set(run.ids(stream)) == set(truth[stream]), stream
        if stream in FULL_TABLE:
            assert [m for m in run.messages if m.get("stream") == stream][-1]["type"] == (
                "ACTIVATE_VERSION"
            ), stream

    # Deleted away reasons are kept, flagged.
    deleted = {r["id"]: r["deleted"] for r in run.records["away_status_reasons"]}
    assert deleted == truth["away_status_reasons"]
    assert any(deleted.values())
    # Ticket types carry their attributes and states.
    for record in run.records["ticket_types"]:
        source = extras.ticket_types[record["id"]]
        assert record["ticket_type_attributes"]["data"] == [
            {**a, "created_at": _iso(a["created_at"]), "updated_at": _iso(a["updated_at"])}
            for a in source["ticket_type_attributes"]["data"]
        ]
        assert record["ticket_states"] == source["ticket_states"]
    # Timestamps arrive as ISO strings, the activity's metadata whole.
    logs = {r["id"]: r for r in run.records["admin_activity_logs"]}
    for log_id, created_at in truth["admin_activity_logs"].items():
        assert logs[log_id]["created_at"] == _iso(created_at)
        assert logs[log_id]["metadata"] == extras.activity_logs[log_id]["metadata"]

    # Transcripts: every call of every (changed) conversation, the text when the search had
    # none.
    transcripts = {r["id"]: r for r in run.records["call_transcripts"]}
    assert set(transcripts) == set(truth["call_transcripts"])
    for call_id, record in transcripts.items():
        lines = truth["call_transcripts"][call_id]
        if extras.text_only(call_id) and lines:
            assert record["transcript"] == []
            assert record["transcript_text"] == extras.transcript_text(call_id)
        else:
            assert len(record["transcript"]) == lines
    assert any("transcript_text" in r for r in transcripts.values())

    # Handling events of every conversation, keyed.
    expected = {
        (cid, e["timestamp"], e["type"], str(e["teammate"]["id"]))
        for cid in truth["conversations"]
        for e in extras.handling_events(cid)
    }
    emitted = {
        (r["conversation_id"], r["timestamp"], r["type"], r["teammate_id"])
        for r in run.records["handling_events"]
    }
    assert emitted == expected
    assert expected

    # QA results from the search, in the hydrated conversation records.
    for record in run.records["conversations"]:
        cid = record["id"]
        assert len(record["monitor_evaluations"]) == len(extras.monitor_evaluations(cid))
        assert len(record["scorecards"]) == len(extras.scorecards(cid))
    assert any(r["scorecards"] for r in run.records["conversations"])
    assert any(r["monitor_evaluations"] for r in run.records["conversations"])

    # Request costs, as the README says.
    routes = emulator.stats()["routes"]
    changed = len(truth["conversations"])
    # One call search per 20 changed conversations of each search page (150 a page).
    pages = [min(150, changed - start) for start in range(0, changed, 150)]
    assert routes["POST /calls/search"]["200"] == sum(-(-page // 20) for page in pages)
    assert routes["GET /conversations/{id}/handling_events"]["200"] == changed
    assert routes["GET /calls"]["200"] == -(-len(truth["calls"]) // 25)
    assert routes["GET /content_snippets"]["200"] == -(-len(truth["content_snippets"]) // 50)


def test_incremental_runs_capture_new_activity_and_changed_macros(
    emulator: Emulator, tmp_path: Path
) -> None:
    streams = INCREMENTAL
    first = run_tap(tmp_path, tap_config(emulator), streams=streams)
    assert first.returncode == 0, first.stderr[-3000:]
    assert set(first.ids("macros")) == set(emulator.truth()["macros"])

    new_logs = emulator.extras.add_activity_logs(3)
    changed = emulator.extras.update_macros(count=4)
    emulator.reset_stats()
    second = run_tap(tmp_path, tap_config(emulator), state=first.state, streams=streams)
    assert second.returncode == 0, second.stderr[-3000:]
    assert set(new_logs) <= set(second.ids("admin_activity_logs"))
    # Only the lookback is read again: nothing older than the first run's bookmark minus it.
    assert len(second.ids("admin_activity_logs")) == len(new_logs)
    assert set(second.ids("macros")) == set(changed)
    names = {r["id"]: r["name"] for r in second.records["macros"]}
    assert all(names[m].endswith("✎") for m in changed)
    query = second.bookmark("macros")
    assert query["replication_key_value"] >= first.bookmark("macros")["replication_key_value"]


def test_a_missing_scope_skips_the_new_streams_it_guards(tmp_path: Path) -> None:
    with Emulator(small_spec(), token=TOKEN, forbidden_scopes=("read_content",)) as emu:
        run = run_tap(tmp_path, tap_config(emu), streams=STREAMS)
        assert run.returncode == 0, run.stderr[-3000:]
        for stream in ("internal_articles", "content_snippets"):
            assert f"Skipping stream '{stream}' (missing scope: read_content)" in run.stderr
            assert f"Run summary: stream '{stream}' was skipped" in run.stderr
            assert not run.records[stream]
        assert set(run.ids("macros")) == set(emu.truth()["macros"])
