"""SIGKILL of the tap, the target or both at seeded random points, again and again, each run
resuming from the last state the target emitted: the archive ends equal to the truth."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator import Emulator
from tests.reliability.pipeline import (
    TOKEN,
    archive_state,
    assert_archive_is_truth,
    integrity_ok,
    run_killed,
    run_pipeline,
    small_spec,
    tap_config,
    target_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(small_spec(seed=21), token=TOKEN, scroll_expiry=2.0) as emu:
        yield emu


@pytest.mark.parametrize("seed", [8101, 8102])
def test_repeated_sigkills_of_tap_and_target_lose_and_duplicate_nothing(
    emulator: Emulator, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    database = tmp_path / "archive.sqlite"
    tap_cfg = tap_config(emulator, page_size=15, hydration_workers=4)
    target_cfg = target_config(database, batch_size_rows=20)
    # The length of one whole run, to place the kills inside it.
    probe = run_pipeline(tmp_path / "probe", tap_cfg, target_config(tmp_path / "probe.sqlite"))
    assert probe.ok, probe.describe()
    total_lines = _count_lines(tmp_path / "probe", tap_cfg)

    state: dict[str, Any] | None = None
    victims: Counter[str] = Counter()
    kills = 0
    for attempt in range(7):
        if attempt in (2, 4):
            # The workspace moves on between runs, as it does between a crash and a restart.
            emulator.workspace.update("contacts", count=5)
            emulator.workspace.update("conversations", count=3)
            emulator.workspace.add_parts(count=2, n=2)
            emulator.workspace.create("tickets", count=1)
        victim = rng.choice(["tap", "target", "both"])
        # Resumed runs are shorter than a whole one: most points fall inside them.
        kill_after = rng.randint(1, total_lines * 2 // 3)
        run = run_killed(
            tmp_path, tap_cfg, target_cfg, kill_after=kill_after, victim=victim, state=state
        )
        if run.killed:
            kills += 1
            victims[victim] += 1
        else:
            assert run.ok, run.describe()
        if run.state is not None:
            state = run.state
            # The target stores the state it emits in the same transaction as the data.
            assert archive_state(database) is not None
        if database.exists():
            assert integrity_ok(database)
        print(
            f"\nattempt {attempt}: kill {victim} after {kill_after}/{total_lines} lines, "
            f"sent {run.lines_sent}, killed={run.killed or 'no'}, "
            f"{len(run.states)} states emitted"
        )
    assert kills >= 4, victims

    final = run_pipeline(tmp_path, tap_cfg, target_cfg, state=state)
    assert final.ok, final.describe()
    # A clean end: the archive holds exactly the state the target emitted last.
    assert archive_state(database) == final.state
    assert_archive_is_truth(database, emulator)


def _count_lines(tmp: Path, tap_cfg: dict[str, Any]) -> int:
    from tests.e2e.harness import run_tap

    run = run_tap(tmp, tap_cfg)
    assert run.returncode == 0, run.stderr[-2000:]
    return len(run.messages)
