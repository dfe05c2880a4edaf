"""Intercom search queries: validation, evaluation and stateless cursor pagination (no I/O).

A query is ``{field, operator, value}`` or ``{operator: AND|OR, value: [query...]}``; at most
two levels of groups and 15 items per group. Contacts compare timestamp fields by calendar day
in the workspace's time zone (``>`` from the start of the next day, ``<`` before the start of
the value's day, ``=`` the same day; other operators on timestamps are rejected), conversations
and tickets by the second.
"""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Record = dict[str, Any]
Predicate = Callable[[Mapping[str, Any]], bool]

OPERATORS = frozenset({"=", "!=", "IN", "NIN", ">", "<", ">=", "<=", "~", "!~", "^", "$"})
DAY_OPERATORS = frozenset({"=", ">", "<"})
MAX_DEPTH = 2
MAX_GROUP_SIZE = 15
MAX_PER_PAGE = 150


class SearchError(ValueError):
    """A query Intercom answers with 400; ``code`` and ``message`` go into the error.list."""

    def __init__(self, message: str, code: str = "parameter_invalid") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def lookup(record: Mapping[str, Any], field: str) -> Any:
    """A dotted field (``source.author.email``); a key containing dots wins if present."""
    if field in record:
        return record[field]
    value: Any = record
    for part in field.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _number(value: Any) -> int | float | None:
    """A JSON number, or a string holding one (ids are numeric strings); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text.startswith("-") else text
        if digits.isdigit():
            return int(text)
        if digits.replace(".", "", 1).isdigit():
            return float(text)
    return None


def _compare(left: Any, right: Any) -> int | None:
    """-1/0/1 comparing a record value with a query value, numerically when both are numbers
    (ids are numeric strings), else as text; None when incomparable."""
    if left is None:
        return None
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    if isinstance(left, bool) or isinstance(right, bool):
        return 0 if str(left).lower() == str(right).lower() else None
    sa, sb = str(left), str(right)
    return (sa > sb) - (sa < sb)


def _equals(left: Any, right: Any) -> bool:
    if right is None or left is None:
        return left is right
    return _compare(left, right) == 0


class DayRule:
    """Calendar-day boundaries for contact timestamps."""

    def __init__(self, day_start: Callable[[float], int], next_day_start: Callable[[float], int]):
        self.day_start = day_start
        self.next_day_start = next_day_start


def compile_query(
    query: Any,
    *,
    timestamp_fields: frozenset[str],
    day_rule: DayRule | None = None,
) -> Predicate:
    """Validate ``query`` and turn it into a predicate; raises SearchError like a 400."""
    return _compile(query, 0, timestamp_fields, day_rule)


def _compile(
    query: Any, depth: int, timestamps: frozenset[str], day_rule: DayRule | None
) -> Predicate:
    if not isinstance(query, Mapping):
        raise SearchError("query must be an object")
    operator = query.get("operator")
    if "field" not in query:
        if operator not in ("AND", "OR"):
            raise SearchError(f"operator {operator!r} is not a valid group operator (AND, OR)")
        if depth >= MAX_DEPTH:
            raise SearchError(f"queries can be nested at most {MAX_DEPTH} levels deep")
        items = query.get("value")
        if not isinstance(items, list) or not items:
            raise SearchError("a group's value must be a non-empty list of queries")
        if len(items) > MAX_GROUP_SIZE:
            raise SearchError(f"a group can hold at most {MAX_GROUP_SIZE} filters")
        parts = [_compile(item, depth + 1, timestamps, day_rule) for item in items]
        if operator == "AND":
            return lambda r: all(p(r) for p in parts)
        return lambda r: any(p(r) for p in parts)
    return _leaf(query, timestamps, day_rule)


def _leaf(
    query: Mapping[str, Any], timestamps: frozenset[str], day_rule: DayRule | None
) -> Predicate:
    field, operator, value = query.get("field"), query.get("operator"), query.get("value")
    if not isinstance(field, str) or not field:
        raise SearchError("field must be a non-empty string")
    if operator not in OPERATORS:
        raise SearchError(f"operator {operator!r} is not supported")
    if "value" not in query:
        raise SearchError(f"filter on {field} has no value")
    if field in timestamps:
        if operator in ("IN", "NIN"):
            raise SearchError(f"operator {operator} is not supported for date field {field}")
        ts = _number(value)
        if ts is None:
            raise SearchError(f"value for date field {field} must be a unix timestamp")
        if day_rule is not None:
            return _day_leaf(field, operator, ts, day_rule)
        value = ts
    if operator in ("IN", "NIN"):
        if not isinstance(value, list):
            raise SearchError(f"{operator} needs a list value")
        hit = lambda r: any(_equals(lookup(r, field), v) for v in value)  # noqa: E731
        return hit if operator == "IN" else (lambda r: not hit(r))
    if operator == "=":
        return lambda r: _equals(lookup(r, field), value)
    if operator == "!=":
        return lambda r: not _equals(lookup(r, field), value)
    if operator in (">", "<", ">=", "<="):
        want = {">": (1,), "<": (-1,), ">=": (0, 1), "<=": (-1, 0)}[operator]
        if field == "id":  # ids order as (length, text), like the sort
            bound = (len(str(value)), str(value))

            def id_cmp(r: Mapping[str, Any]) -> bool:
                rid = str(r.get("id"))
                key = (len(rid), rid)
                return ((key > bound) - (key < bound)) in want

            return id_cmp
        return lambda r: _compare(lookup(r, field), value) in want
    text = str(value).lower()
    tests: dict[str, Callable[[str], bool]] = {
        "~": lambda s: text in s,
        "!~": lambda s: text not in s,
        "^": lambda s: s.startswith(text),
        "$": lambda s: s.endswith(text),
    }
    test = tests[operator]

    def text_match(r: Mapping[str, Any]) -> bool:
        got = lookup(r, field)
        if got is None:
            return operator == "!~"
        return test(str(got).lower())

    return text_match


def _day_leaf(field: str, operator: str, ts: float, rule: DayRule) -> Predicate:
    if operator not in DAY_OPERATORS:
        raise SearchError(
            f"operator {operator} is not supported for date field {field}; use =, > or <"
        )
    start, end = rule.day_start(ts), rule.next_day_start(ts)

    def match(r: Mapping[str, Any]) -> bool:
        got = lookup(r, field)
        if got is None:
            return False
        if operator == ">":
            return bool(got >= end)
        if operator == "<":
            return bool(got < start)
        return bool(start <= got < end)

    return match


# ---------------------------------------------------------------- pagination
SortKey = tuple[Any, ...]


def sort_key(record: Mapping[str, Any], field: str) -> SortKey:
    """A total order: missing values first, then numbers, then text; ties broken by id.

    Ids compare as (length, text): numeric ids without leading zeros and fixed-width hex ids
    both sort in creation order that way."""
    rid = str(record.get("id"))
    id_part = (len(rid), rid)
    if field == "id":
        return (1, 0, "", *id_part)
    value = lookup(record, field)
    if value is None:
        return (0, 0, "", *id_part)
    num = _number(value)
    if num is not None:
        return (1, num, "", *id_part)
    return (2, 0, str(value), *id_part)


def encode_cursor(key: SortKey, page: int) -> str:
    raw = json.dumps([list(key), page], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[SortKey, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, page = json.loads(raw)
        return tuple(key), int(page)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise SearchError("starting_after is not a valid cursor") from exc


def per_page_of(value: Any, default: int = 50, maximum: int = MAX_PER_PAGE) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except (TypeError, ValueError) as exc:
        raise SearchError("per_page must be an integer") from exc
    if not 1 <= n <= maximum:
        raise SearchError(f"per_page must be between 1 and {maximum}")
    return n


Keyed = list[tuple[SortKey, Any]]


def sort_records(records: Sequence[Any], field: str) -> Keyed:
    """Records with their sort keys, ascending: what ``page_after`` pages through."""
    return sorted(((sort_key(r, field), r) for r in records), key=lambda kr: kr[0])


def page_after(
    keyed: Keyed, *, descending: bool, per_page: int, starting_after: str | None
) -> tuple[list[Any], dict[str, Any], int]:
    """One page after the cursor, the ``pages`` object (``next`` only when more follow) and
    the total. The cursor holds the last (sort key, id) and the page number: no server state."""
    keys = [k for k, _ in keyed]
    page = 1
    if starting_after:
        after, page = decode_cursor(starting_after)
        page += 1
        if descending:
            end = bisect_left(keys, after)
            chunk = keyed[max(0, end - per_page) : end][::-1]
            more = end - per_page > 0
        else:
            start = bisect_right(keys, after)
            chunk = keyed[start : start + per_page]
            more = start + per_page < len(keyed)
    elif descending:
        chunk = keyed[::-1][:per_page]
        more = len(keyed) > per_page
    else:
        chunk = keyed[:per_page]
        more = len(keyed) > per_page
    total = len(keyed)
    pages: dict[str, Any] = {
        "type": "pages",
        "page": page,
        "per_page": per_page,
        "total_pages": -(-total // per_page),
    }
    if more and chunk:
        pages["next"] = {
            "per_page": per_page,
            "starting_after": encode_cursor(chunk[-1][0], page),
        }
    return [r for _, r in chunk], pages, total


def paginate(
    records: Sequence[Any],
    *,
    field: str,
    descending: bool,
    per_page: int,
    starting_after: str | None,
) -> tuple[list[Any], dict[str, Any], int]:
    """Sort ``records`` by ``field`` (then id) and return one page; see ``page_after``."""
    return page_after(
        sort_records(records, field),
        descending=descending,
        per_page=per_page,
        starting_after=starting_after,
    )


def time_slice(
    query: Any, field: str, numbers: Sequence[float], day_rule: DayRule | None
) -> tuple[int, int] | None:
    """The matches of ``query`` as a slice of a view sorted by ``field``, whose values are
    ``numbers`` (ascending, ``-inf`` where a record has none), when the query only bounds
    ``field`` with ``>`` and ``<`` (alone or in an AND group); None otherwise. The same records
    as the query's predicate, found by bisection instead of one test per record."""
    leaves = query.get("value") if query.get("operator") == "AND" else [query]
    if not isinstance(leaves, list):
        return None
    low, high = bisect_right(numbers, float("-inf")), len(numbers)
    for leaf in leaves:
        if not isinstance(leaf, Mapping) or leaf.get("field") != field:
            return None
        operator, value = leaf.get("operator"), _number(leaf.get("value"))
        if value is None or operator not in (">", "<"):
            return None
        if day_rule is not None:
            at = day_rule.next_day_start(value) if operator == ">" else day_rule.day_start(value)
            index = bisect_left(numbers, at)
        else:
            index = bisect_right(numbers, value) if operator == ">" else bisect_left(numbers, value)
        if operator == ">":
            low = max(low, index)
        else:
            high = min(high, index)
    return low, max(low, high)
