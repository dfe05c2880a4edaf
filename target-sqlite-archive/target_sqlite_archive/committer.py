"""The one writer: a separate process commits each batch; this process then passes its state on.

Why a process: in Python 3.11 threads share one GIL, and neither compression nor sqlite3's
parameter binding runs without it, so a writer thread only took turns with the reading thread
(measured: no gain). The writer process commits batch N on the second core while this process
reads, validates and normalizes the batches after it.

Why two jobs in flight: with one, each side waited whenever its counterpart's batch happened
to take longer; with two, this process reads batch N+2 while the writer commits N and N+1
waits in the writer's queue (ANALYSIS.md has the figures).

Why state stays safe: replies come in the order the jobs were sent, and a job's state is
written to stdout by this process only after the writer replied that the transaction holding
the records, their raw versions and that state is COMMITted. A killed run loses at most the
two jobs in flight and the batch being read, none of whose states was ever emitted. If this
process dies, the writer sees its pipe close and stops (writer.py).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import marshal
import os
import subprocess
import sys
import time
import typing as t
from multiprocessing.connection import Connection

from target_sqlite_archive.batch import encode
from target_sqlite_archive.codec import RawCompressor

if t.TYPE_CHECKING:
    from target_sqlite_archive.batch import Job, StoreSettings
    from target_sqlite_archive.normalize import TablePlan


#: Jobs with records sent and not yet replied to, at most; the next waits for a reply. (Jobs
#: of a state or an activation alone are not counted: they hold nothing to lose.)
MAX_IN_FLIGHT = 2


class WriterStopped(RuntimeError):
    """The writer process ended without replying."""


class _Sent(t.NamedTuple):
    """What is left of a sent job until its reply: its records are the writer's now."""

    records: int
    streams: int
    activate: tuple[str, int] | None
    state: t.Any
    sent_at: float


class Committer:
    """The target's end of the writer process: up to MAX_IN_FLIGHT jobs sent, each one's
    state emitted after its COMMIT, in order."""

    def __init__(self, settings: StoreSettings, logger: logging.Logger) -> None:
        self._settings = settings
        self._logger = logger
        self._send: Connection | None = None
        self._receive: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None
        # Jobs sent and not yet replied to, oldest first.
        self._in_flight: collections.deque[_Sent] = collections.deque()
        # Plans the writer knows, by id; kept referenced so that an id is never reused.
        self._plans: dict[int, TablePlan] = {}
        # The raw versions of a stream whose dictionary the writer reported are compressed
        # here (batch.encode): this process waits for the writer's COMMITs, and the writer
        # sets the pace.
        self._compressor = RawCompressor(settings.compression_level)

    def submit(self, job: Job, *, wait: bool = False) -> None:
        """Send a job once fewer than MAX_IN_FLIGHT are uncommitted (their states emitted).

        `wait`: a job without records also waits for its own COMMIT and every one before,
        so that its state goes out now (the caller says so when no input is waiting).
        """
        self.start()
        assert self._send is not None
        # Encoded before waiting for a free slot: that work overlaps the writer's.
        # marshal, not pickle: the rows hold only built-in types, and it dumps them in half
        # the time; both ends are the same interpreter.
        message = marshal.dumps(encode(job, self._plans, self._compressor))
        while self.in_flight >= MAX_IN_FLIGHT:
            self._collect()
        try:
            self._send.send_bytes(message)
        except OSError as exc:
            # The writer stopped: the error it replied for a job still in flight (an archive
            # it could not open, say) is the cause to raise, not the closed pipe.
            self._collect_all()
            raise WriterStopped(self._stopped_message()) from exc
        records = sum(len(b.entries) for b in job.batches)
        sent = _Sent(records, len(job.batches), job.activate, job.state, time.perf_counter())
        self._in_flight.append(sent)
        if records:
            self._logger.info(
                "Sent %d records of %d streams to the writer (%d jobs in flight)",
                records,
                len(job.batches),
                self.in_flight,
            )
        if wait and not job.batches:
            # Only a state (or an activation) and nothing to read meanwhile: pass the state
            # on now (after the jobs before it: replies come in order).
            self._collect_all()

    @property
    def in_flight(self) -> int:
        """Jobs with records sent whose COMMIT has not been read yet."""
        return sum(1 for sent in self._in_flight if sent.records)

    @property
    def states_in_flight(self) -> bool:
        """Whether a job holding a state is sent and its reply not read yet."""
        return any(sent.state is not None for sent in self._in_flight)

    def poll(self) -> None:
        """Pass on the states of the jobs committed already (never waits)."""
        receive = self._receive
        while self._in_flight and receive is not None and receive.poll():
            self._collect()

    def settle(self) -> None:
        """Wait until every submitted job is committed, and pass their states on."""
        self._collect_all()

    def close(self) -> None:
        """Finish the submitted jobs, then stop the writer."""
        try:
            self._collect_all()
        finally:
            if self._send is not None:
                with contextlib.suppress(OSError):  # the writer may be gone already
                    self._send.send_bytes(marshal.dumps(None))
                self._send.close()
                self._send = None
            if self._receive is not None:
                self._receive.close()
                self._receive = None
            if self._process is not None:
                self._process.wait(timeout=60)
                self._process = None

    def start(self) -> None:
        """Start the writer process if it is not running: when the first stream arrives, so
        that its start-up (~0.14 s, its imports) overlaps the reading of the first batch. It
        opens the archive only with its first job."""
        if self._process is not None:
            return
        # A plain child interpreter importing only the writer's modules: unlike
        # multiprocessing's start methods it neither forks this process's threads nor
        # re-imports the host's __main__. Its stdin and stdout are the message pipes; its
        # stderr is ours, so its tracebacks reach the log.
        self._process = subprocess.Popen(
            [sys.executable, "-m", "target_sqlite_archive.writer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._send = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._receive = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        self._process.stdin.close()
        self._process.stdout.close()
        self._send.send(self._settings)

    def _stopped_message(self) -> str:
        code = self._process.poll() if self._process is not None else None
        return (
            f"The archive writer process stopped (exit code {code}) before committing the "
            "last batch: see its error above. Everything committed before is intact."
        )

    def _collect_all(self) -> None:
        while self._in_flight:
            self._collect()

    def _collect(self) -> None:
        """Wait for the oldest job's reply and pass its state on."""
        job = self._in_flight.popleft()
        assert self._receive is not None
        try:
            status, detail = self._receive.recv()
        except (EOFError, OSError) as exc:
            self._in_flight.clear()  # never committed: their states are never emitted
            raise WriterStopped(self._stopped_message()) from exc
        if status == "error":
            self._in_flight.clear()  # the writer stopped at this job: the later ones are lost
            raise detail
        marked, dictionaries = detail
        for dictionary in dictionaries:
            self._compressor.use(dictionary)
            self._logger.info(
                "Raw versions of '%s' are compressed here from now on, with its dictionary %d",
                dictionary.stream,
                dictionary.dict_id,
            )
        if job.records:
            self._logger.info(
                "Committed %d records of %d streams in %.3f s",
                job.records,
                job.streams,
                time.perf_counter() - job.sent_at,
            )
        if job.activate is not None:
            self._logger.info(
                "ACTIVATE_VERSION %d of '%s': %d rows marked deleted",
                job.activate[1],
                job.activate[0],
                marked,
            )
        if job.state is not None:
            # Only now, after COMMIT: a state line never runs ahead of the data.
            sys.stdout.write(json.dumps(job.state) + "\n")
            sys.stdout.flush()
