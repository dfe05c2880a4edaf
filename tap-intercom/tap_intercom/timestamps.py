"""Timestamps: Intercom's Unix seconds to ISO-8601 UTC strings and back, driven by the schema.

The one place that formats and parses ISO-8601 for the tap (records, state, settings). Every
property the schema types ``"format": "date-time"`` is converted wherever it sits: nested
objects and arrays of objects included. Objects the schema leaves open (``custom_attributes``)
are not visited, so customer data passes through untouched. Pure: no I/O.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

# A plan maps a property name to True (convert it) or to a nested plan; the key ITEMS stands
# for the items of an array.
Plan = dict[str, Any]
ITEMS = "[]"


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _plan_for(schema: dict[str, Any]) -> Plan | bool | None:
    if schema.get("format") == "date-time":
        return True
    kinds = _types(schema)
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        if isinstance(alternative, dict) and (found := _plan_for(alternative)):
            return found
    if "object" in kinds and isinstance(schema.get("properties"), dict):
        return build_plan(schema) or None
    if "array" in kinds and isinstance(schema.get("items"), dict):
        items = _plan_for(schema["items"])
        return {ITEMS: items} if items else None
    return None


def build_plan(schema: dict[str, Any]) -> Plan:
    """Where the date-time properties of an object schema are."""
    plan: Plan = {}
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and (found := _plan_for(prop)):
            plan[name] = found
    return plan


def iso(seconds: int) -> str:
    """Unix seconds as '2024-05-01T12:00:00Z'."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def to_iso(value: Any) -> Any:
    """Unix seconds (int, float or digit string) as '2024-05-01T12:00:00Z'; others unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return iso(int(value))
    return value


def parse_iso(text: str) -> datetime.datetime:
    """An ISO-8601 date or date-time ('Z' allowed); a value without a zone is UTC.

    Raises ValueError when `text` is not ISO-8601.
    """
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.UTC)


def apply_plan(record: Any, plan: Plan | bool) -> Any:
    """Convert in place (and return) the values the plan points at."""
    if plan is True:
        return to_iso(record)
    if not isinstance(plan, dict):
        return record
    if ITEMS in plan:
        if isinstance(record, list):
            for index, item in enumerate(record):
                record[index] = apply_plan(item, plan[ITEMS])
        return record
    if isinstance(record, dict):
        for name, sub in plan.items():
            if name in record and record[name] is not None:
                record[name] = apply_plan(record[name], sub)
    return record
