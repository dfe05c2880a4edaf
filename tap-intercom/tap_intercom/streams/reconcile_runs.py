"""reconcile_runs: one record per entity of each reconcile pass, written when the run ends.

The tap's own stream, not Intercom's: its schema lives here (schemas/ holds Intercom's). It
is empty in normal runs; in a reconcile run the tap writes it after every other stream has
synced, so its figures are final and an archive shows when it was last proven equal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_intercom.probe import Probe
from tap_intercom.streams.base import IntercomStream

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context


def _field(kind: str, description: str, fmt: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": ["null", kind], "description": description}
    if fmt:
        node["format"] = fmt
    return node


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "started_at": _field("string", "When the pass started (UTC).", "date-time"),
        "entity": _field("string", "contacts, companies, conversations or tickets."),
        "finished_at": _field("string", "When the run that made the pass ended.", "date-time"),
        "version": _field(
            "integer",
            "The pass's ACTIVATE_VERSION (Unix ms): rows last written before it and not in "
            "the pass are marked deleted by the archive.",
        ),
        "margin_seconds": _field(
            "integer", "reconcile_margin_seconds: how long before the start the version lies."
        ),
        "complete": _field(
            "boolean",
            "The listing ended normally and ACTIVATE_VERSION was sent; false: nothing marked.",
        ),
        "intercom_count": _field("integer", "Records Intercom's whole listing held."),
        "records_sent": _field("integer", "Records written again (after hydration)."),
        "merged_contacts": _field(
            "integer", "Tombstones of merged contacts sent (with _sdc_merged_into_id)."
        ),
        "vanished": _field("integer", "Listed, then gone when fetched by id (deleted meanwhile)."),
        "parts_over_cap": _field(
            "integer", "Records with more parts than Intercom returns (500): not fixable."
        ),
        "parts_short": _field(
            "integer", "Hydrations that returned fewer parts than Intercom counts, under the cap."
        ),
        "requests": _field("integer", "Requests the entity's listing and fetches made."),
        "seconds": _field("number", "How long the entity's pass took."),
        "mode": _field(
            "string",
            "archive: checked against reconcile_archive, only what differs sent, no "
            "ACTIVATE_VERSION; listing: every record sent, ended by ACTIVATE_VERSION.",
        ),
        "archive_count": _field(
            "integer", "Live records the archive held when the pass started (archive mode)."
        ),
        "refetched_new": _field("integer", "Listed records the archive lacked: fetched."),
        "refetched_changed": _field(
            "integer", "Listed records updated since the archive's version: fetched."
        ),
        "refetched_short": _field(
            "integer", "Records whose archived parts fell short of Intercom's count: fetched."
        ),
        "tombstoned": _field(
            "integer", "Archived records the listing lacked that answered 404: marked deleted."
        ),
        "confirmed_present": _field(
            "integer", "Archived records the listing lacked that answered 200: written again."
        ),
        "request_bound": _field(
            "integer",
            "The most requests the archive-mode pass may make: listing pages, refetches and "
            "confirmations.",
        ),
    },
}


class ReconcileRunsStream(IntercomStream):
    """The figures of the run's reconcile pass (see tap_intercom.reconcile)."""

    name = "reconcile_runs"
    primary_keys: ClassVar[list[str]] = ["started_at", "entity"]
    schema = SCHEMA
    #: --test asks the one endpoint only a reconcile reads (contacts are searched otherwise).
    probe = Probe("GET", "/contacts", (("per_page", 1),))

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        report = self.host.reconcile_report
        # Written once the tap has synced every other stream and set `finished_at`.
        if report is not None and report.finished_at is not None:
            yield from report.records()
