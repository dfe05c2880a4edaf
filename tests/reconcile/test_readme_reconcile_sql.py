"""The README's ```sql reconcile examples run against a reconciled archive."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from tests.emulator import Emulator
from tests.reconcile.test_reconcile_e2e import reconcile_run, sync
from tests.reliability.pipeline import small_spec

README = Path(__file__).resolve().parents[2] / "README.md"
_RECONCILE_SQL = re.compile(r"```sql reconcile\n(.*?)```", re.DOTALL)


def test_the_reconcile_example_shows_the_live_rows_equal_intercoms_count(tmp_path: Path) -> None:
    examples = _RECONCILE_SQL.findall(README.read_text())
    assert examples, "README.md has no ```sql reconcile example"
    database = tmp_path / "archive.sqlite"
    streams = ("contacts", "reconcile_runs")
    with Emulator(small_spec(seed=23)) as emu:
        first = sync(tmp_path, emu, database, streams=streams)
        emu.workspace.delete("contacts", count=2)
        reconcile_run(tmp_path, emu, database, first.state, streams)
        truth = len(emu.truth()["contacts"])
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        connection.row_factory = sqlite3.Row
        for sql in examples:
            rows = connection.execute(sql).fetchall()
            assert rows, sql
            for row in rows:
                assert row["intercom_count"] == row["live_contacts"] == truth, dict(row)
