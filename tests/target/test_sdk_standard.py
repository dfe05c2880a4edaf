"""The singer-sdk's standard target tests, against a fresh archive file per test process."""

from __future__ import annotations

import tempfile
from pathlib import Path

from singer_sdk.testing import get_target_test_class

from target_sqlite_archive.target import TargetSqliteArchive

# One file per test process: the SDK's suite shares one config across its tests, and
# pytest-xdist runs them in two processes at once.
_DATABASE = Path(tempfile.mkdtemp(prefix="sdk-standard-")) / "archive.sqlite"

TestTargetSqliteArchive = get_target_test_class(
    TargetSqliteArchive,
    config={"database": str(_DATABASE)},
)
