"""Timestamps: the schema's conversion plans, ISO-8601 formatting and parsing."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_intercom import search, timestamps
from tap_intercom.schemas import schema_dir

NULLABLE_DT = {"type": ["string", "null"], "format": "date-time"}


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": ["string", "null"]},
        "created_at": NULLABLE_DT,
        "count": {"type": ["integer", "null"]},
        "source": {
            "type": ["object", "null"],
            "properties": {
                "delivered_at": NULLABLE_DT,
                "author": {
                    "type": ["object", "null"],
                    "properties": {"seen_at": NULLABLE_DT, "name": {"type": "string"}},
                },
            },
        },
        "tags": {
            "type": ["object", "null"],
            "properties": {
                "tags": {
                    "type": ["array", "null"],
                    "items": {
                        "type": ["object", "null"],
                        "properties": {"applied_at": NULLABLE_DT, "name": {"type": "string"}},
                    },
                }
            },
        },
        "stamps": {"type": ["array", "null"], "items": NULLABLE_DT},
        "first_reply": {"anyOf": [{"type": "null"}, NULLABLE_DT]},
        "custom_attributes": {"type": ["object", "null"], "additionalProperties": True},
        "plain": {"type": ["object", "null"], "properties": {"n": {"type": "integer"}}},
    },
}


def test_plan_covers_nested_objects_and_arrays_of_objects() -> None:
    plan = timestamps.build_plan(SCHEMA)
    assert plan == {
        "created_at": True,
        "source": {"delivered_at": True, "author": {"seen_at": True}},
        "tags": {"tags": {timestamps.ITEMS: {"applied_at": True}}},
        "stamps": {timestamps.ITEMS: True},
        "first_reply": True,
    }


def test_apply_plan_converts_everywhere_and_leaves_custom_attributes_alone() -> None:
    record = {
        "id": "1",
        "created_at": 1714564800,
        "count": 1714564800,
        "source": {"delivered_at": 0, "author": {"seen_at": 1714564801, "name": "x"}},
        "tags": {"tags": [{"applied_at": 1714564802, "name": "a"}, {"applied_at": None}]},
        "stamps": [1714564803, None],
        "first_reply": "1714564804",
        "custom_attributes": {"created_at": 1714564800, "renewal": 1714564800},
        "plain": {"n": 5},
    }
    out = timestamps.apply_plan(record, timestamps.build_plan(SCHEMA))
    assert out["created_at"] == "2024-05-01T12:00:00Z"
    assert out["count"] == 1714564800
    assert out["source"]["delivered_at"] == "1970-01-01T00:00:00Z"
    assert out["source"]["author"] == {"seen_at": "2024-05-01T12:00:01Z", "name": "x"}
    assert out["tags"]["tags"] == [
        {"applied_at": "2024-05-01T12:00:02Z", "name": "a"},
        {"applied_at": None},
    ]
    assert out["stamps"] == ["2024-05-01T12:00:03Z", None]
    assert out["first_reply"] == "2024-05-01T12:00:04Z"
    assert out["custom_attributes"] == {"created_at": 1714564800, "renewal": 1714564800}
    assert out["plain"] == {"n": 5}


def test_apply_plan_tolerates_missing_null_and_wrong_shapes() -> None:
    plan = timestamps.build_plan(SCHEMA)
    record = {"source": None, "tags": {"tags": None}, "stamps": "not-a-list"}
    assert timestamps.apply_plan(record, plan) == {
        "source": None,
        "tags": {"tags": None},
        "stamps": "not-a-list",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1714564800, "2024-05-01T12:00:00Z"),
        (1714564800.9, "2024-05-01T12:00:00Z"),
        ("1714564800", "2024-05-01T12:00:00Z"),
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"),
        (True, True),
        (None, None),
    ],
)
def test_to_iso(value: Any, expected: Any) -> None:
    assert timestamps.to_iso(value) == expected


@given(st.integers(min_value=0, max_value=4_102_444_800))
def test_iso_round_trips_through_to_epoch(seconds: int) -> None:
    text = timestamps.to_iso(seconds)
    assert text == timestamps.iso(seconds)
    assert search.to_epoch(text) == seconds


def test_stream_schemas_plan_their_timestamps() -> None:
    schema = json.loads(schema_dir().joinpath("conversations.json").read_text())
    plan = timestamps.build_plan(schema)
    assert plan["created_at"] is True
    assert plan["updated_at"] is True
    assert "custom_attributes" not in plan


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (1_700_000_000, 1_700_000_000),
        ("2023-11-14T22:13:20Z", 1_700_000_000),
        ("2023-11-14T22:13:20", 1_700_000_000),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000),
    ],
)
def test_to_epoch(value: Any, expected: int | None) -> None:
    assert search.to_epoch(value) == expected


@settings(deadline=None)  # no wall-clock limit: the machine is shared
@given(st.integers(min_value=-62_135_596_800, max_value=253_402_300_799) | st.floats(-1e10, 1e11))
def test_iso_is_strftime_of_gmtime(seconds: float) -> None:
    assert timestamps.iso(seconds) == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


STAMP = st.one_of(
    st.none(), st.integers(0, 4_102_444_800), st.text(max_size=4), st.booleans(), st.floats(0, 1e9)
)
SHAPES = st.recursive(
    STAMP,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["created_at", "source", "tags", "stamps", "delivered_at", "author"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(SCHEMA["properties"])), SHAPES | STAMP, max_size=len(SCHEMA)
    )
)
def test_a_compiled_plan_converts_as_apply_plan(record: dict[str, Any]) -> None:
    plan = timestamps.build_plan(SCHEMA)
    expected = timestamps.apply_plan(copy.deepcopy(record), plan)
    assert timestamps.compile_plan(plan)(record) == expected


@pytest.mark.parametrize("value", ["²", "١٢", float("nan"), float("inf"), "12a", True])
def test_to_iso_leaves_what_is_not_unix_seconds(value: Any) -> None:
    """Digits int() refuses (a superscript, Arabic-Indic) and non-finite floats are no time:
    they pass through instead of failing the record."""
    out = timestamps.to_iso(value)
    assert out is value


def test_to_iso_of_ascii_digits() -> None:
    assert timestamps.to_iso("1700000000") == "2023-11-14T22:13:20Z"
