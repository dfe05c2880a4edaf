"""When the target commits: every stream's pending records and the latest state, as one job.

The SDK drains one full sink at a time and emits state only at the end of the input (or after
minutes). Here every sink is handed over as one transaction whenever one is full, a record has
waited `batch_wait_seconds` (a timer sees to it when no message comes), the pending records'
JSON reaches `batch_size_mb` (what bounds memory: a job is held in both processes), a state
is ready to pass on, or the writer has nothing to do and the records have waited
EARLY_HANDOVER_SECONDS (a tap paced by its API: the writer then works while the tap does, not
after its last record); the latest STATE goes into that same transaction and is emitted only
once the writer process reports its COMMIT (committer.py). So a state line never runs ahead of
the data, and a killed run loses at most the batches not committed.

target.py parses the Singer messages and tells the batcher what came; the batcher keeps the
sinks by stream, the state bookkeeping and the timer, and builds each job.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
import typing as t

from target_sqlite_archive.batch import Job, StoreSettings
from target_sqlite_archive.committer import Committer
from target_sqlite_archive.encryption import ARCHIVE_ERRORS
from target_sqlite_archive.errors import explain_archive_error

#: How often the replies of jobs holding a state are looked for while no message comes: a
#: state committed just before the input fell silent goes out within this, not at the next
#: message or the wait timer's commit.
REPLY_POLL_SECONDS = 0.2

#: A record arriving when the pending ones have waited this long hands them over if the writer
#: has no job left (looked at every EARLY_HANDOVER_CHECK_SECONDS at most): input slower than
#: the writer is committed as it comes, so the run's end waits only for its last fraction of a
#: second (the large incremental sync: 4.38 -> 3.93 s, medians of 5 interleaved runs). Input
#: that keeps the writer busy fills its batches as before.
EARLY_HANDOVER_SECONDS = 0.25
EARLY_HANDOVER_CHECK_SECONDS = 0.05

if t.TYPE_CHECKING:
    import logging

    from target_sqlite_archive.settings import Settings
    from target_sqlite_archive.sink import ArchiveSink


class Batcher:
    """The pending records of every stream and the latest state, and when they are committed."""

    def __init__(
        self, settings: Settings, logger: logging.Logger, input_waiting: t.Callable[[], bool]
    ) -> None:
        self._settings = settings
        self._logger = logger
        # Whether more input can be read at once (the message reader knows).
        self._input_waiting = input_waiting
        self._committer: Committer | None = None
        self._handed_over_state: t.Any = None
        self._pending_records = 0
        # The JSON text of the pending records, all streams', in characters.
        self._pending_bytes = 0
        self._full_bytes = settings.batch_size_bytes
        self._first_pending_at: float | None = None
        # When a record next looks whether the writer is idle (early handover).
        self._idle_check_at = 0.0
        self._committing = False
        # The state last received, and the sinks by stream (with those a schema change
        # replaced, until their records are handed over): kept here rather than read from the
        # SDK's private attributes.
        self._state: t.Any = None
        self._sinks: dict[str, ArchiveSink] = {}
        self._replaced: list[ArchiveSink] = []
        self._wait_seconds = settings.batch_wait_seconds
        # The timer commits a record that has waited `batch_wait_seconds` when no message
        # comes (a live tap may be silent for hours); the lock keeps it and the message
        # handlers from running at once.
        self.lock = threading.RLock()
        self._timer: threading.Timer | None = None
        # Looks for the replies of jobs that hold a state, while any is in flight.
        self._reply_timer: threading.Timer | None = None
        self._timer_error: BaseException | None = None
        # A STATE equal to the last one arrived after records: it is passed on again after
        # their commit, since it now covers them too.
        self._state_repeated = False

    def raise_timer_error(self) -> None:
        """Raise what the timer's commit failed with (called holding `lock`, as each message
        is handled: the lock makes the timer wait meanwhile)."""
        error, self._timer_error = self._timer_error, None
        if error is not None:
            raise error

    @property
    def committer(self) -> Committer:
        """The writer; the archive is opened on first commit (so `--about` creates no file)."""
        if self._committer is None:
            settings = StoreSettings(
                self._settings.database,
                self._settings.busy_timeout_seconds,
                self._settings.compression_level,
                self._settings.encryption_key,
                self._settings.full_text_search,
                self._settings.indexes,
                self._settings.cache_size_mb,
            )
            self._committer = Committer(settings, self._logger)
        return self._committer

    def _poll(self) -> None:
        """Pass on the states of the jobs committed meanwhile. A reply may be the writer's
        error for an earlier job (an archive it could not open): it is explained here too."""
        if self._committer is not None:
            with self._archive_errors():
                self._committer.poll()

    @contextlib.contextmanager
    def _archive_errors(self) -> t.Iterator[None]:
        try:
            yield
        except ARCHIVE_ERRORS as exc:
            explain_archive_error(exc, self._settings.database, self._settings.busy_timeout_seconds)
            raise

    # -- the sinks --------------------------------------------------------------------------

    def track(self, stream_name: str, sink: ArchiveSink) -> None:
        """The stream's current sink (a new one after a schema change)."""
        previous = self._sinks.get(stream_name)
        if not self._sinks:
            self.committer.start()  # its start-up overlaps the first batch's reading
        if previous is not sink:
            # A schema change: the old sink's records are handed over with the next commit.
            if previous is not None:
                self._replaced.append(previous)
            self._sinks[stream_name] = sink

    def sink(self, stream_name: str) -> ArchiveSink | None:
        return self._sinks.get(stream_name)

    # -- what came in -----------------------------------------------------------------------

    def accepted(self, sink: ArchiveSink) -> None:
        """A record was queued in `sink`: commit when a batch is full or a record waited."""
        self._pending_records += 1
        self._pending_bytes += len(sink.pending[-1].raw)
        if self._pending_records % 1024 == 0:
            self._poll()  # pass on the state of a batch committed meanwhile
        now = time.monotonic()
        if self._first_pending_at is None:
            self._first_pending_at = now
            self._idle_check_at = now + EARLY_HANDOVER_SECONDS
            self._start_timer(self._wait_seconds)
        if len(sink.pending) >= sink.full_at:
            self._logger.info("Stream '%s' is full: committing", sink.stream_name)
            self.commit()
        elif self._pending_bytes >= self._full_bytes:
            self._logger.info(
                "%d records of JSON text are %.1f MB: committing",
                self._pending_records,
                self._pending_bytes / 1_000_000,
            )
            self.commit()
        elif now - self._first_pending_at >= self._wait_seconds:
            self.commit()
        elif now >= self._idle_check_at:
            self._idle_check_at = now + EARLY_HANDOVER_CHECK_SECONDS
            if self._writer_idle():
                self.commit()

    def _writer_idle(self) -> bool:
        """Whether every job of records sent has been committed (its reply read now if it is
        there); a job holding only a state does not keep the writer busy."""
        if self._committer is None:
            return False
        self._poll()
        return self._committer.in_flight == 0

    def state(self, state: t.Any) -> None:
        """A STATE message's value: committed now if nothing uncommitted precedes it."""
        if state == self._state:
            if self._pending_records:
                self._state_repeated = True
            return
        self._state = state
        self._poll()
        waited = self._first_pending_at is not None and (
            time.monotonic() - self._first_pending_at >= self._wait_seconds
        )
        if self._pending_records == 0 or waited:
            # Nothing uncommitted precedes this state (or it has waited long enough): it
            # can be saved and passed on now.
            self.commit()

    def end(self) -> None:
        """The end of the input: commit what is pending, stop the writer, drop the sinks."""
        self._cancel_timer()
        self.commit()
        self._cancel_reply_timer()  # close() reads every reply
        if self._committer is not None:
            with self._archive_errors():
                self._committer.close()
            self._committer = None
        for sink in [*self._replaced, *self._sinks.values()]:
            sink.clean_up()
        self._replaced = []

    def terminate(self) -> None:
        """A termination signal: commit what is pending unless interrupted while handing over
        a job (then only the jobs already queued are finished: the rest has no state emitted,
        so nothing is lost that was promised), and stop the writer."""
        with self.lock:  # the wait timer may be committing
            self._cancel_timer()
            self._cancel_reply_timer()
            if not self._committing:
                self.commit()
            if self._committer is not None:
                with self._archive_errors():
                    self._committer.close()

    def finish_handed_over(self) -> None:
        """Before an error ends the run: commit the jobs handed over (and emit their state)."""
        if self._committer is not None:
            try:
                self._committer.close()
            except Exception:
                self._logger.exception("Committing the batches before the failure failed too")
            self._committer = None

    # -- the one place data is committed -----------------------------------------------------

    def commit(self, activate: tuple[str, int] | None = None) -> None:
        """Hand every pending record of every stream, and the latest state, to the writer as
        one transaction; the writer emits that state after COMMIT."""
        sinks = [
            s for s in [*self._replaced, *self._sinks.values()] if s.pending or not s.handed_over
        ]
        state = self._state
        new_state = state is not None and (state != self._handed_over_state or self._state_repeated)
        if not sinks and not new_state and activate is None:
            return
        job = Job(
            batches=[s.hand_over() for s in sinks],
            activate=activate,
            # A copy: the writer emits it later, whatever happens to the latest state here.
            state=copy.deepcopy(state) if new_state else None,
        )
        # A job without records waits for its COMMIT (so its state goes out now) only when
        # no input is waiting; otherwise its state is passed on at a later poll, and the jobs
        # in flight keep the writer busy meanwhile.
        waiting = self._input_waiting()
        self._committing = True
        try:
            with self._archive_errors():
                self.committer.submit(job, wait=not waiting)
        finally:
            self._committing = False
        # Sinks replaced by a schema change are empty now: they are done.
        for sink in self._replaced:
            sink.clean_up()
        self._replaced = []
        self._pending_records = 0
        self._pending_bytes = 0
        self._first_pending_at = None
        self._state_repeated = False
        self._cancel_timer()
        if new_state:
            self._handed_over_state = state
            if self._committer is not None and self._committer.states_in_flight:
                # Its reply is read at a later message, unless the input falls silent.
                self._start_reply_timer()

    # -- the timer: a record never waits longer than batch_wait_seconds --------------------

    def _start_timer(self, seconds: float) -> None:
        if self._timer is None:
            self._timer = threading.Timer(max(seconds, 0.0), self._on_time)
            self._timer.daemon = True
            self._timer.start()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _start_reply_timer(self) -> None:
        if self._reply_timer is None:
            self._reply_timer = threading.Timer(REPLY_POLL_SECONDS, self._on_reply_time)
            self._reply_timer.daemon = True
            self._reply_timer.start()

    def _cancel_reply_timer(self) -> None:
        if self._reply_timer is not None:
            self._reply_timer.cancel()
            self._reply_timer = None

    def _on_reply_time(self) -> None:
        """Pass on the states committed meanwhile (never waits for the writer); again while a
        job holding a state is in flight."""
        with self.lock:
            self._reply_timer = None
            try:
                self._poll()
            except BaseException as exc:  # raised again by the next message or the end
                self._timer_error = exc
                return
            if self._committer is not None and self._committer.states_in_flight:
                self._start_reply_timer()

    def _on_time(self) -> None:
        with self.lock:
            self._timer = None
            if self._first_pending_at is None:
                return
            left = self._first_pending_at + self._wait_seconds - time.monotonic()
            if left > 0:
                self._start_timer(left)
                return
            try:
                self.commit()
                if self._committer is not None:
                    # Nothing may come to collect the reply: wait for COMMIT here, so the
                    # state is passed on now.
                    with self._archive_errors():
                        self._committer.settle()
            except BaseException as exc:  # raised again by the next message or the end
                self._timer_error = exc
