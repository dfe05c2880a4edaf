"""Exact requests: headers, query parameters, search bodies, and where page loops stop."""

from __future__ import annotations

import logging
from importlib.metadata import version
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests_mock

from tap_intercom import DISTRIBUTION, timestamps
from tests.tap.conftest import API, NOW, RATE_HEADERS, TOKEN, json_bodies, make_config, run_tap

ADMINS = {"type": "admin.list", "admins": [{"type": "admin", "id": "1", "name": "Ann"}]}


def query_of(request: Any) -> dict[str, list[str]]:
    # requests-mock lower-cases .qs; parse the raw query to keep values exact.
    return parse_qs(request.query, keep_blank_values=True)


def test_default_headers(api: requests_mock.Mocker) -> None:
    api.get(f"{API}/admins", json=ADMINS, headers=RATE_HEADERS)
    run_tap(["admins"])
    (request,) = api.request_history
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Intercom-Version"] == "2.16"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == f"tap-intercom/{version(DISTRIBUTION)}"


def test_configured_version_and_user_agent(api: requests_mock.Mocker) -> None:
    api.get(f"{API}/admins", json=ADMINS, headers=RATE_HEADERS)
    run_tap(["admins"], config=make_config(api_version="2.15", user_agent="acme-sync/1.2"))
    (request,) = api.request_history
    assert request.headers["Intercom-Version"] == "2.15"
    assert request.headers["User-Agent"] == "acme-sync/1.2"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_region_sets_the_host(clock: Any) -> None:
    with requests_mock.Mocker() as mocker:
        mocker.get("https://api.eu.intercom.io/admins", json=ADMINS)
        run_tap(["admins"], config=make_config(api_url=None, region="eu"))
        assert [r.hostname for r in mocker.request_history] == ["api.eu.intercom.io"]


def test_data_attributes_asks_per_model(api: requests_mock.Mocker) -> None:
    api.get(
        f"{API}/data_attributes?model=contact",
        json={"type": "list", "data": [{"name": "email", "model": "contact"}]},
    )
    api.get(
        f"{API}/data_attributes?model=company",
        json={"type": "list", "data": [{"name": "plan", "model": "company"}]},
    )
    api.get(
        f"{API}/conversations/attributes",
        json={"type": "list", "data": [{"name": "topic"}]},
    )
    run = run_tap(["data_attributes"])
    queries = [(r.path, query_of(r)) for r in api.request_history]
    assert queries == [
        ("/data_attributes", {"model": ["contact"]}),
        ("/data_attributes", {"model": ["company"]}),
        ("/conversations/attributes", {}),
    ]
    assert [(r["model"], r["name"]) for r in run.records("data_attributes")] == [
        ("contact", "email"),
        ("company", "plan"),
        ("conversation", "topic"),
    ]


def test_paginated_list_sends_per_page_and_the_cursor(api: requests_mock.Mocker) -> None:
    api.get(
        f"{API}/articles",
        [
            {"json": {"data": [{"id": "1"}], "pages": {"next": {"starting_after": "c1"}}}},
            {"json": {"data": [{"id": "2"}], "pages": {"next": None}}},
        ],
    )
    run = run_tap(["articles"], config=make_config(page_size=25))
    assert [query_of(r) for r in api.request_history] == [
        {"per_page": ["25"]},
        {"per_page": ["25"], "starting_after": ["c1"]},
    ]
    assert [r["id"] for r in run.records("articles")] == ["1", "2"]


def test_list_stops_on_an_empty_page(api: requests_mock.Mocker) -> None:
    api.get(
        f"{API}/articles",
        [
            {"json": {"data": [{"id": "1"}], "pages": {"next": {"starting_after": "c1"}}}},
            {"json": {"data": [], "pages": {"next": {"starting_after": "c2"}}}},
            {"json": {"data": [{"id": "never"}]}},
        ],
    )
    run = run_tap(["articles"])
    assert api.call_count == 2
    assert [r["id"] for r in run.records("articles")] == ["1"]


def test_list_stops_without_a_cursor(api: requests_mock.Mocker) -> None:
    api.get(
        f"{API}/articles",
        [
            {"json": {"data": [{"id": "1"}], "pages": {"type": "pages"}}},
            {"json": {"data": [{"id": "never"}]}},
        ],
    )
    run_tap(["articles"])
    assert api.call_count == 1


def test_list_stops_on_a_repeated_cursor_with_a_warning(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    page = {"data": [{"id": "1"}], "pages": {"next": {"starting_after": "same"}}}
    api.get(f"{API}/articles", [{"json": page}, {"json": page}, {"json": {"data": [{"id": "x"}]}}])
    with caplog.at_level(logging.WARNING):
        run = run_tap(["articles"])
    assert api.call_count == 2
    assert [r["id"] for r in run.records("articles")] == ["1", "1"]
    assert any("repeated" in r.getMessage() for r in caplog.records)


def test_list_follows_a_link_cursor(api: requests_mock.Mocker) -> None:
    api.get(
        f"{API}/articles",
        [
            {"json": {"data": [{"id": "1"}], "pages": {"next": f"{API}/articles?page=2"}}},
            {"json": {"data": [{"id": "2"}], "pages": {"next": None}}},
        ],
    )
    run = run_tap(["articles"])
    assert query_of(api.request_history[1]) == {"page": ["2"]}
    assert [r["id"] for r in run.records("articles")] == ["1", "2"]


# Search ----------------------------------------------------------------------------------


def conversation(cid: str, updated_at: int, parts: int = 0) -> dict[str, Any]:
    return {
        "type": "conversation",
        "id": cid,
        "created_at": updated_at - 100,
        "updated_at": updated_at,
        "statistics": {"count_conversation_parts": parts},
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": [
                {"type": "conversation_part", "id": f"{cid}-{n}", "created_at": updated_at}
                for n in range(parts)
            ],
            "total_count": parts,
        },
    }


def listed(cid: str, updated_at: int) -> dict[str, Any]:
    return {"type": "conversation", "id": cid, "updated_at": updated_at}


def test_conversation_search_bodies_and_hydration_params(api: requests_mock.Mocker) -> None:
    start = NOW - 86400
    api.post(
        f"{API}/conversations/search",
        [
            {
                "json": {
                    "conversations": [listed("1", start + 10)],
                    "pages": {"next": {"starting_after": "cur-1"}},
                    "total_count": 2,
                },
                "headers": RATE_HEADERS,
            },
            {
                "json": {"conversations": [listed("2", start + 20)], "pages": {}},
                "headers": RATE_HEADERS,
            },
        ],
    )
    for cid, updated in (("1", start + 10), ("2", start + 20)):
        api.get(f"{API}/conversations/{cid}", json=conversation(cid, updated))
    run_tap(["conversations"], config=make_config(start_date=timestamps.iso(start)))

    query = {
        "operator": "AND",
        "value": [
            {"field": "updated_at", "operator": ">", "value": start - 1},
            {"field": "updated_at", "operator": "<", "value": NOW + 1},
        ],
    }
    sort = {"field": "updated_at", "order": "ascending"}
    assert json_bodies(api, "/conversations/search") == [
        {"query": query, "pagination": {"per_page": 150}, "sort": sort},
        {
            "query": query,
            "pagination": {"per_page": 150, "starting_after": "cur-1"},
            "sort": sort,
        },
    ]
    hydrations = [r for r in api.request_history if r.method == "GET"]
    assert sorted(r.path for r in hydrations) == ["/conversations/1", "/conversations/2"]
    assert all(query_of(r) == {"display_as": ["plaintext"]} for r in hydrations)
    for request in api.request_history:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Intercom-Version"] == "2.16"
        assert request.headers["Accept"] == "application/json"
    assert all(
        r.headers["Content-Type"] == "application/json"
        for r in api.request_history
        if r.method == "POST"
    )


def test_search_stops_on_an_empty_page(api: requests_mock.Mocker) -> None:
    api.post(
        f"{API}/conversations/search",
        [
            {
                "json": {
                    "conversations": [listed("1", NOW - 10)],
                    "pages": {"next": {"starting_after": "c1"}},
                }
            },
            {"json": {"conversations": [], "pages": {"next": {"starting_after": "c2"}}}},
            {"json": {"conversations": [listed("x", NOW - 5)]}},
        ],
    )
    api.get(f"{API}/conversations/1", json=conversation("1", NOW - 10))
    run = run_tap(["conversations"])
    assert len(json_bodies(api, "/conversations/search")) == 2
    assert [r["id"] for r in run.records("conversations")] == ["1"]


def test_search_stops_on_a_repeated_cursor_with_a_warning(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    page = {"conversations": [listed("1", NOW - 10)], "pages": {"next": {"starting_after": "c"}}}
    api.post(
        f"{API}/conversations/search",
        [{"json": page}, {"json": page}, {"json": {"conversations": [listed("x", NOW)]}}],
    )
    api.get(f"{API}/conversations/1", json=conversation("1", NOW - 10))
    with caplog.at_level(logging.WARNING):
        run = run_tap(["conversations"])
    assert len(json_bodies(api, "/conversations/search")) == 2
    assert any("repeated" in r.getMessage() for r in caplog.records)
    # The unread rest of the window is not skipped: the bookmark stops at the newest record
    # read, so the next run (from there minus the lookback) reads on.
    assert run.bookmark("conversations")["replication_key_value"] == timestamps.iso(NOW - 10)
    assert run.bookmark("conversations")["window_end"] is None


def test_page_size_reaches_the_search_body(api: requests_mock.Mocker) -> None:
    api.post(f"{API}/tickets/search", json={"tickets": []})
    run_tap(["tickets"], config=make_config(page_size=7))
    (body,) = json_bodies(api, "/tickets/search")
    assert body["pagination"] == {"per_page": 7}
    assert body["sort"] == {"field": "updated_at", "order": "ascending"}
