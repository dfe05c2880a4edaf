"""ACTIVATE_VERSION: rows a newer complete pass no longer has are marked deleted, not dropped."""

from __future__ import annotations

from pathlib import Path

from tests.target.harness import record, rows, run, schema

PROPS = {"id": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}


def full_pass(version: int, ids: list[int]) -> list[dict]:
    return [
        schema("admins", PROPS),
        *(record("admins", {"id": i, "tags": ["t"]}, version=version) for i in ids),
        {"type": "ACTIVATE_VERSION", "stream": "admins", "version": version},
    ]


def deleted(database: Path) -> dict[int, bool]:
    return {i: d is not None for i, d in rows(database, "SELECT id, _sdc_deleted_at FROM admins")}


def test_rows_missing_from_a_newer_pass_are_marked(database: Path) -> None:
    run(database, full_pass(1, [1, 2, 3]))
    assert deleted(database) == {1: False, 2: False, 3: False}
    run(database, full_pass(2, [1, 3]))
    assert deleted(database) == {1: False, 2: True, 3: False}
    # Marked, not dropped: the row and its descendants are still there.
    assert rows(database, "SELECT count(*) FROM admins__tags WHERE _sdc_root_id = '[2]'") == [(1,)]
    assert rows(database, "SELECT _sdc_table_version FROM admins WHERE id = 2") == [(1,)]


def test_a_row_that_comes_back_is_live_again(database: Path) -> None:
    run(database, full_pass(1, [1, 2]))
    run(database, full_pass(2, [1]))
    run(database, full_pass(3, [1, 2]))
    assert deleted(database) == {1: False, 2: False}


def test_activate_version_can_be_turned_off(database: Path) -> None:
    run(database, full_pass(1, [1, 2]))
    run(database, full_pass(2, [1]), process_activate_version_messages=False)
    assert deleted(database) == {1: False, 2: False}


def test_records_of_the_pass_in_the_same_run_are_not_marked(database: Path) -> None:
    # All in one run and one batch: the records are written before the marking.
    run(database, [*full_pass(1, [1, 2]), *full_pass(2, [2])])
    assert deleted(database) == {1: True, 2: False}
