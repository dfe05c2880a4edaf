"""A first sync read in ranges at once, against the emulator: equal to the truth, each record
once, killed mid-way with every stream and range in flight and resumed to the truth."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import TOKEN, tap_config
from tests.e2e.harness import run_tap, tap_command
from tests.e2e.test_e2e_incremental import INCREMENTAL, _assert_matches_truth, _interrupted_run
from tests.emulator import Emulator, WorkspaceSpec

pytestmark = pytest.mark.e2e

STREAMS = (*INCREMENTAL, "companies")
# 20 pages of 10 per range at least: 1,200 contacts are split (900 conversations would be).
PAGE = 10


@pytest.fixture
def workspace() -> Iterator[Emulator]:
    spec = WorkspaceSpec(
        seed=17,
        contacts=1200,
        conversations=900,
        tickets=10,
        companies=30,
        parts_mean=2,
        cluster_size=150,
    )
    with Emulator(spec, token=TOKEN, scroll_expiry=5.0) as emu:
        yield emu


def _ranges_logged(stderr: str, stream: str) -> int:
    for line in stderr.splitlines():
        if f"{stream}: " in line and "ranges at once, from" in line:
            return int(line.split("the window is read in ")[1].split(" ranges")[0])
    return 1


def test_a_first_sync_in_ranges_equals_the_truth_each_record_once(
    workspace: Emulator, tmp_path: Path
) -> None:
    config = tap_config(workspace, page_size=PAGE)
    run = run_tap(tmp_path, config, streams=STREAMS)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _ranges_logged(run.stderr, "contacts") >= 3
    # Paced by their hydration: one pass.
    assert _ranges_logged(run.stderr, "conversations") == 1
    _assert_matches_truth(workspace, [run])
    for stream in ("contacts", "conversations"):
        repeated = [i for i, n in Counter(run.ids(stream)).items() if n > 1]
        assert not repeated, (stream, repeated[:5])
    final = run.state["bookmarks"]
    for stream in ("contacts", "conversations"):
        assert final[stream]["ranges"] is None
        assert final[stream]["window_start"] is None


def test_killed_first_syncs_in_ranges_resume_to_the_truth(
    workspace: Emulator, tmp_path: Path
) -> None:
    config = tap_config(workspace, page_size=PAGE)
    rng = random.Random(20261203)
    contact_count = len(workspace.truth()["contacts"])
    for trial in range(3):
        stop_after = rng.randint(100, contact_count - 300)
        killed = _interrupted_run(
            tap_command(tmp_path, config, streams=STREAMS), stop_after, stream="contacts"
        )
        assert killed.states, "the tap wrote no state before it was killed"
        saved = killed.state["bookmarks"]["contacts"]
        assert saved["ranges"], f"trial {trial}: contacts were not read in ranges: {saved}"
        resumed = run_tap(tmp_path, config, state=killed.state, streams=STREAMS)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert "ranges at once, from" not in resumed.stderr  # the saved ranges, not new ones
        _assert_matches_truth(workspace, [killed, resumed])
        # The resumed run read on from each range's cursor, not from the start.
        again = len(resumed.ids("contacts"))
        assert again < contact_count - stop_after + 4 * 2 * PAGE + 200, (trial, again)
