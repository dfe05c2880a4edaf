"""Search endpoints: day-granular contact dates, query limits, operators, cursors, index lag."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from tests.emulator import Emulator, WorkspaceSpec
from tests.emulator.search import (
    DayRule,
    SearchError,
    compile_query,
    decode_cursor,
    sort_records,
    time_slice,
)

ANCHOR = 1_790_000_000  # 2026-09-21, Europe/Berlin is UTC+2
SPEC = WorkspaceSpec(
    seed=9,
    anchor=ANCHOR,
    contacts=150,
    conversations=90,
    companies=20,
    tickets=25,
    cluster_size=40,
    conversation_cluster_size=35,
)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(SPEC) as emulator:
        yield emulator


def search(
    emu: Emulator,
    entity: str,
    query: dict[str, Any],
    per_page: int = 150,
    starting_after: str | None = None,
    order: str = "ascending",
    sort_field: str = "updated_at",
) -> requests.Response:
    pagination: dict[str, Any] = {"per_page": per_page}
    if starting_after:
        pagination["starting_after"] = starting_after
    body = {"query": query, "pagination": pagination, "sort": {"field": sort_field, "order": order}}
    return requests.post(f"{emu.url}/{entity}/search", json=body, headers=emu.headers(), timeout=10)


def search_ids(emu: Emulator, entity: str, query: dict[str, Any], **kw: Any) -> list[str]:
    response = search(emu, entity, query, **kw)
    assert response.status_code == 200, response.text
    key = {"contacts": "data"}.get(entity, entity)
    return [r["id"] for r in response.json()[key]]


def all_pages(emu: Emulator, entity: str, query: dict[str, Any], **kw: Any) -> list[str]:
    key = {"contacts": "data"}.get(entity, entity)
    ids: list[str] = []
    cursor = None
    for _ in range(1_000):
        response = search(emu, entity, query, starting_after=cursor, **kw)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [r["id"] for r in body[key]]
        cursor = body["pages"].get("next", {}).get("starting_after")
        if not cursor:
            return ids
    raise AssertionError("pagination did not end")


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    zone = ZoneInfo("Europe/Berlin")
    return int(datetime(year, month, day, hour, minute, tzinfo=zone).timestamp())


def test_contact_dates_match_by_calendar_day_in_the_workspace_zone(emu: Emulator) -> None:
    contact = next(iter(emu.truth()["contacts"]))
    bookmark = berlin(2026, 9, 20, 9)
    later_same_day = bookmark + 3 * 3600  # 12:00 the same Berlin day
    emu.workspace.update("contacts", ids=[contact], at=later_same_day)
    gt_bookmark = {"field": "updated_at", "operator": ">", "value": bookmark}
    assert contact not in search_ids(emu, "contacts", gt_bookmark)
    gt_day_before = {"field": "updated_at", "operator": ">", "value": bookmark - 86_400}
    assert contact in search_ids(emu, "contacts", gt_day_before)
    same_day = {"field": "updated_at", "operator": "=", "value": bookmark}
    assert contact in search_ids(emu, "contacts", same_day)
    # 01:00 in Berlin is still the 19th in UTC: days are the workspace zone's
    assert contact in search_ids(
        emu, "contacts", {"field": "updated_at", "operator": "=", "value": berlin(2026, 9, 20, 1)}
    )
    before = {"field": "updated_at", "operator": "<", "value": later_same_day}
    assert contact not in search_ids(emu, "contacts", before)
    next_day = {"field": "updated_at", "operator": "<", "value": later_same_day + 86_400}
    assert contact in search_ids(emu, "contacts", next_day)


def test_day_rule_follows_daylight_saving() -> None:
    zone = ZoneInfo("Europe/Berlin")

    def start(ts: float) -> int:
        d = datetime.fromtimestamp(ts, zone)
        return int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp())

    def next_start(ts: float) -> int:
        d = datetime.fromtimestamp(ts, zone).date() + timedelta(days=1)
        return int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp())

    predicate = compile_query(
        {"field": "updated_at", "operator": ">", "value": berlin(2026, 3, 29, 1)},
        timestamp_fields=frozenset({"updated_at"}),
        day_rule=DayRule(start, next_start),
    )
    assert not predicate({"updated_at": berlin(2026, 3, 29, 23, 59)})
    assert predicate({"updated_at": berlin(2026, 3, 30, 0, 0)})


@pytest.mark.parametrize("operator", [">=", "<=", "!=", "IN", "NIN"])
def test_other_operators_on_contact_dates_are_rejected(emu: Emulator, operator: str) -> None:
    value: Any = [ANCHOR] if operator in ("IN", "NIN") else ANCHOR
    response = search(
        emu, "contacts", {"field": "updated_at", "operator": operator, "value": value}
    )
    assert response.status_code == 400
    assert response.json()["type"] == "error.list"
    assert response.json()["errors"][0]["code"] == "parameter_invalid"


def test_conversation_and_ticket_dates_are_second_precise(emu: Emulator) -> None:
    conversation = next(iter(emu.truth()["conversations"]))
    at = ANCHOR - 5_000
    emu.workspace.update("conversations", ids=[conversation], at=at)
    for operator, value, hit in (
        (">", at - 1, True),
        (">", at, False),
        (">=", at, True),
        ("=", at, True),
        ("<", at, False),
        ("<=", at, True),
        ("!=", at, False),
    ):
        query = {"field": "updated_at", "operator": operator, "value": value}
        assert (conversation in search_ids(emu, "conversations", query)) is hit, (operator, value)
    ticket = next(iter(emu.truth()["tickets"]))
    emu.workspace.update("tickets", ids=[ticket], at=at)
    assert ticket in search_ids(
        emu, "tickets", {"field": "updated_at", "operator": ">=", "value": at}
    )
    assert ticket not in search_ids(
        emu, "tickets", {"field": "updated_at", "operator": ">", "value": at}
    )


def _leaf(n: int) -> dict[str, Any]:
    return {"field": "id", "operator": "!=", "value": str(n)}


def test_nesting_deeper_than_two_levels_is_rejected(emu: Emulator) -> None:
    two = {"operator": "AND", "value": [{"operator": "OR", "value": [_leaf(1), _leaf(2)]}]}
    assert search(emu, "conversations", two).status_code == 200
    three = {"operator": "AND", "value": [{"operator": "OR", "value": [two]}]}
    response = search(emu, "conversations", three)
    assert response.status_code == 400
    assert "nested" in response.json()["errors"][0]["message"]


def test_more_than_fifteen_filters_in_a_group_is_rejected(emu: Emulator) -> None:
    fifteen = {"operator": "AND", "value": [_leaf(n) for n in range(15)]}
    assert search(emu, "contacts", fifteen).status_code == 200
    sixteen = {"operator": "AND", "value": [_leaf(n) for n in range(16)]}
    assert search(emu, "contacts", sixteen).status_code == 400


def test_malformed_queries_are_rejected(emu: Emulator) -> None:
    for query in (
        {"field": "state", "operator": "LIKE", "value": "open"},
        {"operator": "XOR", "value": [_leaf(1)]},
        {"operator": "AND", "value": []},
        {"field": "updated_at", "operator": ">", "value": "yesterday"},
    ):
        assert search(emu, "conversations", query).status_code == 400, query
    response = requests.post(
        f"{emu.url}/conversations/search", json={}, headers=emu.headers(), timeout=10
    )
    assert response.status_code == 400


def test_text_and_list_operators() -> None:
    record = {"id": "12", "email": "Ada.Lovelace@example.test", "state": "open", "n": 5}
    cases = [
        ({"field": "email", "operator": "~", "value": "lovelace"}, True),
        ({"field": "email", "operator": "!~", "value": "lovelace"}, False),
        ({"field": "email", "operator": "^", "value": "ada."}, True),
        ({"field": "email", "operator": "$", "value": ".test"}, True),
        ({"field": "state", "operator": "IN", "value": ["open", "snoozed"]}, True),
        ({"field": "state", "operator": "NIN", "value": ["open"]}, False),
        ({"field": "n", "operator": ">", "value": 4}, True),
        ({"field": "id", "operator": ">", "value": ""}, True),
        ({"field": "id", "operator": ">", "value": "9"}, True),  # numeric ids, not text
    ]
    for query, hit in cases:
        assert compile_query(query, timestamp_fields=frozenset())(record) is hit, query
    with pytest.raises(SearchError):
        compile_query({"field": "n", "operator": "IN", "value": 3}, timestamp_fields=frozenset())


def test_search_filters_on_rendered_nested_fields(emu: Emulator) -> None:
    conversation = emu.workspace.records("conversations")[0]
    email = conversation["source"]["author"]["email"]
    query = {"field": "source.author.email", "operator": "=", "value": email}
    assert conversation["id"] in search_ids(emu, "conversations", query)


EVERYTHING = {"field": "updated_at", "operator": ">", "value": 0}


@pytest.mark.parametrize("entity", ["contacts", "conversations", "tickets"])
def test_cursor_pages_return_every_match_once(emu: Emulator, entity: str) -> None:
    ids = all_pages(emu, entity, EVERYTHING, per_page=7)
    assert len(ids) == len(set(ids))
    assert set(ids) == set(emu.truth()[entity])
    descending = all_pages(emu, entity, EVERYTHING, per_page=11, order="descending")
    assert descending == ids[::-1]


def test_cursors_are_stateless_and_pages_well_formed(emu: Emulator) -> None:
    first = search(emu, "conversations", EVERYTHING, per_page=10).json()
    pages = first["pages"]
    assert first["total_count"] == len(emu.truth()["conversations"])
    assert pages["page"] == 1
    assert pages["per_page"] == 10
    assert pages["total_pages"] == -(-first["total_count"] // 10)
    cursor = pages["next"]["starting_after"]
    decode_cursor(cursor)  # opaque to clients, but ours: the last (sort key, id) and page
    with Emulator(SPEC) as twin:  # another server, same data: the cursor still works there
        elsewhere = search(twin, "conversations", EVERYTHING, per_page=10, starting_after=cursor)
    here = search(emu, "conversations", EVERYTHING, per_page=10, starting_after=cursor)
    assert here.json()["conversations"] == elsewhere.json()["conversations"]
    assert here.json()["pages"]["page"] == 2
    last = all_pages(emu, "conversations", EVERYTHING, per_page=10)
    assert len(last) == first["total_count"]


def test_last_page_has_no_next(emu: Emulator) -> None:
    body = search(emu, "tickets", EVERYTHING, per_page=150).json()
    assert "next" not in body["pages"]
    assert len(body["tickets"]) == body["total_count"]


def test_per_page_is_limited_to_150(emu: Emulator) -> None:
    assert search(emu, "contacts", EVERYTHING, per_page=151).status_code == 400
    assert search(emu, "contacts", EVERYTHING, per_page=0).status_code == 400
    assert search(emu, "contacts", EVERYTHING, per_page=150).status_code == 200


def test_shared_timestamp_cluster_pages_by_id(emu: Emulator) -> None:
    stamps = emu.truth()["conversations"]
    at = max(set(stamps.values()), key=list(stamps.values()).count)
    cluster = {rid for rid, ts in stamps.items() if ts == at}
    assert len(cluster) >= 30
    ids = all_pages(
        emu, "conversations", {"field": "updated_at", "operator": "=", "value": at}, per_page=8
    )
    assert sorted(ids) == sorted(cluster)
    assert ids == sorted(ids, key=int)


def test_peer_tap_queries_work(emu: Emulator) -> None:
    """singer-io tap-intercom 2.2.5's conversation query: AND of ORs, float seconds, id order."""
    bookmark = float(ANCHOR - 100 * 86_400)
    query = {
        "operator": "AND",
        "value": [
            {
                "operator": "OR",
                "value": [
                    {"field": "id", "operator": ">", "value": ""},
                    {"field": "id", "operator": "=", "value": ""},
                ],
            },
            {
                "operator": "OR",
                "value": [
                    {"field": "updated_at", "operator": ">", "value": bookmark},
                    {"field": "updated_at", "operator": "=", "value": bookmark},
                ],
            },
        ],
    }
    ids = all_pages(emu, "conversations", query, per_page=150, sort_field="id")
    expected = {rid for rid, ts in emu.truth()["conversations"].items() if ts >= bookmark}
    assert set(ids) == expected
    assert ids == sorted(ids, key=int)


def test_lagged_update_is_stale_in_search_and_current_by_id(emu: Emulator) -> None:
    emu.configure(search_lag=30.0)
    conversation = next(iter(emu.truth()["conversations"]))
    old = emu.workspace.get("conversations", conversation)
    assert old is not None
    emu.workspace.update("conversations", ids=[conversation], at=ANCHOR + 50)
    by_id = requests.get(
        f"{emu.url}/conversations/{conversation}", headers=emu.headers(), timeout=10
    ).json()
    assert by_id["updated_at"] == ANCHOR + 50
    query = {"field": "id", "operator": "=", "value": conversation}
    found = search(emu, "conversations", query).json()["conversations"]
    assert [c["updated_at"] for c in found] == [old["updated_at"]]
    newer = {"field": "updated_at", "operator": ">", "value": ANCHOR}
    assert conversation not in search_ids(emu, "conversations", newer)

    created = emu.workspace.create("contacts", 1)[0]
    assert (
        requests.get(f"{emu.url}/contacts/{created}", headers=emu.headers(), timeout=10).status_code
        == 200
    )
    by_id_query = {"field": "id", "operator": "=", "value": created}
    assert search_ids(emu, "contacts", by_id_query) == []

    emu.configure(search_lag=0.2)
    time.sleep(0.3)
    assert search_ids(emu, "contacts", by_id_query) == [created]
    assert conversation in search_ids(emu, "conversations", newer)


def test_deleted_record_leaves_search_after_the_lag(emu: Emulator) -> None:
    emu.configure(search_lag=30.0)
    ticket = next(iter(emu.truth()["tickets"]))
    emu.workspace.delete("tickets", [ticket])
    assert (
        requests.get(f"{emu.url}/tickets/{ticket}", headers=emu.headers(), timeout=10).status_code
        == 404
    )
    query = {"field": "id", "operator": "=", "value": ticket}
    assert search_ids(emu, "tickets", query) == [ticket]
    emu.configure(search_lag=0.0)
    assert search_ids(emu, "tickets", query) == []


def test_repeated_query_sees_changes_made_between_requests(emu: Emulator) -> None:
    """Search results are cached per workspace version; a change must invalidate them."""
    query = {"field": "updated_at", "operator": ">", "value": ANCHOR}
    assert search_ids(emu, "conversations", query) == []
    changed = emu.workspace.update("conversations", count=2, at=ANCHOR + 10)
    assert sorted(search_ids(emu, "conversations", query)) == sorted(changed)
    emu.workspace.delete("conversations", changed[:1])
    assert search_ids(emu, "conversations", query) == changed[1:]


@given(
    st.lists(st.one_of(st.none(), st.integers(0, 40 * 86400)), max_size=60),
    st.lists(
        st.tuples(st.sampled_from([">", "<"]), st.integers(-86400, 41 * 86400)),
        min_size=1,
        max_size=3,
    ),
    st.booleans(),
)
def test_a_bounds_only_query_is_sliced_as_its_predicate_filters(
    times: list[int | None], bounds: list[tuple[str, int]], by_day: bool
) -> None:
    """The emulator answers a query that only bounds the sort field by bisecting the sorted
    view: the same records, in the same order, as testing each one."""
    records = [{"id": str(n), "updated_at": at} for n, at in enumerate(times)]
    keyed = sort_records(records, "updated_at")
    numbers = [float(k[1]) if k[0] == 1 else float("-inf") for k, _ in keyed]
    leaves = [{"field": "updated_at", "operator": op, "value": v} for op, v in bounds]
    query = leaves[0] if len(leaves) == 1 else {"operator": "AND", "value": leaves}
    rule = DayRule(lambda t: int(t) - int(t) % 86400, lambda t: int(t) - int(t) % 86400 + 86400)
    day_rule = rule if by_day else None
    predicate = compile_query(query, timestamp_fields=frozenset({"updated_at"}), day_rule=day_rule)
    span = time_slice(query, "updated_at", numbers, day_rule)
    assert span is not None
    assert keyed[span[0] : span[1]] == [kr for kr in keyed if predicate(kr[1])]


def test_a_query_on_anything_else_is_not_sliced() -> None:
    numbers = [1.0, 2.0]
    assert (
        time_slice({"field": "email", "operator": "<", "value": 1}, "updated_at", numbers, None)
        is None
    )
    assert (
        time_slice(
            {"field": "updated_at", "operator": "=", "value": 1}, "updated_at", numbers, None
        )
        is None
    )
    either = {"operator": "OR", "value": [{"field": "updated_at", "operator": ">", "value": 1}]}
    assert time_slice(either, "updated_at", numbers, None) is None


def test_warm_builds_the_sorted_views_a_search_then_reads(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST /_emulator/warm sorts each searchable entity now: the next searches, until the
    next change, read that view instead of sorting every record again."""
    changed = emu.workspace.update("conversations", count=2, at=ANCHOR + 10)
    built: list[str] = []
    view = emu.workspace.search_view

    def counted(entity: str, lag: float) -> list[Any]:
        built.append(entity)
        return view(entity, lag)

    monkeypatch.setattr(emu.workspace, "search_view", counted)
    warm = requests.post(f"{emu.url}/_emulator/warm", json={}, timeout=10)
    assert warm.status_code == 200
    assert warm.json() == {"views": 3}
    assert sorted(built) == ["contacts", "conversations", "tickets"]
    query = {"field": "updated_at", "operator": ">", "value": ANCHOR}
    assert sorted(search_ids(emu, "conversations", query)) == sorted(changed)
    assert len(built) == 3  # no sort again
    emu.workspace.update("conversations", count=1, at=ANCHOR + 20)
    search_ids(emu, "conversations", query)
    assert len(built) == 4  # a change: sorted again at the first search


def test_warm_names_an_entity_without_a_search(emu: Emulator) -> None:
    answer = requests.post(f"{emu.url}/_emulator/warm", json={"entities": ["tags"]}, timeout=10)
    assert answer.status_code == 400
    assert "tags" in answer.json()["error"]
