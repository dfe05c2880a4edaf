"""Every top-level stream synced at once, each in its own thread, inside the one rate budget.

Intercom's limit is per app, not per endpoint, so while the companies scroll, the contact
search or a full-table list waits on its answers, the conversation and ticket hydration can
spend the rest of the window. Each stream keeps its own order: its SCHEMA first, its records,
its state after its own pages (the tap's output lock keeps the lines and the state dumps
whole, see sdk_hooks). The first stream that fails stops the others at their next request, as
a sequential run would have stopped: what each emitted, and the state it wrote after, stays
good for the next run to resume from.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from singer_sdk import Stream


def sync_at_once(
    streams: Sequence[Stream], *, on_failure: Callable[[], None], answered: threading.Event
) -> list[BaseException]:
    """Sync `streams` in parallel, calling `on_failure` when the first fails; return the
    failures in the order they happened.

    The first stream starts alone, until the API has `answered` once (or that stream is
    done): the run's first request is then the same as in a sequential run, and what its
    answer says of the whole run (a rejected token, a wrong URL) comes before any other.
    """
    failures: list[BaseException] = []
    lock = threading.Lock()

    def sync(stream: Stream) -> None:
        try:
            stream.sync()
            stream.finalize_state_progress_markers()
        except BaseException as exc:  # handed to the main thread, raised there
            with lock:
                failures.append(exc)
                first = len(failures) == 1
            if first:
                on_failure()

    # Daemon threads: a SIGTERM ends the process (the SDK writes the state and exits) without
    # waiting for every stream to finish.
    threads = [
        threading.Thread(target=sync, args=(s,), name=f"stream-{s.name}", daemon=True)
        for s in streams
    ]
    if threads:
        threads[0].start()
        while not answered.wait(0.05) and threads[0].is_alive():
            pass
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join()
    return failures
