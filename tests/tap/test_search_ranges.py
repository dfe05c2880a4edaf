"""A long window read in ranges at once: the requests that place them, each record once, the
state per range never ahead of its records, and a run stopped mid-way resumed range by range."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests_mock

from tap_intercom import search, timestamps
from tap_intercom.search import DAY
from tap_intercom.streams.incremental import FINER_SAMPLES, SPLIT_SAMPLES, SearchStream
from tests.tap.conftest import API, NOW, RATE_HEADERS, make_config, run_tap, run_tap_failing

PAGE = 10
DAYS = 400


def _contacts(now: int, count: int = 1000) -> list[dict[str, Any]]:
    """`count` contacts, their updated_at spread evenly over the last DAYS days, a tenth of
    them sharing one second (a bulk import)."""
    first = now - DAYS * DAY
    out = []
    for n in range(count):
        at = first + (DAYS * DAY * n) // count
        if 500 <= n < 600:
            at = first + 200 * DAY
        out.append({"type": "contact", "id": f"c{n:04d}", "updated_at": at, "role": "user"})
    return sorted(out, key=lambda c: (c["updated_at"], c["id"]))


class ContactSearch:
    """POST /contacts/search over a fixed list, with Intercom's whole-day bounds (in UTC here),
    ascending, `total_count`, and offsets as cursors. `fail_after` makes the nth page after a
    cursor answer 500 (the run stops there)."""

    def __init__(self, contacts: list[dict[str, Any]], fail_after: int | None = None) -> None:
        self.contacts = contacts
        self.bodies: list[dict[str, Any]] = []
        self.fail_after = fail_after
        self.pages_after_cursor = 0

    def __call__(self, request: Any, context: Any) -> dict[str, Any]:
        body = json.loads(request.body)
        self.bodies.append(body)
        context.headers.update(RATE_HEADERS)
        query = body["query"]
        filters = query["value"] if query.get("operator") == "AND" else [query]
        low, high = 0, 2**40
        for f in filters:
            day = f["value"] - f["value"] % DAY
            if f["operator"] == ">":
                low = max(low, day + DAY)
            else:
                high = min(high, day)
        matched = [c for c in self.contacts if low <= c["updated_at"] < high]
        cursor = body["pagination"].get("starting_after")
        if cursor is not None:
            self.pages_after_cursor += 1
            if self.fail_after is not None and self.pages_after_cursor == self.fail_after:
                context.status_code = 500
                return {"type": "error.list", "errors": [{"code": "server_error"}]}
        offset = int(cursor) if cursor else 0
        per_page = body["pagination"]["per_page"]
        page = matched[offset : offset + per_page]
        pages: dict[str, Any] = {"type": "pages", "per_page": per_page}
        if offset + per_page < len(matched):
            pages["next"] = {"per_page": per_page, "starting_after": str(offset + per_page)}
        return {"type": "list", "data": page, "total_count": len(matched), "pages": pages}


def _config(**more: Any) -> dict[str, Any]:
    start = timestamps.iso(NOW - (DAYS + 5) * DAY)
    return make_config(page_size=PAGE, search_ranges=4, start_date=start, max_retries=1, **more)


def _search(api: requests_mock.Mocker, contacts: list[dict[str, Any]], **kw: Any) -> ContactSearch:
    recorder = ContactSearch(contacts, **kw)
    api.post(f"{API}/contacts/search", json=recorder)
    return recorder


def _contact_state(value: dict[str, Any]) -> dict[str, Any]:
    return dict(value["bookmarks"]["contacts"])


def test_a_long_window_is_read_in_ranges_each_record_once(api: requests_mock.Mocker) -> None:
    contacts = _contacts(NOW)
    recorder = _search(api, contacts)
    run = run_tap(["contacts"], config=_config())
    ids = [r["id"] for r in run.records("contacts")]
    assert sorted(ids) == sorted(c["id"] for c in contacts)
    assert len(ids) == len(set(ids))
    # The window's first page (its count and its oldest record), then SPLIT_SAMPLES counts
    # past points after that record and FINER_SAMPLES inside each span a bound falls in, each
    # a search for one record; then the ranges' pages.
    assert recorder.bodies[0]["pagination"] == {"per_page": PAGE}
    probes = [b for b in recorder.bodies if b["pagination"]["per_page"] == 1]
    assert SPLIT_SAMPLES < len(probes) <= SPLIT_SAMPLES + 3 * FINER_SAMPLES
    firsts = [
        b["query"]
        for b in recorder.bodies[1:]
        if b["pagination"]["per_page"] == PAGE and "starting_after" not in b["pagination"]
    ]
    assert len(firsts) == 4
    # Three inner ranges bounded above by whole days, the last one open.
    assert [q.get("operator") for q in firsts].count("AND") == 3
    # Every page is read once: the ranges' pages and the few a range's day margin adds.
    pages = len(recorder.bodies) - len(probes) - 1
    assert pages <= len(contacts) / PAGE + 4 * 2 + 4
    final = _contact_state(run.states()[-1])
    assert final["ranges"] is None
    assert final["window_start"] is None
    assert search.to_epoch(final["replication_key_value"]) >= max(c["updated_at"] for c in contacts)


def test_each_range_state_is_never_ahead_of_its_records(api: requests_mock.Mocker) -> None:
    contacts = _contacts(NOW)
    _search(api, contacts)
    run = run_tap(["contacts"], config=_config())
    emitted: set[str] = set()
    checked = 0
    for message in run.messages:
        if message["type"] == "RECORD":
            emitted.add(message["record"]["id"])
            continue
        if message["type"] != "STATE":
            continue
        saved = _contact_state(message["value"]).get("ranges") or []
        for n, state in enumerate(saved):
            part = search.Range.from_state(state, inner=n < len(saved) - 1)
            if part.last_id:
                assert part.last_id in emitted
            if part.cursor:
                # Every record this range emits from the pages before its cursor is out.
                listed = _listing(contacts, part)[: int(part.cursor)]
                due = {c["id"] for c in listed if c["updated_at"] >= part.start}
                if part.inner:
                    due = {i for i in due if _at(contacts, i) < part.end}
                assert due <= emitted, sorted(due - emitted)[:5]
                checked += 1
    assert checked


def _listing(contacts: list[dict[str, Any]], part: search.Range) -> list[dict[str, Any]]:
    """What ContactSearch lists for the range's query, in order."""
    low = search.contact_lower_bound(part.start) + DAY
    high = search.contact_upper_bound(part.end) if part.inner else 2**40
    return [c for c in contacts if low <= c["updated_at"] < high]


def _at(contacts: list[dict[str, Any]], contact_id: str) -> int:
    return next(int(c["updated_at"]) for c in contacts if c["id"] == contact_id)


def test_a_run_stopped_mid_way_resumes_each_range_from_its_cursor(
    api: requests_mock.Mocker,
) -> None:
    contacts = _contacts(NOW)
    _search(api, contacts, fail_after=40)
    _, stdout = run_tap_failing(["contacts"], config=_config())
    messages = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    first = [m["record"]["id"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    saved = _contact_state(states[-1])
    assert saved["ranges"], saved
    assert any(part["cursor"] for part in saved["ranges"]), saved
    assert 0 < len(first) < len(contacts)

    api.reset_mock()
    recorder = _search(api, contacts)
    run = run_tap(["contacts"], config=_config(), state=states[-1])
    # Nothing is counted again: the saved ranges are read on, each from its own cursor (the
    # fresh window after them is short and read in one pass).
    assert all(b["pagination"]["per_page"] == PAGE for b in recorder.bodies)
    cursors = {b["pagination"].get("starting_after") for b in recorder.bodies}
    assert {p["cursor"] for p in saved["ranges"] if p["cursor"]} <= cursors
    second = [r["id"] for r in run.records("contacts")]
    assert {c["id"] for c in contacts} <= set(first) | set(second)
    # Only a page's worth per range is read again (a resumed page skips up to its last_id).
    assert len(set(first) & set(second)) <= 4 * PAGE + PAGE
    final = _contact_state(run.states()[-1])
    assert final["ranges"] is None
    assert final["replication_key_value"]


def test_an_older_version_from_another_range_is_not_emitted_after_the_newer(
    api: requests_mock.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A contact changed while the run reads is listed by the last range (its new updated_at)
    and, from a lagging index, by the range that held its old one. Here the first range is held
    back until the last is done, so it lists the old version after the new one is out: the
    archive's last version must still be the newer."""
    now = NOW  # the tap's clock in these tests
    contacts = _contacts(now)
    old = contacts[15]  # on the first range's second page
    new = dict(old, updated_at=now + 30, name="new")
    recorder = ContactSearch(sorted([*contacts, new], key=lambda c: (c["updated_at"], c["id"])))
    api.post(f"{API}/contacts/search", json=recorder)
    last: list[search.Range] = []
    search_page = SearchStream._search_page

    def first_range_late(stream: SearchStream, part: search.Range, cursor: str | None) -> Any:
        if not part.inner:
            last[:] = [part]
        elif part.start < old["updated_at"] < part.end and cursor is not None:
            deadline = time.monotonic() + 10
            while not (last and last[0].done) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert last, "the last range was never read"
            assert last[0].done, "the last range did not finish while the first waited"
        return search_page(stream, part, cursor)

    monkeypatch.setattr(SearchStream, "_search_page", first_range_late)
    run = run_tap(["contacts"], config=_config())
    versions = [r["updated_at"] for r in run.records("contacts") if r["id"] == old["id"]]
    assert versions == [timestamps.iso(now + 30)]


def test_a_window_too_small_to_split_costs_no_request_more(api: requests_mock.Mocker) -> None:
    """Fewer than 20 pages for each range: the first page that counted the window is its
    first page, read once."""
    contacts = _contacts(NOW, count=300)
    recorder = _search(api, contacts)
    run = run_tap(["contacts"], config=_config())
    assert len(run.records("contacts")) == 300
    assert [b["pagination"].get("starting_after") for b in recorder.bodies] == [
        None,
        *(str(n) for n in range(PAGE, 300, PAGE)),
    ]
    assert all(b["pagination"]["per_page"] == PAGE for b in recorder.bodies)
