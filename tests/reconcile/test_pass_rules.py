"""The reconcile pass's pure rules: its version, merge tombstones, parts, report and bound."""

from __future__ import annotations

from typing import Any

from tap_intercom import reconcile


def test_the_version_is_the_pass_start_in_ms_less_the_margin() -> None:
    assert reconcile.pass_version(1_700_000_000.25, 0) == 1_700_000_000_250
    assert reconcile.pass_version(1_700_000_000.25, 1800) == 1_700_000_000_250 - 1_800_000


def test_merge_history_becomes_tombstones_and_leaves_the_record() -> None:
    user: dict[str, Any] = {
        "id": "u1",
        "role": "user",
        "merge_history": [
            {"type": "merge_history", "source_contact_id": "l1", "merged_at": 1_700_000_000},
            {"type": "merge_history", "source_contact_id": "l2", "merged_at": None},
            {"type": "merge_history", "source_contact_id": "u1"},  # never itself
            {"type": "merge_history"},
        ],
    }
    tombstones = reconcile.merge_tombstones(user, fallback_at=1_800_000_000)
    assert tombstones == [
        {"id": "l1", "_sdc_deleted_at": "2023-11-14T22:13:20Z", "_sdc_merged_into_id": "u1"},
        {"id": "l2", "_sdc_deleted_at": "2027-01-15T08:00:00Z", "_sdc_merged_into_id": "u1"},
    ]
    assert "merge_history" not in user
    assert reconcile.merge_tombstones({"id": "lead"}, fallback_at=0) == []


def test_parts_over_the_cap_are_reported_apart_from_short_hydrations() -> None:
    tally = reconcile.Tally("conversations")

    def conversation(stated: int, returned: int) -> dict[str, Any]:
        return {
            "statistics": {"count_conversation_parts": stated},
            "conversation_parts": {"total_count": min(stated, 500), "returned_count": returned},
        }

    tally.count_parts(conversation(700, 500), "conversation_parts")
    tally.count_parts(conversation(12, 12), "conversation_parts")
    tally.count_parts(conversation(12, 10), "conversation_parts")
    tally.count_parts({"ticket_parts": {"total_count": 3, "returned_count": 3}}, "ticket_parts")
    assert (tally.over_cap, tally.short) == (1, 1)


def test_the_report_has_one_record_per_entity_and_a_table() -> None:
    report = reconcile.Report(started_at=1_700_000_000.0, margin_seconds=60)
    report.finished_at = 1_700_000_100.0
    contacts = report.tally("contacts")
    contacts.listed, contacts.sent, contacts.merged, contacts.complete = 10, 10, 2, True
    report.tally("tickets").listed = 3
    records = report.records()
    assert [r["entity"] for r in records] == ["contacts", "tickets"]
    assert records[0] == {
        "started_at": "2023-11-14T22:13:20Z",
        "entity": "contacts",
        "finished_at": "2023-11-14T22:15:00Z",
        "version": 1_700_000_000_000 - 60_000,
        "margin_seconds": 60,
        "complete": True,
        "intercom_count": 10,
        "records_sent": 10,
        "merged_contacts": 2,
        "vanished": 0,
        "parts_over_cap": 0,
        "parts_short": 0,
        "requests": 0,
        "seconds": 0.0,
        "mode": "listing",
        "archive_count": None,
        "refetched_new": 0,
        "refetched_changed": 0,
        "refetched_short": 0,
        "tombstoned": 0,
        "confirmed_present": 0,
        "request_bound": None,
    }
    lines = report.table().splitlines()
    assert lines[0].split()[:4] == ["entity", "complete", "intercom", "archive"]
    assert lines[1].split()[:5] == ["contacts", "yes", "10", "-", "10"]
    assert lines[2].split()[:2] == ["tickets", "NO"]


def test_the_unfiltered_search_is_ordered_by_creation() -> None:
    body = reconcile.search_body(150, "abc")
    assert body["sort"] == {"field": "created_at", "order": "ascending"}
    assert body["pagination"] == {"per_page": 150, "starting_after": "abc"}
    assert "starting_after" not in reconcile.search_body(150, None)["pagination"]


def test_the_request_bound() -> None:
    # 301 contacts: 3 pages + 1; 150 conversations: 1 page + 1 + 150 GETs; no tickets: 1 empty
    # page; 100 companies: 1 scroll page + 1 + the closing page.
    assert reconcile.request_bound(contacts=301, conversations=150, tickets=0, companies=100) == (
        4 + 152 + 1 + 3
    )


def test_the_request_bound_of_an_archive_mode_pass() -> None:
    # Conversations and tickets of an equal archive: their listing pages only.
    assert reconcile.request_bound(
        contacts=301, conversations=150, tickets=0, companies=100, hydrated=False
    ) == (4 + 2 + 1 + 3)
    # 301 listed: 3 pages + 1; 5 refetched, 151 confirmed (+2 QA searches for conversations).
    assert reconcile.archive_bound(
        listed=301, refetched=5, confirmed=151, page_size=150, confirm_searches=True
    ) == (4 + 5 + 151 + 2)
    assert (
        reconcile.archive_bound(
            listed=0, refetched=0, confirmed=0, page_size=150, confirm_searches=False
        )
        == 1
    )


def archived(updated_at: int | None = 100, parts: int = 3, stated: int = 3) -> reconcile.Archived:
    return reconcile.Archived(updated_at=updated_at, parts=parts, stated=stated)


def test_a_listed_record_is_refetched_only_when_the_archive_differs() -> None:
    listed = {"id": "1", "updated_at": 100}
    assert reconcile.refetch(listed, None) == "new"
    assert reconcile.refetch(listed, archived()) is None
    assert reconcile.refetch({"id": "1", "updated_at": 101}, archived()) == "changed"
    assert reconcile.refetch({"id": "1", "updated_at": 99}, archived()) is None
    assert reconcile.refetch(listed, archived(updated_at=None)) == "changed"
    assert reconcile.refetch({"id": "1"}, archived()) is None  # no listing date: parts decide
    assert reconcile.refetch(listed, archived(parts=2)) == "short"  # the archived count
    # The listing's own count wins over the archived one (conversations carry statistics).
    counted = {**listed, "statistics": {"count_conversation_parts": 4}}
    assert reconcile.refetch(counted, archived()) == "short"
    # Under Intercom's cap only: 500 archived parts of 736 are all a GET could give.
    capped = {**listed, "statistics": {"count_conversation_parts": 736}}
    assert reconcile.refetch(capped, archived(parts=500, stated=500)) is None
    assert reconcile.refetch(capped, archived(parts=499, stated=500)) == "short"
    # More archived parts than stated (older parts the 500 most recent no longer hold): equal.
    assert reconcile.refetch(listed, archived(parts=9)) is None


class FakeStream:
    """A stream of an archive-mode pass: pages as given, GETs answered from `present`."""

    name = "tickets"
    page_size = 2
    confirm_searches = False

    def __init__(self, pages: list[list[dict[str, Any]]], present: dict[str, dict[str, Any]]):
        self._pages, self.present = pages, present
        self.requests = 0
        self.confirmed: list[str] = []
        import logging

        self.logger = logging.getLogger("fake")

    def pages(self, path: str, **_: Any) -> Any:
        raise NotImplementedError

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def reconcile_pages(self, tally: reconcile.Tally) -> Any:
        for page in self._pages:
            self.requests += 1
            yield page
        tally.complete = True

    def expand(self, records: list[dict[str, Any]]) -> Any:
        for record in records:
            self.requests += 1
            if record["id"] in self.present:
                yield self.present[record["id"]]

    def confirm(self, ids: list[str]) -> Any:
        for record_id in ids:
            self.requests += 1
            self.confirmed.append(record_id)
            yield record_id, self.present.get(record_id)


def ticket(record_id: str, parts: int = 3) -> dict[str, Any]:
    return {"id": record_id, "ticket_parts": {"total_count": parts, "returned_count": parts}}


def test_an_archive_mode_pass_sends_only_what_differs_and_confirms_the_unlisted() -> None:
    report = reconcile.Report(started_at=1_700_000_000.0, margin_seconds=0)
    pages = [
        [{"id": "equal", "updated_at": 100}, {"id": "new", "updated_at": 100}],
        [{"id": "changed", "updated_at": 200}, {"id": "short", "updated_at": 100}],
        [{"id": "gone-meanwhile", "updated_at": 300}],
    ]
    snapshot = {
        "equal": archived(),
        "changed": archived(),
        "short": archived(parts=1),
        "deleted": archived(),
        "lagging": archived(),
        "gone-meanwhile": archived(),
    }
    present = {i: ticket(i) for i in ("equal", "new", "changed", "short", "lagging")}
    stream = FakeStream(pages, present)
    sent = list(reconcile.run_archive_pass(stream, report, snapshot, parts_key="ticket_parts"))
    assert [r["id"] for r in sent] == ["new", "changed", "short", "deleted", "lagging"]
    assert set(sent[3]) == {"id", "_sdc_deleted_at"}  # a tombstone, after its 404
    assert sent[3]["_sdc_deleted_at"].endswith("Z")
    assert stream.confirmed == ["deleted", "lagging"]  # the archived ids the listing lacked
    tally = report.tally("tickets")
    assert (tally.mode, tally.archived, tally.listed) == ("archive", 6, 5)
    assert (tally.new, tally.changed, tally.refetched_short) == (1, 2, 1)
    assert (tally.tombstoned, tally.confirmed, tally.vanished, tally.sent) == (1, 1, 1, 4)
    assert tally.requests == 3 + 4 + 2
    assert tally.bound == 4 + 4 + 2  # pages(5 at 2 a page) + 4 refetched + 2 confirmed


def test_an_incomplete_listing_confirms_nothing() -> None:
    class Broken(FakeStream):
        def reconcile_pages(self, tally: reconcile.Tally) -> Any:
            yield from self._pages  # ends without `complete` (a repeated cursor)

    report = reconcile.Report(started_at=1_700_000_000.0, margin_seconds=0)
    stream = Broken([[{"id": "equal", "updated_at": 100}]], {})
    snapshot = {"equal": archived(), "deleted": archived()}
    assert (
        list(reconcile.run_archive_pass(stream, report, snapshot, parts_key="ticket_parts")) == []
    )
    assert stream.confirmed == []
    assert report.tally("tickets").tombstoned == 0
