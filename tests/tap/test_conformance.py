"""The compiled record path gives the SDK's result: conformance and deselection against
singer-sdk's own functions over random records of every stream schema, and over every record
a whole sync against the emulator produces."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import _conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import SelectionMask

from tap_intercom.conformance import compile_conformer, compile_deselection
from tap_intercom.schemas import schema_dir

SCHEMAS = {
    path.name.removesuffix(".json"): json.loads(path.read_text())
    for path in sorted(schema_dir().iterdir(), key=lambda p: p.name)
    if path.name.endswith(".json")
}


def sdk_conform(record: dict[str, Any], schema: dict[str, Any]) -> tuple[Any, list[str]]:
    return _conform_record_data_types(
        copy.deepcopy(record), schema, TypeConformanceLevel.RECURSIVE, None
    )


def canon(value: Any) -> Any:
    """A value compared strictly (True is not 1), non-finite floats as None: the compiled path
    leaves those to the serializer, which writes null as the SDK does."""
    if isinstance(value, dict):
        return {"dict": [(k, canon(v)) for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return {type(value).__name__: [canon(v) for v in value]}
    if isinstance(value, float) and not math.isfinite(value):
        value = None
    return (type(value).__name__, value)


def assert_same_as_sdk(record: dict[str, Any], schema: dict[str, Any]) -> None:
    conform = compile_conformer(schema)
    assert conform is not None
    before = canon(record)
    ours, unmapped = conform(record)
    theirs, their_unmapped = sdk_conform(record, schema)
    assert canon(ours) == canon(theirs)
    assert list(unmapped) == their_unmapped
    assert canon(record) == before, "the input record changed"


# Random records of a schema: its properties (some left out), values of the wrong type, keys
# the schema does not name, at every level, in any order.

NOISE = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 2, 0.0, 1.0, math.nan, math.inf, -math.inf, "", "0", "x"]),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
)
JSON = st.recursive(
    NOISE,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "id", "type", "zz"]), inner, max_size=3)
    ),
    max_leaves=6,
)


def value_of(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    kinds = schema.get("type") or []
    kinds = [kinds] if isinstance(kinds, str) else kinds
    options: list[st.SearchStrategy[Any]] = [NOISE, JSON] if depth < 4 else [NOISE]
    if "properties" in schema and depth < 4:
        options.append(object_of(schema, depth + 1))
    if "items" in schema and depth < 4:
        options.append(st.lists(value_of(schema["items"], depth + 1), max_size=3))
    if "boolean" in kinds:
        options.append(st.booleans())
    return st.one_of(*options)


def object_of(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    named = {name: value_of(prop, depth) for name, prop in schema["properties"].items()}
    extra = st.dictionaries(st.sampled_from(["unknown", "new_field", "zz"]), JSON, max_size=2)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        # An object may declare no properties (a call transcript's items): then none is drawn.
        names = st.lists(st.sampled_from(sorted(named)), unique=True, max_size=12)
        present = draw(names if named else st.just([]))
        items = [(name, draw(named[name])) for name in present]
        items += list(draw(extra).items())
        order = draw(st.permutations(range(len(items))))
        return {items[i][0]: items[i][1] for i in order}

    return build()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(SCHEMAS)))
def test_the_compiled_conformance_is_the_sdks_on_random_records(
    data: st.DataObject, name: str
) -> None:
    schema = SCHEMAS[name]
    assert_same_as_sdk(data.draw(object_of(schema)), schema)


def test_every_stream_schema_compiles() -> None:
    assert all(compile_conformer(schema) is not None for schema in SCHEMAS.values())


NULLABLE_BOOL = {"type": ["boolean", "null"]}
SMALL = {
    "type": "object",
    "properties": {
        "id": {"type": ["string", "null"]},
        "open": NULLABLE_BOOL,
        "author": {
            "type": ["object", "null"],
            "properties": {"id": {"type": "string"}, "bot": {"type": "boolean"}},
        },
        "tags": {
            "type": ["array", "null"],
            "items": {"type": ["object", "null"], "properties": {"name": {"type": "string"}}},
        },
        "flags": {"type": ["array", "null"], "items": NULLABLE_BOOL},
        "custom_attributes": {"type": ["object", "null"], "additionalProperties": True},
    },
}


@pytest.mark.parametrize(
    "record",
    [
        {"id": "1", "open": True, "author": {"id": "a", "bot": False}, "tags": [{"name": "t"}]},
        {"open": 1, "flags": [0, 1, None, True, "x", 2.5]},
        {"author": {"id": "a", "email": "e", "bot": 0}, "zz": 1, "tags": [{"name": "t", "n": 2}]},
        {"tags": [{"q": 1}, {"r": 2}], "author": {"x": 1}, "custom_attributes": {"a": {"b": 1}}},
        {"open": [1], "author": [1, 2], "tags": {"name": "not a list"}, "flags": "no"},
        {"open": 1.0, "id": math.nan, "custom_attributes": {"f": math.inf}},
    ],
)
def test_the_compiled_conformance_is_the_sdks_on_edge_cases(record: dict[str, Any]) -> None:
    assert_same_as_sdk(record, SMALL)


def test_an_unchanged_record_is_passed_through_and_a_changed_one_copied() -> None:
    conform = compile_conformer(SMALL)
    assert conform is not None
    clean = {"id": "1", "open": None, "tags": [{"name": "t"}], "custom_attributes": {"x": [1]}}
    assert conform(clean)[0] is clean
    coerced = {"id": "1", "open": 1, "tags": [{"name": "t"}]}
    out, _ = conform(coerced)
    assert out is not coerced
    assert out == {"id": "1", "open": True, "tags": [{"name": "t"}]}
    assert out["tags"] is coerced["tags"]
    assert coerced["open"] == 1


@pytest.mark.parametrize(
    "schema",
    [
        {"properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
        {"properties": {"a": {"allOf": [{"type": "string"}]}}},
        {"properties": {"a": {}}},
        {"properties": {"a": {"type": ["array"], "items": {"type": "object"}}}},
        {"type": "object"},
    ],
)
def test_a_schema_the_compiler_does_not_read_keeps_the_sdks_path(schema: dict[str, Any]) -> None:
    assert compile_conformer(schema) is None


# Deselection.


def breadcrumbs(schema: dict[str, Any], at: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [at]
    for name, prop in (schema.get("properties") or {}).items():
        found += breadcrumbs(prop, (*at, "properties", name))
    return found


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(SCHEMAS)))
def test_the_compiled_deselection_is_the_sdks(data: st.DataObject, name: str) -> None:
    schema = SCHEMAS[name]
    crumbs = breadcrumbs(schema)
    chosen = data.draw(st.lists(st.sampled_from(crumbs), unique=True, max_size=len(crumbs)))
    mask = SelectionMask((crumb, data.draw(st.booleans())) for crumb in chosen)
    record = data.draw(object_of(schema))
    theirs = copy.deepcopy(record)
    pop_deselected_record_properties(theirs, schema, mask)
    deselect = compile_deselection(mask, mask.__getitem__)
    if deselect is not None:
        deselect(record)
    assert canon(record) == canon(theirs)


def test_nothing_is_popped_when_everything_is_selected() -> None:
    crumbs = breadcrumbs(SCHEMAS["conversations"])
    mask = SelectionMask((crumb, True) for crumb in crumbs)
    assert compile_deselection(mask, mask.__getitem__) is None
    assert compile_deselection(SelectionMask(), SelectionMask().__getitem__) is None


def test_a_deselected_nested_property_is_popped() -> None:
    mask = SelectionMask(
        {
            (): True,
            ("properties", "author"): True,
            ("properties", "author", "properties", "id"): False,
        }
    )
    deselect = compile_deselection(mask, mask.__getitem__)
    assert deselect is not None
    record = {"author": {"id": "a", "name": "n"}, "body": "b"}
    deselect(record)
    assert record == {"author": {"name": "n"}, "body": "b"}


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_an_object_without_properties_draws_records(data: st.DataObject) -> None:
    # A call transcript's items declare none: such an object draws only undeclared keys.
    record = data.draw(object_of({"type": "object", "properties": {}}))
    assert set(record) <= {"unknown", "new_field", "zz"}
