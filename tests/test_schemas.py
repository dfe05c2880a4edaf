"""The stream schemas in schemas/ cover Intercom's OpenAPI 2.16 components and follow our rules.

The spec-independent rules (nullability, timestamps as date-time strings, free-form objects,
the fields the tap adds) always run. The checks against the spec need the OpenAPI file (see
scripts/generate_schemas.py for where it is looked up) and are skipped without it. The spec is
walked here by its own small reader, not by the generator's converter, so a converter bug
cannot hide itself.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
GENERATOR = ROOT / "scripts" / "generate_schemas.py"

# stream -> the spec components its records are (merged when several).
COMPONENTS: dict[str, tuple[str, ...]] = {
    "admins": ("admin",),
    "teams": ("team",),
    "tags": ("tag",),
    "segments": ("segment",),
    "subscription_types": ("subscription_type",),
    "data_attributes": ("data_attribute", "conversation_attribute"),
    "companies": ("company",),
    "contacts": ("contact",),
    "conversations": ("conversation",),
    "conversation_parts": ("conversation_part",),
    "deleted_conversations": ("deleted_conversation_item",),
    "tickets": ("ticket",),
    "ticket_parts": ("ticket_part",),
    "notes": ("note",),
    "events": ("data_event",),
    "articles": ("article_list_item",),
    "collections": ("collection",),
    "help_centers": ("help_center",),
    "admin_activity_logs": ("activity_log",),
    "ticket_types": ("ticket_type",),
    "ticket_states": ("ticket_state_detailed",),
    "macros": ("macro",),
    "away_status_reasons": ("away_status_reason",),
    "office_hours_schedules": ("office_hours_schedule",),
    "internal_articles": ("internal_article_list_item",),
    "content_snippets": ("content_snippet",),
    "calls": ("call",),
    "call_transcripts": ("call",),
    "handling_events": ("handling_event",),
}
# Spec objects the tap keeps whole (free-form): their keys differ from what the spec lists.
KEPT_WHOLE: dict[str, tuple[str, ...]] = {"admin_activity_logs": ("metadata",)}
# Spec fields the tap does not emit in that stream (the parts are streams of their own).
NOT_EMITTED: dict[str, tuple[str, ...]] = {
    "conversations": ("conversation_parts.conversation_parts",),
    "tickets": ("ticket_parts.ticket_parts",),
}
# Response examples in the spec: stream -> (path, method, key of the record list or None).
EXAMPLES: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "admins": (("/admins", "get", "admins"), ("/admins/{admin_id}", "get", None)),
    "teams": (("/teams", "get", "teams"), ("/teams/{team_id}", "get", None)),
    "tags": (("/tags", "get", "data"),),
    "segments": (("/segments", "get", "segments"), ("/segments/{segment_id}", "get", None)),
    "subscription_types": (("/subscription_types", "get", "data"),),
    "data_attributes": (
        ("/data_attributes", "get", "data"),
        ("/conversations/attributes", "get", "data"),
        ("/conversations/attributes/{id}", "get", None),
    ),
    "companies": (
        ("/companies/scroll", "get", "data"),
        ("/companies/{company_id}", "get", None),
        ("/companies/list", "post", "data"),
    ),
    "contacts": (("/contacts/search", "post", "data"), ("/contacts/{contact_id}", "get", None)),
    "conversations": (
        ("/conversations/{conversation_id}", "get", None),
        ("/conversations/search", "post", "conversations"),
        ("/conversations/{conversation_id}/reply", "post", None),
        ("/conversations/{conversation_id}/parts", "post", None),
    ),
    "deleted_conversations": (("/conversations/deleted", "get", "conversations"),),
    "tickets": (("/tickets/{ticket_id}", "get", None), ("/tickets/search", "post", "tickets")),
    "notes": (
        ("/contacts/{contact_id}/notes", "get", "data"),
        ("/companies/{company_id}/notes", "get", "data"),
    ),
    "articles": (("/articles", "get", "data"),),
    "collections": (
        ("/help_center/collections", "get", "data"),
        ("/help_center/collections/{collection_id}", "get", None),
    ),
    "help_centers": (
        ("/help_center/help_centers", "get", "data"),
        ("/help_center/help_centers/{help_center_id}", "get", None),
    ),
    "admin_activity_logs": (("/admins/activity_logs", "get", "activity_logs"),),
    "ticket_types": (("/ticket_types", "get", "data"),),
    "macros": (("/macros", "get", "data"),),
    "internal_articles": (("/internal_articles", "get", "data"),),
    "content_snippets": (("/content_snippets", "get", "data"),),
}
# Child streams whose examples are the parts inside their parents' examples.
PART_EXAMPLES = {"conversation_parts": "conversations", "ticket_parts": "tickets"}

NUMERIC = {"integer", "number"}
TIMESTAMP_FORMATS = {"date-time", "timestamp", "unix-timestamp"}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_schemas", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_schemas", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    generator = _load_generator()
    try:
        path = generator.locate_spec()
    except generator.SpecError as exc:
        pytest.skip(str(exc))
    loaded: dict[str, Any] = generator.load_spec(path)
    return loaded


def _ours(stream: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{stream}.json").read_text(encoding="utf-8"))
    return loaded


def _types(node: Mapping[str, Any]) -> set[str]:
    declared = node.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _our_nodes(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property of one of our schemas by dotted path, array items as ``[]``."""
    for key, value in schema.get("properties", {}).items():
        child = f"{path}.{key}" if path else key
        yield child, value
        yield from _our_nodes(value, child)
        item, item_path = value.get("items"), f"{child}[]"
        while isinstance(item, dict):
            yield item_path, item
            yield from _our_nodes(item, item_path)
            item, item_path = item.get("items"), f"{item_path}[]"


@dataclass
class SpecField:
    types: set[str] = field(default_factory=set)
    timestamp: bool = False


def _spec_fields(spec: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, SpecField]:
    """Every field the named components document, by path: its types and timestamp-ness."""
    components = spec["components"]["schemas"]
    found: dict[str, SpecField] = {}

    def visit(node: Any, path: str, seen: tuple[str, ...]) -> None:
        if not isinstance(node, Mapping):
            return
        ref = node.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                visit(components[name], path, (*seen, name))
            return
        for keyword in ("allOf", "oneOf", "anyOf"):
            for alternative in node.get(keyword, ()):
                visit(alternative, path, seen)
        declared = node.get("type")
        if path and declared:
            entry = found.setdefault(path, SpecField())
            entry.types.add(declared)
            name = path.rsplit(".", 1)[-1]
            if declared in NUMERIC and (
                node.get("format") in TIMESTAMP_FORMATS or name.endswith("_at")
            ):
                entry.timestamp = True
        if path.rsplit(".", 1)[-1] == "custom_attributes":
            return  # keys are customer data
        for key, value in (node.get("properties") or {}).items():
            visit(value, f"{path}.{key}" if path else key, seen)
        if "items" in node:
            visit(node["items"], f"{path}[]", seen)

    for name in names:
        visit(components[name], "", (name,))
    return found


def _all_nodes(schema: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from _our_nodes(schema)
    for path, node in _our_nodes(schema):
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            yield f"{path}{{}}", extra


# --- rules that hold without the spec ---------------------------------------------------------


def test_one_schema_per_stream() -> None:
    files = {p.stem for p in SCHEMAS.glob("*.json")}
    assert files == set(COMPONENTS), f"schemas/ should hold exactly {sorted(COMPONENTS)}"
    for stream in COMPONENTS:
        schema = _ours(stream)
        assert schema["type"] == "object", stream
        assert schema["properties"], stream


@pytest.mark.parametrize("stream", sorted(COMPONENTS))
def test_every_property_nullable_and_typed(stream: str) -> None:
    for path, node in _all_nodes(_ours(stream)):
        assert "null" in _types(node), f"{stream}: {path} is not nullable"
        assert _types(node) - {"null"}, f"{stream}: {path} has no type"


@pytest.mark.parametrize("stream", sorted(COMPONENTS))
def test_timestamps_are_date_time_strings(stream: str) -> None:
    for path, node in _all_nodes(_ours(stream)):
        if node.get("format") == "date-time":
            assert _types(node) == {"string", "null"}, f"{stream}: {path} date-time not a string"
        assert not (_types(node) & NUMERIC and "format" in node), (
            f"{stream}: {path} is numeric with format {node['format']}"
        )


@pytest.mark.parametrize("stream", sorted(COMPONENTS))
def test_nothing_closed_no_enums_free_form_custom_attributes(stream: str) -> None:
    schema = _ours(stream)
    assert schema.get("additionalProperties", True) is not False
    for path, node in _all_nodes(schema):
        assert node.get("additionalProperties", True) is not False, f"{stream}: {path} closed"
        assert "enum" not in node, f"{stream}: {path} keeps an enum"
        if path.rsplit(".", 1)[-1] == "custom_attributes":
            assert node == {"type": ["object", "null"], "additionalProperties": True}, (
                f"{stream}: {path} is not free-form"
            )


def test_parts_summaries_replace_the_parts_arrays() -> None:
    for stream, parts in (("conversations", "conversation_parts"), ("tickets", "ticket_parts")):
        summary = _ours(stream)["properties"][parts]
        assert set(summary["properties"]) == {"type", "total_count", "returned_count", "truncated"}
        assert _types(summary["properties"]["returned_count"]) == {"integer", "null"}
        assert _types(summary["properties"]["truncated"]) == {"boolean", "null"}
        for added in ("returned_count", "truncated"):
            assert summary["properties"][added]["description"], f"{stream}: {added}"


@pytest.mark.parametrize(
    ("stream", "name", "json_type", "fmt"),
    [
        ("conversation_parts", "conversation_id", "string", None),
        ("ticket_parts", "ticket_id", "string", None),
        ("notes", "contact_id", "string", None),
        ("events", "intercom_user_id", "string", None),
        ("events", "event_name", "string", None),
        ("events", "created_at", "string", "date-time"),
        ("events", "user_id", "string", None),
        ("events", "email", "string", None),
        ("events", "id", "string", None),
        ("events", "metadata", "object", None),
        ("data_attributes", "model", "string", None),
        ("data_attributes", "name", "string", None),
        ("contacts", "owner_id", "string", None),
        ("conversations", "admin_assignee_id", "integer", None),
        ("conversations", "team_assignee_id", "integer", None),
        ("tickets", "admin_assignee_id", "integer", None),
    ],
)
def test_key_and_tap_fields(stream: str, name: str, json_type: str, fmt: str | None) -> None:
    node = _ours(stream)["properties"].get(name)
    assert node is not None, f"{stream}: {name} missing"
    assert json_type in _types(node), f"{stream}: {name} is {node['type']}, not {json_type}"
    assert node.get("format") == fmt, f"{stream}: {name} format {node.get('format')}"


def test_integer_id_lists() -> None:
    assert _ours("admins")["properties"]["team_ids"]["items"]["type"] == ["integer", "null"]
    assert _ours("teams")["properties"]["admin_ids"]["items"]["type"] == ["integer", "null"]


# --- in step with the spec --------------------------------------------------------------------


@pytest.mark.parametrize("stream", sorted(COMPONENTS))
def test_every_spec_field_is_covered(spec: dict[str, Any], stream: str) -> None:
    ours = dict(_our_nodes(_ours(stream)))
    skipped = tuple(p + sep for p in NOT_EMITTED.get(stream, ()) for sep in (".", "[]"))
    whole = tuple(p + sep for p in KEPT_WHOLE.get(stream, ()) for sep in (".", "[]"))
    for path in KEPT_WHOLE.get(stream, ()):
        assert ours[path].get("additionalProperties") is True, f"{stream}: {path} not kept whole"
        assert "properties" not in ours[path], f"{stream}: {path} not kept whole"
    problems = []
    for path, documented in _spec_fields(spec, COMPONENTS[stream]).items():
        if path.startswith(whole) or path in KEPT_WHOLE.get(stream, ()):
            continue
        if path in NOT_EMITTED.get(stream, ()) or path.startswith(skipped):
            assert path not in ours, f"{stream}: {path} should not be emitted"
            continue
        node = ours.get(path)
        if node is None:
            problems.append(f"{stream}: {path} is in the spec but missing")
            continue
        have = _types(node)
        if documented.timestamp:
            if have != {"string", "null"} or node.get("format") != "date-time":
                problems.append(f"{stream}: {path} timestamp is {node}")
            continue
        for json_type in documented.types:
            if json_type not in have and not (json_type == "integer" and "number" in have):
                problems.append(f"{stream}: {path} is {json_type} in the spec, ours {node}")
    assert not problems, "\n".join(problems)


def _examples(spec: Mapping[str, Any], stream: str) -> list[dict[str, Any]]:
    if stream in PART_EXAMPLES:
        parts = stream
        return [
            part
            for parent in _examples(spec, PART_EXAMPLES[stream])
            for part in (parent.get(parts) or {}).get(parts) or []
        ]
    records: list[dict[str, Any]] = []
    for path, method, key in EXAMPLES[stream]:
        responses = spec["paths"][path][method]["responses"]
        content = (responses.get("200") or responses[200])["content"]["application/json"]
        for example in content["examples"].values():
            value = example["value"]
            records += value.get(key) or [] if key else [value]
    return records


def _as_tap_emits(value: Any, node: Any) -> Any:
    """An API value as the tap emits it: Unix seconds become ISO-8601 where ours says date-time."""
    if not isinstance(node, Mapping) or value is None:
        return value
    if node.get("format") == "date-time" and isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).isoformat()
    if isinstance(value, dict):
        props = node.get("properties", {})
        return {k: _as_tap_emits(v, props.get(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_tap_emits(v, node.get("items")) for v in value]
    return value


def _undeclared(value: Any, node: Mapping[str, Any], path: str) -> Iterator[str]:
    # An open object (additionalProperties) keeps every key: the SDK drops none of them.
    if isinstance(value, dict) and "properties" in node and not node.get("additionalProperties"):
        for key, child in value.items():
            if key not in node["properties"]:
                yield f"{path}.{key}"
            else:
                yield from _undeclared(child, node["properties"][key], f"{path}.{key}")
    elif isinstance(value, list) and "items" in node:
        for item in value:
            yield from _undeclared(item, node["items"], f"{path}[]")


@pytest.mark.parametrize("stream", sorted(set(EXAMPLES) | set(PART_EXAMPLES)))
def test_spec_examples_fit(spec: dict[str, Any], stream: str) -> None:
    """The spec's response examples validate, and declare no field our schema lacks."""
    schema = _ours(stream)
    records = _examples(spec, stream)
    assert records, f"{stream}: no examples found"
    validator = jsonschema.Draft7Validator(schema)
    errors = set()
    for record in records:
        if stream in NOT_EMITTED:
            record = {**record}
            for dotted in NOT_EMITTED[stream]:
                parent, leaf = dotted.split(".")
                record[parent] = {k: v for k, v in (record.get(parent) or {}).items() if k != leaf}
        emitted = _as_tap_emits(record, schema)
        errors |= {f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(emitted)}
        errors |= {f"undeclared {path}" for path in _undeclared(record, schema, "")}
    assert not errors, f"{stream}: " + "\n".join(sorted(errors))


def test_generator_output_is_committed(spec: dict[str, Any]) -> None:
    generator = _load_generator()
    args = [sys.executable, str(GENERATOR), "--check", "--spec", str(generator.locate_spec())]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
