"""Conversation QA results reach the archive from the search, and a refresh by GET keeps them.

The pipeline is the real tap piped into the real target. The refresh is what a webhook
follower does for one changed conversation: `ConversationsStream.refresh` (a GET per id, and
one search for the QA fields of up to a page of ids), its records written to the target.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tap_intercom.streams.conversations import ConversationsStream
from tap_intercom.tap import TapIntercom
from tests.emulator import Emulator, WorkspaceSpec
from tests.reliability.pipeline import (
    run_pipeline,
    tap_config,
    target_command,
    target_config,
)
from tests.tap.conftest import catalog_for

pytestmark = pytest.mark.e2e


def _qa_rows(database: Path) -> dict[str, tuple[list[str], list[str]]]:
    with sqlite3.connect(database) as archive:
        monitors: dict[str, list[str]] = {}
        scorecards: dict[str, list[str]] = {}
        for cid, monitor in archive.execute(
            "SELECT c.id, m.monitor_id FROM conversations c JOIN "
            "conversations__monitor_evaluations m ON m._sdc_root_id = c._sdc_id"
        ):
            monitors.setdefault(cid, []).append(monitor)
        for cid, scorecard in archive.execute(
            "SELECT c.id, s.scorecard_id FROM conversations c JOIN "
            "conversations__scorecards s ON s._sdc_root_id = c._sdc_id"
        ):
            scorecards.setdefault(cid, []).append(scorecard)
        ids = [r[0] for r in archive.execute("SELECT id FROM conversations")]
    return {cid: (monitors.get(cid, []), scorecards.get(cid, [])) for cid in ids}


def test_qa_fields_arrive_in_the_archive_and_survive_a_refresh_by_get(tmp_path: Path) -> None:
    spec = WorkspaceSpec(seed=11, contacts=40, conversations=60, tickets=2, companies=5)
    database = tmp_path / "archive.sqlite"
    with Emulator(spec) as emu:
        run = run_pipeline(
            tmp_path,
            tap_config(emu),
            target_config(database),
            streams=["conversations", "conversation_parts"],
        )
        assert run.ok, run.describe()
        extras = emu.extras
        expected = {
            cid: (
                [m["monitor_id"] for m in extras.monitor_evaluations(cid)],
                [s["scorecard_id"] for s in extras.scorecards(cid)],
            )
            for cid in emu.truth()["conversations"]
        }
        before = _qa_rows(database)
        assert before == expected
        with_qa = sorted(cid for cid, (m, s) in expected.items() if m or s)
        assert len(with_qa) >= 5

        # A refresh of some conversations by GET, as a webhook follower would do it.
        tap = TapIntercom(config=tap_config(emu), catalog=catalog_for("conversations"), state={})
        stream = tap.streams["conversations"]
        assert isinstance(stream, ConversationsStream)
        refreshed = [
            processed
            for record in stream.refresh([*with_qa, "999999999"])
            if (processed := stream.post_process(record)) is not None
        ]
        assert [r["id"] for r in refreshed] == with_qa  # the unknown id vanished, skipped
        routes = emu.stats()["routes"]
        assert routes["POST /conversations/search"]["200"] == 2  # the sync's, and one for QA
        messages = [
            {
                "type": "SCHEMA",
                "stream": "conversations",
                "schema": stream.schema,
                "key_properties": ["id"],
            },
            *({"type": "RECORD", "stream": "conversations", "record": r} for r in refreshed),
        ]
        target = subprocess.run(
            target_command(tmp_path / "refresh", target_config(database)),
            input="\n".join(json.dumps(m) for m in messages) + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert target.returncode == 0, target.stderr[-3000:]
        assert _qa_rows(database) == before
