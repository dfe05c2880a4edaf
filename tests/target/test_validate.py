"""The compiled validator agrees with fastjsonschema on the JSON Schema subset it compiles."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from target_sqlite_archive.validate import InvalidValue, compile_validator

TYPES = ["null", "string", "boolean", "integer", "number", "object", "array"]
KEYS = st.sampled_from(["a", "b", "id", "c d", "É"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.sampled_from([0.0, 1.0, 2.5, -3.0, 1e20])
    | st.text(max_size=3)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
)


def type_keyword() -> st.SearchStrategy[t.Any]:
    return st.sampled_from(TYPES) | st.lists(st.sampled_from(TYPES), min_size=1, max_size=3)


SCHEMAS = st.recursive(
    st.fixed_dictionaries({}, optional={"type": type_keyword(), "format": st.just("date-time")}),
    lambda inner: (
        st.fixed_dictionaries(
            {"properties": st.dictionaries(KEYS, inner, max_size=3)},
            optional={
                "type": type_keyword(),
                "required": st.lists(KEYS, max_size=2, unique=True),
                "additionalProperties": st.booleans(),
            },
        )
        | st.fixed_dictionaries({"items": inner}, optional={"type": type_keyword()})
    ),
    max_leaves=6,
)


def accepts(check: t.Callable[[t.Any], None], value: t.Any, error: type[Exception]) -> bool:
    try:
        check(value)
    except error:
        return False
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMAS, values=st.lists(JSON, min_size=1, max_size=8))
def test_same_verdict_as_fastjsonschema(schema: dict, values: list) -> None:
    mine = compile_validator(schema)
    assert mine is not None
    try:
        reference = fastjsonschema.compile(schema, use_default=False, use_formats=False)
    except fastjsonschema.JsonSchemaDefinitionException:
        reject()  # a schema fastjsonschema refuses (required yet not allowed): no reference

    for value in values:
        expected = accepts(reference, value, fastjsonschema.JsonSchemaValueException)
        assert accepts(mine, value, InvalidValue) == expected, (schema, value)


@pytest.mark.parametrize("stream", ["contacts", "conversations", "conversation_parts", "tickets"])
def test_the_project_schemas_compile(stream: str) -> None:
    schemas = Path(__file__).resolve().parents[2] / "schemas"
    assert compile_validator(json.loads((schemas / f"{stream}.json").read_text())) is not None


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "enum": ["a"]},
        {"anyOf": [{"type": "string"}]},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "array", "items": [{"type": "string"}]},
        {"type": "integer", "minimum": 0},
        {"$ref": "#/definitions/x"},
    ],
)
def test_other_keywords_are_left_to_fastjsonschema(schema: dict) -> None:
    assert compile_validator(schema) is None
