"""Contacts (users and leads) from the day-granular search, and their notes and events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_intercom import reconcile
from tap_intercom.errors import NotFound, StreamUnavailable
from tap_intercom.probe import Probe
from tap_intercom.search import DAY
from tap_intercom.streams.base import IntercomStream
from tap_intercom.streams.incremental import SearchStream

if TYPE_CHECKING:
    from collections.abc import Iterable
    from concurrent.futures import ThreadPoolExecutor

    from singer_sdk.helpers.types import Context, Record


#: The inline lists of a contact that hold at most 10 items, with the key of their full list's
#: records (GET /contacts/{id}/<list>) and whether that list is paged.
FULL_LISTS: dict[str, tuple[str, bool]] = {
    "tags": ("data", False),
    "companies": ("companies", True),
}
SINGULAR = {"tags": "tag", "companies": "company"}


class ContactsStream(SearchStream):
    """Changed contacts. Inline `tags` and `companies` hold at most 10 items; when Intercom
    says `has_more`, the rest is fetched (/contacts/{id}/tags, /contacts/{id}/companies) and
    the record holds them all (`has_more` then false)."""

    name = "contacts"
    primary_keys: ClassVar[list[str]] = ["id"]
    search_path = "/contacts/search"
    records_key = "data"
    day_granular = True
    # A range's query reaches about three days past each of its bounds (whole days in an
    # unknown time zone); at 30 days or more that overlap stays a small share of its pages.
    min_range_span = 30 * DAY

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lists_refused: set[str] = set()

    def _complete_lists(self, contact: dict[str, Any]) -> dict[str, Any]:
        for kind, (records_key, paged) in FULL_LISTS.items():
            listing = contact.get(kind)
            if not (isinstance(listing, dict) and listing.get("has_more")):
                continue
            if kind in self._lists_refused:
                continue
            found: list[dict[str, Any]] = []
            try:
                for page in self.pages(
                    f"/contacts/{contact['id']}/{kind}",
                    records_key=records_key,
                    params={"per_page": self.page_size} if paged else None,
                    counted=False,
                ):
                    found.extend(_reference(item, kind) for item in page)
            except StreamUnavailable as exc:
                self._refuse(kind, exc)
            except NotFound:
                # Deleted or merged since the search listed it (the index lags by minutes):
                # the record keeps the inline ten; the deletion reaches the archive its own way.
                self.logger.info(
                    "contacts: %s went away before its %s were read", contact["id"], kind
                )
                return contact
            else:
                listing["data"] = found
                listing["total_count"], listing["has_more"] = len(found), False
        return contact

    def _refuse(self, kind: str, exc: StreamUnavailable) -> None:
        """A scope the contacts themselves do not need: keep the inline ten, say so once."""
        if kind not in self._lists_refused:
            self._lists_refused.add(kind)
            scope = f" (missing scope: {exc.scope})" if exc.scope else ""
            self.logger.warning(
                "contacts: the full %s lists are unavailable%s; records keep Intercom's first "
                "10 with has_more=true",
                kind,
                scope,
            )

    @override
    def workers(self) -> ThreadPoolExecutor:
        """The full lists: the next search page waits for them, so they do not queue behind
        other streams' hydrations (tap.page_pool)."""
        return self.host.page_pool

    @override
    def fetch_for(self, record: dict[str, Any]) -> Callable[[dict[str, Any]], Any] | None:
        return self._complete_lists if _has_more(record) else None

    @override
    def expand(self, records: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        yield from self.fetched(records)

    @override
    def reconcile_pages(self, tally: reconcile.Tally) -> Iterator[list[dict[str, Any]]]:
        # GET /contacts lists every contact with its merge history; search would lag.
        return reconcile.contact_pages(self, tally)

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        if reconcile.is_tombstone(record):
            return None  # a merged contact has no notes or events left to read
        return {"contact_id": str(record["id"])}


def _reference(item: dict[str, Any], kind: str) -> dict[str, Any]:
    """The inline list's shape ({type, id, url}) for an item fetched whole: every item of the
    list then looks alike, and the full objects live in their own streams."""
    return {
        "type": item.get("type") or SINGULAR[kind],
        "id": item.get("id"),
        "url": f"/{kind}/{item.get('id')}",
    }


def _has_more(contact: dict[str, Any]) -> bool:
    return any(
        isinstance(contact.get(key), dict) and contact[key].get("has_more") for key in FULL_LISTS
    )


class ContactChildStream(IntercomStream):
    """Per-contact lists, read only for contacts changed in this run. Off by default: each
    costs at least one request per changed contact."""

    parent_stream_type = ContactsStream
    selected_by_default = False
    state_partitioning_keys: ClassVar[list[str]] = []


class NotesStream(ContactChildStream):
    """Notes of changed contacts (GET /contacts/{id}/notes): one request per changed contact
    and per 150 notes."""

    name = "notes"
    primary_keys: ClassVar[list[str]] = ["id"]
    # A made-up contact: 404 once the token's scope has been checked, 403 without it.
    probe: ClassVar[Probe] = Probe("GET", "/contacts/0/notes", (("per_page", 1),))

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None
        contact_id = context["contact_id"]
        for page in self.pages(
            f"/contacts/{contact_id}/notes", params={"per_page": self.page_size}
        ):
            for note in page:
                note["contact_id"] = contact_id
                yield note


class EventsStream(ContactChildStream):
    """Events of changed contacts (GET /events?type=user): Intercom keeps the last 90 days only
    and gives events no id, so the key is its own dedupe rule: (contact, event_name,
    created_at). One request per changed contact and per page of events."""

    name = "events"
    primary_keys: ClassVar[list[str]] = ["intercom_user_id", "event_name", "created_at"]
    probe: ClassVar[Probe] = Probe(
        "GET", "/events", (("type", "user"), ("intercom_user_id", "0"), ("per_page", 1))
    )

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None
        contact_id = context["contact_id"]
        params = {"type": "user", "intercom_user_id": contact_id, "per_page": self.page_size}
        for page in self.pages("/events", records_key="events", params=params):
            for event in page:
                event.setdefault("intercom_user_id", contact_id)
                yield event
