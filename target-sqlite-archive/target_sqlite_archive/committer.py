"""The one writer: commits batches on a background thread, then passes their state on.

While the main thread reads, validates and normalizes batch N+1, this thread writes batch N
in one transaction, and a helper thread compresses batch N's raw records meanwhile (zlib and
SQLite both release the GIL). Only one batch is ever in flight: handing over the next waits
until the previous one is committed, so a killed run loses at most the batch being written
and the one being read, and their states were never emitted. A job's state is written to
stdout only after its COMMIT.
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
from concurrent.futures import ThreadPoolExecutor
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
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._zlib: ThreadPoolExecutor | None = None

    def submit(self, job: Job) -> None:
        """Hand a job over once the previous one is committed."""
        self.raise_failure()
        if self._thread is None:
            self._zlib = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-zlib")
            self._thread = threading.Thread(target=self._run, name="archive-writer", daemon=True)
            self._thread.start()
        self._jobs.join()
        self.raise_failure()
        self._jobs.put(job)

    def wait(self) -> None:
        """Return when every submitted job is committed (and its state emitted)."""
        if self._thread is not None:
            self._jobs.join()
        self.raise_failure()

    def close(self) -> None:
        """Finish the submitted job, stop the threads, close the archive."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if self._zlib is not None:
            self._zlib.shutdown()
            self._zlib = None
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

    def _compress(self, raws: list[str]) -> list[bytes]:
        level = self._level
        return [zlib.compress(raw.encode(), level) for raw in raws]

    def _commit(self, job: Job) -> None:
        started = time.perf_counter()
        if self._store is None:
            self._store = self._open_store()
        store = self._store
        assert self._zlib is not None
        compressing = [
            self._zlib.submit(self._compress, [e.raw for e in batch.entries])
            for batch in job.batches
        ]
        with store.transaction():
            for batch, future in zip(job.batches, compressing, strict=True):
                store.write_batch(
                    batch.stream, batch.plan, batch.keyed, batch.entries, future.result
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
