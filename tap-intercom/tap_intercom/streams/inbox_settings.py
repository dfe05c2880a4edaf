"""How the inbox works: away status reasons, office hours schedules, macros."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_intercom import search
from tap_intercom.streams.base import FullTableStream, OwnStateStream
from tap_intercom.timestamps import iso

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context


class AwayStatusReasonsStream(FullTableStream):
    """GET /away_status_reasons: deleted reasons are listed too, with `deleted` true, so old
    away periods keep their label."""

    name = "away_status_reasons"
    path = "/away_status_reasons"
    primary_keys: ClassVar[list[str]] = ["id"]


class OfficeHoursSchedulesStream(FullTableStream):
    name = "office_hours_schedules"
    path = "/office_hours_schedules"
    #: Not in the 2.15 description: 2.16 added the endpoint.
    min_version = "2.16"
    primary_keys: ClassVar[list[str]] = ["id"]


class MacrosStream(OwnStateStream):
    """Macros changed since the bookmark minus the lookback (GET /macros?updated_since=),
    newest first, paged with Intercom's `starting_after` cursor.

    A newest-first list cannot be resumed half-way without missing what changed meanwhile,
    so the bookmark moves (to the time the pass began) only once a pass is complete; an
    interrupted pass is read again by the next run.
    """

    name = "macros"
    path = "/macros"
    #: Not in the 2.15 description: 2.16 added the endpoint.
    min_version = "2.16"
    primary_keys: ClassVar[list[str]] = ["id"]
    replication_key = "updated_at"

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        settings = self.host.settings
        began = int(time.time())
        bookmark = search.to_epoch(self.stream_state.get("replication_key_value"))
        since: int | None
        if bookmark is not None:
            since = max(bookmark - settings.lookback_seconds, 0)
        else:
            since = int(settings.start_date.timestamp()) if settings.start_date else None
        params: dict[str, Any] = {"per_page": self.page_size}
        if since is not None:
            # "updated after": one second earlier keeps a macro updated at `since` itself.
            params["updated_since"] = max(since - 1, 0)
        for page in self.pages(self.path, params=params):
            yield from page
        self.save_bookmark(iso(began))
