"""State: emitted only after the records before it are committed, once per batch at least,
and saved in the archive in the same transaction."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from singer_sdk.testing import target_test_streams

from tests.target.harness import opened, record, rows, run, schema, state


def fixture(name: str) -> str:
    return (resources.files(target_test_streams) / f"{name}.singer").read_text()


def test_multiple_state_messages_fixture(database: Path) -> None:
    lines = fixture("multiple_state_messages").splitlines()
    result = run(database, lines)
    final = {"test_multiple_state_messages_a": 5, "test_multiple_state_messages_b": 6}
    # Default batch size: everything commits at the end, and only the latest state counts.
    assert result.states == [final]
    with opened(database) as store:
        assert store.load_state() == final
    assert rows(database, "SELECT count(*) FROM test_multiple_state_messages_a") == [(6,)]
    assert rows(database, "SELECT count(*) FROM test_multiple_state_messages_b") == [(6,)]


def test_multiple_state_messages_with_small_batches(database: Path) -> None:
    result = run(database, fixture("multiple_state_messages").splitlines(), batch_size_rows=1)
    sent = [
        {"test_multiple_state_messages_a": 1, "test_multiple_state_messages_b": 0},
        {"test_multiple_state_messages_a": 2, "test_multiple_state_messages_b": 1},
        {"test_multiple_state_messages_a": 3, "test_multiple_state_messages_b": 2},
        {"test_multiple_state_messages_a": 5, "test_multiple_state_messages_b": 3},
        {"test_multiple_state_messages_a": 5, "test_multiple_state_messages_b": 6},
    ]
    # A batch of one record commits on every record: each state is passed on once, in order,
    # right after the record that follows it is committed.
    assert result.states == sent


def test_user_location_upsert_fixture(database: Path) -> None:
    run(database, fixture("user_location_data").splitlines())
    result = run(database, fixture("user_location_upsert_data").splitlines())
    assert result.states == [{"test_users": 13, "test_locations": 8, "test_user_in_location": 14}]
    assert rows(database, "SELECT id, name FROM test_users ORDER BY id") == [
        (1, "Johny"),
        (2, "George"),
        (3, "Jacob"),
        (4, "Josh"),
        (5, "Jim"),
        (8, "Thomas"),
        (12, "Paul"),
        (13, "Mary"),
    ]
    assert rows(database, "SELECT id, name FROM test_locations ORDER BY id") == [
        (1, "Philly"),
        (2, "NY"),
        (3, "San Francisco"),
        (6, "Colorado"),
        (8, "Boston"),
    ]
    assert rows(
        database, "SELECT id, info__weather, info__mood FROM test_user_in_location WHERE id = 1"
    ) == [(1, "rainy", "sad")]
    with opened(database) as store:
        # Both versions of a changed record are kept; an unchanged one only once.
        assert [v for _at, v in store.raw_versions("test_users", "[1]")] == [
            '{"id": 1, "name": "Yannis"}',
            '{"id": 1, "name": "Johny"}',
        ]
        assert len(store.raw_versions("test_users", "[8]")) == 1


def test_state_is_emitted_once_per_committed_batch(database: Path) -> None:
    props = {"id": {"type": "integer"}}
    messages: list = [schema("s", props)]
    for n in range(100):
        messages += [record("s", {"id": n}), state({"s": n})]
    result = run(database, messages, batch_size_rows=10)
    # The 10th record fills the batch: the commit passes on the latest state (8); the state
    # right after it has nothing uncommitted before it and passes on at once (9).
    expected = [{"s": n} for batch_end in range(9, 100, 10) for n in (batch_end - 1, batch_end)]
    assert result.states == expected
    assert rows(database, "SELECT count(*) FROM s") == [(100,)]


def test_state_with_nothing_pending_is_passed_on_at_once(database: Path) -> None:
    result = run(database, [state({"bookmark": 1}), state({"bookmark": 1}), state({"bookmark": 2})])
    assert result.states == [{"bookmark": 1}, {"bookmark": 2}]
    with opened(database) as store:
        assert store.load_state() == {"bookmark": 2}


def test_batch_wait_seconds_commits_waiting_records(database: Path) -> None:
    props = {"id": {"type": "integer"}}
    messages = [schema("s", props), record("s", {"id": 1}), state({"s": 1}), record("s", {"id": 2})]
    # With no wait allowed, the state commits the record before it and passes on at once.
    result = run(database, messages, batch_wait_seconds=0)
    assert result.states == [{"s": 1}]
