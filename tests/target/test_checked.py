"""One pass of validation and flattening gives the verdict of the validator and the rows of the
separate flattening, on random schemas of the compiled subset and on the project's schemas
(with their search-text columns and tombstone fields, as the sink builds their plans)."""

from __future__ import annotations

import json
import random
import typing as t
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.target import generate
from target_sqlite_archive.checked import compile_checked
from target_sqlite_archive.hints import stream_hints
from target_sqlite_archive.normalize import ChildRows, TablePlan, build_plan, normalize
from target_sqlite_archive.validate import InvalidValue, compile_validator
from tests.target.test_validate import JSON, KEYS, SCHEMAS

ROOTS = st.fixed_dictionaries(
    {"type": st.just("object"), "properties": st.dictionaries(KEYS, SCHEMAS, max_size=4)},
    optional={
        "required": st.lists(KEYS, max_size=2, unique=True),
        "additionalProperties": st.booleans(),
    },
)
RECORDS = st.dictionaries(KEYS, JSON, max_size=4)


def _separate(
    schema: dict[str, t.Any], record: dict[str, t.Any], plan: TablePlan | None = None
) -> t.Any:
    check = compile_validator(schema)
    assert check is not None
    try:
        check(record)
    except InvalidValue as exc:
        return ("invalid", str(exc))
    children: ChildRows = {}
    values = normalize(plan or build_plan(schema), record, "root", children)
    return ("valid", values, children)


def _one_pass(
    schema: dict[str, t.Any], record: dict[str, t.Any], plan: TablePlan | None = None
) -> t.Any:
    plan = plan or build_plan(schema)
    assert compile_checked(plan, schema)
    children: ChildRows = {}
    try:
        values = normalize(plan, record, "root", children, checked=True)
    except InvalidValue as exc:
        return ("invalid", str(exc))
    return ("valid", values, children)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROOTS, st.lists(RECORDS, min_size=1, max_size=4))
def test_same_verdict_and_rows_as_the_two_passes(
    schema: dict[str, t.Any], records: list[dict[str, t.Any]]
) -> None:
    plan = build_plan(schema)
    if not compile_checked(plan, schema):
        return  # outside the one-pass subset: the sink uses the two passes
    for record in records:
        separate, one_pass = _separate(schema, record), _one_pass(schema, record)
        assert separate[0] == one_pass[0], (record, separate, one_pass)
        if separate[0] == "valid":
            assert separate == one_pass


def _project_plan(stream: str) -> tuple[dict[str, t.Any], TablePlan]:
    """A project schema and its plan as the sink builds it (search text from the hints)."""
    schemas = Path(__file__).resolve().parents[2] / "schemas"
    schema = json.loads((schemas / f"{stream}.json").read_text())
    return schema, build_plan(schema, stream_hints(stream, schema).search)


@pytest.mark.parametrize(
    "stream", ["contacts", "conversations", "conversation_parts", "companies", "tickets"]
)
def test_the_project_schemas_compile_in_one_pass(stream: str) -> None:
    schema, plan = _project_plan(stream)
    assert compile_checked(plan, schema)


def test_the_benchmark_records_give_the_same_rows_in_one_pass() -> None:
    rng = random.Random(5)
    conversation = generate.conversation(rng, 1, parts=3)
    records = {
        "contacts": [generate.contact(rng, n) for n in range(3)],
        "conversations": [conversation],
        "conversation_parts": [generate.part(rng, conversation, n) for n in range(3)],
    }
    for stream, examples in records.items():
        schema, plan = _project_plan(stream)
        assert plan.search, stream  # the search-text columns are in the row
        assert compile_checked(plan, schema)
        # A tombstone field of the wrong type: checked in the one pass too, yet no column.
        declared = "_sdc_deleted_at" in schema["properties"]
        bad = [{**examples[0], "_sdc_deleted_at": 5}] if declared else []
        live = [{**examples[0], "_sdc_deleted_at": None}] if declared else []
        for record in [*examples, *live, *bad]:
            separate = _separate(schema, record, plan)
            assert separate == _one_pass(schema, record, plan), stream
        assert [_separate(schema, r, plan)[0] for r in bad] == ["invalid"] * len(bad)
    assert "_sdc_deleted_at" in _project_plan("contacts")[0]["properties"]


def test_a_row_without_items_has_no_arrays_to_walk() -> None:
    """A part without attachments or tags returns `()` for its arrays: normalize then skips
    the child tables."""
    schema, plan = _project_plan("conversation_parts")
    assert compile_checked(plan, schema)
    assert plan.checked is not None
    part = {"id": "1", "conversation_id": "2", "part_type": "comment", "attachments": []}
    values, arrays = plan.checked(part)
    assert arrays == ()
    assert values[[c.path for c in plan.columns].index(("part_type",))] == "comment"
    with_item = {**part, "attachments": [{"name": "a.png"}]}
    assert any(a == [{"name": "a.png"}] for a in plan.checked(with_item)[1])
