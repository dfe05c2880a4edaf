"""The base streams: the shared client, schema-driven timestamps, skip-on-403, progress.

Streams page through Intercom themselves instead of the SDK's RESTStream request loop: every
request must go through the tap's one client (one session, one rate budget, retries) and the
incremental streams write state between pages.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_intercom import pagination, reconcile
from tap_intercom.errors import IntercomError, NotFound, StreamUnavailable, WrongURL
from tap_intercom.progress import Progress
from tap_intercom.schemas import schema_dir
from tap_intercom.sdk_hooks import SdkStream
from tap_intercom.settings import version_tuple
from tap_intercom.timestamps import build_plan, compile_plan

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from singer_sdk import Stream, Tap
    from singer_sdk.helpers.types import Context
    from singer_sdk.singerlib import SchemaMessage

    from tap_intercom.client import IntercomClient
    from tap_intercom.reconcile import Report
    from tap_intercom.settings import Settings

SCHEMAS = SchemaDirectory(schema_dir())
#: A child stream whose first this-many parents all answer 404 lacks its endpoint: a parent
#: deleted since it was listed is rare, five in a row and none found is not.
MISSING_ENDPOINT_PARENTS = 5


class TapHost(Protocol):
    """What a stream uses of its tap besides the SDK's Tap (TapIntercom provides it)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def client(self) -> IntercomClient: ...

    @property
    def streams(self) -> Mapping[str, Stream]: ...

    @property
    def skipped(self) -> Mapping[str, str]: ...

    @property
    def attempted(self) -> set[str]: ...

    @property
    def output_lock(self) -> threading.RLock: ...

    @property
    def reconcile_report(self) -> Report | None:
        """The figures of this run's reconcile pass; None when the run does not reconcile."""

    @property
    def hydration_pool(self) -> ThreadPoolExecutor: ...

    @property
    def page_pool(self) -> ThreadPoolExecutor: ...

    def skip_stream(
        self, stream: str, reason: str, *, scope: str | None = None, not_found: bool = False
    ) -> None: ...

    def wrong_url_message(self, what: str, detail: str = "") -> str: ...


class IntercomStream(SdkStream):
    """A stream read through the tap's shared IntercomClient."""

    schema = StreamSchema(SCHEMAS)
    #: Oldest Intercom-Version that has this stream's endpoint.
    min_version: ClassVar[str | None] = None

    def __init__(self, tap: Tap) -> None:
        # The SDK hands every stream its Tap; ours is a TapHost too (TapIntercom builds them).
        self.host = cast("TapHost", tap)
        super().__init__(tap, self.host.output_lock)
        self._timestamps = compile_plan(build_plan(self.schema))
        self._request_lock = threading.Lock()
        self.requests = 0
        #: Whether any request of this stream has been answered (a 404 before that is the
        #: list endpoint's, after it an item's).
        self.answered = False
        #: Parents whose list answered 404 (e.g. a contact deleted since it was listed).
        self.missing_parents = 0
        self.progress = Progress(self.name, self.logger)

    @property
    def client(self) -> IntercomClient:
        return self.host.client

    @override
    def _generate_schema_messages(self) -> Generator[SchemaMessage, None, None]:
        # The schema's top-level `x-` annotations (what an archive indexes and links, see
        # scripts/generate_schemas.py) reach the target only this way: singer-sdk 0.54 has no
        # public hook, and its Schema model, which the stream maps use, drops unknown keys.
        annotations = {k: v for k, v in self.schema.items() if k.startswith("x-")}
        for message in super()._generate_schema_messages():
            message.schema = {**message.schema, **annotations}
            yield message

    @property
    def page_size(self) -> int:
        return self.host.settings.page_size

    # Requests, counted per stream for progress lines.

    def _counted(self) -> None:
        with self._request_lock:
            self.requests += 1

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._counted()
        answer = self.client.get(path, params)
        self.answered = True
        return answer

    def get_once(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A GET that must not be replayed (see IntercomClient.request)."""
        self._counted()
        answer = self.client.get(path, params, replay=False)
        self.answered = True
        return answer

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self._counted()
        answer = self.client.post(path, body)
        self.answered = True
        return answer

    def pages(
        self,
        path: str,
        *,
        records_key: str = "data",
        params: dict[str, Any] | None = None,
        counted: bool = True,
    ) -> Iterator[list[dict[str, Any]]]:
        """The pages of a list; `counted=False` for lists that are parts of a record."""
        for page in pagination.walk(
            self, path, params=params, records_key=records_key, logger=self.logger
        ):
            if counted:
                self.progress.add(len(page), self.requests)
            yield page

    # Record flow.

    def version_lacks(self, needed: str | None) -> str | None:
        """Why the configured API version cannot serve an endpoint of version `needed`, if so."""
        wanted = self.host.settings.api_version
        if needed and version_tuple(wanted) < version_tuple(needed):
            return f"its endpoint needs Intercom-Version {needed} or later (set: {wanted})"
        return None

    def unavailable_reason(self) -> str | None:
        return self.version_lacks(self.min_version)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        if self.name in self.host.skipped:
            # Already skipped in this run: a child stream meets its 403 once, not per parent.
            return
        reason = self.unavailable_reason()
        if reason:
            self.host.skip_stream(self.name, reason)
            return
        if context is None:
            self.host.attempted.add(self.name)
        try:
            yield from self.fetch_records(context)
        except StreamUnavailable as exc:
            self.host.skip_stream(self.name, str(exc), scope=exc.scope)
            return
        except NotFound as exc:
            if context is not None:
                # One parent's list: that parent went away since it was listed. Unless no
                # parent's list has ever answered: then the endpoint itself is missing.
                self.missing_parents += 1
                if not self.answered and self.missing_parents >= MISSING_ENDPOINT_PARENTS:
                    self.host.skip_stream(
                        self.name,
                        f"{exc}, and so did the {self.missing_parents - 1} parents before it; "
                        "this API version, plan or region lacks the endpoint",
                        not_found=True,
                    )
                    return
                self.logger.info("%s: %s; skipped", self.name, exc)
                return
            if self.answered:
                exc.stream = exc.stream or self.name
                raise
            if self.client.first_status == 404:
                raise WrongURL(
                    self.host.wrong_url_message("the run's first request", str(exc))
                ) from None
            self.host.skip_stream(
                self.name,
                f"{exc}; this API version, plan or region lacks the endpoint",
                not_found=True,
            )
            return
        except IntercomError as exc:
            # The tap reports it in one line when the run ends; see TapIntercom.invoke.
            exc.stream = exc.stream or self.name
            raise
        if context is None:
            self.progress.done(self.requests)

    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        raise NotImplementedError

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        if message.startswith("An unhandled error occurred") and (
            isinstance(sys.exc_info()[1], IntercomError) or self.client.stopped
        ):
            # A known API failure, in this stream or in a child stream synced inside it: the
            # tap's single closing line says it better. Or the run was stopped (SIGTERM,
            # another stream's failure): what this stream met as it stopped (its hydration
            # cancelled) is not an error of its own.
            level = logging.DEBUG
        super().log(message, *args, level=level, **kwargs)

    @override
    def post_process(
        self, row: dict[str, Any], context: Context | None = None
    ) -> dict[str, Any] | None:
        return self._timestamps(row)


class FullTableStream(IntercomStream):
    """A list Intercom can only give whole; each complete pass ends with ACTIVATE_VERSION.

    ACTIVATE_VERSION goes out after the last record of a complete pass, never at the start, so
    an interrupted or forbidden pass never tells a target that rows vanished.
    """

    path: ClassVar[str]
    records_key: ClassVar[str] = "data"
    #: Whether the endpoint takes per_page (most full lists come in one page).
    paginated: ClassVar[bool] = False

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        # The SDK's own setting would send ACTIVATE_VERSION before the first record; the
        # stream sends its own after the last one (fetch_records), so the SDK's stays off.
        return False

    def list_params(self) -> dict[str, Any]:
        return {"per_page": self.page_size} if self.paginated else {}

    def list_records(self) -> Iterator[dict[str, Any]]:
        for page in self.pages(self.path, records_key=self.records_key, params=self.list_params()):
            yield from page

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        version = self.begin_version()
        self.pass_complete = True
        listed = 0
        for record in self.list_records():
            listed += 1
            yield record
        if self.pass_complete:
            self.activate_version(version)
        report = self.host.reconcile_report
        if report is not None and self.name in reconcile.ENTITIES:
            # A full-table stream is reconciled by every run; the report counts it too.
            tally = report.tally(self.name)
            tally.listed = tally.sent = listed
            tally.complete, tally.requests = self.pass_complete, self.requests


class OwnStateStream(IntercomStream):
    """An incremental stream that writes its own bookmark instead of the SDK's.

    The SDK would advance the bookmark from every record and reject records below it as
    unsorted; these streams re-read a lookback on purpose and know better when a bookmark is
    safe to move.
    """

    own_bookmark = True

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        return None

    def save_bookmark(self, value: str | None) -> None:
        """Move the bookmark, under the tap's output lock (another stream may be dumping the
        whole state); the next STATE message carries it."""
        with self.output_lock:
            state = self.stream_state
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = value
            self.state_manager.is_flushed = False
