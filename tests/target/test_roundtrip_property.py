"""Property: for generated schemas and records, the normalized rows reassemble into the
record, and the raw archive gives back the record equal as JSON."""

from __future__ import annotations

import json
import tempfile
import typing as t
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.target.harness import opened, prune, record, run, schema

NAMES = st.text(min_size=0, max_size=12)
SCALARS: dict[str, st.SearchStrategy[t.Any]] = {
    "string": st.text(max_size=20),
    "integer": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "number": st.floats(allow_nan=False, allow_infinity=False, width=64),
    "boolean": st.booleans(),
}
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def schema_and_value(draw: st.DrawFn, depth: int = 0) -> tuple[dict[str, t.Any], st.SearchStrategy]:
    """A property schema and a strategy for values that validate against it."""
    choices = ["scalar", "scalar", "free"] + (["object", "array"] if depth < 3 else [])
    kind = draw(st.sampled_from(choices))
    if kind == "scalar":
        name = draw(st.sampled_from(sorted(SCALARS)))
        nullable = draw(st.booleans())
        type_ = [name, "null"] if nullable else name
        values = SCALARS[name] | st.none() if nullable else SCALARS[name]
        return {"type": type_}, values
    if kind == "free":
        return {"type": ["object", "null"]}, st.dictionaries(NAMES, JSONISH, max_size=4)
    if kind == "object":
        fields = draw(st.dictionaries(NAMES, schema_and_value(depth + 1), min_size=1, max_size=4))
        properties = {name: spec for name, (spec, _v) in fields.items()}
        values = st.fixed_dictionaries(
            {}, optional={name: v for name, (_spec, v) in fields.items()}
        )
        return {"type": ["object", "null"], "properties": properties}, values
    item_spec, item_values = draw(schema_and_value(depth + 1))
    if "properties" in item_spec:
        item_spec = {**item_spec, "type": "object"}  # object items are never null here
        item_values = item_values.filter(lambda v: v is not None)
    return {"type": ["array", "null"], "items": item_spec}, st.lists(item_values, max_size=3)


@st.composite
def streams(draw: st.DrawFn) -> tuple[dict[str, t.Any], list[dict[str, t.Any]]]:
    fields = draw(st.dictionaries(NAMES, schema_and_value(), min_size=1, max_size=6))
    fields.pop("id", None)
    properties = {"id": {"type": "integer"}} | {n: spec for n, (spec, _v) in fields.items()}
    bodies = st.fixed_dictionaries({}, optional={n: v for n, (_s, v) in fields.items()})
    records = draw(st.lists(bodies, min_size=1, max_size=4))
    return properties, [{"id": i, **body} for i, body in enumerate(records)]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(streams())
def test_rows_reassemble_and_raw_round_trips(stream: tuple[dict, list[dict]]) -> None:
    properties, records = stream
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "archive.sqlite"
        run(database, [schema("s", properties), *(record("s", r) for r in records)])
        with opened(database) as store:
            rebuilt = store.read_records("s")
            assert prune(rebuilt) == {f"[{r['id']}]": prune(r) for r in records}
            raws = [json.loads(raw) for _at, raw in store.raw_versions("s")]
            assert raws == records
