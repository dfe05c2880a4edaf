"""Timestamps: Intercom's Unix seconds to ISO-8601 UTC strings and back, driven by the schema.

The one place that formats and parses ISO-8601 for the tap (records, state, settings). Every
property the schema types ``"format": "date-time"`` is converted wherever it sits: nested
objects and arrays of objects included. Objects the schema leaves open (``custom_attributes``)
are not visited, so customer data passes through untouched. Pure: no I/O.
"""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Callable
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


#: The date part of iso() by day since the epoch: most timestamps of a run share a few days,
#: and formatting the time of day alone is a third of strftime's cost.
_DAYS: dict[int, str] = {}
_MAX_DAYS = 100_000


def iso(seconds: float) -> str:
    """Unix seconds as '2024-05-01T12:00:00Z' (a fraction is dropped, as gmtime drops it)."""
    whole = seconds if isinstance(seconds, int) else math.floor(seconds)
    day, second = divmod(whole, 86400)
    date = _DAYS.get(day)
    if date is None:
        date = time.strftime("%Y-%m-%dT", time.gmtime(day * 86400))
        if len(_DAYS) >= _MAX_DAYS:
            _DAYS.clear()
        _DAYS[day] = date
    return "%s%02d:%02d:%02dZ" % (date, second // 3600, second // 60 % 60, second % 60)  # noqa: UP031


def to_iso(value: Any) -> Any:
    """Unix seconds (int, float or digit string) as '2024-05-01T12:00:00Z'; others unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return iso(int(value))
    # isdigit() alone admits digits int() refuses ('²'): ASCII digits only.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return iso(int(value))
    return value


def parse_iso(text: str) -> datetime.datetime:
    """An ISO-8601 date or date-time ('Z' allowed); a value without a zone is UTC.

    Raises ValueError when `text` is not ISO-8601.
    """
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.UTC)


#: A plan compiled for one schema: converts a record in place and returns it.
Converter = Callable[[Any], Any]


def _same(record: Any) -> Any:
    return record


def compile_plan(plan: Plan | bool) -> Converter:
    """`apply_plan` with this plan, its walk decided once: for every record of a stream."""
    if plan is True:
        return to_iso
    if not isinstance(plan, dict):
        return _same
    if ITEMS in plan:
        each = compile_plan(plan[ITEMS])

        def items(record: Any) -> Any:
            if isinstance(record, list):
                for index, item in enumerate(record):
                    record[index] = each(item)
            return record

        return items
    leaves = tuple(name for name, sub in plan.items() if sub is True)
    nested = tuple((name, compile_plan(sub)) for name, sub in plan.items() if sub is not True)

    def fields(record: Any) -> Any:
        if isinstance(record, dict):
            for name in leaves:
                value = record.get(name)
                if value is not None:
                    record[name] = to_iso(value)
            for name, convert in nested:
                value = record.get(name)
                if value is not None:
                    record[name] = convert(value)
        return record

    return fields


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
