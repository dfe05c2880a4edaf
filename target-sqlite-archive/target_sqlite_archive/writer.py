"""The archive writer process: `python -m target_sqlite_archive.writer` (started by committer.py).

Reads messages on stdin: first the StoreSettings (pickled), then one job per message
(marshalled, see batch.py), each written in one transaction, in the order sent; after each
COMMIT it replies ("ok", (rows marked deleted, dictionaries the target was not given yet)) on
stdout, or ("error", exception) and stops. It
ends when stdin closes: when the target finishes, or dies.

A thread reads the pipe while the main thread commits: the target may send a second job
before the first is committed (committer.MAX_IN_FLIGHT), and a job is far larger than a pipe's
buffer, so without it the target would block in its send until this process read again.
"""

from __future__ import annotations

import gc
import marshal
import queue
import signal
import sys
import threading
import typing as t
from multiprocessing.connection import Connection

from target_sqlite_archive.batch import decode
from target_sqlite_archive.connection import bind_without_adapting
from target_sqlite_archive.store import ArchiveStore

if t.TYPE_CHECKING:
    from target_sqlite_archive.batch import StoreSettings, WriteJob
    from target_sqlite_archive.normalize import TablePlan

#: The most job bytes committed between two checkpoints while jobs keep waiting: bounds the
#: WAL when the writer is behind the whole run.
CHECKPOINT_AFTER_BYTES = 64 << 20


def main() -> None:
    # Signals for the pipeline (Ctrl-C, a scheduler's SIGTERM to the group) are the target's
    # to handle; the writer finishes its transaction and ends when its input closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Unmarshalling a batch makes thousands of acyclic containers: spare the cycle collector.
    gc.set_threshold(50_000, 20, 100)
    bind_without_adapting()
    receive = Connection(sys.stdin.fileno(), writable=False)
    send = Connection(sys.stdout.fileno(), readable=False)
    try:
        settings: StoreSettings = receive.recv()
    except EOFError:
        return
    # Bounded by the target: it never has more than MAX_IN_FLIGHT jobs unanswered.
    inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    threading.Thread(target=_read_jobs, args=(receive, inbox), daemon=True).start()
    store: ArchiveStore | None = None
    plans: dict[int, TablePlan] = {}
    unchecked = 0  # bytes of the jobs committed since the last checkpoint
    try:
        while True:
            message, size = _next_message(inbox)
            if message is None:  # the target is done, or gone: nothing more will come
                return
            try:
                if store is None:
                    store = _open(settings)
                marked = commit(store, plans, decode(message))
            except Exception as exc:
                _reply(send, ("error", exc))  # the target raises it
                return
            # Dropped before the next job is unmarshalled: otherwise, while it is, this one's
            # objects (about three times its bytes) are held too.
            del message
            # With the dictionaries trained (or found) in it: the target compresses those
            # streams' raw versions from now on.
            if not _reply(send, ("ok", (marked, store.take_dictionaries()))):
                return
            # Checkpointing after the reply (instead of inside COMMIT, SQLite's default): its
            # file I/O happens while the target prepares the next batch, not while it waits.
            # With the next job already here, it waits (up to CHECKPOINT_AFTER_BYTES): the
            # pages that job changes again are then copied to the file once, not twice (the
            # conversations benchmark ran about 5 % faster).
            unchecked += size
            if checkpoint_due(unchecked, job_waiting=not inbox.empty()):
                store.checkpoint()
                unchecked = 0
    finally:
        if store is not None:
            store.close()


def checkpoint_due(unchecked: int, *, job_waiting: bool) -> bool:
    """Whether to checkpoint after a COMMIT, `unchecked` job bytes after the last one: when
    no job is waiting (the checkpoint costs no one a wait), or the WAL has grown enough."""
    return not job_waiting or unchecked >= CHECKPOINT_AFTER_BYTES


def _open(settings: StoreSettings) -> ArchiveStore:
    """The archive, with the writer's page cache: what SQLite holds in memory is most of this
    process's fixed cost, so its size is a setting (`cache_size_mb`)."""
    store = ArchiveStore(
        settings.database,
        compression_level=settings.compression_level,
        busy_timeout_seconds=settings.busy_timeout_seconds,
        autocheckpoint=False,
        encryption_key=settings.encryption_key,
        full_text_search=settings.full_text_search,
        indexes=settings.indexes,
    )
    # Negative: a size in KiB rather than in pages.
    store.conn.execute(f"PRAGMA cache_size={-round(settings.cache_size_mb * 1_000_000 / 1024)}")
    return store


def _next_message(inbox: queue.SimpleQueue[bytes | None]) -> tuple[t.Any, int]:
    """The next job's message, unmarshalled (None: no more), and its size in bytes; its bytes
    go as it returns."""
    data = inbox.get()
    if data is None:
        return None, 0
    # Trusted input: our own parent process, over a private pipe.
    return marshal.loads(data), len(data)  # noqa: S302


def _read_jobs(receive: Connection, inbox: queue.SimpleQueue[bytes | None]) -> None:
    """Move each message from the pipe to `inbox` as it arrives; None when the pipe closes."""
    try:
        while True:
            inbox.put(receive.recv_bytes())
    except (EOFError, OSError):
        inbox.put(None)


def commit(store: ArchiveStore, plans: dict[int, TablePlan], job: WriteJob) -> int:
    """Write one job in one transaction; the number of rows ACTIVATE_VERSION marked."""
    marked = 0
    with store.transaction():
        for batch in job.batches:
            if batch.schema is not None:
                plans[batch.plan_id] = store.plan(batch.stream, batch.schema)
            store.write_batch(
                batch.stream, plans[batch.plan_id], batch.keys, batch.entries, batch.codec
            )
        if job.activate is not None:
            marked = store.mark_deleted(*job.activate)
        if job.state is not None:
            store.save_state(job.state)
    return marked


def _reply(send: Connection, reply: tuple[str, t.Any]) -> bool:
    """Send a reply; False if the target is gone."""
    try:
        send.send(reply)
    except (OSError, ValueError):
        return False
    except Exception:
        status, detail = reply
        return _reply(send, (status, RuntimeError(f"{type(detail).__name__}: {detail}")))
    return True


if __name__ == "__main__":
    main()
