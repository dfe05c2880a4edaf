"""What an archive error means and what to do about it, in the one line the CLI logs.

SQLite's own words ("database is locked") do not say which file or what to do, and an
OSError's first argument is a number.
"""

from __future__ import annotations

import sqlite3


def explain_archive_error(exc: BaseException, database: str, busy_timeout: float) -> None:
    """Name the archive and what to do in front of the error's message (in place)."""
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        message = str(exc)
    elif exc.args and isinstance(exc.args[0], str):
        message = exc.args[0]
    else:
        return
    if message.startswith("Archive "):
        return
    lowered = message.lower()
    if "locked" in lowered or "busy" in lowered:
        advice = (
            f"Another connection held its write lock longer than busy_timeout_seconds="
            f"{busy_timeout:g}: stop the other writer or raise busy_timeout_seconds."
        )
    elif "full" in lowered or "disk i/o" in lowered:
        advice = "The disk holding it may be full or failing: free space and run again."
    elif any(w in lowered for w in ("readonly", "read-only", "unable to open", "permission")):
        advice = "It or its folder cannot be written (a read-only file system or permissions)."
    elif "exists" in lowered or "not a directory" in lowered or "no such file" in lowered:
        advice = "Its folder cannot be created there: check the database setting."
    else:
        advice = "See the message."
    text = (
        f"Archive {database}: {message}. {advice} Everything committed before is intact; "
        "nothing after the last state passed on was committed."
    )
    # An OSError's further arguments would be read as (errno, strerror): keep only the text.
    exc.args = (text,) if isinstance(exc, OSError) else (text, *exc.args[1:])
