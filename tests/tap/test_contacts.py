"""The contacts search: day-aligned bounds, and the complete tags and companies lists."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import requests_mock

from tap_intercom import timestamps
from tap_intercom.search import DAY
from tests.tap.conftest import (
    API,
    NOW,
    NOW_ISO,
    json_bodies,
    make_config,
    run_tap,
)
from tests.tap.records import LOOKBACK, WINDOW_KEYS


def contact(cid: str, updated_at: int, **extra: Any) -> dict[str, Any]:
    return {"type": "contact", "id": cid, "role": "user", "updated_at": updated_at, **extra}


def contacts_state(bookmark: int) -> dict[str, Any]:
    return {
        "bookmarks": {
            "contacts": {
                "replication_key": "updated_at",
                "replication_key_value": timestamps.iso(bookmark),
                **dict.fromkeys(WINDOW_KEYS),
            }
        }
    }


def test_contact_search_is_day_aligned_and_old_records_are_dropped(
    api: requests_mock.Mocker,
) -> None:
    bookmark = NOW - 7200
    window_start = bookmark - LOOKBACK
    api.post(
        f"{API}/contacts/search",
        json={
            "type": "list",
            "data": [
                contact("old-1", window_start - 86400),
                contact("old-2", window_start - 1),
                contact("edge", window_start),
                contact("new", NOW - 5),
            ],
            "pages": {"type": "pages"},
        },
    )
    run = run_tap(["contacts"], state=contacts_state(bookmark))
    (body,) = json_bodies(api, "/contacts/search")
    bound = body["query"]["value"]
    assert body["query"]["field"] == "updated_at"
    assert body["query"]["operator"] == ">"
    assert bound % DAY == 0
    assert bound <= window_start - 2 * DAY
    assert body["pagination"] == {"per_page": 150}
    assert body["sort"] == {"field": "updated_at", "order": "ascending"}
    assert [r["id"] for r in run.records("contacts")] == ["edge", "new"]
    final = run.bookmark("contacts")
    assert final["replication_key_value"] == NOW_ISO
    assert all(final[key] is None for key in WINDOW_KEYS)


def test_contact_with_more_tags_gets_all_of_them(api: requests_mock.Mocker) -> None:
    inline = [{"type": "tag", "id": str(n)} for n in range(10)]
    every = [{"type": "tag", "id": str(n)} for n in range(13)]
    more = {"type": "list", "data": inline, "has_more": True, "total_count": 13}
    listed = [
        contact("c1", NOW - 5, tags=more),
        contact("c2", NOW - 4, tags={"type": "list", "data": [], "has_more": False}),
    ]
    api.post(f"{API}/contacts/search", json={"data": listed})
    api.get(f"{API}/contacts/c1/tags", json={"type": "list", "data": every})
    run = run_tap(["contacts"])
    assert [r.path for r in api.request_history if r.method == "GET"] == ["/contacts/c1/tags"]
    first, second = run.records("contacts")
    # Every item in the inline list's own shape, whether it came inline or fetched.
    assert first["tags"]["data"] == [
        {"type": "tag", "id": str(n), "url": f"/tags/{n}"} for n in range(13)
    ]
    assert first["tags"]["has_more"] is False
    assert first["tags"]["total_count"] == 13
    assert second["tags"]["data"] == []


def test_contact_with_more_companies_pages_through_them(api: requests_mock.Mocker) -> None:
    more = {"type": "list", "data": [{"id": "a"}], "has_more": True}
    api.post(f"{API}/contacts/search", json={"data": [contact("c1", NOW - 5, companies=more)]})
    api.get(
        f"{API}/contacts/c1/companies",
        [
            {"json": {"companies": [{"id": "a"}], "pages": {"next": {"starting_after": "x"}}}},
            {"json": {"companies": [{"id": "b"}], "pages": {}}},
        ],
    )
    run = run_tap(["contacts"])
    (record,) = run.records("contacts")
    assert [c["id"] for c in record["companies"]["data"]] == ["a", "b"]
    assert record["companies"]["has_more"] is False


def test_a_contact_gone_before_its_full_list_keeps_the_inline_ten(
    api: requests_mock.Mocker,
) -> None:
    """A lagging search lists a contact deleted (or merged) minutes ago: its list answers 404,
    and the run goes on (it used to stop with "was not found")."""
    more = {"type": "list", "data": [{"id": "a"}], "has_more": True}
    listed = [contact("gone", NOW - 6, companies=more), contact("c2", NOW - 5)]
    api.post(f"{API}/contacts/search", json={"data": listed})
    api.get(
        f"{API}/contacts/gone/companies",
        status_code=404,
        json={"type": "error.list", "errors": [{"code": "not_found", "message": "Not Found"}]},
    )
    run = run_tap(["contacts"])  # does not raise
    gone, kept = run.records("contacts")
    assert gone["companies"] == more
    assert kept["id"] == "c2"


def test_a_refused_tags_list_keeps_the_inline_ten_and_is_asked_once(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    inline = [{"type": "tag", "id": str(n)} for n in range(10)]
    api.post(
        f"{API}/contacts/search",
        json={
            "data": [
                contact(f"c{n}", NOW - 5, tags={"data": inline, "has_more": True}) for n in range(3)
            ]
        },
    )
    api.get(
        requests_mock.ANY,
        status_code=403,
        json={"errors": [{"code": "forbidden", "message": "required scope (read_tags)"}]},
    )
    with caplog.at_level(logging.WARNING):
        run = run_tap(["contacts"], config=make_config(hydration_workers=1))
    records = run.records("contacts")
    assert [r["id"] for r in records] == ["c0", "c1", "c2"]
    assert all(r["tags"]["has_more"] is True and len(r["tags"]["data"]) == 10 for r in records)
    assert sum(1 for r in api.request_history if r.method == "GET") == 1
    assert "contacts" not in run.tap.skipped
    warned = [r.getMessage() for r in caplog.records if "read_tags" in r.getMessage()]
    assert len(warned) == 1


def test_full_lists_are_not_bulk_requests(api: requests_mock.Mocker) -> None:
    """A contacts page waits for its full lists: they run on the page pool, whose requests the
    budget lets go before the hydration pool's backlog (ratelimit.bulk_thread)."""
    from tap_intercom import ratelimit

    more = {"type": "list", "data": [{"type": "tag", "id": "0"}], "has_more": True}
    api.post(f"{API}/contacts/search", json={"data": [contact("c1", NOW - 5, tags=more)]})
    threads: list[tuple[str, bool]] = []

    def tags(request: Any, context: Any) -> dict[str, Any]:
        current = threading.current_thread()
        threads.append((current.name, getattr(ratelimit._thread, "bulk", False)))
        return {"type": "list", "data": [{"type": "tag", "id": "0"}]}

    api.get(f"{API}/contacts/c1/tags", json=tags)
    run_tap(["contacts"], config=make_config(hydration_workers=1))
    assert len(threads) == 1
    name, bulk = threads[0]
    assert name.startswith("page")
    assert bulk is False
