"""Incremental streams on Intercom's search: windows, per-page state, ordered hydration.

Each run reads one ascending search on `updated_at` over a window that starts a lookback before
the bookmark and ends at a signpost frozen when the sync starts. After every page the state
holds the cursor of the next page and the last record emitted; the bookmark moves to the
window's end only when the window is done. Records from the lookback arrive below the bookmark
on purpose, so the SDK's own bookmark logic (which would reject them as unsorted) is replaced.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import metrics
from typing_extensions import override

from tap_intercom import archive_snapshot, pagination, reconcile, search
from tap_intercom.errors import IntercomError, NotFound
from tap_intercom.sdk_hooks import RunningCounter, SilentTimer
from tap_intercom.search import Window
from tap_intercom.streams.base import IntercomStream, OwnStateStream
from tap_intercom.timestamps import iso

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


#: A window is split only when each range would have at least this many pages to read.
MIN_RANGE_PAGES = 20
#: Pages of one range arrived and waiting to be written, at most (each has the next on its way).
READY_PAGES = 2
#: Counts asked for to place the ranges' bounds (at once, one request each): over the whole
#: window, then inside each span where a bound falls.
SPLIT_SAMPLES = 8
FINER_SAMPLES = 4


class SearchStream(OwnStateStream):
    """An incremental stream read with POST <search_path>, ascending by updated_at."""

    replication_key = search.REPLICATION_KEY
    search_path: ClassVar[str]
    records_key: ClassVar[str] = "data"
    #: Contact search compares calendar days, conversations and tickets seconds.
    day_granular: ClassVar[bool] = False
    #: The field of a hydrated record that holds its parts (None: the records have none).
    parts_key: ClassVar[str | None] = None
    #: Whether a long window is read in ranges at once (`search_ranges`), and the shortest
    #: range it is split into (see search.split_points).
    splits_windows: ClassVar[bool] = True
    min_range_span: ClassVar[int] = 7 * search.DAY

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Requests started for the next page while this one is written, by record id.
        self._ahead: dict[str, Future[Any]] = {}
        #: The search counts of the window's ranges read so far (progress lines).
        self._totals: list[int] = []

    def workers(self) -> ThreadPoolExecutor:
        """The tap's hydration threads, shared with the other search streams."""
        return self.host.hydration_pool

    def fetch_for(self, record: dict[str, Any]) -> Callable[[dict[str, Any]], Any] | None:
        """What `expand` fetches for a listed record on the pool (None: nothing)."""
        return None

    def prefetch(self, records: list[dict[str, Any]]) -> None:
        """Start on the pool what `expand` will fetch for these records: the next page's
        requests then run while this page's records are written."""
        for record in records:
            fetch = self.fetch_for(record)
            if fetch is not None:
                self._ahead[str(record["id"])] = self.workers().submit(fetch, record)

    def fetched(self, records: list[dict[str, Any]]) -> Iterator[Any]:
        """For each record, in order, what `fetch_for` gives (started now or by `prefetch`),
        or the record itself when there is nothing to fetch."""
        futures: list[Future[Any] | None] = []
        for record in records:
            future = self._ahead.pop(str(record["id"]), None)
            fetch = None if future is not None else self.fetch_for(record)
            futures.append(future if fetch is None else self.workers().submit(fetch, record))
        try:
            for record, future in zip(records, futures, strict=True):
                yield record if future is None else future.result()
        finally:
            for future in futures:
                if future is not None:
                    future.cancel()

    def _forget_prefetched(self) -> None:
        for future in self._ahead.values():
            future.cancel()
        self._ahead.clear()

    # State.

    def _save(self, window: Window | None, *, bookmark: int | None = None) -> None:
        with self.output_lock:
            state = self.stream_state
            state["replication_key"] = self.replication_key
            if bookmark is not None:
                state["replication_key_value"] = iso(bookmark)
            else:
                # A first run has no bookmark until its window ends; the key is still written.
                state.setdefault("replication_key_value", None)
            state.update(window.to_state() if window else search.idle_state())
            self.state_manager.is_flushed = False

    # Records.

    def query(self, part: search.Range) -> dict[str, Any]:
        return search.contact_query(part) if self.day_granular else search.second_query(part)

    def expand(self, records: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Turn a search page into the records to emit, in search order (hydration here)."""
        yield from records

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        report = self.host.reconcile_report
        if report is not None:
            yield from self._reconcile(report)
            return
        settings = self.host.settings
        start_date = int(settings.start_date.timestamp()) if settings.start_date else None
        windows = search.plan_windows(
            dict(self.stream_state),
            start_date=start_date,
            lookback=settings.lookback_seconds,
            now=int(time.time()),
        )
        for window in windows:
            yield from self._read_window(window)

    def reconcile_pages(self, tally: reconcile.Tally) -> Iterator[list[dict[str, Any]]]:
        """The whole listing a reconcile reads: an unfiltered search."""
        return reconcile.search_pages(self, self.search_path, self.records_key, tally)

    def _reconcile(self, report: reconcile.Report) -> Iterator[dict[str, Any]]:
        """A whole listing instead of the windows (see tap_intercom.reconcile); the bookmark
        stays as it was. Checked against the archive when there is one to read (no
        ACTIVATE_VERSION then), else ended by ACTIVATE_VERSION when it ends normally."""
        snapshot = self.reconcile_snapshot()
        if snapshot is not None:
            yield from self._reconcile_against(report, snapshot)
            return
        version = self.begin_version(report.version)
        yield from reconcile.run_pass(self, report, parts_key=self.parts_key)
        tally = report.tally(self.name)
        if tally.complete:
            self.activate_version(version)
        self.logger.info(
            "%s: reconcile listed %d, sent %d, %d merged, %d vanished; %s",
            self.name,
            tally.listed,
            tally.sent,
            tally.merged,
            tally.vanished,
            "ACTIVATE_VERSION sent" if tally.complete else "incomplete: nothing is marked",
        )

    def reconcile_snapshot(self) -> dict[str, reconcile.Archived] | None:
        """The archive's records to check the listing against; None: list and send all."""
        return None

    def _reconcile_against(
        self, report: reconcile.Report, snapshot: dict[str, reconcile.Archived]
    ) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def _split(self, window: Window) -> dict[str, Any] | None:
        """Split a fresh window into up to `search_ranges` ranges of about as many records
        each, when it holds enough pages for each to be worth a pass of its own (a first sync).
        Returns the window's first page when it stays whole (None: nothing read yet).

        The window's first page gives its count and its oldest record (a window that stays
        whole then goes on from it: no request is spent); `SPLIT_SAMPLES` searches of one
        record, sent at once, the counts past evenly spaced points after it; and
        `FINER_SAMPLES` more inside each span where a split point falls.
        """
        parts = self.host.settings.search_ranges if self.splits_windows else 1
        if parts < 2 or window.resuming or window.end - window.start < 2 * self.min_range_span:
            return None
        whole = self._first_page(window.ranges[0])
        total, listed = whole.get("total_count"), whole.get(self.records_key) or []
        if not isinstance(total, int) or not listed:
            return whole
        if total < parts * MIN_RANGE_PAGES * self.page_size:
            return whole
        oldest = max(int(listed[0].get(search.REPLICATION_KEY) or 0), window.start)
        # Nothing is past the window's end: the last span is bracketed too.
        samples = [
            (oldest, total),
            *self._counts(window, _between(oldest, window.end)),
            (window.end, 0),
        ]
        finer = [
            at
            for lo, hi in search.brackets(samples, total, parts)
            for at in _between(lo, hi, FINER_SAMPLES)
        ]
        samples = sorted({*samples, *self._counts(window, finer)})
        cut = search.split_points(samples, total, parts, min_span=self.min_range_span)
        window.ranges = search.ranges(window.start, window.end, cut)
        self.logger.info(
            "%s: %d records to read; the window is read in %d ranges at once, from %s",
            self.name,
            total,
            len(window.ranges),
            ", ".join(iso(r.start) for r in window.ranges),
        )
        return None

    def _counts(self, window: Window, points: list[int]) -> list[tuple[int, int]]:
        """(point, the count past it) for each point, asked for at once."""
        if not points:
            return []
        with ThreadPoolExecutor(len(points), thread_name_prefix=f"{self.name}-split") as pool:
            bodies = list(pool.map(lambda at: self._count_after(window, at), points))
        return [
            (at, body["total_count"])
            for at, body in zip(points, bodies, strict=True)
            if isinstance(body.get("total_count"), int)
        ]

    def _count_after(self, window: Window, at: int) -> dict[str, Any]:
        """The search over [at, window end] for one record: its count and its oldest."""
        query = self.query(search.Range(at, window.end))
        return self.post(self.search_path, search.search_body(query, per_page=1, cursor=None))

    def _read_window(self, window: Window) -> Iterator[dict[str, Any]]:
        parts = len(window.ranges)
        self.logger.info(
            "%s: reading updated_at from %s to %s%s%s",
            self.name,
            iso(window.start),
            iso(window.end),
            f" in {parts} ranges at once" if parts > 1 else "",
            " (resuming inside the window)" if window.resuming else "",
        )
        self._save(window)
        self.write_state()
        first = self._split(window)
        if len(window.ranges) > parts:
            parts = len(window.ranges)
            self._save(window)
            self.write_state()
        # Each range's next page is asked for while this page's records are expanded and
        # written: its answer is then there when they are out (a page's records take as long
        # as its answer). The state still names a cursor only once the records before it are
        # out.
        lookahead = ThreadPoolExecutor(max_workers=parts, thread_name_prefix=f"{self.name}-page")
        try:
            yield from self._read_ranges(window, lookahead, first)
        finally:
            lookahead.shutdown(wait=False, cancel_futures=True)
            self._forget_prefetched()

    def _read_ranges(
        self, window: Window, lookahead: ThreadPoolExecutor, first: dict[str, Any] | None
    ) -> Iterator[dict[str, Any]]:
        """The window's open ranges at once: whichever range's page comes first is written
        first, each range's records in its own order, its cursor saved after its own pages.
        `first` is the first page of a window of one range, already read.

        Each range's pages are asked for by a thread of its own (`_page_chain`), the next one
        as soon as a page arrives, while pages are written here: a range holds at most
        READY_PAGES pages waiting to be written and one on its way.
        """
        newer = (
            search.Newest(window.end - search.CHANGED_MARGIN) if len(window.ranges) > 1 else None
        )
        reads = {id(part): _RangeRead() for part in window.ranges}
        self._totals = []
        arrivals: queue.SimpleQueue[_Arrival] = queue.SimpleQueue()
        stop = threading.Event()
        chains = 0
        for part in window.ranges:
            if not part.done:
                read = reads[id(part)]
                lookahead.submit(self._page_chain, part, read, first, arrivals, stop)
                chains += 1
        try:
            while chains:
                arrival = arrivals.get()
                if arrival.error is not None:
                    raise arrival.error
                part, body = arrival.part, arrival.body
                read = reads[id(part)]
                read.slots.release()
                self._count(body, read, len(reads))
                step = search.take_page(
                    part,
                    body.get(self.records_key) or [],
                    pagination.next_cursor(body),
                    seen_cursors=read.seen_cursors,
                    newest=read.newest,
                )
                read.skipped_old += step.skipped_old
                read.newest = step.newest
                emit = step.emit if newer is None else self._newest_only(step.emit, newer)
                for record in self.expand(emit):
                    yield record
                    # Back here, the SDK has written the record: it counts as emitted.
                    part.last_id = str(record.get("id"))
                    self._save(window)
                self.progress.add(len(emit), self.requests)
                if step.follow is not None:
                    read.seen_cursors.add(step.follow)
                    part.cursor, part.last_id = step.follow, None
                else:
                    chains -= 1
                    self._close(part, step, window)
                self._save(window)
                self.write_state()
        finally:
            stop.set()
        skipped_old = sum(read.skipped_old for read in reads.values())
        if skipped_old:
            self.logger.info(
                "%s: skipped %d records from before the window or range (day-aligned overlap)",
                self.name,
                skipped_old,
            )
        self._save(None, bookmark=window.bookmark)
        self.write_state()

    def _page_chain(
        self,
        part: search.Range,
        read: _RangeRead,
        first: dict[str, Any] | None,
        arrivals: queue.SimpleQueue[_Arrival],
        stop: threading.Event,
    ) -> None:
        """One range's pages, each put on `arrivals` as it arrives, the next asked for at
        once while fewer than READY_PAGES wait to be written. It ends where `take_page` will
        end the range: a page without records or cursor, or a cursor met before."""
        try:
            body = first if first is not None else self._first_page(part)
            while True:
                arrivals.put(_Arrival(part, body))
                cursor = pagination.next_cursor(body)
                if not body.get(self.records_key) or cursor is None or cursor in read.asked:
                    return
                read.asked.add(cursor)
                while not read.slots.acquire(timeout=0.5):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                body = self._next_page(part, cursor)
        except BaseException as exc:  # handed to the stream's thread, raised there
            arrivals.put(_Arrival(part, {}, exc))

    def _count(self, body: dict[str, Any], read: _RangeRead, ranges: int) -> None:
        """The search's count for the progress lines, once every range's first page is in."""
        if read.counted or not isinstance(body.get("total_count"), int):
            return
        read.counted = True
        self._totals.append(body["total_count"])
        if len(self._totals) == ranges:
            self.progress.total = sum(self._totals)
            self.logger.info("%s: the search matches %d records", self.name, self.progress.total)

    def _close(self, part: search.Range, step: search.PageStep, window: Window) -> None:
        part.done, part.cursor, part.last_id = True, None, None
        if len(window.ranges) > 1:
            self.logger.info(
                "%s: the range from %s is read (%d of %d ranges)",
                self.name,
                iso(part.start),
                sum(r.done for r in window.ranges),
                len(window.ranges),
            )
        if step.stopped_at is not None:
            part.stopped_at = step.stopped_at
            self.logger.warning(
                "%s: the search repeated a cursor; the window's bookmark stops at %s instead of %s",
                self.name,
                iso(step.stopped_at),
                iso(part.end),
            )

    def _newest_only(
        self, records: list[dict[str, Any]], newer: search.Newest
    ) -> list[dict[str, Any]]:
        """The records whose newer version no other range has emitted in this run."""
        kept = []
        for record in records:
            if newer.older(record):
                ahead = self._ahead.pop(str(record["id"]), None)
                if ahead is not None:
                    ahead.cancel()
            else:
                kept.append(record)
        return kept

    def _next_page(self, part: search.Range, cursor: str) -> dict[str, Any]:
        """A page after a cursor Intercom gave, with its records' fetches started (those
        `take_page` will emit: a page after a cursor has no record already emitted)."""
        body = self._search_page(part, cursor)
        listed = body.get(self.records_key) or []
        self.prefetch(search.take_page(part, listed, None, seen_cursors=frozenset(), newest=0).emit)
        return body

    def _search_page(self, part: search.Range, cursor: str | None) -> dict[str, Any]:
        body = search.search_body(self.query(part), per_page=self.page_size, cursor=cursor)
        return self.post(self.search_path, body)

    def _first_page(self, part: search.Range) -> dict[str, Any]:
        """A range's first page in this run: from its start, or from a cursor saved by an
        earlier run."""
        saved_cursor = part.cursor is not None
        try:
            return self._search_page(part, part.cursor)
        except IntercomError as exc:
            # Only a saved cursor is given up: one Intercom has just given (a later page) is
            # not restarted, as the restarted pass would meet it again, stop on it as repeated
            # and close the window unread. The run stops; the next one resumes from the saved
            # cursor, and may restart from there.
            if not saved_cursor or exc.status != 400:
                raise
        # A stored cursor Intercom no longer accepts: read the range again from its start.
        self.logger.warning("%s: the saved cursor was refused; restarting the window", self.name)
        part.cursor, part.last_id = None, None
        return self._search_page(part, None)


def _between(low: int, high: int, count: int = SPLIT_SAMPLES) -> list[int]:
    """`count` evenly spaced points strictly inside (low, high)."""
    step = (high - low) / (count + 1)
    return sorted({int(low + step * n) for n in range(1, count + 1)} - {low, high})


@dataclass
class _Arrival:
    """A range's page as it arrived, or what stopped its pages."""

    part: search.Range
    body: dict[str, Any]
    error: BaseException | None = None


@dataclass
class _RangeRead:
    """What the loop knows of one range in this run, beside its state."""

    seen_cursors: set[str] = field(default_factory=set)
    #: The cursors whose pages were asked for (a page is asked for before the one before it
    #: is written), and the room for pages waiting to be written.
    asked: set[str] = field(default_factory=set)
    slots: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(READY_PAGES))
    newest: int = 0
    skipped_old: int = 0
    counted: bool = False


class HydratedSearchStream(SearchStream):
    """A search stream whose records are fetched again by id for their parts.

    Hydration runs `hydration_workers` GETs at once (all inside the shared rate budget) and
    yields the records in search order. The parts go to the parts stream through its
    `pending`, never through the SDK's context, whose metric lines print it.
    """

    item_path: ClassVar[str]
    parts_key: ClassVar[str]
    # One pass: a page's hydrations take far longer than the next search page, so ranges
    # would only hold more hydrated records in memory (3 pages each) for the same pace.
    splits_windows = False
    #: The field that links each part to its record (e.g. conversation_id), which is also the
    #: key of the parts stream's context: declared once, here, for both.
    part_parent_key: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.missing = 0
        self.truncated = 0

    #: Whether `confirm` asks the search too (conversations: for their QA fields).
    confirm_searches: ClassVar[bool] = False

    def item_params(self) -> dict[str, Any]:
        return {}

    # The reconcile against an archive (archive mode).

    @override
    def reconcile_snapshot(self) -> dict[str, reconcile.Archived] | None:
        settings = self.host.settings
        if settings.reconcile_archive is None:
            return None
        parts = self.parts_streams()
        try:
            snapshot = archive_snapshot.read(
                settings.reconcile_archive,
                settings.reconcile_archive_encryption_key,
                stream=self.name,
                # Parts not synced in this run are not checked (a refetch would not write them).
                parts_stream=parts[0].name if parts else None,
                parent_key=self.part_parent_key,
                parts_key=self.parts_key,
            )
        except archive_snapshot.ArchiveUnreadable as exc:
            self.logger.warning(
                "%s: reconcile_archive: %s; fetching every record again instead (correct for "
                "any target, one request each)",
                self.name,
                exc,
            )
            return None
        self.logger.info(
            "%s: reconcile against the archive, which holds %d; only what differs is fetched",
            self.name,
            len(snapshot),
        )
        return snapshot

    @override
    def _reconcile_against(
        self, report: reconcile.Report, snapshot: dict[str, reconcile.Archived]
    ) -> Iterator[dict[str, Any]]:
        yield from reconcile.run_archive_pass(self, report, snapshot, parts_key=self.parts_key)
        tally = report.tally(self.name)
        self.logger.info(
            "%s: reconcile listed %d against %d archived: %d new, %d changed, %d short of "
            "parts, %d tombstoned, %d present though unlisted; %d requests (bound %s)",
            self.name,
            tally.listed,
            tally.archived or 0,
            tally.new,
            tally.changed,
            tally.refetched_short,
            tally.tombstoned,
            tally.confirmed,
            tally.requests,
            tally.bound,
        )

    def confirm(self, ids: list[str]) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """Archived ids the listing lacked, fetched by id in order: each with its record (parts
        split off as in a sync) or None (404: gone)."""
        fetched = self.workers().map(self._fetch_by_id, ids)
        for record_id, full in zip(ids, fetched, strict=True):
            yield record_id, None if full is None else self._split_parts(full)

    def _fetch_by_id(self, record_id: str) -> dict[str, Any] | None:
        try:
            return self.get(self.item_path.format(id=record_id), self.item_params())
        except NotFound:
            return None

    def _hydrate(self, record: dict[str, Any]) -> dict[str, Any] | None:
        return self._fetch_by_id(str(record["id"]))

    def parts_streams(self) -> list[PartsStream]:
        """The selected parts streams: the SDK links them here from their parent_stream_type."""
        return [c for c in self.child_streams if isinstance(c, PartsStream) and c.selected]

    @override
    def fetch_for(self, record: dict[str, Any]) -> Callable[[dict[str, Any]], Any] | None:
        return self._hydrate

    @override
    def expand(self, records: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for listed, full in zip(records, self.fetched(records), strict=True):
            if full is None:
                # Deleted since it was listed: nothing to emit, counted for the summary.
                self.missing += 1
                self.logger.info("%s: %s vanished before hydration", self.name, listed["id"])
                continue
            yield self._split_parts(full)

    def _split_parts(self, record: dict[str, Any]) -> dict[str, Any]:
        listing = record.get(self.parts_key) or {}
        parts = listing.get(self.parts_key) or [] if isinstance(listing, dict) else []
        stated = self.stated_part_count(record, listing)
        truncated = stated > len(parts)
        if truncated:
            self.truncated += 1
        record[self.parts_key] = {
            "type": listing.get("type") if isinstance(listing, dict) else None,
            "total_count": listing.get("total_count") if isinstance(listing, dict) else None,
            "returned_count": len(parts),
            "truncated": truncated,
        }
        for child in self.parts_streams():
            child.pending[str(record["id"])] = parts
        return record

    def stated_part_count(self, record: dict[str, Any], listing: dict[str, Any]) -> int:
        total = listing.get("total_count") if isinstance(listing, dict) else None
        return int(total) if isinstance(total, int) else 0

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context:
        return {self.part_parent_key: str(record["id"])}

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        yield from super().fetch_records(context)
        for child in self.parts_streams():
            child.flush_metrics()
        if self.truncated:
            self.logger.warning(
                "%s: %d had more parts than Intercom returns (its 500-part cap); "
                "their records say truncated=true",
                self.name,
                self.truncated,
            )
        if self.missing:
            self.logger.info(
                "%s: %d vanished between search and hydration", self.name, self.missing
            )


class PartsStream(IntercomStream):
    """Parts of a hydrated record, emitted from that same hydration (never a second GET).

    The parent is declared once, as `parent_stream_type`; it hands each record's parts over
    in `pending`, and its `part_parent_key` names the field that links a part to it.
    """

    parent_stream_type: type[HydratedSearchStream]
    state_partitioning_keys: ClassVar[list[str]] = []
    synced_per_parent = True
    _running_counter: RunningCounter | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: dict[str, list[dict[str, Any]]] = {}

    @property
    def parent_key(self) -> str:
        return self.parent_stream_type.part_parent_key

    @override
    def get_record_counter(
        self, *, endpoint: str | None = None, log_interval: float = metrics.DEFAULT_LOG_INTERVAL
    ) -> metrics.Counter:
        if self._running_counter is None:
            self._running_counter = RunningCounter(
                metrics.Metric.RECORD_COUNT, {metrics.Tag.STREAM: self.name}, log_interval
            )
        return self._running_counter

    @override
    def get_sync_timer(self) -> metrics.Timer:
        return SilentTimer(metrics.Metric.SYNC_DURATION, {metrics.Tag.STREAM: self.name})

    def flush_metrics(self) -> None:
        if self._running_counter is not None:
            self._running_counter.flush()

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        # "Beginning sync" once per parent record would drown the log; keep it for debugging.
        if message.startswith("Beginning sync"):
            level = logging.DEBUG
        super().log(message, *args, level=level, **kwargs)

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None
        parent_id = context[self.parent_key]
        # A part carries only its parent's id: a field that changed with every update of the
        # parent would make each unchanged part a new version in an archive.
        for part in self.pending.pop(parent_id, []):
            part[self.parent_key] = parent_id
            yield part
