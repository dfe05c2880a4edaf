"""The one writer: commits batches on background threads, then passes their state on.

A job goes through two threads in order: one compresses its raw records (zlib releases the
GIL), the other writes it in one transaction (SQLite releases the GIL while it works). So
writing batch N, compressing batch N+1 and reading, validating and normalizing batch N+2
overlap on the machine's cores. Ordering is what keeps state safe: jobs pass each stage one
at a time in the order submitted, and a job's state is written to stdout only after its
COMMIT. At most one job waits before each stage, so memory stays bounded by a few batches,
not by the input.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
import time
import typing as t
import zlib
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
    compressed: list[bytes] | None = None  # the entries' raw text, zlib-compressed


@dataclass(slots=True)
class Job:
    """Everything one transaction writes: records, an optional activation, the state."""

    batches: list[StreamBatch] = field(default_factory=list)
    activate: tuple[str, int] | None = None
    state: t.Any = None  # the state to save and emit after COMMIT; None: none new


class Committer:
    def __init__(
        self,
        open_store: t.Callable[[], ArchiveStore],
        logger: logging.Logger,
        compression_level: int,
    ) -> None:
        self._open_store = open_store
        self._store: ArchiveStore | None = None
        self._logger = logger
        self._level = compression_level
        self._to_compress: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._to_write: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._threads: list[threading.Thread] = []

    def submit(self, job: Job) -> None:
        """Queue a job; blocks while another one is already waiting."""
        self.raise_failure()
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._compress_loop, name="archive-zlib", daemon=True),
                threading.Thread(target=self._write_loop, name="archive-writer", daemon=True),
            ]
            for thread in self._threads:
                thread.start()
        self._to_compress.put(job)

    def wait(self) -> None:
        """Return when every submitted job is committed (and its state emitted)."""
        if self._threads:
            self._to_compress.join()
            self._to_write.join()
        self.raise_failure()

    def close(self) -> None:
        """Finish the submitted jobs, stop the threads, close the archive."""
        if self._threads:
            self._to_compress.put(None)
            for thread in self._threads:
                thread.join()
            self._threads = []
        if self._store is not None:
            self._store.close()
            self._store = None
        self.raise_failure()

    def raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _compress_loop(self) -> None:
        level = self._level
        while True:
            job = self._to_compress.get()
            try:
                if job is not None and self._error is None:
                    for batch in job.batches:
                        batch.compressed = [
                            zlib.compress(e.raw.encode(), level) for e in batch.entries
                        ]
                self._to_write.put(job)
            except BaseException as exc:
                self._error = exc
            finally:
                self._to_compress.task_done()
            if job is None:
                return

    def _write_loop(self) -> None:
        while True:
            job = self._to_write.get()
            try:
                if job is None:
                    return
                if self._error is None:  # after a failure nothing more is committed
                    self._commit(job)
            except BaseException as exc:
                self._error = exc
            finally:
                self._to_write.task_done()

    def _commit(self, job: Job) -> None:
        started = time.perf_counter()
        if self._store is None:
            self._store = self._open_store()
        store = self._store
        with store.transaction():
            for batch in job.batches:
                store.write_batch(
                    batch.stream, batch.plan, batch.keyed, batch.entries, batch.compressed
                )
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
