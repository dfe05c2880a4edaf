"""The one writer: commits batches on a background thread, then passes their state on.

Compression (zlib) and SQLite's own work release the GIL, so writing batch N overlaps with
reading, validating and normalizing batch N+1 on the second core. Ordering is what keeps state
safe: jobs run one at a time in the order submitted, each in one transaction, and a job's
state is written to stdout only after its COMMIT. At most one job waits in the queue, so
memory stays bounded by a few batches, not by the input.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
import time
import typing as t
from dataclasses import dataclass, field

if t.TYPE_CHECKING:
    from target_sqlite_archive.normalize import TablePlan
    from target_sqlite_archive.store import ArchiveStore, Entry


@dataclass(slots=True)
class StreamBatch:
    stream: str
    plan: TablePlan
    keyed: bool
    entries: list[Entry]


@dataclass(slots=True)
class Job:
    """Everything one transaction writes: records, an optional activation, the state."""

    batches: list[StreamBatch] = field(default_factory=list)
    activate: tuple[str, int] | None = None
    state: t.Any = None  # the state to save and emit after COMMIT; None: none new


class Committer:
    def __init__(self, open_store: t.Callable[[], ArchiveStore], logger: logging.Logger) -> None:
        self._open_store = open_store
        self._store: ArchiveStore | None = None
        self._logger = logger
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def submit(self, job: Job) -> None:
        """Queue a job; blocks while another one is already waiting."""
        self.raise_failure()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="archive-writer", daemon=True)
            self._thread.start()
        self._jobs.put(job)

    def wait(self) -> None:
        """Return when every submitted job is committed (and its state emitted)."""
        if self._thread is not None:
            self._jobs.join()
        self.raise_failure()

    def close(self) -> None:
        """Finish the submitted jobs, stop the thread, close the archive."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if self._store is not None:
            self._store.close()
            self._store = None
        self.raise_failure()

    def raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None:  # after a failure nothing more is committed
                    self._commit(job)
            except BaseException as exc:
                self._error = exc
            finally:
                self._jobs.task_done()

    def _commit(self, job: Job) -> None:
        started = time.perf_counter()
        if self._store is None:
            self._store = self._open_store()
        store = self._store
        with store.transaction():
            for batch in job.batches:
                store.write_batch(batch.stream, batch.plan, batch.keyed, batch.entries)
            if job.activate is not None:
                marked = store.mark_deleted(*job.activate)
                self._logger.info(
                    "ACTIVATE_VERSION %d of '%s': %d rows marked deleted",
                    job.activate[1],
                    job.activate[0],
                    marked,
                )
            if job.state is not None:
                store.save_state(job.state)
        records = sum(len(b.entries) for b in job.batches)
        if records:
            self._logger.info(
                "Committed %d records of %d streams in %.3f s",
                records,
                len(job.batches),
                time.perf_counter() - started,
            )
        if job.state is not None:
            # Only now, after COMMIT: a state line never runs ahead of the data.
            sys.stdout.write(json.dumps(job.state) + "\n")
            sys.stdout.flush()
