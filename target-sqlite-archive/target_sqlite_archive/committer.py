"""The one writer: a separate process commits each batch; this process then passes its state on.

Why a process: in Python 3.11 threads share one GIL, and neither zlib nor sqlite3's
parameter binding runs without it, so a writer thread only took turns with the reading thread
(measured: no gain). The writer process commits batch N on the second core while this process
reads, validates, normalizes and compresses batch N+1.

Why state stays safe: a job is sent only after the previous one's reply, so one batch at most
is in flight; its state is written to stdout by this process only after the writer replied
that the transaction holding the records, their raw versions and that state is COMMITted. A
killed run loses at most the batch being written and the one being read, whose states were
never emitted. If this process dies, the writer sees its pipe close and stops (writer.py).
"""

from __future__ import annotations

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
from target_sqlite_archive.codec import compressor

if t.TYPE_CHECKING:
    from target_sqlite_archive.batch import Job, StoreSettings
    from target_sqlite_archive.normalize import TablePlan


class WriterStopped(RuntimeError):
    """The writer process ended without replying."""


class Committer:
    """The target's end of the writer process: one job in flight, its state emitted after
    COMMIT."""

    def __init__(self, settings: StoreSettings, logger: logging.Logger) -> None:
        self._settings = settings
        self._logger = logger
        self._send: Connection | None = None
        self._receive: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._in_flight: Job | None = None
        self._sent_at = 0.0
        # Plans the writer knows, by id; kept referenced so that an id is never reused.
        self._plans: dict[int, TablePlan] = {}
        self._compress = compressor(settings.compression_level)

    def submit(self, job: Job) -> None:
        """Send a job once the previous one is committed (and its state emitted)."""
        self._collect()
        if self._process is None:
            self._start()
        assert self._send is not None
        message = encode(job, self._plans, self._compress)
        try:
            # marshal, not pickle: the rows hold only built-in types, and it dumps them in
            # half the time; both ends are the same interpreter.
            self._send.send_bytes(marshal.dumps(message))
        except OSError as exc:
            raise WriterStopped(self._stopped_message()) from exc
        self._in_flight, self._sent_at = job, time.perf_counter()
        if not job.batches:
            # Only a state (or an activation): nothing to overlap, pass the state on now.
            self._collect()

    def poll(self) -> None:
        """Pass on the in-flight job's state if it is committed already (never waits)."""
        receive = self._receive
        if self._in_flight is not None and receive is not None and receive.poll():
            self._collect()

    def settle(self) -> None:
        """Wait until the submitted job is committed, and pass its state on."""
        self._collect()

    def close(self) -> None:
        """Finish the submitted job, then stop the writer."""
        try:
            self._collect()
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

    def _start(self) -> None:
        # A plain child interpreter importing only the writer's modules (~0.1 s): unlike
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

    def _collect(self) -> None:
        job, self._in_flight = self._in_flight, None
        if job is None:
            return
        assert self._receive is not None
        try:
            status, detail = self._receive.recv()
        except (EOFError, OSError) as exc:
            raise WriterStopped(self._stopped_message()) from exc
        if status == "error":
            raise detail
        marked = detail
        records = sum(len(b.entries) for b in job.batches)
        if records:
            self._logger.info(
                "Committed %d records of %d streams in %.3f s",
                records,
                len(job.batches),
                time.perf_counter() - self._sent_at,
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
