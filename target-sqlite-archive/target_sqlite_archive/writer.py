"""The archive writer process: `python -m target_sqlite_archive.writer` (started by committer.py).

Reads messages on stdin: first the StoreSettings (pickled), then one job per message
(marshalled), each written in one transaction; after each COMMIT it replies ("ok", rows
marked deleted) on stdout, or ("error", exception) and stops. It ends when stdin closes: when
the target finishes, or dies.
"""

from __future__ import annotations

import functools
import gc
import marshal
import signal
import sys
import typing as t
import zlib
from multiprocessing.connection import Connection

from target_sqlite_archive.normalize import TablePlan, build_plan
from target_sqlite_archive.store import ArchiveStore, Entry

if t.TYPE_CHECKING:
    from target_sqlite_archive.committer import StoreSettings


def main() -> None:
    # Signals for the pipeline (Ctrl-C, a scheduler's SIGTERM to the group) are the target's
    # to handle; the writer finishes its transaction and ends when its input closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Unpickling a batch makes thousands of acyclic containers: spare the cycle collector.
    gc.set_threshold(50_000, 20, 100)
    receive = Connection(sys.stdin.fileno(), writable=False)
    send = Connection(sys.stdout.fileno(), readable=False)
    try:
        settings: StoreSettings = receive.recv()
    except EOFError:
        return
    store: ArchiveStore | None = None
    plans: dict[int, TablePlan] = {}
    try:
        while True:
            try:
                # Trusted input: our own parent process, over a private pipe.
                message = marshal.loads(receive.recv_bytes())  # noqa: S302
            except (EOFError, OSError):
                return  # the target is gone: nothing more will come
            if message is None:  # the target is done
                return
            try:
                if store is None:
                    store = ArchiveStore(
                        settings.database,
                        busy_timeout_seconds=settings.busy_timeout_seconds,
                        compression_level=settings.compression_level,
                        autocheckpoint=False,
                    )
                marked = commit(store, plans, message)
            except Exception as exc:
                _reply(send, ("error", exc))  # the target raises it
                return
            if not _reply(send, ("ok", marked)):
                return
            # Checkpointing after the reply (instead of inside COMMIT, SQLite's default): its
            # file I/O happens while the target prepares the next batch, not while it waits.
            store.checkpoint()
    finally:
        if store is not None:
            store.close()


def commit(store: ArchiveStore, plans: dict[int, TablePlan], message: tuple[t.Any, ...]) -> int:
    """Write one job in one transaction; the number of rows ACTIVATE_VERSION marked."""
    batches, activate, state = message
    marked = 0
    with store.transaction():
        for stream, key, schema, keyed, rows in batches:
            if schema is not None:
                plans[key] = build_plan(schema)
            entries = [Entry(r[0], r[1], "", *r[3:]) for r in rows]
            # Raw texts come compressed, or as text for the writer to compress (committer.py).
            level = store.compression_level
            compressed: list[bytes] = [
                r[2] if r[2].__class__ is bytes else zlib.compress(r[2].encode(), level)
                for r in rows
            ]
            store.write_batch(
                stream, plans[key], keyed, entries, functools.partial(list, compressed)
            )
        if activate is not None:
            marked = store.mark_deleted(*activate)
        if state is not None:
            store.save_state(state)
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
